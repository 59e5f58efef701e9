"""``sizes`` folds one graph at every size, sharing the layer steps whose inputs repeat: its
answers must be those of a full analysis at each size, for every built-in over 1..512."""

from __future__ import annotations

import pytest

import convcalc
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


@pytest.mark.parametrize("name", builtin_names())
def test_every_size_as_a_fold_of_its_own_and_a_whole_analysis_say(name):
    spec = convcalc.load_model(name)
    sizer, alone = Sizer(spec), Sizer(spec)
    alone.steps = None  # each size folded on its own: no step shared
    sizes = range(1, 513)
    assert [sizer.check(n) for n in sizes] == [alone.check(n) for n in sizes]
    graph = build_graph(spec) if sizer.graph is not None else None
    some = range(1, 513, 61)
    whole = [brute(spec, graph, n) for n in some] if graph is not None else [convcalc.analysis.sizes._analysed(spec, n) for n in some]
    assert [sizer.check(n) for n in some] == whole


def test_the_exact_rule_and_a_size_refused_at_build():
    spec = convcalc.load_model("resnet50")
    assert str(exact_rule(spec)).startswith("n = 0 (mod 32)")
    broken = convcalc.load_spec("name: b\ninput: [3, 8, 8]\nlayers:\n  - conv2d: {out_channels: 4, kernel_size: 9}\n")
    assert Sizer(broken).check(20) == SizeResult(20, False, False, None, Sizer(broken).fault.message)
