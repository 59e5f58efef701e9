"""``convcalc solve``: exact solution lists, the textbook walkthroughs inverted, and a brute-force check."""

from __future__ import annotations

import json
import math

import pytest
import typer
from helpers import OUTPUT_SIZE_CASES as WALKTHROUGH_SIZES
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from convcalc.cli.solve import solve_command
from convcalc.errors import UsageError
from convcalc.teach.solve import (
    padding_limit,
    solve_adaptive,
    solve_geometry,
    solve_input,
    solve_padding,
)

# walkthroughs.yaml, output_size_formula and adaptive_pooling, written out
OUTPUT_SIZE_CASES = [dict(zip(("in", "f", "s", "p", "d", "out"), case)) for case in WALKTHROUGH_SIZES]
ADAPTIVE_CASES = [{"n": 13, "m": 6, "s": 2, "f": 3}, {"n": 7, "m": 1, "s": 7, "f": 7}, {"n": 224, "m": 7, "s": 32, "f": 32}]



def uneven(in_size: int, total: int, kernel: int, stride: int, dilation: int) -> bool:
    """The exactness rule, written out: 'same'-style padding (T == d*(k-1)) needs in % s == 0
    (output = in / s); any other padding needs the windows to end on the last row."""
    reach = dilation * (kernel - 1)
    if total == reach:
        return in_size % stride != 0
    return (in_size + total - reach - 1) % stride != 0

def forward(in_size: int, pad_total: int, kernel: int, stride: int, dilation: int) -> int:
    """PyTorch's rule, written independently of the solver: floor((in + T - d*(k-1) - 1) / s) + 1."""
    return math.floor((in_size + pad_total - dilation * (kernel - 1) - 1) / stride) + 1


def evaluate(derivation: str) -> tuple[int, int]:
    """The value of a derivation's last ``expression = value`` step, and the value it claims."""
    expression, claimed = derivation.rsplit("; ", 1)[-1].rsplit(" = ", 1)
    return eval(expression, {"floor": math.floor}), int(claimed)  # noqa: S307 - our own arithmetic


def pads(solutions):
    return [(s.kind, s.before, s.after) for s in solutions]


def triples(solutions):
    return [(s.kernel, s.stride, s.padding) for s in solutions]


# --- padding ---------------------------------------------------------------------------------


def test_padding_same_size_odd_kernel():
    """Stride 1 and odd f: p = (f - 1) / 2 keeps out == in (walkthroughs: same_padding)."""
    solutions = solve_padding(224, 224, kernel=7)
    assert pads(solutions) == [("symmetric", (7 - 1) // 2, (7 - 1) // 2), ("tf_same", 3, 3)]
    assert solutions[0].derivation == "floor((224 + 2*3 - 1*(7-1) - 1) / 1) + 1 = 224"


def test_padding_halving_with_stride_2():
    """p = 2 gives floor((224 + 4 - 6 - 1) / 2) + 1 = 111, so only p = 3; TF pads 5 = 2 + 3."""
    solutions = solve_padding(224, 112, kernel=7, stride=2)
    total = (112 - 1) * 2 + 1 * (7 - 1) + 1 - 224
    assert pads(solutions) == [("symmetric", 3, 3), ("tf_same", total // 2, total - total // 2)]
    assert [s.uneven for s in solutions] == [uneven(224, 2 * 3, 7, 2, 1), uneven(224, 5, 7, 2, 1)] == [224 % 2 != 0, (224 + 5 - 6 - 1) % 2 != 0]
    assert solutions[0].derivation == "floor((224 + 2*3 - 1*(7-1) - 1) / 2) + 1 = 112"
    assert solutions[1].derivation == (
        "ceil(224 / 2) = 112, T = max((112-1)*2 + 1*(7-1) + 1 - 224, 0) = 5 -> [2, 3]; "
        "floor((224 + 5 - 1*(7-1) - 1) / 2) + 1 = 112"
    )


def test_padding_even_kernel_needs_tf_same():
    """k = 2 keeps 5 only with T = (5-1)*1 + 1*(2-1) + 1 - 5 = 1, odd: TF's [0, 1], no symmetric p."""
    assert pads(solve_padding(5, 5, kernel=2)) == [("tf_same", 0, 1)]


def test_padding_asymmetric_when_no_symmetric():
    """5 -> 6 with k = 3 needs T = (6-1)*1 + 1*(3-1) + 1 - 5 = 3; ceil(5/1) != 6, so not TF 'same'."""
    solutions = solve_padding(5, 6, kernel=3)
    assert pads(solutions) == [("asymmetric", 3 // 2, 3 - 3 // 2)]
    assert solutions[0].derivation == "floor((5 + 3 - 1*(3-1) - 1) / 1) + 1 = 6"


def test_padding_no_solution_is_empty():
    """224 -> 100 with k = 7 would need T = 99 + 6 + 1 - 224 < 0."""
    assert solve_padding(224, 100, kernel=7) == []


# --- geometry --------------------------------------------------------------------------------


def test_geometry_alexnet_conv1():
    """AlexNet: floor((227 + 2*0 - 1*(11-1) - 1) / 4) + 1 = 55."""
    solutions = solve_geometry(227, 55)
    assert (11, 4, 0) in triples(solutions)
    conv1 = solutions[triples(solutions).index((11, 4, 0))]
    assert not conv1.uneven
    assert conv1.derivation == "floor((227 + 2*0 - 1*(11-1) - 1) / 4) + 1 = 55"


def test_geometry_fixed_kernel_is_exact():
    """With k = 11 only s = 4 fits; p = 1 still floors to 55 (219 / 4) but leaves a rest."""
    solutions = solve_geometry(227, 55, kernel=11)
    assert triples(solutions) == [(11, 4, 0), (11, 4, 1)]
    assert [s.uneven for s in solutions] == [(227 - 10 - 1) % 4 != 0, (227 + 2 - 10 - 1) % 4 != 0]


def test_geometry_fixed_values_override_bounds():
    """A fixed kernel is honoured above max_kernel: floor((32 + 2*0 - 1*(20-1) - 1) / 1) + 1 = 13."""
    assert triples(solve_geometry(32, 13, kernel=20, stride=1, padding=0, max_kernel=3)) == [(20, 1, 0)]


def test_geometry_max_padding():
    """8 -> 8 at stride 1 needs 2p = k - 1: p = 0, 1 and 2 for k = 1, 3, 5 when p <= 2."""
    assert triples(solve_geometry(8, 8, stride=1, max_kernel=7, max_padding=2)) == [(1, 1, 0), (3, 1, 1), (5, 1, 2)]


@pytest.mark.parametrize(
    "case", OUTPUT_SIZE_CASES, ids=lambda c: f"in{c['in']}-f{c['f']}-s{c['s']}-p{c['p']}-d{c['d']}"
)
def test_walkthrough_geometry_inverted(case):
    """walkthroughs.yaml output_size_formula: fixing f and d, the solver finds the case's s and p."""
    solutions = solve_geometry(case["in"], case["out"], kernel=case["f"], dilation=case["d"])
    assert (case["f"], case["s"], case["p"]) in triples(solutions)


@pytest.mark.parametrize(
    "case", OUTPUT_SIZE_CASES, ids=lambda c: f"out{c['out']}-f{c['f']}-s{c['s']}-p{c['p']}-d{c['d']}"
)
def test_walkthrough_input_inverted(case):
    """walkthroughs.yaml output_size_formula: the case's input is among the sizes giving its output."""
    solutions = solve_input(case["out"], case["f"], stride=case["s"], padding=case["p"], dilation=case["d"])
    assert case["in"] in [s.in_size for s in solutions]


# --- input -----------------------------------------------------------------------------------


def test_input_stride_1_is_one_size():
    """LeNet CONV1: (28-1)*1 + 1*(5-1) + 1 - 2*0 = 32."""
    assert [s.in_size for s in solve_input(28, kernel=5)] == [32]


def test_input_stride_gives_a_range():
    """s = 2: from (28-1)*2 + 1*(5-1) + 1 - 2*1 = 57, two sizes; only the first has no rest."""
    solutions = solve_input(28, kernel=5, stride=2, padding=1)
    assert [(s.in_size, s.uneven) for s in solutions] == [(57, False), (58, True)]
    assert solutions[1].derivation == "floor((58 + 2*1 - 1*(5-1) - 1) / 2) + 1 = 28"


def test_input_sizes_start_at_1():
    """out 1, k 1, s 3: (1-1)*3 + 0 + 1 = 1, so 1, 2, 3; with p = 1 every input gives >= 2."""
    assert [s.in_size for s in solve_input(1, kernel=1, stride=3)] == [1, 2, 3]
    assert solve_input(1, kernel=1, stride=2, padding=1) == []


# --- adaptive --------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ADAPTIVE_CASES, ids=lambda c: f"{c['n']}to{c['m']}")
def test_adaptive_walkthrough(case):
    """walkthroughs.yaml adaptive_pooling: s = floor(n / m), f = n - (m - 1) * s."""
    (solution,) = solve_adaptive(case["n"], case["m"])
    assert (solution.kernel, solution.stride) == (case["f"], case["s"])
    assert evaluate(solution.derivation) == (case["m"], case["m"])


def test_adaptive_derivation():
    assert solve_adaptive(13, 6)[0].derivation == (
        "s = floor(13 / 6) = 2, f = 13 - (6-1)*2 = 3; floor((13 + 0 - 1*(3-1) - 1) / 2) + 1 = 6"
    )


def test_adaptive_upsampling_has_no_window():
    assert solve_adaptive(3, 5) == []


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: solve_padding(224, 112, kernel=7, stride=0), "stride must be >= 1, got 0"),
        (lambda: solve_padding(0, 112, kernel=7), "in_size must be >= 1, got 0"),
        (lambda: solve_geometry(227, 55, padding=-1), "padding must be >= 0, got -1"),
        (lambda: solve_geometry(227, 55, max_stride=0), "max_stride must be >= 1, got 0"),
        (lambda: solve_input(28, kernel=5, dilation=True), "dilation must be an integer, got True"),
        (lambda: solve_adaptive(13, 6.0), "out_size must be an integer, got 6.0"),
    ],
    ids=["stride-0", "in-0", "padding-negative", "max-stride-0", "dilation-bool", "out-float"],
)
def test_bad_arguments(call, message):
    with pytest.raises(UsageError) as raised:
        call()
    assert (raised.value.code, raised.value.message) == ("solve-bad-argument", message)


# --- against brute force ---------------------------------------------------------------------

sizes = st.integers(1, 40)
kernels = st.integers(1, 7)
strides = st.integers(1, 4)
dilations = st.integers(1, 3)


@given(in_size=sizes, out_size=sizes, kernel=kernels, stride=strides, dilation=dilations)
def test_padding_matches_brute_force(in_size, out_size, kernel, stride, dilation):
    solutions = solve_padding(in_size, out_size, kernel, stride, dilation)
    limit = padding_limit(kernel, dilation)
    totals = [t for t in range(2 * limit + 1) if forward(in_size, t, kernel, stride, dilation) == out_size]
    symmetric = [("symmetric", t // 2, t // 2) for t in totals if t % 2 == 0]
    same = []
    if out_size == math.ceil(in_size / stride):
        t = max((out_size - 1) * stride + dilation * (kernel - 1) + 1 - in_size, 0)
        same = [("tf_same", t // 2, t - t // 2)]
    asymmetric = [] if symmetric else [("asymmetric", t // 2, t - t // 2) for t in totals if t % 2 == 1]
    assert pads(solutions) == symmetric + same + [a for a in asymmetric if a[1:] not in [s[1:] for s in same]]
    for s in solutions:
        assert forward(in_size, s.before + s.after, kernel, stride, dilation) == out_size
        assert evaluate(s.derivation) == (out_size, out_size)


def tried(fixed: int | None, low: int, high: int) -> list[int]:
    """A fixed value alone, else every value of its bounds."""
    return [fixed] if fixed is not None else list(range(low, high + 1))


@given(
    in_size=sizes,
    out_size=sizes,
    dilation=dilations,
    max_kernel=kernels,
    max_stride=strides,
    max_padding=st.none() | st.integers(0, 6),
    kernel=st.none() | kernels,
    stride=st.none() | strides,
    padding=st.none() | st.integers(0, 6),
)
def test_geometry_matches_brute_force(
    in_size, out_size, dilation, max_kernel, max_stride, max_padding, kernel, stride, padding
):
    solutions = solve_geometry(
        in_size, out_size, kernel, stride, padding, dilation, max_kernel, max_stride, max_padding
    )
    expected = [
        (k, s, p)
        for k in tried(kernel, 1, max_kernel)
        for s in tried(stride, 1, max_stride)
        for p in tried(padding, 0, max_padding if max_padding is not None else dilation * (k - 1))
        if forward(in_size, 2 * p, k, s, dilation) == out_size
    ]
    assert triples(solutions) == expected
    for sol in solutions:
        assert sol.uneven == uneven(in_size, 2 * sol.padding, sol.kernel, sol.stride, dilation)
        assert evaluate(sol.derivation) == (out_size, out_size)


@given(out_size=sizes, kernel=kernels, stride=strides, padding=st.integers(0, 6), dilation=dilations)
def test_input_matches_brute_force(out_size, kernel, stride, padding, dilation):
    solutions = solve_input(out_size, kernel, stride, padding, dilation)
    largest = out_size * stride + dilation * (kernel - 1)  # beyond it the output only grows
    expected = [n for n in range(1, largest + 1) if forward(n, 2 * padding, kernel, stride, dilation) == out_size]
    assert [s.in_size for s in solutions] == expected
    for sol in solutions:
        assert evaluate(sol.derivation) == (out_size, out_size)


@given(in_size=st.integers(1, 300), out_size=st.integers(1, 300))
def test_adaptive_window_reaches_out_size(in_size, out_size):
    solutions = solve_adaptive(in_size, out_size)
    assert len(solutions) == (1 if out_size <= in_size else 0)
    for sol in solutions:
        assert forward(in_size, 0, sol.kernel, sol.stride, 1) == out_size


# --- command ---------------------------------------------------------------------------------

app = typer.Typer()
app.command("solve")(solve_command)


@app.callback()
def main() -> None:
    """A stand-in for convcalc's top-level command group."""


def invoke(*args: str):
    return CliRunner().invoke(app, ["solve", *args], env={"COLUMNS": "200", "NO_COLOR": "1"})


def test_cli_padding_table():
    result = invoke("padding", "--in", "224", "--out", "112", "-k", "7", "-s", "2")
    assert result.exit_code == 0, result.output
    assert "symmetric" in result.output and "tf_same" in result.output
    assert "floor((224 + 2*3 - 1*(7-1) - 1) / 2) + 1 = 112" in result.output


def test_cli_geometry_json():
    result = invoke("geometry", "--in", "227", "--out", "55", "-k", "11", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [
        {
            "kernel": 11,
            "stride": 4,
            "padding": 0,
            "uneven": False,
            "derivation": "floor((227 + 2*0 - 1*(11-1) - 1) / 4) + 1 = 55",
        },
        {
            "kernel": 11,
            "stride": 4,
            "padding": 1,
            "uneven": True,
            "derivation": "floor((227 + 2*1 - 1*(11-1) - 1) / 4) + 1 = 55",
        },
    ]


def test_cli_input_json():
    result = invoke("input", "--out", "28", "-k", "5", "--format", "json")
    assert result.exit_code == 0, result.output
    assert [row["in_size"] for row in json.loads(result.output)] == [32]


def test_cli_adaptive_table():
    result = invoke("adaptive", "--in", "13", "--out", "6")
    assert result.exit_code == 0, result.output
    assert "s = floor(13 / 6) = 2, f = 13 - (6-1)*2 = 3" in result.output


@pytest.mark.parametrize(
    ("args", "bounds"),
    [
        (["padding", "--in", "224", "--out", "100", "-k", "7"], "0 <= p <= d*(k-1) = 6, total padding T <= 12"),
        (["geometry", "--in", "227", "--out", "55", "-k", "11", "-s", "3"], "k = 11, s = 3, p in 0..d*(k-1)"),
        (["geometry", "--in", "227", "--out", "55", "--max-kernel", "5"], "k in 1..5, s in 1..8, p in 0..d*(k-1)"),
        (["input", "--out", "1", "-k", "1", "-s", "2", "-p", "1"], "in >= 1"),
        (["adaptive", "--in", "3", "--out", "5"], "a fixed window needs out <= in"),
    ],
    ids=["padding", "geometry-fixed", "geometry-bounds", "input", "adaptive"],
)
def test_cli_no_solution(args, bounds):
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"no integer solution within bounds ({bounds})"


def test_cli_no_solution_json_is_empty_list():
    result = invoke("adaptive", "--in", "3", "--out", "5", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == []


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["padding", "--in", "224", "-k", "7"], "solve-missing-option", "solve padding needs --out"),
        (["input", "--in", "32", "--out", "28", "-k", "5"], "solve-bad-argument", "solve input does not use --in"),
        (
            ["adaptive", "--in", "13", "--out", "6", "-s", "2"],
            "solve-bad-argument",
            "solve adaptive does not use --stride/-s",
        ),
        (
            ["padding", "--in", "224", "--out", "112", "-k", "7", "-s", "0"],
            "solve-bad-argument",
            "stride must be >= 1, got 0",
        ),
    ],
    ids=["missing-out", "input-with-in", "adaptive-with-stride", "stride-0"],
)
def test_cli_usage_errors_propagate(args, code, message):
    result = invoke(*args)
    assert isinstance(result.exception, UsageError), result.output
    assert (result.exception.code, result.exception.message) == (code, message)


def test_cli_unknown_question():
    result = invoke("kernel", "--in", "5")
    assert result.exit_code == 2, result.output
