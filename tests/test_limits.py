"""No file can make convcalc run code, hang or eat memory: every bound refuses, and names itself.

The bounds (DESIGN.md, "Errors and exit codes"): a safe loader that refuses every tag but the plain
YAML types; file size (``MAX_FILE_BYTES``), values after alias expansion (``MAX_NODES``), nesting
depth (``MAX_DEPTH``) and integers (``MAX_INT``, ``MAX_INT_CHARS``) in ``convcalc/_yaml.py``;
layers after expanding repeats and blocks (``MAX_LAYERS``) and block nesting
(``MAX_BLOCK_DEPTH``) in ``convcalc/graph/build.py``; expression text and values in
``convcalc/_expr.py``; symbolic formulas (``MAX_EXPR_NODES``, ``MAX_EXPR_DEPTH``, ``MAX_EXPR_BITS``,
``MAX_SYMBOLIC_WORK``) in ``convcalc/_symbolic.py`` and symbolic layers (``MAX_SYMBOLIC_LAYERS``).
Each test asserts the refusal, its code and the limit named in its message; none measures time.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

import convcalc
from convcalc.graph import build as engine
from convcalc.spec._yaml import MAX_DEPTH, MAX_FILE_BYTES, MAX_INT, MAX_INT_CHARS, MAX_NODES, load_yaml
from convcalc.cli import app
from convcalc.errors import SpecError
from convcalc.kinds.pool import window_elements

SPEC = """\
name: limits
input: [3, 32, 32]
layers:
  - conv2d: {out_channels: 8, kernel_size: 3}
"""

pytestmark = pytest.mark.usefixtures("yaml_parser")


def refused(text: str) -> SpecError:
    """Load and analyse spec text; return the error it must raise."""
    with pytest.raises(SpecError) as caught:
        convcalc.analyze(convcalc.load_spec(textwrap.dedent(text), "hostile.yaml"))
    return caught.value


def cli(*args: str):
    result = CliRunner().invoke(app, list(args))
    assert "Traceback" not in result.output and "error[internal]" not in result.output, result.output
    return result


# -- tags ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "tag"),
    [
        ('!!python/object/apply:os.system ["touch {marker}"]', "tag:yaml.org,2002:python/object/apply:os.system"),
        ("!!python/object:collections.OrderedDict {}", "tag:yaml.org,2002:python/object:collections.OrderedDict"),
        ("!!python/name:os.system ''", "tag:yaml.org,2002:python/name:os.system"),
        ("!!python/tuple [1, 2]", "tag:yaml.org,2002:python/tuple"),
        ("!!binary aGVsbG8=", "tag:yaml.org,2002:binary"),
        ("!!timestamp 2001-12-14", "tag:yaml.org,2002:timestamp"),
        ("!!set {a: null}", "tag:yaml.org,2002:set"),
        ("!!omap [a: 1]", "tag:yaml.org,2002:omap"),
        ("!custom 3", "!custom"),
        ("!<tag:example.com,2000:app/x> 3", "tag:example.com,2000:app/x"),
    ],
    ids=lambda v: v.split()[0] if " " in str(v) else None,
)
def test_unsafe_and_foreign_tags_are_refused(value: str, tag: str, tmp_path: Path):
    marker = tmp_path / "ran"
    error = refused(SPEC + "description: " + value.replace("{marker}", str(marker)) + "\n")
    assert (error.code, error.pos.line, error.pos.col) == ("yaml-tag", 5, 14)
    assert repr(tag) in error.message
    assert not marker.exists()


def test_an_implicit_date_is_just_text():
    """A plain ``2001-12-14`` would be a timestamp in YAML 1.1; nobody asked for one, so it stays text."""
    spec = convcalc.load_spec(SPEC + "description: 2001-12-14\n", "date.yaml")
    assert spec.description == "2001-12-14"


def test_an_unsafe_tag_through_the_cli(tmp_path: Path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.yaml"
    path.write_text(SPEC + f'description: !!python/object/apply:os.system ["touch {marker}"]\n', encoding="utf-8")
    result = cli("summary", str(path))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{path}:5:14: error[yaml-tag]: ")
    assert not marker.exists()


# -- aliases, nesting, merges -------------------------------------------------------------------


def billion_laughs(levels: int = 9) -> str:
    lines = ["name: lol", "input: [3, 8, 8]", "layers: [relu]", "description:", "  - &lol0 lol"]
    for i in range(1, levels + 1):
        lines.append(f"  - &lol{i} [" + ", ".join([f"*lol{i - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_refused_at_its_first_oversized_alias():
    """lol_i holds 10 copies of lol_(i-1): (10**(i+1) - 1) / 9 values. After lol1..lol5
    (11 + 111 + 1111 + 11111 + 111111 = 123455 values), the first *lol5 in lol6 would pass
    MAX_NODES: refused there, before it is copied, never mind the 10**9 strings of lol9."""
    assert 11 + 111 + 1111 + 11111 + 111111 + 111111 > MAX_NODES > 11 + 111 + 1111 + 11111 + 111111
    error = refused(billion_laughs())
    assert (error.code, error.pos.line, error.pos.col) == ("limit-yaml-nodes", 11, 12)
    assert "alias *lol5" in error.message and "(limit MAX_NODES)" in error.message


def test_billion_laughs_through_the_cli(tmp_path: Path):
    path = tmp_path / "lol.yaml"
    path.write_text(billion_laughs(), encoding="utf-8")
    out = tmp_path / "out.json"
    result = cli("summary", str(path), "-o", str(out), "--format", "json")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{path}:11:12: error[limit-yaml-nodes]: ")
    assert not out.exists()


def test_aliases_within_the_bound_are_copied_with_their_positions():
    value, source = load_yaml("a: &x {k: [1, 2]}\nb: *x\n", "ok.yaml")
    assert value == {"a": {"k": [1, 2]}, "b": {"k": [1, 2]}}
    assert value["b"] is not value["a"]
    assert source.pos(("b",)).line == 2 and source.pos(("b", "k", 1)).line == 1


def test_merge_keys_fill_in_what_a_mapping_does_not_set():
    text = SPEC.replace("  - conv2d: {out_channels: 8, kernel_size: 3}", "  - conv2d: &c3 {out_channels: 8, kernel_size: 3}\n  - conv2d:\n      <<: *c3\n      stride: 2\n      out_channels: 16")
    report = convcalc.analyze(convcalc.load_spec(text, "merge.yaml"))
    assert report.output_shape == (16, (30 - 3) // 2 + 1, (30 - 3) // 2 + 1)


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 100_000])
def test_deep_flow_nesting(depth: int):
    error = refused(SPEC + "description: " + "[" * depth + "]" * depth + "\n")
    assert (error.code, error.pos.line) == ("limit-yaml-depth", 5)
    assert "(limit MAX_DEPTH)" in error.message


def test_brackets_in_quotes_and_comments_do_not_nest():
    """The flow-depth count before parsing skips quoted scalars and comments."""
    text = SPEC + 'description: "' + "[" * 200 + "'\"\n# " + "{" * 200 + "\nnote: '" + "[" * 100 + "'''\n"
    data, _ = load_yaml(text, "quoted.yaml")
    assert data["description"] == "[" * 200 + "'" and data["note"] == "[" * 100 + "'"


def test_deep_block_nesting():
    lines = [f"{'  ' * i}k{i}:" for i in range(200)]
    error = refused(SPEC + "description:\n" + "\n".join("  " + line for line in lines) + " 1\n")
    assert error.code == "limit-yaml-depth" and "(limit MAX_DEPTH)" in error.message


def test_an_alias_cannot_smuggle_depth():
    nested = "[" * 40 + "]" * 40
    error = refused(SPEC + f"description: [&deep {nested}, " + "[" * 30 + "*deep" + "]" * 30 + "]\n")
    assert error.code == "limit-yaml-depth" and "alias *deep" in error.message


def test_a_self_referencing_alias():
    error = refused(SPEC + "description: &me [1, *me]\n")
    assert error.code == "yaml-alias" and "contains it" in error.message


# -- sizes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "literal",
    [
        str(MAX_INT + 1),
        "1000000000000000000000",
        "9" * 5000,  # past Python's own 4300-digit limit for int()
        "1:" * 100_000 + "1",  # YAML 1.1 base 60: quadratic to convert
        "0x" + "f" * 100,
    ],
    ids=["2**48+1", "10**21", "5000 digits", "base 60", "hex"],
)
def test_huge_integers(literal: str):
    error = refused(SPEC.replace("[3, 32, 32]", f"[3, {literal}, 32]"))
    assert (error.code, error.pos.line, error.pos.col) == ("limit-int", 2, 12)
    assert "(limit MAX_INT" in error.message  # MAX_INT, or MAX_INT_CHARS for a long literal


def test_the_largest_allowed_integer_is_exact():
    report = convcalc.analyze(convcalc.load_spec(SPEC.replace("[3, 32, 32]", f"[3, {MAX_INT}, 32]"), "big.yaml"))
    assert report.output_shape == (8, MAX_INT - 2, 30)
    assert report.totals.macs == (MAX_INT - 2) * 30 * 8 * 3 * 3 * 3
    assert len(str(MAX_INT)) < MAX_INT_CHARS


def test_expressions_cannot_exceed_the_integer_limit():
    error = refused("""\
        name: expr
        input: [3, 32, 32]
        blocks:
          wide:
            params: {c: 281474976710656}
            layers:
              - conv2d: {out_channels: "${c * 2}", kernel_size: 3}
        layers: [wide]
    """)
    assert error.code == "spec-expression" and "(limit MAX_INT)" in error.message


def test_expressions_cannot_build_huge_strings():
    """Each level of nested blocks doubles the name: refused at MAX_TEXT_CHARS, not at 2**32."""
    blocks = "\n".join(
        f"  b{i}:\n    params: {{s: ~}}\n    layers:\n      - b{i + 1}: {{s: \"${{s + s}}\"}}" for i in range(30)
    )
    error = refused(f"name: text\ninput: [3, 8, 8]\nblocks:\n{blocks}\n  b30:\n    params: {{s: ~}}\n    layers: [relu]\nlayers:\n  - b0: {{s: {'x' * 100}}}\n")
    assert error.code == "spec-expression" and "(limit MAX_TEXT_CHARS)" in error.message


def test_file_size(tmp_path: Path):
    path = tmp_path / "big.yaml"
    path.write_bytes(SPEC.encode() + b"#" * MAX_FILE_BYTES)
    out = tmp_path / "out.json"
    result = cli("summary", str(path), "-o", str(out), "--format", "json")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{path}:1:1: error[limit-file-size]: ")
    assert "(limit MAX_FILE_BYTES)" in result.stderr and not out.exists()
    with pytest.raises(SpecError, match="limit MAX_FILE_BYTES"):
        convcalc.load_spec(SPEC + "#" * MAX_FILE_BYTES, "text.yaml")


# -- layers after expansion ----------------------------------------------------------------------


def test_a_trillion_repeats_are_refused_before_any_work(monkeypatch):
    """The estimate counts 10**12 rows up front (the message has the count, which only the
    estimate knows), and points at ``layers:``; nothing is folded."""
    monkeypatch.setattr(engine._Folder, "fold_list", lambda *a, **k: pytest.fail("folded before refusing"))
    error = refused(SPEC + "    repeat: 1000000000000\n")
    assert (error.code, error.pos.line) == ("limit-layers", 4)
    assert "1,000,000,000,000 layers" in error.message and "(limit MAX_LAYERS)" in error.message


def test_repeats_multiply_through_blocks(monkeypatch):
    monkeypatch.setattr(engine._Folder, "fold_list", lambda *a, **k: pytest.fail("folded before refusing"))
    error = refused("""\
        name: nested
        input: [3, 8, 8]
        blocks:
          inner:
            layers:
              - relu:
                repeat: 1000
          outer:
            layers:
              - inner:
                repeat: 1000
        layers:
          - outer:
            repeat: 1000
    """)
    assert error.code == "limit-layers" and "1,000,000,000 layers" in error.message


def test_an_empty_seq_repeated_still_counts():
    error = refused(SPEC + "  - seq: []\n    repeat: 1000000000000\n")
    assert error.code == "limit-layers" and "(limit MAX_LAYERS)" in error.message


def test_a_repeat_given_by_a_parameter(monkeypatch):
    """``repeat: $n`` is only known inside the block: the copies it would make are counted when the
    block is reached, and refused before the first one is built."""
    block = "name: p\ninput: [3, 8, 8]\nblocks:\n  b:\n    params: {{n: ~}}\n    layers:\n      {body}\nlayers:\n  - b: {{n: {n}}}\n"
    monkeypatch.setattr(engine._Folder, "leaf", lambda *a, **k: pytest.fail("a layer was built before refusing"))
    error = refused(block.format(body="- relu:\n        repeat: $n", n=10**12))
    assert error.code == "limit-layers" and "repeat 1,000,000,000,000 makes 1,000,000,000,000 layers" in error.message
    monkeypatch.setattr(engine, "MAX_LAYERS", 1000)
    for body in ("- seq: [relu, relu]\n        repeat: $n", "- seq: [{seq: []}, {seq: []}]\n        repeat: $n"):
        error = refused(block.format(body=body, n=600))  # 600 * 2 rows, or 600 * 2 groups
        assert error.code == "limit-layers" and "repeat 600 makes 1,200 layers" in error.message and "(limit MAX_LAYERS)" in error.message


def test_block_nesting_depth():
    blocks = "\n".join(f"  b{i}:\n    layers: [b{i + 1}]" for i in range(engine.MAX_BLOCK_DEPTH + 5))
    error = refused(f"name: chain\ninput: [3, 8, 8]\nblocks:\n{blocks}\n  b{engine.MAX_BLOCK_DEPTH + 5}:\n    layers: [relu]\nlayers: [b0]\n")
    assert error.code == "limit-block-depth" and "(limit MAX_BLOCK_DEPTH)" in error.message


def test_a_million_tap_pooling_window_is_counted_in_closed_form():
    """Average pooling with k = 10**6, p = k/2, s = 1 keeps n = 10**6 at n + 1 outputs; the input
    elements its windows read, counted per tap, sum to n*k - (edge taps clipped on both sides):
    out*k - 2 * (p*(p+1)/2) with out = n + 1 (every window is clipped by its distance to an edge)."""
    n = k = 10**6
    p = k // 2
    out = n + 2 * p - k + 1
    assert window_elements(n, out, k, 1, 1, p) == out * k - 2 * (p * (p + 1) // 2)
    spec = f"name: wide\ninput: [1, {n}]\nlayers:\n  - avg_pool1d: {{kernel_size: {k}, stride: 1, padding: {p}}}\n    repeat: 1000\n"
    report = convcalc.analyze(convcalc.load_spec(spec, "wide.yaml"))
    assert report.output_shape == (1, n + 1000)


# -- symbolic sizes ------------------------------------------------------------------------------


def symbolic_spec(body: str) -> str:
    return "name: sym\ninput: [3, H, W]\nlayers:\n" + textwrap.indent(textwrap.dedent(body), "  ")


@pytest.mark.parametrize(
    ("body", "bound"),
    [
        # every stride-2 'same' layer adds a parity term to the receptive field's start
        ("- conv2d: {out_channels: 3, kernel_size: 3, stride: 2, padding: same}\n  repeat: 60\n", "MAX_EXPR_NODES"),
        # a 0.7 scale does not fold into the next floor: floor(7*floor(7*H/10)/10) ...
        ("- upsample: {scale_factor: 0.7}\n  repeat: 60\n", "MAX_EXPR_DEPTH"),
        # ceiling(H/2**k) never reaches 0 with padding 1: the divisor outgrows every input size
        ("- avg_pool2d: {kernel_size: 3, stride: 2, padding: 1}\n  repeat: 200\n", "MAX_EXPR_BITS"),
    ],
    ids=["nodes", "depth", "bits"],
)
def test_symbolic_formulas_are_bounded(body: str, bound: str):
    """Each bound stops a formula that grows with every layer, at the layer where it passes."""
    error = refused(symbolic_spec(body))
    assert error.code == "limit-expression" and f"(limit {bound})" in error.message
    assert error.message.endswith("give the input size as a number")


def test_symbolic_work_is_bounded(monkeypatch):
    """MAX_SYMBOLIC_WORK counts the nodes of every formula the rows hold; a network of many
    middling formulas stops there. (The real bound is 100,000: ResNet-152 spends 10,851, GoogLeNet 9,749.)"""
    symbolic = pytest.importorskip("convcalc.arith._symbolic")
    monkeypatch.setattr(symbolic, "MAX_SYMBOLIC_WORK", 2_000)
    error = refused(symbolic_spec("- conv2d: {out_channels: 3, kernel_size: 3}\n  repeat: 500\n"))
    assert error.code == "limit-expression" and "(limit MAX_SYMBOLIC_WORK)" in error.message
    monkeypatch.undo()
    report = convcalc.analyze(convcalc.load_model("googlenet"), input_shape=(3, "H", "W"))
    assert report.symbols  # within the real bound


def test_symbolic_layers_are_refused_before_any_work(monkeypatch):
    monkeypatch.setattr(engine._Folder, "fold_list", lambda *a, **k: pytest.fail("folded before refusing"))
    error = refused(symbolic_spec(f"- relu:\n  repeat: {engine.MAX_SYMBOLIC_LAYERS + 1}\n"))
    assert error.code == "limit-layers" and "(limit MAX_SYMBOLIC_LAYERS" in error.message
    monkeypatch.undo()
    report = convcalc.analyze(convcalc.load_spec(SPEC + f"  - relu:\n    repeat: {engine.MAX_SYMBOLIC_LAYERS + 1}\n", "int.yaml"))
    assert len(report.rows) == engine.MAX_SYMBOLIC_LAYERS + 2  # integer sizes: MAX_LAYERS applies


@pytest.mark.parametrize(
    ("body", "shape"),
    [
        # TF 'same' with a kernel smaller than its stride: the padding is max(..., 0), the size
        # ceil(n / s) all the same (six of these took seven minutes)
        ("- conv2d: {out_channels: 3, kernel_size: 1, stride: 3, padding: same}\n  repeat: 20\n", "(3, ceiling(H/3486784401), ceiling(W/3486784401))"),
        # ceil_mode: PyTorch's min(o1, last window in the input) is decided per configuration
        ("- max_pool2d: {kernel_size: 3, stride: 2, padding: 1, ceil_mode: true}\n  repeat: 30\n", "(3, floor(H/1073741824 + 536870911/536870912) + 1, floor(W/1073741824 + 536870911/536870912) + 1)"),
        ("- avg_pool2d: {kernel_size: 2, stride: 3, ceil_mode: true}\n  repeat: 30\n", "(3, ceiling(H/205891132094649), ceiling(W/205891132094649))"),
        ("- max_pool2d: {kernel_size: 2, stride: 2}\n  repeat: 40\n", "(3, floor(H/1099511627776), floor(W/1099511627776))"),
    ],
    ids=["same-k1-s3", "ceil-k3-s2-p1", "ceil-k2-s3", "pool-s2"],
)
def test_stacks_that_used_to_grow_stay_one_term(body: str, shape: str):
    """Stacks that took sympy minutes stay one floor or ceiling, and their FLOPs one term per
    layer, no max or min; substituted, they are the integer report."""
    report = convcalc.analyze(convcalc.load_spec(symbolic_spec(body), "stack.yaml"))
    assert str(report.output_shape) == shape
    assert not any("Max" in str(r.flops) or "Min" in str(r.flops) for r in report.rows)
    for h in (2**40, 2**40 + 5, 2**41 + 3):
        expected = convcalc.analyze(convcalc.load_spec(symbolic_spec(body).replace("[3, H, W]", f"[3, {h}, {h}]"), "int.yaml"))
        assert report.subs({"H": h, "W": h}).totals == expected.totals


# -- integer sizes that grow -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("layers", "where", "bound"),
    [
        # 8 * 2**45 == 2**48 == MAX_INT is still a size; the 46th doubling is not
        ("  - upsample: {scale_factor: 2}\n    repeat: 100000\n", "0.45 (upsample)", "a size grew to a 50-bit number, past 2**48 (limit MAX_INT)"),
        # a stride of 10**5 on a 1x1 map keeps it 1x1, and multiplies the jump by 10**5 each time:
        # 10**(5*62) > 2**1024 > 10**(5*61)
        ("  - max_pool2d: {kernel_size: 1, stride: 100000}\n    repeat: 100000\n", "0.61 (max_pool2d)", "(limit MAX_RF_BITS)"),
        # sizes go up and down, the jump's fraction (10/7 * 2/3)**k = (20/21)**k only grows
        ("  - seq: [{upsample: {scale_factor: 0.7}}, {upsample: {scale_factor: 1.5}}]\n    repeat: 1000\n", "0.233.0 (upsample)", "(limit MAX_RF_BITS)"),
    ],
    ids=["size", "jump", "fraction"],
)
def test_integer_growth_is_bounded(layers: str, where: str, bound: str):
    """Repeated rescaling can grow a size or a receptive field without end: refused at the layer
    that passes the bound (Python would not even print such a number past 4,300 digits)."""
    error = refused(f"name: grow\ninput: [1, 8, 8]\nlayers:\n{layers}")
    assert error.code == "limit-int"
    assert error.message.startswith(where) and bound in error.message
