"""Fuzzing the whole command-line path: any input gets a report or one clean error line.

Three sources of input, each run through ``convcalc summary`` (every output format) or
``convcalc check`` in-process: arbitrary text made of YAML's punctuation; random spec-shaped
documents (known layer kinds and argument names, odd values); and the built-in specs in
``specs/`` with random mutations (a key dropped, a value retyped, a number changed, a layer
duplicated, the text truncated). The only acceptable outcomes are exit 0 with a report, or exit
1 / 2 with one ``file:line:col: error[code]: message`` line; a traceback or ``error[internal]``
(an uncaught exception) is a failure.

CI runs 150 examples per source (50 for the symbolic one: 500 in all), the same ones every
time; ``CONVCALC_FUZZ_EXAMPLES=10000`` runs that many random ones per source (a third of them
symbolic).
"""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from typer.testing import CliRunner

from convcalc.cli import app
from convcalc.kinds import ALIASES, KINDS
from convcalc.spec.model import BUDGET_KEYS, SYMBOL

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("CONVCALC_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 150, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
BUILTINS = sorted((Path(__file__).resolve().parents[1] / "specs").glob("*.yaml"))
TEXTS = {path.stem: path.read_text(encoding="utf-8") for path in BUILTINS}  # read once: examples must replay
ERROR_LINE = re.compile(r"^.+?:\d+:\d+: error\[[a-z0-9]+(?:-[a-z0-9]+)*\]: \S")
COMMANDS = [
    ("summary", "--format", "json"),
    ("summary", "--format", "csv"),
    ("summary", "--format", "markdown"),
    ("summary",),
    ("check", "--format", "json"),
]



def note(outcome: str) -> None:
    """Count outcomes (``--hypothesis-show-statistics``) to see how deep the inputs get."""
    if currently_in_test_context():
        event(outcome)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """One folder for every example (hypothesis runs many examples per test call)."""
    return tmp_path_factory.mktemp("fuzz")


def run(workdir: Path, text: str, command: tuple[str, ...]) -> None:
    """Run one command on ``text`` and fail unless it gave a report or one clean error line."""
    spec_file, out_file = workdir / "fuzz.yaml", workdir / "out.txt"
    spec_file.write_text(text, encoding="utf-8")
    out_file.unlink(missing_ok=True)
    args = [*command, str(spec_file)]
    if command[0] == "summary" and len(command) > 1:
        args += ["-o", str(out_file)]
    result = CliRunner().invoke(app, args)
    shown = f"{' '.join(command)} on:\n{text[:2000]}\n--- stdout:\n{result.stdout[:2000]}\n--- stderr:\n{result.stderr[:2000]}"
    assert result.exception is None or isinstance(result.exception, SystemExit), f"{result.exception!r}\n{shown}"
    assert "Traceback" not in result.output and "error[internal]" not in result.output, shown
    assert result.exit_code in (0, 1, 2), shown
    note(f"exit {result.exit_code}")
    if command[0] == "check":
        report = json.loads(result.stdout)
        assert report["exit_code"] == result.exit_code, shown
        return
    if result.exit_code == 0:
        assert result.stderr == "", shown
        if len(command) > 1:
            assert out_file.exists() and out_file.stat().st_size > 0, shown
            if "json" in command:
                assert "output_shape" in json.loads(out_file.read_text(encoding="utf-8")), shown
        else:
            assert result.stdout, shown
        return
    lines = result.stderr.splitlines()  # one located line per fault (a file's faults are reported together)
    assert lines and all(ERROR_LINE.match(line) for line in lines), shown
    note(lines[0].split(": error[", 1)[1].split("]", 1)[0].split("-", 1)[0])  # yaml, spec, shape, graph, ...
    assert not out_file.exists(), shown


# -- arbitrary text ------------------------------------------------------------------------------

YAML_PIECES = st.one_of(
    st.sampled_from(list("-:[]{},&*!|>'\"#%@`?~ \n\t\\.0123456789")),
    st.sampled_from(["name: ", "input: [3, 8, 8]", "layers:", "\n  - ", "relu", "conv2d", "!!int ", "<<: ", "&a ", "*a"]),
    st.characters(codec="utf-8"),
)
YAML_TEXT = st.lists(YAML_PIECES, max_size=120).map("".join)


@FUZZ
@given(text=YAML_TEXT, command=st.sampled_from(COMMANDS))
def test_arbitrary_text(workdir: Path, text: str, command: tuple[str, ...]):
    run(workdir, text, command)


# -- random spec-shaped documents --------------------------------------------------------------

KIND_NAMES = sorted(KINDS) + sorted(ALIASES) + ["seq", "residual", "parallel", "blk", "conv", "Conv2d"]
ARG_NAMES = sorted(
    {name for cls in KINDS.values() for name in cls.model_fields}
    | {"body", "shortcut", "branches", "merge", "crop", "params", "layers", "kernal_size", "int", "none", "list[int]"}
)
META = ["name", "id", "input", "repeat", "when", "expect"]
WORDS = [
    "same", "valid", "center", "none", "concat", "add", "multiply", "channels", "last", "previous",
    "a", "b", "nearest", "bilinear", "zeros", "reflect", "$n", "${n * 2}", "${n // 0}", "${n", "$nope",
    "${in_channels}", "", "x y", "<= 1M", "<= 4.2Q", ">= 3", "== 10", "28*28*6", "2**10",
]
SMALL = st.integers(1, 5)
SCALARS = st.one_of(
    SMALL,
    st.integers(-2, 9),
    st.sampled_from([0, 1, 2, 3, 7, 8, 16, 64, 224, 2**48]),  # larger ones: see NUMBERS below
    st.booleans(),
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.sampled_from(WORDS),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(ARG_NAMES), inner, max_size=4),
    max_leaves=10,
)
PLAUSIBLE = st.one_of(SMALL, SMALL, st.lists(SMALL, min_size=1, max_size=3), st.sampled_from(["same", "valid", "channels", "center", True, False]))
METAS = st.dictionaries(st.sampled_from(META), SCALARS, max_size=2)


@st.composite
def plausible_layer(draw) -> Any:
    """A known kind with its own argument names (every required one) and small values."""
    kind = draw(st.sampled_from(sorted(KINDS)))
    fields = KINDS[kind].model_fields
    required = [name for name, info in fields.items() if info.is_required()]
    optional = draw(st.lists(st.sampled_from(sorted(fields)), max_size=2)) if fields else []
    args = {name: draw(PLAUSIBLE) for name in [*required, *optional]}
    if kind in ("add", "concat", "multiply"):
        args["inputs"] = draw(st.lists(st.sampled_from(["previous", "a", "b"]), min_size=1, max_size=3))
    meta = draw(st.dictionaries(st.sampled_from(["id", "repeat"]), st.sampled_from(["a", "b", 2, 3]), max_size=1))
    return {kind: args, **meta} if args or meta else kind


LEAF_ITEMS = st.one_of(
    plausible_layer(),
    plausible_layer(),
    st.sampled_from(KIND_NAMES),
    st.builds(
        lambda kind, args, meta: {kind: args, **meta},
        st.sampled_from(KIND_NAMES),
        st.one_of(st.none(), st.dictionaries(st.sampled_from(ARG_NAMES), VALUES, max_size=4), VALUES),
        METAS,
    ),
)


def structures(items):
    """``seq``, ``residual`` and ``parallel`` items holding lists of ``items``."""
    lists = st.lists(items, max_size=4)
    return st.one_of(
        st.builds(lambda body, meta: {"seq": body, **meta}, lists, METAS),
        st.builds(lambda body, short: {"residual": {"body": body, "shortcut": short}}, lists, lists),
        st.builds(
            lambda merge, crop, branches: {"parallel": {"merge": merge, "crop": crop, "branches": branches}},
            st.sampled_from(["concat", "add", "multiply", "sum"]), st.sampled_from(["none", "center"]), st.lists(lists, max_size=3),
        ),
    )


LAYER_LISTS = st.lists(st.recursive(LEAF_ITEMS, structures, max_leaves=12), max_size=5)


SPEC_DOCS = st.builds(
    lambda dims, layers, blocks, extra: {"name": "fuzz", "input": dims, "layers": layers, **blocks, **extra},
    st.one_of(
        st.lists(st.integers(1, 40), min_size=2, max_size=4),
        st.lists(st.integers(1, 40), min_size=2, max_size=4),
        st.lists(st.integers(1, 40), min_size=2, max_size=4),
        st.lists(st.one_of(st.integers(1, 40), st.sampled_from([0, -1, 2**48, 1.5, "3", "x y"])), min_size=1, max_size=4),
    ),
    st.lists(st.recursive(LEAF_ITEMS, structures, max_leaves=12), min_size=1, max_size=6),
    st.one_of(st.just({}), st.builds(lambda params, body: {"blocks": {"blk": {"params": params, "layers": body}}}, st.dictionaries(st.sampled_from(["n", "c"]), SCALARS, max_size=2), LAYER_LISTS)),
    st.just({}) | st.dictionaries(
        st.sampled_from(["name", "budget", "expect", "batch", "description", "unknown"]),
        st.one_of(VALUES, st.dictionaries(st.sampled_from([*BUDGET_KEYS, "shape", "output", "conv1.params"]), SCALARS, max_size=3)),
        max_size=2,
    ),
)


@FUZZ
@given(doc=SPEC_DOCS, command=st.sampled_from(COMMANDS))
def test_random_specs(workdir: Path, doc: dict, command: tuple[str, ...]):
    run(workdir, yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), command)


# -- mutations of the built-in specs -----------------------------------------------------------


def paths(value: Any, path: tuple = ()) -> list[tuple]:
    """Every path into a parsed YAML value, the root first."""
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += paths(item, (*path, i))
    return found


def get(value: Any, path: tuple) -> Any:
    for part in path:
        value = value[part]
    return value


OTHER_TYPES = st.one_of(
    st.sampled_from(["", "3", "x-y", "same", "$n", "${1 +}", "previous", "relu", "1e9", "ü"]),
    st.sampled_from([[], [1], {}, {"a": 1}, True, False, None, 2.5, float("nan"), -1, 0]),
)
NUMBERS = st.one_of(st.integers(-3, 300), st.sampled_from([2**31, 2**48, 2**48 + 1, 10**12]))


def mutate(draw, doc: Any, times: int) -> None:
    """Drop a key, retype or renumber a value, or duplicate a list item, ``times`` times."""
    for _ in range(times):
        operation = draw(st.sampled_from(["drop", "retype", "renumber", "duplicate"]))
        everything = paths(doc)[1:]
        if operation == "drop":
            keyed = [p for p in everything if isinstance(get(doc, p[:-1]), dict)]
            target = draw(st.sampled_from(keyed))
            del get(doc, target[:-1])[target[-1]]
        elif operation == "retype":
            target = draw(st.sampled_from(everything))
            get(doc, target[:-1])[target[-1]] = copy.deepcopy(draw(OTHER_TYPES))  # never share the sampled objects
        elif operation == "renumber":
            numbers = [p for p in everything if isinstance(get(doc, p), int) and not isinstance(get(doc, p), bool)]
            if numbers:
                target = draw(st.sampled_from(numbers))
                get(doc, target[:-1])[target[-1]] = draw(NUMBERS)
        else:
            lists = [p for p in paths(doc) if isinstance(get(doc, p), list) and get(doc, p)]
            target = draw(st.sampled_from(lists))
            items = get(doc, target)
            i = draw(st.integers(0, len(items) - 1))
            items.insert(i, yaml.safe_load(yaml.safe_dump(items[i])))


# layers that, stacked, make sizes, receptive fields or symbolic formulas grow: the bounds must stop them
STACKERS = st.sampled_from([
    {"conv2d": {"out_channels": 4, "kernel_size": 1, "stride": 3, "padding": "same"}},
    {"conv2d": {"out_channels": 4, "kernel_size": 3, "stride": 2, "padding": "same"}},
    {"max_pool2d": {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}},
    {"avg_pool2d": {"kernel_size": 2, "stride": 3, "ceil_mode": True}},
    {"avg_pool2d": {"kernel_size": 3, "stride": 2, "padding": 1}},
    {"upsample": {"scale_factor": 0.7}},
    {"upsample": {"scale_factor": 1.5}},
    {"conv_transpose2d": {"out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1, "output_padding": 1}},
    {"conv2d": {"out_channels": 4, "kernel_size": 3}},
    {"adaptive_avg_pool2d": {"output_size": 5}},
    {"upsample": {"scale_factor": 2}},
    {"max_pool2d": {"kernel_size": 1, "stride": 1000}},
    {"parallel": [["identity"], ["identity"]], "merge": "concat"},
])


def append_stack(draw, doc: Any) -> None:
    """Sometimes end the network with a stack of growing layers, repeated up to 300 times."""
    if isinstance(doc, dict) and isinstance(doc.get("layers"), list) and draw(st.booleans()):
        stack = draw(st.lists(STACKERS, min_size=1, max_size=3))
        doc["layers"].append({"seq": copy.deepcopy(stack), "repeat": draw(st.integers(1, 300))})
@st.composite
def mutated_builtin(draw) -> str:
    doc = yaml.safe_load(TEXTS[draw(st.sampled_from(sorted(TEXTS)))])
    mutate(draw, doc, draw(st.integers(1, 3)))
    append_stack(draw, doc)
    # symbolic sizes take sympy's time, not the parser's: this fuzzer keeps to integer sizes
    dims = doc.get("input") if isinstance(doc, dict) else None
    assume(not (isinstance(dims, list) and any(isinstance(d, str) and SYMBOL.match(d) for d in dims)))
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    if draw(st.booleans()):
        text = text[: draw(st.integers(0, len(text)))]
    return text


@FUZZ
@given(text=mutated_builtin(), command=st.sampled_from(COMMANDS))
def test_mutated_builtin_specs(workdir: Path, text: str, command: tuple[str, ...]):
    run(workdir, text, command)


# -- symbolic sizes ------------------------------------------------------------------------------

SYMBOLIC_EXAMPLES = max(EXAMPLES // 3, 1)


@st.composite
def symbolic_builtin(draw) -> str:
    """A built-in with symbols for its sizes, mutated, maybe with a stack of layers at the end."""
    doc = yaml.safe_load(TEXTS[draw(st.sampled_from(sorted(TEXTS)))])
    doc["input"] = [doc["input"][0], *("DHW"[3 - len(doc["input"]) + 1:] if len(doc["input"]) <= 4 else "H")]
    mutate(draw, doc, draw(st.integers(0, 2)))
    append_stack(draw, doc)
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


@settings(FUZZ, max_examples=SYMBOLIC_EXAMPLES)
@given(text=symbolic_builtin(), command=st.sampled_from(COMMANDS))
def test_symbolic_builtin_specs(workdir: Path, text: str, command: tuple[str, ...]):
    """The same, with sizes as symbols: every formula within its bounds, or a clean refusal."""
    run(workdir, text, command)


@pytest.mark.parametrize("path", BUILTINS, ids=lambda p: p.stem)
def test_truncated_builtins(workdir: Path, path: Path):
    """Cuts of a built-in spec at ten line boundaries: a report or a clean error, never a crash."""
    lines = TEXTS[path.stem].splitlines(keepends=True)
    for end in range(0, len(lines), max(1, len(lines) // 10)):
        run(workdir, "".join(lines[:end]), ("summary", "--format", "json"))
