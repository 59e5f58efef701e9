"""The JSON Schema of the spec format (``convcalc schema``), checked with the ``jsonschema`` package:
every spec convcalc accepts is valid, every structural mistake (unknown kind or argument, wrong
type, out of range) is not, and it is generated from the models, so new kinds are covered."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convcalc.kinds import ALIASES, KINDS
from convcalc.spec import load_spec
from convcalc.spec.schema import schema_text, spec_json_schema
from convcalc.spec.zoo import builtin_names, read_source

from strategies import adaptive_pools, conv_transposes, convs, layer_spec, linears, pools, upsamples
from test_bad_specs import CORPUS, FILES, expectation

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = spec_json_schema()
VALIDATOR = jsonschema.Draft7Validator(SCHEMA)


def errors(data, validator=VALIDATOR) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(data)]


def own_validator(text: str) -> jsonschema.Draft7Validator:
    """The validator of ``convcalc schema SPEC``: the spec's blocks by name."""
    return jsonschema.Draft7Validator(spec_json_schema(load_spec(text)))


def spec(*layers, **top) -> dict:
    return {"name": "t", "input": [3, 32, 32], "layers": list(layers), **top}


def test_the_schema_is_draft_7_and_small_enough_to_read():
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    text = schema_text(SCHEMA)
    assert json.loads(text) == SCHEMA
    # 39,825 lines (json indent 2) before the kinds shared their types; now about 20 per kind
    assert len(text.splitlines()) < 25 * len(KINDS), len(text.splitlines())
    assert max(map(len, text.splitlines())) <= 140


@pytest.mark.parametrize("name", builtin_names())
def test_every_builtin_model_is_valid(name):
    text, _ = read_source(name)
    data = yaml.safe_load(text)
    assert errors(data) == []
    assert errors(data, own_validator(text)) == []


@pytest.mark.parametrize("path", sorted((ROOT / "tests" / "check_specs").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_check_spec_is_valid(path):
    assert errors(yaml.safe_load(path.read_text(encoding="utf-8"))) == []


# -- broken specs: each structural mistake is a schema error ----------------------------------------

STRUCTURAL = {
    "spec-unknown-kind", "spec-unknown-arg", "spec-type", "spec-range", "spec-choice", "spec-length",
    "spec-missing-arg", "spec-layer", "spec-not-mapping", "spec-repeat", "spec-budget-key", "spec-symbol",
    "spec-empty", "spec-unknown-param", "spec-missing-param", "limit-int",
}
# structural, but no JSON Schema can tell
NOT_SAYABLE = {
    "float_input_size": "32.0 is an integer to JSON Schema (draft 6 on); YAML and convcalc read a float",
    "block_param_string_channels": 'the type of "16" matters only once $channels is substituted into out_channels',
    "upsample_forever": "the size that passes MAX_INT is computed, layer after layer",
}
# only the schema of the spec itself (convcalc schema SPEC) knows its blocks' parameters
OWN_SCHEMA_ONLY = {"block_extra_param", "block_missing_param"}


def _loadable(path: Path):
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError, ValueError, IndexError):  # `!!int thirty-two`, `!!int ""`
        return "not YAML"


STRUCTURAL_FILES = [p for p in FILES if expectation(p)["code"] in STRUCTURAL and p.stem not in NOT_SAYABLE and _loadable(p) != "not YAML"]


def test_most_broken_specs_are_structural():
    assert len(STRUCTURAL_FILES) >= 30, [p.stem for p in STRUCTURAL_FILES]


@pytest.mark.parametrize("path", STRUCTURAL_FILES, ids=lambda p: p.stem)
def test_every_structural_mistake_is_a_schema_error(path):
    data = _loadable(path)
    if path.stem in OWN_SCHEMA_ONLY:
        assert errors(data) == []
        assert errors(data, own_validator(path.read_text(encoding="utf-8")))
    else:
        assert errors(data)


@pytest.mark.parametrize(
    ("layer", "where", "message"),
    [
        ({"conv2d": {"out_channels": 6, "kernal_size": 5}}, "layers/0/conv2d", "Additional properties are not allowed ('kernal_size' was unexpected)"),
        ({"conv2": {"out_channels": 6, "kernel_size": 5}}, "layers/0", "Additional properties are not allowed ('conv2' was unexpected)"),
        ("conv2", "layers/0", "'conv2' is not one of ['add', "),
        ("conv2d", "layers/0", "'conv2d' is not one of ['add', "),  # it needs out_channels and kernel_size
        ({"residual": {"body": [{"max_pool2d": {"kernel_size": 2, "stirde": 2}}]}}, "layers/0/residual/body/0/max_pool2d", "('stirde' was unexpected)"),
        ({"conv2d": {"out_channels": 0, "kernel_size": 3}}, "layers/0/conv2d/out_channels", "0 is less than the minimum of 1"),
        ({"conv2d": {"out_channels": 6, "kernel_size": 3, "padding": "sam"}}, "layers/0/conv2d/padding", "'sam' is not valid under any of the given schemas"),
        ({"conv2d": {"out_channels": 6, "kernel_size": 3}, "relu": None}, "layers/0", "is valid under each of"),
        ({"relu": None, "nmae": "x"}, "layers/0", "('nmae' was unexpected)"),
    ],
    ids=["kernal_size", "conv2", "bare-conv2", "bare-conv2d", "nested", "range", "padding-word", "two-kinds", "meta-typo"],
)
def test_typos_are_schema_errors_where_they_are(layer, where, message):
    found = errors(spec(layer))
    assert any(e.startswith(f"{where}: ") and message in e for e in found), found


def test_a_block_use_needs_a_spec_with_blocks_and_its_own_schema_knows_the_names():
    stage = {"params": {"width": None}, "layers": [{"conv2d": {"out_channels": "$width", "kernel_size": 3}}]}
    use = {"stage": {"width": 8}}
    assert "layers/0: Additional properties are not allowed ('stage' was unexpected)" in errors(spec(use))
    assert errors(spec(use, blocks={"stage": stage})) == []
    text = yaml.safe_dump(spec(use, {"conv2": {"out_channels": 6, "kernel_size": 5}}, {"stage": {"widht": 8}}, "stage", blocks={"stage": stage}))
    assert errors(yaml.safe_load(text)) == []  # every spec's schema cannot tell a block from a typo
    found = errors(yaml.safe_load(text), own_validator(text))
    assert "layers/1: 'conv2' does not match any of the regexes: '\\\\$'" in found  # a key with $ may name a kind
    assert "layers/2/stage: Additional properties are not allowed ('widht' was unexpected)" in found
    assert any(e.startswith("layers/2/stage: 'width' is a required property") for e in found), found
    assert "layers/3: 'stage' is not valid under any of the given schemas" in found  # bare, but width has no default


# -- what convcalc accepts, the schema accepts ------------------------------------------------------


def test_parameters_and_expressions_wherever_convcalc_substitutes():
    block = {
        "params": {"width": 16, "k": 3, "skip": True},
        "layers": [
            {"conv2d": {"out_channels": "${width * 2}", "kernel_size": ["$k", 3], "padding": "$k", "bias": "$skip"}, "name": "conv${k}", "repeat": "$k", "when": "${width > 8}"},
            {"max_pool2d": {"kernel_size": 2, "ceil_mode": "${k > 2}"}, "when": 1},
        ],
    }
    data = spec({"stage": {"width": 8}}, {"conv2d": {"out_channels": "${2 * 4}", "kernel_size": 3}}, blocks={"stage": block})
    assert errors(data) == []
    assert errors(data, own_validator(yaml.safe_dump(data))) == []


def test_kinds_named_by_parameters_and_repeats_of_zero():
    text = """
name: t
input: [3, 32, 32]
blocks:
  stage:
    params: {act: relu, n: 1}
    layers:
      - conv2d: {out_channels: "${8 * (i + 1)}", kernel_size: 3, padding: 1}
        repeat: $n
      - $act:
      - $act
layers:
  - stage: {act: hardswish, n: 2}
  - stage: {n: 0}
  - relu
    """
    from convcalc.engine import analyze

    assert analyze(load_spec(text)).totals.params == (8 * 3 * 9 + 8) + (16 * 8 * 9 + 16)
    data = yaml.safe_load(text)
    assert errors(data) == []
    assert errors(data, own_validator(text)) == []


def test_null_arguments_only_where_none_is_required():
    assert errors(spec({"relu": None}, {"batch_norm2d": None, "name": "bn"}, "flatten")) == []
    assert errors(spec({"conv2d": None})) == ["layers/0/conv2d: None is not of type 'object'"]


def test_input_is_channels_first_with_a_numeric_channel_count():
    assert errors({**spec("relu"), "input": [3, "H", "W"]}) == []
    assert errors({**spec("relu"), "input": ["C", 32, 32]}) == ["input/0: 'C' does not match '\\\\$'"]  # a number, or ${a_param}
    assert errors({**spec("relu", params={"c": 3, "r": 224}), "input": ["${c}", "${r}", "${r}"]}) == []
    assert errors({**spec("relu"), "input": [3, "2H", 32]}) == ["input/1: '2H' is not valid under any of the given schemas"]


def test_budgets_name_their_metric():
    assert errors(spec("relu", budget={"params": "<= 25M", "features.stage4.macs": "<= 1G"})) == []
    assert errors(spec("relu", budget={"parameters": "<= 25M"}))


CASES = st.one_of(convs(), conv_transposes(), pools(), adaptive_pools(), linears(), upsamples())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(CASES)
def test_every_generated_parity_case_is_valid(case):
    """The layers the PyTorch parity tests generate (tests/strategies.py): every argument form."""
    assert errors(layer_spec(case)) == []


def _mutations():
    """Small edits of a built-in model: a value replaced, a key renamed or dropped."""
    values = st.sampled_from([-1, 0, 1, 3, 2.5, True, None, "x", "same", [1, 2], [], {}, {"a": 1}])
    return st.tuples(st.integers(0, 10_000), st.sampled_from(["value", "rename", "drop"]), values, st.sampled_from(["resnet18", "googlenet", "lenet5"]))


def _mutate(data, choice: int, how: str, value):
    """The ``choice``-th node (in a walk of the data) changed ``how``."""
    nodes = []

    def walk(node, parent, key):
        nodes.append((parent, key))
        children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for k, child in children:
            walk(child, node, k)

    walk(data, None, None)
    parent, key = nodes[1 + choice % (len(nodes) - 1)]
    if how == "value" or isinstance(parent, list):
        parent[key] = value
    elif how == "rename":
        parent[f"{key}x"] = parent.pop(key)
    else:
        del parent[key]
    return data


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutations())
def test_what_the_schema_refuses_convcalc_refuses(mutation):
    """Soundness: a spec the schema calls invalid never analyses. (The converse does not hold:
    shapes, expressions and block parameters are convcalc's to check.)"""
    from convcalc.engine import analyze
    from convcalc.errors import ConvcalcError

    choice, how, value, name = mutation
    text, _ = read_source(name)
    data = _mutate(yaml.safe_load(text), choice, how, value)
    edited = yaml.safe_dump(data, sort_keys=False)
    refused = errors(data)
    if not refused:
        return
    with pytest.raises(ConvcalcError):
        analyze(load_spec(edited, "edited.yaml"))


# -- generated from the models ---------------------------------------------------------------------


def test_every_kind_and_alias_is_an_item_key_with_its_arguments():
    item = SCHEMA["definitions"]["item"]["properties"]
    for name, cls in KINDS.items():
        definition = SCHEMA["definitions"][f"kind.{name}"]
        assert item[name] == {"$ref": f"#/definitions/kind.{name}"}
        assert set(definition["properties"]) == {*cls.model_fields, *cls.input_width, *cls.torch_only}, name
        assert set(definition.get("required", [])) == {f for f, info in cls.model_fields.items() if info.is_required()}, name
        assert definition["additionalProperties"] is False
    for alias, kind in ALIASES.items():
        assert item[alias] == {"$ref": f"#/definitions/kind.{kind}"}


def test_residual_and_parallel_match_the_graph_builder():
    from convcalc.graph._structures import ParallelArgs as _ParallelArgs, ResidualArgs as _ResidualArgs

    for model, definition in ((_ResidualArgs, "residual"), (_ParallelArgs, "parallel")):
        ours = SCHEMA["definitions"][definition]
        built = model.model_json_schema()
        assert set(ours["properties"]) == set(built["properties"]), definition
        assert set(ours["required"]) == set(built.get("required", [])), definition
    built = _ParallelArgs.model_json_schema()["properties"]
    parallel = SCHEMA["definitions"]["parallel"]["properties"]
    assert parallel["merge"]["enum"] == built["merge"]["enum"]
    assert parallel["crop"]["enum"] == built["crop"]["enum"]


def test_the_top_level_is_the_spec_model():
    from convcalc.spec.model import SpecModel

    assert set(SCHEMA["properties"]) == set(SpecModel.model_fields)
    assert SCHEMA["required"] == ["name", "input", "layers"]


# -- the command ------------------------------------------------------------------------------------


def test_schema_command_writes_the_file(run_cli, tmp_path):
    out = tmp_path / "convcalc-schema.json"
    code, stdout, err = run_cli("schema", "-o", str(out))
    assert (code, stdout, err) == (0, "", "")
    assert json.loads(out.read_text(encoding="utf-8")) == SCHEMA


def test_schema_of_one_spec(run_cli):
    code, out, err = run_cli("schema", "resnet50")
    assert code == 0, err
    schema = json.loads(out)
    assert schema["title"] == "convcalc spec: ResNet-50"
    assert schema["definitions"]["item"]["properties"]["bottleneck"]["required"] == ["planes"]
    assert "item_using_blocks" not in schema["definitions"]


def test_readme_example_is_valid_and_documents_the_editor_line():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = readme.split("## The spec format", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    assert example.startswith("# yaml-language-server: $schema=")
    assert errors(yaml.safe_load(example)) == []
    assert "convcalc schema -o convcalc-schema.json" in readme


def test_bad_corpus_files_are_where_the_test_expects():
    assert CORPUS.is_dir() and FILES


def test_a_kind_argument_pydantic_writes_under_defs_is_written_in_place():
    """An Enum (or a nested model) is a ``$ref`` into pydantic's ``$defs``: no ref may dangle."""
    from enum import Enum

    from pydantic import BaseModel

    from convcalc.spec.schema import _inlined

    class Mode(str, Enum):
        fast = "fast"
        slow = "slow"

    class Args(BaseModel):
        mode: Mode = Mode.fast

    assert _inlined(Args.model_json_schema())["properties"]["mode"] == {"enum": ["fast", "slow"], "title": "Mode", "type": "string", "default": "fast"}
    assert '"$ref": "#/$defs' not in schema_text(SCHEMA)
