"""``convcalc apply``: the hand-computed convolutions of the walkthroughs, exactly, and PyTorch parity."""

from __future__ import annotations

import json
from fractions import Fraction as F
from pathlib import Path

import pytest
import typer
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from convcalc.cli.apply import apply_command
from convcalc.errors import UsageError
from convcalc.teach.handcalc import (
    NAMED_KERNELS,
    cross_correlate,
    explain_element,
    explain_pool_element,
    flip_kernel,
    format_number,
    im2col,
    load_file,
    named_kernel,
    pad,
    parse_array,
    parse_number,
    parse_padding,
    parse_pair,
    pool,
    resolve_kernel,
    to_array,
)

REFERENCE = Path(__file__).parent / "reference" / "walkthroughs.yaml"  # a copy of ../shared/reference's

# walkthroughs.yaml numeric_examples, written out so that each test shows its numbers.
IMAGE_6X6 = [
    [3, 0, 1, 2, 7, 4],
    [1, 5, 8, 9, 3, 1],
    [2, 7, 2, 5, 1, 3],
    [0, 1, 3, 1, 7, 8],
    [4, 2, 1, 6, 2, 8],
    [2, 4, 5, 2, 3, 9],
]
VERTICAL_EDGE = [[1, 0, -1], [1, 0, -1], [1, 0, -1]]
HORIZONTAL_EDGE = [[1, 1, 1], [0, 0, 0], [-1, -1, -1]]
STEP_EDGE = [[10, 10, 10, 0, 0, 0]] * 6
QUADRANT = [[10, 10, 10, 0, 0, 0]] * 3 + [[0, 0, 0, 10, 10, 10]] * 3
SPARSE = [
    [0, 0, 0, 0, 0, 0],
    [0, 1, 0, 0, F("0.4"), 0],
    [0, 0, 0, F("0.4"), 0, 0],
    [0, 0, 0, 0, F("0.4"), 0],
    [0, 0, 0, F("0.4"), 0, 0],
    [0, 0, 0, 0, F("0.4"), 0],
]
DIAGONAL_HALF = [[0, 0, F("0.5")], [0, F("0.5"), 0], [0, 0, F("0.5")]]
SPARSE_OUTPUT = [
    [F("0.5"), F("0.2"), 0, F("0.2")],
    [0, 0, F("0.6"), 0],
    [0, F("0.4"), 0, F("0.2")],
    [0, 0, F("0.6"), 0],
]

NUMERIC_EXAMPLES = [
    pytest.param(
        IMAGE_6X6, VERTICAL_EDGE, 0,
        [[-5, -4, 0, 8], [-10, -2, 2, 3], [0, -2, -4, -7], [-3, -2, -3, -16]],
        id="walkthroughs numeric_examples: 6x6 image, vertical edge, no padding",
    ),
    pytest.param(
        IMAGE_6X6, VERTICAL_EDGE, 1,
        [
            [-5, -5, -6, -1, 6, 10],
            [-12, -5, -4, 0, 8, 11],
            [-13, -10, -2, 2, 3, 11],
            [-10, 0, -2, -4, -7, 10],
            [-7, -3, -2, -3, -16, 12],
            [-6, 0, -2, 1, -9, 5],
        ],
        id="walkthroughs numeric_examples: same image and kernel, zero padding 1",
    ),
    pytest.param(
        STEP_EDGE, VERTICAL_EDGE, 0, [[0, 30, 30, 0]] * 4,
        id="walkthroughs numeric_examples: bright-left step edge",
    ),
    pytest.param(
        QUADRANT, HORIZONTAL_EDGE, 0,
        [[0, 0, 0, 0], [30, 10, -10, -30], [30, 10, -10, -30], [0, 0, 0, 0]],
        id="walkthroughs numeric_examples: quadrant image, horizontal edge",
    ),
    pytest.param(
        SPARSE, DIAGONAL_HALF, 0, SPARSE_OUTPUT,
        id="walkthroughs numeric_examples: sparse image, diagonal 0.5 kernel",
    ),
]


def lists(array):
    """Nested tuples as nested lists, to compare with the literals above."""
    return [lists(item) for item in array] if isinstance(array, tuple) else array


# --- the walkthroughs ----------------------------------------------------------------------------


@pytest.mark.parametrize(("image", "kernel", "padding", "expected"), NUMERIC_EXAMPLES)
def test_numeric_examples(image, kernel, padding, expected):
    assert lists(cross_correlate(image, kernel, padding=padding)) == expected


def test_sparse_example_then_max_pool():
    """walkthroughs numeric_examples: sparse image, diagonal 0.5 kernel, then 2x2 max pooling."""
    pooled = pool(cross_correlate(SPARSE, DIAGONAL_HALF), 2, mode="max")
    assert lists(pooled) == [[F("0.5"), F("0.6")], [F("0.4"), F("0.6")]]
    assert all(isinstance(v, F) for row in pooled for v in row)


def test_replication_padding_first_rows():
    """walkthroughs numeric_examples: replication padding of 1 repeats the border values."""
    padded = pad(IMAGE_6X6, 1, "replicate")
    assert lists(padded[:3]) == [[3, 3, 0, 1, 2, 7, 4, 4], [3, 3, 0, 1, 2, 7, 4, 4], [1, 1, 5, 8, 9, 3, 1, 1]]


def test_literals_match_the_reference_file():
    """The matrices written above are the ones in walkthroughs.yaml (floats read as exact decimals)."""
    reference = yaml.safe_load(REFERENCE.read_text())["numeric_examples"]
    cases = reference["cases"]
    written = {  # (case index, key) -> the literal above
        (0, "input"): IMAGE_6X6,
        (0, "kernel"): VERTICAL_EDGE,
        (2, "input"): STEP_EDGE,
        (2, "kernel"): VERTICAL_EDGE,
        (3, "input"): QUADRANT,
        (3, "kernel"): HORIZONTAL_EDGE,
        (4, "input"): SPARSE,
        (4, "kernel"): DIAGONAL_HALF,
        **{(i, "output"): NUMERIC_EXAMPLES[i].values[3] for i in range(5)},
        (4, "maxpool_2x2"): [[F("0.5"), F("0.6")], [F("0.4"), F("0.6")]],
        (5, "padded_first_rows"): [[3, 3, 0, 1, 2, 7, 4, 4], [3, 3, 0, 1, 2, 7, 4, 4], [1, 1, 5, 8, 9, 3, 1, 1]],
    }
    matrices = {
        (i, key): lists(to_array(value))
        for i, case in enumerate(cases)
        for key, value in case.items()
        if isinstance(value, list)
    }
    assert matrices == written
    named = reference["named_kernels"]
    assert lists(NAMED_KERNELS["sobel_vertical"]) == named["sobel_vertical"]
    assert lists(NAMED_KERNELS["sobel_horizontal"]) == named["sobel_horizontal"]
    assert lists(NAMED_KERNELS["gaussian5"]) == [[F(v, 256) for v in row] for row in named["gaussian_5x5_times_256"]]


def test_worked_element_matches_the_first_output():
    """out[0,0] of the 6x6 example: 3 + 1 + 2 (left column) - (1 + 8 + 2) (right column) = -5."""
    assert explain_element(IMAGE_6X6, VERTICAL_EDGE) == (
        "out[0,0] = 3*1 + 0*0 + 1*(-1) + 1*1 + 5*0 + 8*(-1) + 2*1 + 7*0 + 2*(-1) = -5"
    )


# --- padding, stride, dilation, channels ------------------------------------------------------


def test_reflect_padding_mirrors_without_repeating_the_edge():
    """torch.nn.ReflectionPad2d(1) of 1..9 (its documented example, 3x3)."""
    padded = pad([[1, 2, 3], [4, 5, 6], [7, 8, 9]], 1, "reflect")
    assert lists(padded) == [
        [5, 4, 5, 6, 5],
        [2, 1, 2, 3, 2],
        [5, 4, 5, 6, 5],
        [8, 7, 8, 9, 8],
        [5, 4, 5, 6, 5],
    ]


def test_padding_sides_are_top_bottom_left_right():
    assert lists(pad([[1]], (1, 0, 0, 2))) == [[0, 0, 0], [1, 0, 0]]
    assert lists(pad([[1]], (0, 1))) == [[0, 1, 0]]
    assert parse_padding("1") == 1
    assert parse_padding("1,2") == (1, 2)
    assert parse_padding("1, 1, 2, 2") == (1, 1, 2, 2)


def test_stride_two_keeps_every_other_output():
    """Stride 2 on the 6x6: out = floor((6 - 3) / 2) + 1 = 2; the elements of the stride-1 output at rows and
    columns 0 and 2."""
    assert lists(cross_correlate(IMAGE_6X6, VERTICAL_EDGE, stride=2)) == [[-5, 0], [0, -4]]


def test_dilation_two_spreads_the_kernel():
    """Dilation 2: the 3x3 kernel covers 5x5, out = 6 - 2*(3 - 1) = 2; columns 0/4 and 1/5 of rows 0,2,4 and 1,3,5."""
    assert lists(cross_correlate(IMAGE_6X6, VERTICAL_EDGE, dilation=2)) == [
        [(3 + 2 + 4) - (7 + 1 + 2), (0 + 7 + 2) - (4 + 3 + 8)],
        [(1 + 0 + 2) - (3 + 7 + 3), (5 + 1 + 4) - (1 + 8 + 9)],
    ]


def test_multi_channel_output_is_the_sum_over_channels():
    """Step edge * vertical edge + quadrant * horizontal edge, channel by channel, then summed."""
    summed = cross_correlate([STEP_EDGE, QUADRANT], [VERTICAL_EDGE, HORIZONTAL_EDGE])
    assert lists(summed) == [
        [0 + 0, 30 + 0, 30 + 0, 0 + 0],
        [0 + 30, 30 + 10, 30 - 10, 0 - 30],
        [0 + 30, 30 + 10, 30 - 10, 0 - 30],
        [0 + 0, 30 + 0, 30 + 0, 0 + 0],
    ]
    assert explain_element([[[1]], [[5]]], [[[1]], [[2]]], bias=-1) == "out[0,0] = 1*1 + 5*2 + (-1) = 10"


def test_bias_is_added_to_every_element():
    with_bias = cross_correlate(STEP_EDGE, VERTICAL_EDGE, bias=F("0.5"))
    assert lists(with_bias) == [[0 + F("0.5"), 30 + F("0.5"), 30 + F("0.5"), 0 + F("0.5")]] * 4


# --- pooling -----------------------------------------------------------------------------------

BLOCKS = [[1, 2, 5, 6], [3, 4, 7, 8], [0, -1, 2, 2], [-2, -3, 2, 3]]


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        pytest.param("max", [[4, 8], [0, 3]], id="max"),
        pytest.param("min", [[1, 5], [-3, 2]], id="min"),
        pytest.param(
            "avg",
            [[F(1 + 2 + 3 + 4, 4), F(5 + 6 + 7 + 8, 4)], [F(0 - 1 - 2 - 3, 4), F(2 + 2 + 2 + 3, 4)]],
            id="avg",
        ),
    ],
)
def test_pool_2x2(mode, expected):
    assert lists(pool(BLOCKS, 2, mode=mode)) == expected


def test_avg_pool_counts_padding_as_zeros():
    """PyTorch's count_include_pad=True: the corner window holds one value and three padded zeros."""
    assert lists(pool([[4, 8], [12, 16]], 2, stride=1, padding=1, mode="avg"))[0] == [F(4, 4), F(4 + 8, 4), F(8, 4)]
    assert explain_pool_element([[4, 8], [12, 16]], 2, stride=1, padding=1, mode="avg") == (
        "pooled[0,0] = (0 + 0 + 0 + 4) / 4 = 1"
    )


def test_max_pool_ignores_padding():
    assert lists(pool([[-4, -8], [-12, -16]], 2, stride=1, padding=1, mode="max"))[0] == [-4, -4, -8]


def test_pool_stride_and_stacks():
    """Stride 1, window 3 on 4x4: out = 4 - 3 + 1 = 2; a stack is pooled channel by channel."""
    assert lists(pool(BLOCKS, 3, stride=1)) == [[7, 8], [7, 8]]
    assert lists(pool([BLOCKS, [[-v for v in row] for row in BLOCKS]], 2)) == [[[4, 8], [0, 3]], [[-1, -5], [3, -2]]]
    assert explain_pool_element([BLOCKS], 2, 1, 1) == "pooled[0,1,1] = max(2, 2, 2, 3) = 3"


# --- values and parsing --------------------------------------------------------------------------


def test_values_are_exact():
    assert parse_number("0.4") == F(2, 5)
    assert parse_number(0.1) + parse_number(0.2) == F(3, 10)
    assert parse_number("1/9") == F(1, 9)
    assert parse_number("2.0") == 2 and isinstance(parse_number("2.0"), int)
    kernel = resolve_kernel("0.1 0.2; 0.3 0.4")
    assert lists(cross_correlate([[1, 1], [1, 1]], kernel)) == [[1]]
    assert isinstance(cross_correlate([[1, 1], [1, 1]], kernel)[0][0], int)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (3, "3"),
        (F(3, 5), "0.6"),
        (F(-1, 8), "-0.125"),
        (F(1, 20), "0.05"),
        (F(1, 3), "1/3"),
        (F(-7, 6), "-7/6"),
        (F(4, 2), "2"),
    ],
)
def test_format_number(value, text):
    assert format_number(value) == text


@pytest.mark.parametrize(
    "text",
    ["3,0,1;1,5,8", "3 0 1; 1 5 8", "3, 0, 1;\n1, 5, 8;", "[[3,0,1],[1,5,8]]"],
)
def test_parse_inline_matrix(text):
    assert lists(parse_array(text)) == [[3, 0, 1], [1, 5, 8]]


def test_parse_channels_first_stack():
    assert lists(parse_array("[[[1,2],[3,4]], [[5,6],[7,8]]]")) == [[[1, 2], [3, 4]], [[5, 6], [7, 8]]]


def test_load_yaml_file_with_named_kernel(tmp_path):
    path = tmp_path / "matrices.yaml"
    path.write_text("input:\n  - [0, 1.0, 0.4]\n  - [1, 2, 3]\nkernel: sobel-X\n")
    loaded = load_file(path)
    assert lists(loaded.input) == [[0, 1, F("0.4")], [1, 2, 3]]
    assert loaded.kernel == NAMED_KERNELS["sobel_x"]


def test_load_csv_file(tmp_path):
    path = tmp_path / "image.csv"
    path.write_text("3,0,1\n1,5,8\n\n")
    assert lists(load_file(path).input) == [[3, 0, 1], [1, 5, 8]]
    assert load_file(path).kernel is None


# --- named kernels -------------------------------------------------------------------------------


def test_named_kernels():
    assert named_kernel("sobel_x") is named_kernel("Sobel-Vertical")
    assert lists(named_kernel("sobel_y")) == [[-1, -2, -1], [0, 0, 0], [1, 2, 1]]
    assert lists(named_kernel("gaussian3")) == [[F(v, 16) for v in row] for row in [[1, 2, 1], [2, 4, 2], [1, 2, 1]]]
    assert lists(named_kernel("mean3")) == [[F(1, 9)] * 3] * 3
    assert lists(named_kernel("vertical_edge")) == VERTICAL_EDGE
    assert lists(named_kernel("horizontal_edge")) == HORIZONTAL_EDGE
    assert lists(named_kernel("scharr_y")) == [list(col) for col in zip(*named_kernel("scharr_x"))]


@pytest.mark.parametrize(
    ("name", "total"),
    [("gaussian3", 1), ("mean3", 1), ("sharpen", 1), ("laplacian", 0), ("sobel_x", 0), ("scharr_y", 0)],
)
def test_named_kernel_sums(name, total):
    """Smoothing kernels keep a flat image (sum 1); derivative kernels map it to 0 (sum 0)."""
    flat = [[7] * 5] * 5
    out_size = 5 - 3 + 1
    assert lists(cross_correlate(flat, named_kernel(name))) == [[7 * total] * out_size] * out_size


# --- errors --------------------------------------------------------------------------------------


def error(call, *args, **kwargs) -> UsageError:
    with pytest.raises(UsageError) as info:
        call(*args, **kwargs)
    return info.value


def test_ragged_matrix():
    raised = error(parse_array, "1,2,3,4;1,2,3")
    assert (raised.code, raised.message) == ("apply-bad-matrix", "row 2 has 3 values, row 1 has 4")


def test_non_numeric_value_points_at_it():
    raised = error(parse_array, "[[1, 2], [3, x]]", "input")
    assert raised.code == "apply-bad-matrix"
    assert raised.render() == "input:1:14: error[apply-bad-matrix]: row 2, column 2: 'x' is not a number"
    assert error(parse_array, "1,2;3,true").message == "row 2, column 2: 'true' is not a number"


def test_kernel_larger_than_padded_input_shows_the_formula():
    raised = error(cross_correlate, [[1, 2], [3, 4]], VERTICAL_EDGE)
    assert raised.code == "apply-kernel-too-large"
    assert "floor((2 + 2*0 - 1*(3 - 1) - 1) / 1) + 1 = 0" in raised.message
    # padded [[0,0,0,0],[0,1,2,0],[0,3,4,0]]: left column minus right column of each 3x3 window
    assert lists(cross_correlate([[1, 2], [3, 4]], VERTICAL_EDGE, padding=(1, 0, 1, 1))) == [[0 - (2 + 4), (1 + 3) - 0]]


def test_unknown_kernel_suggests_a_name():
    raised = error(resolve_kernel, "sobelx")
    assert raised.code == "apply-unknown-kernel"
    assert raised.hint == "did you mean sobel_x or sobel_y?"


@pytest.mark.parametrize(
    ("call", "code"),
    [
        pytest.param(lambda: cross_correlate([[1, 2]], [[[1]], [[2]]]), "apply-channel-mismatch", id="channels"),
        pytest.param(lambda: pad([[1, 2], [3, 4]], 2, "reflect"), "apply-bad-option", id="reflect too wide"),
        pytest.param(lambda: pad([[1]], 1, "wrap"), "apply-bad-option", id="padding mode"),
        pytest.param(lambda: cross_correlate([[1]], [[1]], stride=0), "apply-bad-option", id="stride 0"),
        pytest.param(lambda: pool([[1, 2], [3, 4]], 2, padding=2), "apply-bad-option", id="pool padding over half"),
        pytest.param(lambda: pool([[1, 2]], 3), "apply-kernel-too-large", id="pool window too large"),
        pytest.param(lambda: parse_padding("1,2,3"), "apply-bad-option", id="three paddings"),
        pytest.param(lambda: parse_array("[[1, 2], [[3]]]"), "apply-bad-matrix", id="mixed nesting"),
        pytest.param(lambda: parse_array("[[[1]], [[1, 2]]]"), "apply-bad-matrix", id="channel shapes"),
        pytest.param(lambda: explain_element([[1]], [[1]], 1, 0), "apply-bad-option", id="element outside"),
    ],
)
def test_usage_errors(call, code):
    assert error(call).code == code


def test_file_errors(tmp_path):
    assert error(load_file, tmp_path / "missing.yaml").code == "apply-bad-file"
    path = tmp_path / "typo.yaml"
    path.write_text("input: [[1]]\nkernal: sobel_x\n")
    raised = error(load_file, path)
    assert (raised.code, raised.pos.line, raised.pos.col) == ("apply-bad-file", 2, 1)
    path.write_text("input:\n  - [1, 2]\n  - [3]\n")
    raised = error(load_file, path)
    assert (raised.message, raised.pos.line) == ("row 2 has 1 value, row 1 has 2", 3)
    path.write_text("\n")
    assert error(load_file, path).message == "the file is empty"
    csv_path = tmp_path / "image.csv"
    csv_path.write_text("1,2\n3,four\n")
    raised = error(load_file, csv_path)
    assert raised.render() == f"{csv_path}:1:1: error[apply-bad-matrix]: row 2, column 2: 'four' is not a number"


# --- PyTorch parity ------------------------------------------------------------------------------

small_ints = st.integers(-9, 9)


@st.composite
def conv_cases(draw):
    channels = draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    height, width = draw(st.integers(kh, 6)), draw(st.integers(kw, 6))
    image = [[[draw(small_ints) for _ in range(width)] for _ in range(height)] for _ in range(channels)]
    kernel = [[[draw(small_ints) for _ in range(kw)] for _ in range(kh)] for _ in range(channels)]
    mode = draw(st.sampled_from(["zeros", "replicate", "reflect"]))
    limit = min(height, width) - 1 if mode == "reflect" else 2
    padding = tuple(draw(st.integers(0, limit)) for _ in range(4))
    return image, kernel, draw(st.integers(1, 3)), padding, mode, draw(st.integers(1, 2)), draw(small_ints)


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(conv_cases())
def test_cross_correlate_matches_torch(case):
    torch = pytest.importorskip("torch")
    functional = torch.nn.functional
    image, kernel, stride, padding, mode, dilation, bias = case
    try:
        ours = cross_correlate(image, kernel, stride, padding, mode, dilation, bias)
    except UsageError as raised:
        assert raised.code == "apply-kernel-too-large"
        return
    x = torch.tensor([image], dtype=torch.float64)
    top, bottom, left, right = padding
    x = functional.pad(x, (left, right, top, bottom), mode="constant" if mode == "zeros" else mode)
    w = torch.tensor([kernel], dtype=torch.float64)
    theirs = functional.conv2d(x, w, torch.tensor([float(bias)], dtype=torch.float64), stride=stride, dilation=dilation)
    assert lists(ours) == theirs[0, 0].to(torch.int64).tolist()


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(
    st.integers(1, 3).flatmap(
        lambda k: st.tuples(
            st.just(k),
            st.lists(st.lists(small_ints, min_size=6, max_size=6), min_size=6, max_size=6),
            st.integers(1, 3),
            st.integers(0, k // 2),
            st.sampled_from(["max", "avg"]),
        )
    )
)
def test_pool_matches_torch(case):
    torch = pytest.importorskip("torch")
    k, image, stride, padding, mode = case
    x = torch.tensor([[image]], dtype=torch.float64)
    pooling = torch.nn.functional.max_pool2d if mode == "max" else torch.nn.functional.avg_pool2d
    theirs = pooling(x, k, stride=stride, padding=padding)[0, 0]
    window = k * k  # an average of ints is a multiple of 1 / window: round PyTorch's float to it
    assert lists(pool(image, k, stride=stride, padding=padding, mode=mode)) == [
        [F(round(v * window), window) for v in row] for row in theirs.tolist()
    ]


# --- the command ---------------------------------------------------------------------------------

app = typer.Typer()
app.command("apply")(apply_command)
app.command("unused")(lambda: None)  # with two commands, typer keeps "apply" as a subcommand

runner = CliRunner()
IMAGE_TEXT = ";".join(",".join(map(str, row)) for row in IMAGE_6X6)


def run(*args: str, code: int = 0):
    result = runner.invoke(app, ["apply", *args], env={"COLUMNS": "120", "NO_COLOR": "1"})
    assert result.exit_code == code, result.output
    return result


def test_command_table_shows_the_steps():
    output = run("--input", IMAGE_TEXT, "--kernel", "vertical_edge", "--padding", "1").output
    assert "cross-correlation (what PyTorch's conv2d computes; true convolution flips the kernel)" in output
    assert "padded input, zeros (8x8)" in output
    assert "output (6x6)" in output
    assert "out[0,0] = 0*1 + 0*0 + 0*(-1) + 0*1 + 3*0 + 0*(-1) + 0*1 + 1*0 + 5*(-1) = -5" in output


def test_command_table_golden():
    output = run("--input", "1,2;3,4", "--kernel", "[[1, 0.5]]").output
    assert output.splitlines() == [
        "cross-correlation (what PyTorch's conv2d computes; true convolution flips the kernel)",
        "stride 1, padding 0 (zeros), dilation 1, bias 0",
        "input (2x2)",
        "             ",
        "      0   1  ",
        " ─────────── ",
        "  0   1   2  ",
        "  1   3   4  ",
        "             ",
        "kernel (1x2)",
        "               ",
        "      0     1  ",
        " ───────────── ",
        "  0   1   0.5  ",
        "               ",
        "output (2x1)",
        "         ",
        "      0  ",
        " ─────── ",
        "  0   2  ",
        "  1   5  ",
        "         ",
        "out[0,0] = 1*1 + 2*0.5 = 2",
    ]


def test_command_json_sparse_example_then_max_pool():
    """walkthroughs numeric_examples: sparse image, diagonal 0.5 kernel, then 2x2 max pooling."""
    image = json.dumps([[str(v) for v in row] for row in SPARSE])
    output = run("-i", image, "-k", "0 0 0.5; 0 0.5 0; 0 0 0.5", "--pool", "max", "--format", "json").output
    document = json.loads(output)
    assert document["schema_version"] == 1
    assert document["padded"] is None
    assert document["kernel"] == [[0, 0, "1/2"], [0, "1/2", 0], [0, 0, "1/2"]]
    assert document["output"] == [["1/2", "1/5", 0, "1/5"], [0, 0, "3/5", 0], [0, "2/5", 0, "1/5"], [0, 0, "3/5", 0]]
    assert document["pooled"] == [["1/2", "3/5"], ["2/5", "3/5"]]


def test_command_pool_only_and_padding_mode(tmp_path):
    path = tmp_path / "matrices.yaml"
    path.write_text(f"input: {IMAGE_6X6}\nkernel: sobel_x\n")
    args = ["--file", str(path), "--padding", "1", "--padding-mode", "replicate", "--format", "json"]
    document = json.loads(run(*args).output)
    assert document["padded"][:3] == [[3, 3, 0, 1, 2, 7, 4, 4], [3, 3, 0, 1, 2, 7, 4, 4], [1, 1, 5, 8, 9, 3, 1, 1]]
    assert document["kernel"] == [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]
    pooled = run("--input", "1,2;3,4", "--pool", "avg", "--pool-size", "2").output
    assert "avg pooling 2x2, stride 2, padding 0" in pooled
    assert "pooled[0,0] = (1 + 2 + 3 + 4) / 4 = 2.5" in pooled
    assert "cross-correlation" not in pooled


@pytest.mark.parametrize(
    ("args", "code"),
    [
        pytest.param(["--kernel", "sobel_x"], "apply-missing-option", id="no input"),
        pytest.param(["--input", "1,2;3,4"], "apply-missing-option", id="no kernel or pool"),
        pytest.param(["-i", "1,2;3,4", "--pool", "max", "-s", "2"], "apply-bad-option", id="stride without kernel"),
        pytest.param(["-i", "1,2;3,4", "-k", "1", "--pool-size", "2"], "apply-bad-option", id="pool size without pool"),
        pytest.param(["--input", "1,2;3,4", "--kernel", "sobelx"], "apply-unknown-kernel", id="unknown kernel"),
    ],
)
def test_command_errors_propagate(args, code):
    result = run(*args, code=1)
    assert isinstance(result.exception, UsageError), result.output
    assert result.exception.code == code


# --- true convolution, im2col, per-axis geometry, any element --------------------------------------

SIX_BY_SIX_OUTPUT = NUMERIC_EXAMPLES[0].values[3]


def test_flip_on_the_6x6_edge_example_negates_it():
    """The vertical-edge kernel turned by 180 degrees is its negative (columns 1,0,-1 -> -1,0,1),
    so the true convolution of the 6x6 example is minus its cross-correlation."""
    assert lists(flip_kernel(VERTICAL_EDGE)) == [[-1, 0, 1]] * 3
    assert lists(cross_correlate(IMAGE_6X6, VERTICAL_EDGE, flip=True)) == [[-v for v in row] for row in SIX_BY_SIX_OUTPUT]
    assert lists(flip_kernel([[1, 2], [3, 4]])) == [[4, 3], [2, 1]]
    assert explain_element([[1, 2], [3, 4]], [[1, 2], [3, 4]], flip=True) == "out[0,0] = 1*4 + 2*3 + 3*2 + 4*1 = 20"


def test_im2col_on_the_6x6_edge_example():
    """16 output positions, 9 taps: column (i, j) is the 3x3 window at (i, j) read row by row."""
    (group,) = im2col(IMAGE_6X6, VERTICAL_EDGE)
    assert (len(group.patches), len(group.patches[0])) == (3 * 3, 4 * 4)
    assert [row[0] for row in group.patches] == [3, 0, 1, 1, 5, 8, 2, 7, 2]
    assert [row[15] for row in group.patches] == [1, 7, 8, 6, 2, 8, 2, 3, 9]
    assert lists(group.kernel) == [[1, 0, -1, 1, 0, -1, 1, 0, -1]]
    assert lists(group.product) == [[v for row in SIX_BY_SIX_OUTPUT for v in row]]
    assert group.taps[:4] == ((0, 0, 0), (0, 0, 1), (0, 0, 2), (0, 1, 0))
    assert group.positions[:5] == ((0, 0), (0, 1), (0, 2), (0, 3), (1, 0))


def test_per_axis_stride_and_dilation():
    """Stride (3, 2): out = (floor(3/3) + 1) x (floor(3/2) + 1) = 2x2, rows 0 and 3 and columns 0 and 2
    of the stride-1 output."""
    assert lists(cross_correlate(IMAGE_6X6, VERTICAL_EDGE, stride=(3, 2))) == [
        [SIX_BY_SIX_OUTPUT[i][j] for j in (0, 2)] for i in (0, 3)
    ]
    # dilation (2, 1) on a 3x1 kernel reaches rows 0, 2, 4
    assert lists(cross_correlate(IMAGE_6X6, [[1], [1], [1]], dilation=(2, 1)))[0] == [
        IMAGE_6X6[0][j] + IMAGE_6X6[2][j] + IMAGE_6X6[4][j] for j in range(6)
    ]
    assert lists(pool(BLOCKS, (2, 4))) == [[8], [3]]
    assert parse_pair("3,2", "--stride") == (3, 2) and parse_pair("2", "--stride") == 2


def test_filter_bank_with_groups():
    """Two filters, groups 2: filter o reads channel o only; the output has one channel per filter."""
    out = cross_correlate([STEP_EDGE, QUADRANT], [[VERTICAL_EDGE], [HORIZONTAL_EDGE]], groups=2, bias=(1, -1))
    assert lists(out) == [[[v + 1 for v in row] for row in [[0, 30, 30, 0]] * 4], [[v - 1 for v in row] for row in [[0, 0, 0, 0], [30, 10, -10, -30], [30, 10, -10, -30], [0, 0, 0, 0]]]]
    assert explain_element([[[1]], [[5]]], [[[[2]]], [[[3]]]], groups=2, out_channel=1) == "out[1,0,0] = 5*3 = 15"
    with pytest.raises(UsageError, match="C_in / groups = 2 / 2 = 1"):
        cross_correlate([STEP_EDGE, QUADRANT], [[VERTICAL_EDGE, VERTICAL_EDGE]] * 2, groups=2)


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(conv_cases())
def test_im2col_matches_torch_unfold(case):
    torch = pytest.importorskip("torch")
    image, kernel, stride, padding, mode, dilation, _ = case
    try:
        (group,) = im2col(image, kernel, stride=stride, padding=padding, padding_mode=mode, dilation=dilation)
    except UsageError as raised:
        assert raised.code == "apply-kernel-too-large"
        return
    top, bottom, left, right = padding
    x = torch.nn.functional.pad(torch.tensor([image], dtype=torch.float64), (left, right, top, bottom), mode="constant" if mode == "zeros" else mode)
    kh, kw = len(kernel[0]), len(kernel[0][0])
    theirs = torch.nn.functional.unfold(x, (kh, kw), dilation=dilation, stride=stride)[0]
    assert lists(group.patches) == theirs.to(torch.int64).tolist()
    assert lists(group.product)[0] == [v for row in lists(cross_correlate(image, kernel, stride, padding, mode, dilation)) for v in row]


def test_command_flip_names_the_convention_and_prints_the_flipped_kernel():
    output = run("--input", IMAGE_TEXT, "--kernel", "vertical_edge", "--flip").output
    assert output.splitlines()[0] == "true convolution (the kernel flipped in both axes, then slid as PyTorch's conv2d slides it)"
    assert "flipped kernel, applied (3x3)" in output
    assert "out[0,0] = 3*(-1) + 0*0 + 1*1 + 1*(-1) + 5*0 + 8*1 + 2*(-1) + 7*0 + 2*1 = 5" in output
    document = json.loads(run("--input", IMAGE_TEXT, "--kernel", "vertical_edge", "--flip", "--format", "json").output)
    assert document["convention"] == "convolution"
    assert document["flipped_kernel"] == [[-1, 0, 1]] * 3
    assert document["output"] == [[-v for v in row] for row in SIX_BY_SIX_OUTPUT]
    plain = json.loads(run("--input", IMAGE_TEXT, "--kernel", "vertical_edge", "--format", "json").output)
    assert (plain["convention"], plain["flipped_kernel"]) == ("cross-correlation", None)


def test_command_im2col():
    document = json.loads(run("--input", IMAGE_TEXT, "--kernel", "vertical_edge", "--im2col", "--format", "json").output)
    (group,) = document["im2col"]
    assert group["product"] == [[v for row in SIX_BY_SIX_OUTPUT for v in row]]
    assert len(group["patches"]) == 9 and len(group["patches"][0]) == 16
    output = run("--input", IMAGE_TEXT, "--kernel", "vertical_edge", "--im2col").output
    assert "patch matrix: row = tap (u,v), column = output (i,j) (9x16)" in output
    assert "kernel matrix x patch matrix (1x16)" in output


def test_command_at_one_element_or_all():
    at = run("--input", IMAGE_TEXT, "--kernel", "vertical_edge", "--at", "3,3").output
    assert "out[3,3] = 1*1 + 7*0 + 8*(-1) + 6*1 + 2*0 + 8*(-1) + 2*1 + 3*0 + 9*(-1) = -16" in at
    assert "out[0,0]" not in at
    every = json.loads(run("--input", IMAGE_TEXT, "--kernel", "vertical_edge", "--at", "all", "--format", "json").output)
    assert len(every["steps"]["output"]) == 16 and every["steps"]["output"][15].endswith("= -16")
    # with pooling, --at names a pooled element; the convolution's elements in its window are worked out
    pooled = json.loads(run("--input", IMAGE_TEXT, "--kernel", "vertical_edge", "--pool", "max", "--at", "1,1", "--format", "json").output)
    assert pooled["steps"]["pooled"] == ["pooled[1,1] = max(-4, -7, -3, -16) = -3"]
    assert [s.split(" = ")[0] for s in pooled["steps"]["output"]] == ["out[2,2]", "out[2,3]", "out[3,2]", "out[3,3]"]


def test_command_per_axis_stride_and_backward():
    document = json.loads(run("-i", "1,2,3;4,5,6;7,8,9", "-k", "1,2;3,4", "--backward", "--grad", "1,-1;2,0", "--format", "json").output)
    conv = document["backward"]["conv"]
    assert (conv["grad_weight"], conv["grad_bias"]) == ([[7, 9], [13, 15]], 2)
    assert conv["grad_input"] == [[1, 1, -2], [5, 5, -4], [6, 8, 0]]
    assert document["backward"]["pool"] is None
    strided = json.loads(run("--input", IMAGE_TEXT, "--kernel", "vertical_edge", "--stride", "3,2", "--format", "json").output)
    assert strided["output"] == [[SIX_BY_SIX_OUTPUT[i][j] for j in (0, 2)] for i in (0, 3)]


def test_command_backward_through_pooling_then_convolution():
    """L = the pooled output's sum: max pooling routes the ones to the window maxima of the
    convolution's output, and that is the convolution's upstream gradient."""
    document = json.loads(run("-i", IMAGE_TEXT, "-k", "vertical_edge", "--pool", "max", "--backward", "--format", "json").output)
    pool_grads = document["backward"]["pool"]
    # the maxima of the 2x2 windows of the 4x4 output: -2 at (1,1), 8 at (0,3), 0 at (2,0), -3 at (3,2)
    assert pool_grads["grad_input"] == [[0, 0, 0, 1], [0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 1, 0]]
    assert document["backward"]["conv"]["grad_output"] == pool_grads["grad_input"]
    assert document["backward"]["conv"]["grad_bias"] == 4


@pytest.mark.parametrize(
    ("args", "code"),
    [
        pytest.param(["-i", "1,2;3,4", "-k", "1", "--grad", "1"], "apply-bad-option", id="grad without backward"),
        pytest.param(["-i", "1,2;3,4", "--pool", "max", "--im2col"], "apply-bad-option", id="im2col without kernel"),
        pytest.param(["-i", "1,2;3,4", "--pool", "max", "--flip"], "apply-bad-option", id="flip without kernel"),
        pytest.param(["-i", "1,2;3,4", "-k", "1", "--at", "2,0"], "apply-bad-option", id="at outside"),
        pytest.param(["-i", "1,2;3,4", "-k", "1", "--at", "x"], "apply-bad-option", id="at unreadable"),
        pytest.param(["-i", "1,2;3,4", "-k", "1", "--stride", "1,2,3"], "apply-bad-option", id="three strides"),
        pytest.param(["-i", "1,2;3,4", "-k", "1", "--backward", "--grad", "1,2"], "apply-bad-grad", id="grad shape"),
    ],
)
def test_command_new_option_errors(args, code):
    result = run(*args, code=1)
    assert isinstance(result.exception, UsageError), result.output
    assert result.exception.code == code
