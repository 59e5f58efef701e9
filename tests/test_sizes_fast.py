"""``sizes`` answers most sizes from a rule (a residue class's counts as polynomials, from a few
folds) and folds the rest, each fold sharing the layer steps whose inputs repeat: its answers
must be those of the brute-force scan, one fold per size, and of a full analysis at each size,
for every built-in over 1..512 (ResNet-50 and U-Net over 1..1024)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import convcalc
from convcalc.analysis import sizes as sizes_module
from convcalc.analysis.sizes import SizeResult, Sizer, exact_rule, exactness_problems, input_shape
from convcalc.errors import SpecError
from convcalc.graph.build import build_graph
from convcalc.spec.zoo import builtin_names


def brute(spec, graph, n: int) -> SizeResult:
    """One whole analysis at size ``n`` (the graph, built once, is the one analyze builds)."""
    try:
        report = convcalc.analyze(graph, input_shape=input_shape(spec, n))
    except SpecError as exc:
        return SizeResult(n, False, False, None, exc.message)
    problems = exactness_problems(report)
    return SizeResult(n, True, not problems, report.output_shape, problems[0] if problems else None, report.totals.macs)


def scan(spec) -> Sizer:
    """The brute-force scan: every size folded on its own, no rule, no step shared."""
    alone = Sizer(spec, rule=False)
    alone.steps = None
    return alone


def assert_as_the_scan(spec, sizes) -> Sizer:
    """The answers at ``sizes``, and the exact rule, of a sizer with its rule are the scan's."""
    sizer, alone = Sizer(spec), scan(spec)
    assert [sizer.check(n) for n in sizes] == [alone.check(n) for n in sizes]
    assert exact_rule(spec, sizer) == exact_rule(spec, Sizer(spec, rule=False))
    return sizer


@pytest.mark.slow
@pytest.mark.parametrize("name", builtin_names())
def test_every_size_from_the_rule_as_the_scan_and_a_whole_analysis_say(name):
    spec = convcalc.load_model(name)
    sizer = assert_as_the_scan(spec, range(1, 513))
    graph = build_graph(spec) if sizer.graph is not None else None
    some = range(1, 513, 61)
    whole = [brute(spec, graph, n) for n in some] if graph is not None else [sizes_module._analysed(spec, n) for n in some]
    assert [sizer.check(n) for n in some] == whole


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet50", "unet"])
def test_resnet50_and_unet_over_1_to_1024_and_far_beyond(name):
    spec = convcalc.load_model(name)
    sizer, folded = Sizer(spec), Sizer(spec, rule=False)
    sizes = [*range(1, 1025), 2**20, 2**20 + 571, 10**9 + 7]
    assert [sizer.check(n) for n in sizes] == [folded.check(n) for n in sizes]


def test_resnet50_is_answered_from_its_rule_not_folded_at_every_size(monkeypatch):
    spec = convcalc.load_model("resnet50")
    sizer = Sizer(spec)
    folds = []
    original = Sizer._fold
    monkeypatch.setattr(Sizer, "_fold", lambda self, n: folds.append(n) or original(self, n))
    results = [sizer.check(n) for n in range(1, 1025)]
    assert sizer.modulus == 32 and all(known.rule is not None for known in sizer.classes.values())
    assert len(folds) == 32 * 3  # per residue class mod 32, three folds (counts of degree 2 in k)
    monkeypatch.setattr(Sizer, "_fold", original)
    assert results[::37] == [Sizer(spec, rule=False).check(n) for n in range(1, 1025, 37)]


def test_sizes_near_the_integer_limit_are_folded_where_the_rule_cannot_bound_them():
    """Past MAX_INT (2**48) a layer's size is refused (limit-int): the rule answers only while
    the sum of every layer's sizes stays below it, and folds the rest."""
    spec = convcalc.load_model("resnet18")
    sizer, folded = Sizer(spec), Sizer(spec, rule=False)
    for n in range(1, 97):
        sizer.check(n)
    sizes = [2**46, 2**47 + 3, 2**48 - 1, 2**48, 2**49 + 5, 2**50, 10**15 - 1]
    assert [sizer.check(n) for n in sizes] == [folded.check(n) for n in sizes]
    assert [sizer.check(n).valid for n in sizes] == [True] * 4 + [False] * 3


def test_a_kind_without_a_promise_is_folded_at_every_size():
    assert Sizer(convcalc.load_model("unet")).modulus is None  # its crops promise nothing
    assert Sizer(convcalc.load_model("vit_ti_16")).modulus is None  # reshape, parameter, attention


MIXED = """\
name: mixed
input: [3, 40, 40]
layers:
  - conv2d: {out_channels: 8, kernel_size: 3, stride: 2, padding: same}
    id: a
  - max_pool2d: {kernel_size: 3, stride: 2, ceil_mode: true}
  - conv2d: {out_channels: 8, kernel_size: 3, padding: 1}
    id: b
  - conv2d: {out_channels: 4, kernel_size: 1}
    input: b
  - concat: {inputs: [b, previous]}
  - conv_transpose2d: {out_channels: 6, kernel_size: 3, stride: 2}
  - avg_pool2d: {kernel_size: 2, padding: 1}
  - conv2d: {out_channels: 6, kernel_size: 5, dilation: 2, stride: 3}
  - batch_norm2d:
  - relu:
  - global_avg_pool:
  - flatten:
  - linear: {out_features: 10}
"""

FIXED = """\
name: fixed
input: [1, 28, 28]
layers:
  - conv2d: {out_channels: 4, kernel_size: 5, stride: 2}
  - relu:
  - flatten:
  - linear: {out_features: 10}
"""

LINE = """\
name: line
input: [2, 100]
layers:
  - conv1d: {out_channels: 4, kernel_size: 7, stride: 3, padding: 2}
  - max_pool1d: {kernel_size: 2}
  - conv1d: {out_channels: 4, kernel_size: 3, padding: same}
"""


@pytest.mark.parametrize("text", [MIXED, FIXED, LINE], ids=["same-ceil-concat-transposed", "fixed-weights", "one-axis"])
def test_small_specs_from_the_rule_as_the_scan_says(text):
    assert_as_the_scan(convcalc.load_spec(text), range(1, 301))


def test_the_exact_rule_and_a_size_refused_at_build():
    spec = convcalc.load_model("resnet50")
    assert str(exact_rule(spec)).startswith("n = 0 (mod 32)")
    broken = convcalc.load_spec("name: b\ninput: [3, 8, 8]\nlayers:\n  - conv2d: {out_channels: 4, kernel_size: 9}\n")
    assert Sizer(broken).check(20) == SizeResult(20, False, False, None, Sizer(broken).fault.message)


# -- random chains: the rule against the scan ---------------------------------------------------


@st.composite
def _window_item(draw) -> str:
    kind = draw(st.sampled_from(["conv2d", "max_pool2d", "avg_pool2d", "relu", "batch_norm2d"]))
    if kind in ("relu", "batch_norm2d"):
        return kind
    k = draw(st.integers(1, 5))
    s = draw(st.integers(1, 3))
    if kind == "conv2d":
        padding = draw(st.sampled_from([0, 1, 2, "same"])) if s == 1 else draw(st.integers(0, 2))
        d = draw(st.integers(1, 2))
        return f"conv2d: {{out_channels: 4, kernel_size: {k}, stride: {s}, padding: {padding}, dilation: {d}}}"
    p = draw(st.integers(0, k // 2))
    ceil = draw(st.booleans())
    return f"{kind}: {{kernel_size: {k}, stride: {s}, padding: {p}, ceil_mode: {str(ceil).lower()}}}"


@st.composite
def _chains(draw) -> str:
    items = draw(st.lists(_window_item(), min_size=1, max_size=7))
    head = draw(st.sampled_from(["", "adaptive", "fixed"]))  # none, an adaptive pool, weights fixed by a flatten
    if head == "adaptive":
        items += ["adaptive_avg_pool2d: {output_size: 2}", "flatten", "linear: {out_features: 5}"]
    elif head == "fixed":
        items += ["flatten", "linear: {out_features: 5}"]
    declared = draw(st.integers(24, 72))
    return f"name: chain\ninput: [3, {declared}, {declared}]\nlayers:\n" + "".join(f"  - {item}\n" for item in items)


@pytest.mark.slow
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(_chains())
def test_random_chains_of_windows_answer_as_the_scan(text):
    """Strides, dilation, 'same' and ceil_mode in any order, with an adaptive head or weights a
    flatten fixes: every size of 1..160 answered from the rule is the scan's."""
    try:
        spec = convcalc.load_spec(text, "chain.yaml")
        convcalc.analyze(spec)
    except SpecError:
        return  # a chain its own declared input does not fit: nothing to size
    assert_as_the_scan(spec, range(1, 161))
