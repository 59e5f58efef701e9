"""Small convolutions and pooling computed by hand, exactly, for checking homework.

Conventions (each one has a test in ``tests/test_apply.py``):

- "Convolution" here is cross-correlation, which is what deep-learning libraries (PyTorch's
  ``conv2d``) compute: ``out[i, j] = bias + sum_c sum_u sum_v x_c[i*s + u*d, j*s + v*d] * w_c[u, v]``
  over the padded input. The kernel is not flipped; a true convolution flips it in both axes.
- Output size per axis (walkthroughs.yaml ``output_size_formula``):
  ``out = floor((in + p_before + p_after - d*(f - 1) - 1) / s) + 1``.
- Padding is an int (every side), a pair ``(height, width)`` or four sides
  ``(top, bottom, left, right)``. Modes follow ``torch.nn.functional.pad``: ``zeros``;
  ``replicate`` repeats the edge value; ``reflect`` mirrors without repeating the edge, so it
  needs a padding smaller than the input.
- Multi-channel: a channels-first list of matrices. A kernel is one filter with one matrix per
  input channel; its output is the sum over channels (a single output channel).
- Pooling: square windows, the stride defaults to the window size. ``max`` and ``min`` ignore
  padded cells (PyTorch pads max pooling with -inf); ``avg`` counts them as zeros and divides by
  the whole window (PyTorch's default ``count_include_pad=True``). Padding is at most half the
  window, as PyTorch requires. A multi-channel input is pooled channel by channel.
- Values are exact: ints stay ints, a decimal such as ``0.4`` becomes ``Fraction('0.4')``, ``1/9``
  is read as a fraction, and every result is an int when it is integral.
"""

from __future__ import annotations

import csv
import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from fractions import Fraction
from pathlib import Path
from types import MappingProxyType
from typing import Any, Union

from convcalc.arith.dims import is_count
from convcalc.spec._yaml import Source, load_yaml
from convcalc.errors import Position, UsageError

__all__ = [
    "NAMED_KERNELS",
    "Array",
    "Matrix",
    "MatrixFile",
    "Number",
    "Padding",
    "PaddingMode",
    "PoolMode",
    "Stack",
    "cross_correlate",
    "explain_element",
    "explain_pool_element",
    "format_number",
    "is_stack",
    "load_file",
    "named_kernel",
    "pad",
    "padding_sides",
    "parse_array",
    "parse_number",
    "parse_padding",
    "pool",
    "resolve_kernel",
    "to_array",
]

Number = Union[int, Fraction]
Matrix = tuple[tuple[Number, ...], ...]
Stack = tuple[Matrix, ...]  # channels first
Array = Union[Matrix, Stack]
Padding = Union[int, tuple[int, int], tuple[int, int, int, int]]
Sides = tuple[int, int, int, int]  # top, bottom, left, right


class PaddingMode(str, Enum):
    """How ``pad`` fills the border (names from ``torch.nn.functional.pad``)."""

    ZEROS = "zeros"
    REPLICATE = "replicate"
    REFLECT = "reflect"


class PoolMode(str, Enum):
    """What a pooling window keeps."""

    MAX = "max"
    AVG = "avg"
    MIN = "min"


# ---------------------------------------------------------------------------------------------
# Numbers


def _exact(value: Number) -> Number:
    """An integral Fraction becomes an int; anything else is returned as is."""
    if isinstance(value, Fraction) and value.denominator == 1:
        return value.numerator
    return value


def parse_number(value: object) -> Number:
    """An int, or an exact Fraction for a decimal (``"0.4"``) or a ratio (``"1/9"``).

    A float is read through its shortest repr, so ``0.4`` gives ``Fraction('0.4')``, not the
    binary approximation. Booleans, infinities and NaN are not numbers here.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Fraction)):
        raise UsageError("apply-bad-matrix", f"{value!r} is not a number")
    try:
        number = Fraction(value) if isinstance(value, (int, Fraction)) else Fraction(str(value).strip())
    except (ValueError, ZeroDivisionError):
        raise UsageError("apply-bad-matrix", f"{value!r} is not a number") from None
    return _exact(number)


def format_number(value: Number) -> str:
    """``3``, ``0.6`` for a terminating decimal, ``1/3`` otherwise.

    p/q terminates exactly when q = 2**a * 5**b; it then has max(a, b) decimal places.
    """
    value = _exact(value)
    if isinstance(value, int):
        return str(value)
    places = _decimal_places(value.denominator)
    if places is None:
        return f"{value.numerator}/{value.denominator}"
    digits = str(abs(value.numerator * 10**places // value.denominator)).rjust(places + 1, "0")
    sign = "-" if value < 0 else ""
    return f"{sign}{digits[:-places]}.{digits[-places:]}"


def _decimal_places(denominator: int) -> int | None:
    twos = fives = 0
    while denominator % 2 == 0:
        denominator, twos = denominator // 2, twos + 1
    while denominator % 5 == 0:
        denominator, fives = denominator // 5, fives + 1
    return max(twos, fives) if denominator == 1 else None


# ---------------------------------------------------------------------------------------------
# Matrices: parsing and validation


def _is_rows(value: object) -> bool:
    return isinstance(value, (list, tuple))


def is_stack(array: Array) -> bool:
    """True for a channels-first list of matrices, False for one matrix."""
    return _is_rows(array[0][0])


def to_array(value: object, source: Source | None = None, path: tuple[Any, ...] = ()) -> Array:
    """Validate nested lists as a matrix (list of rows) or a stack (list of same-shape matrices).

    With the ``source`` of a YAML document, an error points at the offending node.
    """
    if _is_rows(value) and value and all(_is_rows(m) and m and all(_is_rows(r) for r in m) for m in value):
        stack = tuple(
            _to_matrix(m, source, (*path, c), f"channel {c}: ") for c, m in enumerate(value)
        )
        for c, matrix in enumerate(stack[1:], start=1):
            if _shape(matrix) != _shape(stack[0]):
                raise _bad_matrix(
                    f"channel {c} is {_size_text(matrix)}, channel 0 is {_size_text(stack[0])}",
                    source, (*path, c),
                )
        return stack
    return _to_matrix(value, source, path, "")


def _to_matrix(value: object, source: Source | None, path: tuple[Any, ...], where: str) -> Matrix:
    if not _is_rows(value) or not value or not all(_is_rows(row) and row for row in value):
        raise _bad_matrix(f"{where}a matrix is a non-empty list of non-empty rows, got {value!r}", source, path)
    width = len(value[0])
    for r, row in enumerate(value[1:], start=1):
        if len(row) != width:
            values = "value" if len(row) == 1 else "values"
            raise _bad_matrix(f"{where}row {r + 1} has {len(row)} {values}, row 1 has {width}", source, (*path, r))
    return tuple(
        tuple(_cell(cell, source, (*path, r, c), f"{where}row {r + 1}, column {c + 1}: ") for c, cell in enumerate(row))
        for r, row in enumerate(value)
    )


def _cell(value: object, source: Source | None, path: tuple[Any, ...], where: str) -> Number:
    try:
        return parse_number(value)
    except UsageError as error:
        raise _bad_matrix(f"{where}{error.message}", source, path) from None


def _bad_matrix(message: str, source: Source | None, path: tuple[Any, ...]) -> UsageError:
    return UsageError("apply-bad-matrix", message, source.pos(path) if source else None)


def parse_array(text: str, name: str = "matrix") -> Array:
    """Read a matrix written inline: ``"3,0,1;1,5,8"`` or ``"3 0 1; 1 5 8"`` (rows split by ``;``,
    values by commas or spaces), or as YAML nested lists, ``"[[1,2],[3,4]]"``; three levels of
    nesting give a channels-first stack. ``name`` labels the YAML positions in errors.
    """
    stripped = text.strip()
    if stripped.startswith("["):
        value, source = load_yaml(stripped, name)
        return to_array(value, source)
    rows = [re.split(r"[,\s]+", row.strip()) for row in stripped.split(";") if row.strip()]
    return to_array(rows)


@dataclass(frozen=True)
class MatrixFile:
    """What a matrices file holds; either part may be missing."""

    input: Array | None
    kernel: Array | None


_FILE_KEYS = ("input", "kernel")


def load_file(path: Path) -> MatrixFile:
    """Read ``input`` and ``kernel`` from a YAML file, or one input matrix from a ``.csv`` file.

    In YAML the kernel may be a matrix or a name from ``NAMED_KERNELS``.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError("apply-bad-file", f"cannot read {path}: {error}") from None
    if not text.strip():
        raise UsageError("apply-bad-file", "the file is empty", Position(str(path)))
    if path.suffix.lower() == ".csv":
        return MatrixFile(_read_csv(text, path), None)
    value, source = load_yaml(text, str(path))
    if not isinstance(value, dict):
        raise UsageError("apply-bad-file", "expected a mapping with `input` and/or `kernel`", Position(str(path)))
    for key in value:
        if key not in _FILE_KEYS:
            raise UsageError(
                "apply-bad-file", f"unknown key {key!r}; the keys are input, kernel",
                source.pos((key,), key=True),
            )
    return MatrixFile(_file_array(value, "input", source), _file_array(value, "kernel", source))


def _file_array(value: dict[str, Any], key: str, source: Source) -> Array | None:
    if key not in value:
        return None
    if key == "kernel" and isinstance(value[key], str):
        return named_kernel(value[key])
    return to_array(value[key], source, (key,))


def _read_csv(text: str, path: Path) -> Matrix:
    rows = [[cell.strip() for cell in row] for row in csv.reader(text.splitlines())]
    try:
        return _to_matrix([row for row in rows if any(row)], None, (), "")
    except UsageError as error:
        raise UsageError(error.code, error.message, Position(str(path))) from None


# ---------------------------------------------------------------------------------------------
# Named kernels


def _scaled(scale: Fraction, rows: Sequence[Sequence[int]]) -> Matrix:
    return tuple(tuple(_exact(scale * v) for v in row) for row in rows)


_SOBEL_X: Matrix = ((-1, 0, 1), (-2, 0, 2), (-1, 0, 1))  # walkthroughs.yaml named_kernels.sobel_vertical
_SOBEL_Y: Matrix = ((-1, -2, -1), (0, 0, 0), (1, 2, 1))  # walkthroughs.yaml named_kernels.sobel_horizontal
_BINOMIAL_5 = ((1, 4, 6, 4, 1), (4, 16, 24, 16, 4), (6, 24, 36, 24, 6), (4, 16, 24, 16, 4), (1, 4, 6, 4, 1))

NAMED_KERNELS = MappingProxyType({
    "sobel_x": _SOBEL_X,
    "sobel_vertical": _SOBEL_X,
    "sobel_y": _SOBEL_Y,
    "sobel_horizontal": _SOBEL_Y,
    "scharr_x": ((-3, 0, 3), (-10, 0, 10), (-3, 0, 3)),
    "scharr_y": ((-3, -10, -3), (0, 0, 0), (3, 10, 3)),
    "gaussian3": _scaled(Fraction(1, 16), ((1, 2, 1), (2, 4, 2), (1, 2, 1))),
    "gaussian5": _scaled(Fraction(1, 256), _BINOMIAL_5),  # walkthroughs.yaml gaussian_5x5_times_256
    "mean3": _scaled(Fraction(1, 9), ((1, 1, 1),) * 3),
    "sharpen": ((0, -1, 0), (-1, 5, -1), (0, -1, 0)),
    "laplacian": ((0, 1, 0), (1, -4, 1), (0, 1, 0)),
    "vertical_edge": ((1, 0, -1),) * 3,  # walkthroughs.yaml numeric_examples
    "horizontal_edge": ((1, 1, 1), (0, 0, 0), (-1, -1, -1)),
})

_KERNEL_NAME = re.compile(r"[A-Za-z_][\w-]*")


def named_kernel(name: str) -> Matrix:
    """The kernel called ``name`` in ``NAMED_KERNELS``; case and ``-`` versus ``_`` do not matter."""
    key = name.strip().lower().replace("-", "_")
    if key in NAMED_KERNELS:
        return NAMED_KERNELS[key]
    close = difflib.get_close_matches(key, NAMED_KERNELS, n=3)
    raise UsageError(
        "apply-unknown-kernel",
        f"unknown kernel {name!r}; the named kernels are {', '.join(sorted(NAMED_KERNELS))}",
        hint=f"did you mean {' or '.join(close)}?" if close else None,
    )


def resolve_kernel(text: str) -> Array:
    """A kernel given as a name (``sobel_x``) or as a matrix that ``parse_array`` reads."""
    stripped = text.strip()
    if _KERNEL_NAME.fullmatch(stripped):
        return named_kernel(stripped)
    return parse_array(stripped, "kernel")


# ---------------------------------------------------------------------------------------------
# Options


def padding_sides(padding: Padding) -> Sides:
    """``(top, bottom, left, right)`` from an int, a pair ``(height, width)`` or four sides."""
    sides = (padding,) * 4 if isinstance(padding, int) else tuple(padding)
    if len(sides) == 2:
        sides = (sides[0], sides[0], sides[1], sides[1])
    if len(sides) != 4 or not all(isinstance(p, int) and not isinstance(p, bool) and p >= 0 for p in sides):
        raise UsageError(
            "apply-bad-option",
            f"padding is p, (height, width) or (top, bottom, left, right) of non-negative ints, got {padding!r}",
        )
    return sides


def parse_padding(text: str) -> Padding:
    """``"1"``, ``"1,2"`` (height, width) or ``"1,1,2,2"`` (top, bottom, left, right)."""
    parts = [part for part in re.split(r"[,\s]+", text.strip()) if part]
    if not parts or not all(is_count(part) for part in parts) or len(parts) not in (1, 2, 4):
        raise UsageError(
            "apply-bad-option", f"padding is p, 'ph,pw' or 'top,bottom,left,right' of non-negative ints, got {text!r}"
        )
    values = tuple(int(part) for part in parts)
    return values[0] if len(values) == 1 else values


def _positive(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError("apply-bad-option", f"{name} must be a positive integer, got {value!r}")
    return value


def _enum(kind: type[Enum], value: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(member.value for member in kind)
        raise UsageError("apply-bad-option", f"{value!r} is not one of {choices}") from None


# ---------------------------------------------------------------------------------------------
# Padding and output sizes


def _as_stack(array: Any) -> tuple[Stack, bool]:
    """The array as channels, and whether it was a stack."""
    checked = to_array(array)
    return (checked, True) if is_stack(checked) else ((checked,), False)


def _shape(matrix: Matrix) -> tuple[int, int]:
    return len(matrix), len(matrix[0])


def _size_text(matrix: Matrix) -> str:
    height, width = _shape(matrix)
    return f"{height}x{width}"


def _source_index(index: int, size: int, mode: PaddingMode) -> int | None:
    """Where a padded row or column reads from in the input (None: a zero)."""
    if 0 <= index < size:
        return index
    if mode is PaddingMode.ZEROS:
        return None
    if mode is PaddingMode.REPLICATE:
        return 0 if index < 0 else size - 1
    return -index if index < 0 else 2 * (size - 1) - index  # reflect about the edge cell


def _pad_matrix(matrix: Matrix, sides: Sides, mode: PaddingMode) -> Matrix:
    top, bottom, left, right = sides
    height, width = _shape(matrix)
    if mode is PaddingMode.REFLECT and (max(top, bottom) >= height or max(left, right) >= width):
        raise UsageError(
            "apply-bad-option",
            f"reflect padding {sides} (top, bottom, left, right) must be smaller than the input "
            f"{height}x{width} on each axis, as in torch.nn.functional.pad",
        )
    rows = [_source_index(r, height, mode) for r in range(-top, height + bottom)]
    cols = [_source_index(c, width, mode) for c in range(-left, width + right)]
    return tuple(
        tuple(0 if r is None or c is None else matrix[r][c] for c in cols) for r in rows
    )


def pad(input: Any, padding: Padding, mode: str = "zeros") -> Array:
    """The input with ``padding`` added in ``mode`` (zeros, replicate or reflect); a stack is
    padded channel by channel.
    """
    array = to_array(input)
    sides, padding_mode = padding_sides(padding), _enum(PaddingMode, mode)
    if is_stack(array):
        return tuple(_pad_matrix(m, sides, padding_mode) for m in array)
    return _pad_matrix(array, sides, padding_mode)


def _out_size(axis: str, size: int, before: int, after: int, f: int, s: int, d: int) -> int:
    """``floor((in + p_before + p_after - d*(f - 1) - 1) / s) + 1``, or an error showing it."""
    out = (size + before + after - d * (f - 1) - 1) // s + 1
    if out < 1:
        pads, numbers = ("2*p", f"2*{before}") if before == after else ("p_before + p_after", f"{before} + {after}")
        raise UsageError(
            "apply-kernel-too-large",
            f"the window of size {f} (dilation {d}) is larger than the padded input along the {axis}: "
            f"out = floor((in + {pads} - d*(f - 1) - 1) / s) + 1 = "
            f"floor(({size} + {numbers} - {d}*({f} - 1) - 1) / {s}) + 1 = {out}",
        )
    return out


def _out_shape(matrix: Matrix, window: tuple[int, int], sides: Sides, stride: int, dilation: int) -> tuple[int, int]:
    (height, width), (kh, kw) = _shape(matrix), window
    top, bottom, left, right = sides
    return (
        _out_size("height", height, top, bottom, kh, stride, dilation),
        _out_size("width", width, left, right, kw, stride, dilation),
    )


# ---------------------------------------------------------------------------------------------
# Cross-correlation


@dataclass(frozen=True)
class _Conv:
    padded: Stack
    kernel: Stack
    out_shape: tuple[int, int]
    stride: int
    dilation: int

    def terms(self, i: int, j: int) -> list[tuple[Number, Number]]:
        """(input, weight) pairs that out[i, j] sums, channel by channel, row by row."""
        s, d = self.stride, self.dilation
        return [
            (x[i * s + u * d][j * s + v * d], weight)
            for x, w in zip(self.padded, self.kernel)
            for u, row in enumerate(w)
            for v, weight in enumerate(row)
        ]


def _conv(input: Any, kernel: Any, stride: int, padding: Padding, padding_mode: str, dilation: int) -> _Conv:
    (xs, _), (ws, _) = _as_stack(input), _as_stack(kernel)
    if len(xs) != len(ws):
        raise UsageError(
            "apply-channel-mismatch",
            f"the input has {len(xs)} channel(s) and the kernel {len(ws)}; one filter needs one "
            "kernel matrix per input channel",
        )
    sides = padding_sides(padding)
    out_shape = _out_shape(xs[0], _shape(ws[0]), sides, _positive("stride", stride), _positive("dilation", dilation))
    padded = tuple(_pad_matrix(x, sides, _enum(PaddingMode, padding_mode)) for x in xs)
    return _Conv(padded, ws, out_shape, stride, dilation)


def cross_correlate(
    input: Any,
    kernel: Any,
    stride: int = 1,
    padding: Padding = 0,
    padding_mode: str = "zeros",
    dilation: int = 1,
    bias: Number = 0,
) -> Matrix:
    """Slide ``kernel`` over ``input`` without flipping it: what PyTorch's ``conv2d`` computes
    and deep-learning texts call convolution. A true convolution would flip the kernel.

    ``out[i, j] = bias + sum of x[i*s + u*d][j*s + v*d] * w[u][v]`` over the padded input and every
    channel; see the module docstring for padding, sizes and exactness.
    """
    conv = _conv(input, kernel, stride, padding, padding_mode, dilation)
    rows, cols = conv.out_shape
    bias = parse_number(bias)
    return tuple(
        tuple(_exact(bias + sum(x * w for x, w in conv.terms(i, j))) for j in range(cols)) for i in range(rows)
    )


def _factor(value: Number) -> str:
    text = format_number(value)
    return f"({text})" if value < 0 or "/" in text else text


def _check_index(name: str, index: tuple[int, ...], shape: tuple[int, ...]) -> None:
    if not all(0 <= i < n for i, n in zip(index, shape)):
        where = ",".join(map(str, index))
        raise UsageError("apply-bad-option", f"{name}[{where}] is outside the {'x'.join(map(str, shape))} result")


def explain_element(
    input: Any,
    kernel: Any,
    row: int = 0,
    col: int = 0,
    stride: int = 1,
    padding: Padding = 0,
    padding_mode: str = "zeros",
    dilation: int = 1,
    bias: Number = 0,
) -> str:
    """One output element of ``cross_correlate`` worked out, ``input*weight`` for every product:
    ``out[0,0] = 3*1 + 0*0 + 1*(-1) + ... = -5``.
    """
    conv = _conv(input, kernel, stride, padding, padding_mode, dilation)
    _check_index("out", (row, col), conv.out_shape)
    terms = conv.terms(row, col)
    bias = parse_number(bias)
    parts = [f"{_factor(x)}*{_factor(w)}" for x, w in terms] + ([_factor(bias)] if bias else [])
    total = _exact(bias + sum(x * w for x, w in terms))
    return f"out[{row},{col}] = {' + '.join(parts)} = {format_number(total)}"


# ---------------------------------------------------------------------------------------------
# Pooling


def _window(matrix: Matrix, i: int, j: int, k: int, s: int, p: int) -> list[Number | None]:
    """The k x k window of pooled[i, j]; None marks a padded cell."""
    height, width = _shape(matrix)
    return [
        matrix[r][c] if 0 <= r < height and 0 <= c < width else None
        for r in range(i * s - p, i * s - p + k)
        for c in range(j * s - p, j * s - p + k)
    ]


def _reduce(window: list[Number | None], mode: PoolMode) -> Number:
    if mode is PoolMode.AVG:
        return _exact(Fraction(sum(v for v in window if v is not None), len(window)))
    values = [v for v in window if v is not None]
    return max(values) if mode is PoolMode.MAX else min(values)


@dataclass(frozen=True)
class _Pool:
    channels: Stack
    stacked: bool
    out_shape: tuple[int, int]
    kernel_size: int
    stride: int
    padding: int
    mode: PoolMode

    def window(self, c: int, i: int, j: int) -> list[Number | None]:
        return _window(self.channels[c], i, j, self.kernel_size, self.stride, self.padding)


def _pool(input: Any, kernel_size: int, stride: int | None, padding: int, mode: str) -> _Pool:
    channels, stacked = _as_stack(input)
    k = _positive("pool size", kernel_size)
    s = k if stride is None else _positive("pool stride", stride)
    if isinstance(padding, bool) or not isinstance(padding, int) or not 0 <= 2 * padding <= k:
        raise UsageError(
            "apply-bad-option",
            f"pool padding must be between 0 and half the window ({k} // 2 = {k // 2}), got {padding!r}",
        )
    out_shape = _out_shape(channels[0], (k, k), (padding,) * 4, s, 1)
    return _Pool(channels, stacked, out_shape, k, s, padding, _enum(PoolMode, mode))


def pool(input: Any, kernel_size: int, stride: int | None = None, padding: int = 0, mode: str = "max") -> Array:
    """Max, average or min pooling over ``kernel_size`` x ``kernel_size`` windows.

    ``stride`` defaults to ``kernel_size``; padding rules are in the module docstring.
    """
    spec = _pool(input, kernel_size, stride, padding, mode)
    rows, cols = spec.out_shape
    pooled = tuple(
        tuple(tuple(_reduce(spec.window(c, i, j), spec.mode) for j in range(cols)) for i in range(rows))
        for c in range(len(spec.channels))
    )
    return pooled if spec.stacked else pooled[0]


def explain_pool_element(
    input: Any,
    kernel_size: int,
    row: int = 0,
    col: int = 0,
    stride: int | None = None,
    padding: int = 0,
    mode: str = "max",
    channel: int = 0,
) -> str:
    """One pooled element worked out: ``pooled[0,0] = max(0.5, 0.2, 0, 0) = 0.5``, or
    ``(1 + 2 + 0 + 0) / 4 = 0.75`` for avg, padded cells counted as zeros.
    A stack's element is named by channel first, ``pooled[0,0,0]``.
    """
    spec = _pool(input, kernel_size, stride, padding, mode)
    index = (channel, row, col) if spec.stacked else (row, col)
    _check_index("pooled", index, (len(spec.channels), *spec.out_shape) if spec.stacked else spec.out_shape)
    window = spec.window(channel, row, col)
    result = format_number(_reduce(window, spec.mode))
    if spec.mode is PoolMode.AVG:
        terms = " + ".join(_factor(0 if v is None else v) for v in window)
        body = f"({terms}) / {len(window)}"
    else:
        body = f"{spec.mode.value}({', '.join(format_number(v) for v in window if v is not None)})"
    return f"pooled[{','.join(map(str, index))}] = {body} = {result}"
