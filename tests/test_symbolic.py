"""Symbolic input sizes: formulas in H and W that, substituted, give exactly the integer report."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import convcalc
from convcalc.errors import SpecError
from convcalc.spec.zoo import builtin_names

from helpers import analyze_model, analyze_text

SYMBOLS = ("L",), ("H", "W"), ("D", "H", "W")


def symbolic_input(spec) -> tuple:
    return (spec.input[0], *SYMBOLS[len(spec.input) - 2])


def assert_same(a: convcalc.Report, b: convcalc.Report) -> None:
    assert a.output_shape == b.output_shape
    assert a.totals == b.totals
    for x, y in zip(a.rows, b.rows, strict=True):
        assert (x.path, x.output_shape, x.params, x.buffers, x.macs, x.flops) == (y.path, y.output_shape, y.params, y.buffers, y.macs, y.flops), x.path
        # a field the symbolic size leaves unknown says why; every other is the integer one
        assert all(s == t if s.known else bool(s.unknown) for s, t in zip(x.rf, y.rf, strict=True)), x.path


@pytest.mark.parametrize("name", builtin_names())
def test_every_builtin_symbolic_then_substituted_equals_integer(name):
    spec = convcalc.load_model(name)
    symbolic = convcalc.analyze(spec, input_shape=symbolic_input(spec))
    assert symbolic.symbols
    values = dict(zip(SYMBOLS[len(spec.input) - 2], spec.input[1:]))
    assert_same(symbolic.subs(values), convcalc.analyze(spec))


@pytest.mark.parametrize(("name", "size"), [("resnet50", (200, 331)), ("googlenet", (97, 131)), ("unet", (636, 700)), ("vgg16", (64, 96))])
def test_substitution_at_other_sizes(name, size):
    spec = convcalc.load_model(name)
    symbolic = convcalc.analyze(spec, input_shape=symbolic_input(spec))
    assert_same(symbolic.subs({"H": size[0], "W": size[1]}), convcalc.analyze(spec, input_shape=(spec.input[0], *size)))


def test_resnet50_formulas_read_as_ceilings():
    report = analyze_model("resnet50", input_shape=(3, "H", "W"))
    assert str(report.row("conv1").output_shape) == "(64, ceiling(H/2), ceiling(W/2))"
    assert str(report.output_shape) == "(1000,)"
    assert report.totals.params == 25557032  # parameters do not depend on the input size
    macs = report.totals.macs
    assert str(macs).startswith("14417920*ceiling(H/32)*ceiling(W/32)")
    assert report.subs({"H": 224, "W": 224}).totals.macs == 4089184256


def test_validity_conditions():
    from convcalc.report._substitute import requirements

    # LeNet's FC3 was made for the 400 features of a 32x32 input: at other sizes its input must
    # still be 16*5*5 (floor(H/4) - 3 = 5 holds for H = 32..35)
    assert requirements(analyze_model("lenet5", input_shape=(3, "H", "W"))) == [
        "H >= 16", "W >= 16",
        "FC3 (linear): input ((16*floor(H/4) - 48)*(floor(W/4) - 3),) must be (400,), the input its weights were made for",
    ]
    assert requirements(analyze_model("unet", input_shape=(1, "H", "W"))) == ["H >= 188", "W >= 188"]
    assert requirements(analyze_model("resnet50", input_shape=(3, "H", "W"))) == []
    too_small = analyze_model("lenet5", input_shape=(3, "H", "W"))
    with pytest.raises(SpecError, match="H=15"):
        too_small.subs({"H": 15, "W": 32})


def test_batch_may_be_a_symbol():
    report = analyze_model("lenet5", batch="N")
    assert str(report.activation_bytes) == f"{4 * report.totals.activations}*N"
    assert report.subs({"N": 8}).activation_bytes == 8 * 4 * 15012


def test_integer_path_never_imports_sympy():
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from convcalc.cli import app\n"
        "result = CliRunner().invoke(app, ['summary', 'resnet50', '--format', 'json'])\n"
        "assert result.exit_code == 0, result.output\n"
        "result = CliRunner().invoke(app, ['summary', 'unet'])\n"
        "assert result.exit_code == 0, result.output\n"
        "print('sympy' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr


def test_cli_set_gives_the_integer_report(run_cli):
    code, out, err = run_cli("summary", "resnet50", "--input", "3xHxW", "--set", "H=224,W=224", "-f", "json")
    assert code == 0, err
    data = json.loads(out)
    assert (data["totals"]["params"], data["totals"]["macs"]) == (25557032, 4089184256)
    assert data["layers"] == json.loads(run_cli("summary", "resnet50", "-f", "json")[1])["layers"]


def test_cli_symbolic_json_and_table(run_cli):
    data = json.loads(run_cli("summary", "lenet5", "--input", "3xHxW", "-f", "json")[1])
    assert data["layers"][0]["output_shape"] == [6, "H - 4", "W - 4"]
    assert data["valid_if"][:2] == ["H >= 16", "W >= 16"] and data["valid_if"][2].startswith("FC3 (linear): input (")
    code, out, _ = run_cli("summary", "resnet50", "--input", "3xHxW")
    assert code == 0 and "⌈H/32⌉" in out and "valid for: every input size" in out  # ceiling(H/32), as textbooks write it


def test_cli_sweep(run_cli):
    data = json.loads(run_cli("summary", "resnet50", "--sweep", "H=224,256,320,384", "-f", "json")[1])
    assert [r["input_shape"] for r in data["rows"]] == [[3, n, n] for n in (224, 256, 320, 384)]
    assert data["rows"][0]["macs"] == 4089184256
    assert [r["macs"] for r in data["rows"]] == [analyze_model("resnet50", input_shape=(3, n, n)).totals.macs for n in (224, 256, 320, 384)]
    code, out, _ = run_cli("summary", "unet", "--sweep", "H=572,636")
    assert code == 0 and "(2, 388, 388)" in out and "(2, 452, 452)" in out
    assert run_cli("summary", "unet", "--sweep", "Q=1,2")[0] == 2


def test_cli_sizes_unet(run_cli):
    code, out, err = run_cli("sizes", "unet", "--range", "500..600")
    assert code == 0, err
    assert "accepted    572 -> (2, 388, 388)" in out
    assert "exact sizes: n = 12 (mod 16), n >= 188" in out
    assert "rejected" in out and "down1.pool (max_pool2d)" in out
    data = json.loads(run_cli("sizes", "unet", "--range", "560..580", "-f", "json")[1])
    assert [a["size"] for a in data["accepted"]] == [572]
    assert all(r["reason"] for r in data["rejected"])


def test_cli_exact_resnet_multiples_of_32(run_cli):
    data = json.loads(run_cli("summary", "resnet50", "--exact", "-f", "json")[1])
    assert data["exact_sizes"].startswith("n = 0 (mod 32)")


LAYERS = st.one_of(
    st.builds(
        lambda k, s, p, d: f"conv2d: {{out_channels: 4, kernel_size: {k}, stride: {s}, padding: {p}, dilation: {d}}}",
        st.integers(1, 7), st.integers(1, 4), st.sampled_from(["0", "1", "3", "same", "valid", "[[0, 2], [1, 1]]"]), st.integers(1, 3),
    ),
    st.builds(
        lambda k, s, p, c: f"max_pool2d: {{kernel_size: {k}, stride: {s}, padding: {min(p, k // 2)}, ceil_mode: {c}}}",
        st.integers(1, 5), st.integers(1, 4), st.integers(0, 2), st.sampled_from(["true", "false"]),
    ),
    st.builds(
        lambda k, s, p, c: f"avg_pool2d: {{kernel_size: {k}, stride: {s}, padding: {min(p, k // 2)}, ceil_mode: {c}}}",
        st.integers(1, 5), st.integers(1, 4), st.integers(0, 2), st.sampled_from(["true", "false"]),
    ),
    st.builds(
        lambda k, s, p, o: f"conv_transpose2d: {{out_channels: 2, kernel_size: {k}, stride: {s}, padding: {p}, output_padding: {min(o, s - 1)}}}",
        st.integers(1, 5), st.integers(1, 3), st.integers(0, 2), st.integers(0, 2),
    ),
    st.builds(lambda m: f"adaptive_avg_pool2d: {{output_size: {m}}}", st.integers(1, 9)),
    st.builds(lambda f, mode: f"upsample: {{scale_factor: {f}, mode: {mode}}}", st.sampled_from([2, 3, 1.5]), st.sampled_from(["nearest", "bilinear"])),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layers=st.lists(LAYERS, min_size=1, max_size=3), h=st.integers(1, 64), w=st.integers(1, 64))
# the symbolic field kept an exception the pattern already gave (position 1 of bilinear's clamp): subs drops it, as a fold does
@example(layers=["adaptive_avg_pool2d: {output_size: 2}", "upsample: {scale_factor: 3, mode: bilinear}"], h=1, w=1)
def test_single_layers_symbolic_equals_integer(layers, h, w):
    text = "name: t\ninput: [3, H, W]\nlayers:\n" + "".join(f"  - {layer}\n" for layer in layers)
    try:
        symbolic = analyze_text(text)
    except SpecError:
        return  # a configuration PyTorch also rejects for every size (e.g. padding too large)
    integer_text = text.replace("[3, H, W]", f"[3, {h}, {w}]")
    try:
        expected = analyze_text(integer_text)
    except SpecError:
        with pytest.raises(SpecError):
            symbolic.subs({"H": h, "W": w})
        return
    assert_same(symbolic.subs({"H": h, "W": w}), expected)


def test_stacked_same_padding_stays_a_ceiling():
    text = "name: t\ninput: [3, H, W]\nlayers:\n  - conv2d: {out_channels: 4, kernel_size: 3, stride: 3, padding: same}\n    repeat: 4\n"
    symbolic = analyze_text(text)
    assert str(symbolic.output_shape) == "(4, ceiling(H/81), ceiling(W/81))"  # TF 'same': ceil(n / s), four times
    for h, w in ((7, 100), (243, 244), (1, 2)):
        assert_same(symbolic.subs({"H": h, "W": w}), analyze_text(text.replace("[3, H, W]", f"[3, {h}, {w}]")))


# -- the exact decisions behind short formulas ---------------------------------------------------

H = pytest.importorskip("sympy").Symbol("H", integer=True, positive=True)
INPUT_FORMS = {"H": H, "2H+1": 2 * H + 1, "ceil(H/3)": None}  # ceil(H/3) built by floor_div below


def _input_form(name: str):
    from convcalc.arith.dims import ceil_div

    return ceil_div(H, 3) if name == "ceil(H/3)" else INPUT_FORMS[name]


@settings(max_examples=300, deadline=None)
@given(
    k=st.integers(1, 9), s=st.integers(1, 5), d=st.integers(1, 3), p=st.integers(0, 4),
    ceil_mode=st.booleans(), form=st.sampled_from(sorted(INPUT_FORMS)),
)
def test_pooling_taps_symbolic_equal_integer(k, s, d, p, ceil_mode, form):
    """The closed form of the input elements a pooling window reads (one term per residue, no
    per-tap max or min) against the integer count, at every size where the layer exists."""
    from convcalc.arith._symbolic import evaluator
    from convcalc.kinds._window import out_size
    from convcalc.kinds.pool import window_elements

    p = min(p, k // 2)
    size = _input_form(form)
    out, _ = out_size(size, k, s, d, (p, p), ceil_mode)
    taps = window_elements(size, out, k, s, d, p, ceil_mode)
    size_at, out_at, taps_at = evaluator(size), evaluator(out), evaluator(taps)
    for h in range(1, 40):
        n = size_at({H: h})
        expected_out, _ = out_size(n, k, s, d, (p, p), ceil_mode)
        if expected_out < 1:
            continue
        assert out_at({H: h}) == expected_out, (h, out)
        assert taps_at({H: h}) == window_elements(n, expected_out, k, s, d, p, ceil_mode), (h, taps)


FLOOR_LINEAR = st.recursive(
    st.sampled_from([H, H + 1, 2 * H, H - 3]),
    lambda inner: st.one_of(
        st.builds(lambda e, q: __import__("convcalc.arith._symbolic", fromlist=["floor_div"]).floor_div(e, q), inner, st.integers(2, 5)),
        st.builds(lambda e, c: e + c, inner, st.integers(-4, 4)),
        st.builds(lambda e, c: c * e, inner, st.integers(1, 3)),
    ),
    max_leaves=4,
)


@settings(max_examples=300, deadline=None)
@given(a=FLOOR_LINEAR, b=FLOOR_LINEAR)
def test_always_le_is_never_wrong(a, b):
    """``always_le`` says True only when a <= b at every size (checked at n = 1..699, past every
    period the drawn expressions have: nested divisors up to 5**4), and says it for a true
    inequality whose period it can see."""
    from convcalc.arith._symbolic import _linear_shape, always_le, evaluator, floor_div

    if always_le(a, b):
        a_at, b_at = evaluator(a), evaluator(b)
        assert all(a_at({H: n}) <= b_at({H: n}) for n in range(1, 700)), (a, b)
    # and it decides what holds: floor((a+1)/2) <= floor(a/2) + 1 for every integer a, a
    # difference that depends on the parity of a, whenever the period is within MAX_PERIOD
    low, high = floor_div(a + 1, 2), floor_div(a, 2) + 1
    if _linear_shape(__import__("sympy").sympify(low - high), H) is not None:
        assert always_le(low, high), a


def test_always_le_sees_nested_periods():
    """floor((floor(n/2) + 1) / 2) has period 4, not 2: the decision must look at n = 1..4."""
    from convcalc.arith._symbolic import always_le

    inner = H // 2  # sympy keeps floor(H/2)
    nested = __import__("sympy").floor((inner + 1) / 2, evaluate=False)
    assert not always_le(nested, (H + 1) // 4)  # n = 2: 1 > 0
    assert always_le((H + 1) // 4, nested)


@pytest.mark.parametrize("name", ["resnet50", "vgg16", "lenet5", "googlenet", "mobilenet_v2", "alexnet"])
def test_symbolic_peak_is_the_integer_peak(name):
    """The symbolic peak (a Max of the live totals no other covers) at the spec's size is the
    integer peak; the row is named when one candidate covers all the others."""
    spec = convcalc.load_model(name)
    symbolic = convcalc.analyze(spec, input_shape=symbolic_input(spec))
    integer = convcalc.analyze(spec)
    peak, at = symbolic.peak_activations()
    values = {sym: v for sym, v in zip(sorted(peak.free_symbols, key=str), (spec.input[1], spec.input[2]))}
    expected, row = integer.peak_activations()
    assert int(peak.subs(values)) == expected
    assert at is None or at.path == row.path


def test_symbolic_peak_too_long_is_said_not_guessed(run_cli):
    """U-Net keeps more than MAX_PEAK_TERMS live totals no other covers: the peak is None, the
    JSON says null rather than a guess."""
    report = analyze_model("unet", input_shape=(1, "H", "W"))
    assert report.peak_activations() == (None, None)
    assert report.memory["peak_activation_bytes"] is None and report.memory["inference_bytes"] is None
    code, out, _ = run_cli("summary", "unet", "--input", "1xHxW", "--format", "json")
    assert code == 0 and json.loads(out)["memory"]["peak_activation_bytes"] is None


def test_a_budget_on_an_unwritable_symbolic_peak_cannot_be_decided(run_cli, tmp_path):
    """45 different live totals, none covering the others: the peak has no short formula, and
    ``check`` says it cannot decide the budget instead of passing or failing it."""
    spec = tmp_path / "peak.yaml"
    spec.write_text(
        "name: peak\ninput: [3, H, W]\nbudget:\n  peak_activation_bytes: '<= 1GiB'\nlayers:\n"
        "  - conv2d: {out_channels: 8, kernel_size: 3, stride: 2, padding: same}\n    repeat: 25\n"
        "  - max_pool2d: {kernel_size: 3, stride: 2, padding: 1, ceil_mode: true}\n    repeat: 20\n",
        encoding="utf-8",
    )
    code, out, err = run_cli("check", str(spec))
    text = out + err
    assert code == 1
    assert f"{spec}:4:26: error[check-budget]: model peak_activation_bytes: expected <= 1GiB (<= 1073741824), got unknown, which depends on H, W: cannot decide" in text
    assert "peak: no short formula for these symbols" in text


def test_lenet_accepts_only_the_sizes_its_weights_allow(run_cli):
    """FC3's 48,120 weights were made for the 400 features of a 32x32 input: at 36 the flatten gives
    16*6*6 = 576 features, and the size is refused, naming the layer and both numbers."""
    import json as _json

    code, out, err = run_cli("sizes", "lenet5", "--range", "1..64", "--any", "-f", "json")
    assert code == 0, err
    data = _json.loads(out)
    assert [a["size"] for a in data["accepted"]] == [32, 33, 34, 35]
    assert [a["size"] for a in data["accepted"] if a["exact"]] == [32]
    at_36 = next(r for r in data["rejected"] if r["size"] == 36)
    assert at_36["reason"].startswith("FC3 (linear): its 48,120 parameters were made for input (400,)") and "(576,)" in at_36["reason"]


def test_sizes_groups_invalid_apart_from_not_exact(run_cli):
    """33 and 35 fail only exactness (POOL1 leaves a row uncovered); 5 fails the network (POOL1's
    window is larger than its input). The table keeps them in separate groups, each with its reason."""
    code, out, err = run_cli("sizes", "lenet5", "--range", "1..64")
    assert code == 0, err
    assert "  rejected 1 size(s) (5), invalid: at 5: POOL1 (avg_pool2d): window larger than the padded input along H" in out
    assert "  rejected 2 size(s) (33, 35), valid, not exact: at 33: POOL1 (avg_pool2d): along H the last 1 row(s) of the padded input 29 are not covered by a stride-2 window" in out
    assert "  rejected 1 size(s) (34), valid, not exact: at 34: POOL2 (avg_pool2d)" in out
