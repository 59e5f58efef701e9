"""Small convolutions and pooling computed by hand, exactly, for checking homework.

Conventions (each one has a test in ``tests/test_apply.py``):

- "Convolution" here is cross-correlation, which is what deep-learning libraries (PyTorch's
  ``conv2d``) compute: ``out[o, i, j] = bias[o] + sum_c sum_u sum_v x_c[i*s_h + u*d_h, j*s_w + v*d_w]
  * w[o, c, u, v]`` over the padded input. The kernel is not flipped. With ``flip=True`` it is a
  true convolution (the signal-processing definition some lecture notes use): the same sum with
  the kernel flipped in both spatial axes, ``w[o, c, k_h-1-u, k_w-1-v]``.
- Output size per axis (walkthroughs.yaml ``output_size_formula``):
  ``out = floor((in + p_before + p_after - d*(f - 1) - 1) / s) + 1``. Stride, dilation and the
  pooling window take one int (both axes) or a pair ``(height, width)``.
- Padding is an int (every side), a pair ``(height, width)`` or four sides
  ``(top, bottom, left, right)``. Modes follow ``torch.nn.functional.pad``: ``zeros``;
  ``replicate`` repeats the edge value; ``reflect`` mirrors without repeating the edge, so it
  needs a padding smaller than the input.
- Channels: an input is a matrix or a channels-first list of matrices. A kernel is one filter
  (a matrix, or one matrix per input channel; its output is one matrix, the sum over channels) or
  a list of filters ``[C_out][C_in / groups][k_h][k_w]`` as PyTorch stores ``Conv2d.weight``, whose
  output has one channel per filter. With ``groups = g`` filter ``o`` sees the input channels of
  group ``o // (C_out / g)``.
- im2col: the patch matrix has one row per tap ``(c, u, v)`` (channel, kernel row, kernel column,
  in that order) and one column per output position ``(i, j)`` (row-major), as
  ``torch.nn.functional.unfold`` lays it out; the kernel matrix has one row per filter; their
  product plus the bias is the output, reshaped. One pair of matrices per group.
- Pooling: the stride defaults to the window size. ``max`` and ``min`` ignore padded cells
  (PyTorch pads max pooling with -inf); ``avg`` counts them as zeros and divides by the whole
  window (PyTorch's default ``count_include_pad=True``). Padding is at most half the window, as
  PyTorch requires. A multi-channel input is pooled channel by channel.
- Values are exact: ints stay ints, a decimal such as ``0.4`` becomes ``Fraction('0.4')``, ``1/9``
  is read as a fraction, and every result is an int when it is integral.

The numbers, arrays and their parsing are in :mod:`convcalc.teach.arrays` (and re-exported here);
the backward pass (gradients) is in :mod:`convcalc.teach.backward`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from fractions import Fraction
from typing import Any

from convcalc.arith.dims import is_count
from convcalc.errors import UsageError
from convcalc.teach.arrays import (
    NAMED_KERNELS,
    Array,
    Bank,
    Matrix,
    MatrixFile,
    Number,
    Padding,
    Pair,
    Sides,
    Stack,
    _exact,
    _shape,
    depth,
    format_number,
    is_stack,
    load_file,
    named_kernel,
    parse_array,
    parse_number,
    resolve_kernel,
    to_array,
)

__all__ = [
    "NAMED_KERNELS",
    "Array",
    "Bank",
    "ConvSetup",
    "Im2col",
    "Matrix",
    "MatrixFile",
    "Number",
    "Padding",
    "PaddingMode",
    "Pair",
    "PoolMode",
    "PoolSetup",
    "Stack",
    "cross_correlate",
    "depth",
    "explain_element",
    "explain_pool_element",
    "flip_kernel",
    "format_number",
    "im2col",
    "is_stack",
    "load_file",
    "named_kernel",
    "pad",
    "padding_sides",
    "parse_array",
    "parse_number",
    "parse_padding",
    "parse_pair",
    "pool",
    "resolve_kernel",
    "setup_conv",
    "setup_pool",
    "to_array",
]

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


def parse_pair(text: str, name: str) -> int | Pair:
    """``"2"`` (both axes) or ``"3,2"`` (height, width): a stride, dilation, window or padding per axis."""
    parts = [part for part in re.split(r"[,\s]+", text.strip()) if part]
    if len(parts) not in (1, 2) or not all(is_count(part) for part in parts):
        raise UsageError("apply-bad-option", f"{name} is n or 'height,width' of integers, got {text!r}")
    values = tuple(int(part) for part in parts)
    return values[0] if len(values) == 1 else (values[0], values[1])


def _pair(name: str, value: int | Sequence[int], minimum: int = 1) -> Pair:
    """``(height, width)`` from one int or a pair of ints, each at least ``minimum``."""
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v >= minimum for v in pair):
        kind = "positive" if minimum == 1 else "non-negative"
        raise UsageError("apply-bad-option", f"{name} must be a {kind} integer or a (height, width) pair of them, got {value!r}")
    return pair[0], pair[1]


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


def _pair_text(pair: Pair) -> str:
    """``2`` when both axes agree, else ``3,2`` (height, width)."""
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]},{pair[1]}"


# ---------------------------------------------------------------------------------------------
# Padding and output sizes


def _as_stack(array: Any) -> tuple[Stack, bool]:
    """The array as channels, and whether it was a stack. A bank of filters is no input."""
    checked = to_array(array)
    if depth(checked) == 4:
        raise UsageError("apply-bad-matrix", "an input is a matrix or a channels-first list of matrices, not a list of filters")
    return (checked, True) if is_stack(checked) else ((checked,), False)


def _source_index(index: int, size: int, mode: PaddingMode) -> int | None:
    """Where a padded row or column reads from in the input (None: a zero)."""
    if 0 <= index < size:
        return index
    if mode is PaddingMode.ZEROS:
        return None
    if mode is PaddingMode.REPLICATE:
        return 0 if index < 0 else size - 1
    return -index if index < 0 else 2 * (size - 1) - index  # reflect about the edge cell


def _sources(matrix: Matrix, sides: Sides, mode: PaddingMode) -> tuple[tuple[int | None, ...], tuple[int | None, ...]]:
    """For every padded row and column, the input row or column it reads (None: a zero)."""
    top, bottom, left, right = sides
    height, width = _shape(matrix)
    if mode is PaddingMode.REFLECT and (max(top, bottom) >= height or max(left, right) >= width):
        raise UsageError(
            "apply-bad-option",
            f"reflect padding {sides} (top, bottom, left, right) must be smaller than the input "
            f"{height}x{width} on each axis, as in torch.nn.functional.pad",
        )
    rows = tuple(_source_index(r, height, mode) for r in range(-top, height + bottom))
    cols = tuple(_source_index(c, width, mode) for c in range(-left, width + right))
    return rows, cols


def _pad_matrix(matrix: Matrix, sides: Sides, mode: PaddingMode) -> Matrix:
    rows, cols = _sources(matrix, sides, mode)
    return tuple(tuple(0 if r is None or c is None else matrix[r][c] for c in cols) for r in rows)


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


def _out_shape(matrix: Matrix, window: Pair, sides: Sides, stride: Pair, dilation: Pair) -> Pair:
    (height, width), (kh, kw) = _shape(matrix), window
    top, bottom, left, right = sides
    return (
        _out_size("height", height, top, bottom, kh, stride[0], dilation[0]),
        _out_size("width", width, left, right, kw, stride[1], dilation[1]),
    )


def _factor(value: Number) -> str:
    text = format_number(value)
    return f"({text})" if value < 0 or "/" in text else text


def _index(*index: int) -> str:
    return ",".join(map(str, index))


def _check_index(name: str, index: tuple[int, ...], shape: tuple[int, ...]) -> None:
    if len(index) != len(shape) or not all(0 <= i < n for i, n in zip(index, shape)):
        raise UsageError("apply-bad-option", f"{name}[{_index(*index)}] is outside the {'x'.join(map(str, shape))} result")


# ---------------------------------------------------------------------------------------------
# Cross-correlation, true convolution, im2col


def flip_kernel(kernel: Any) -> Array:
    """The kernel turned by 180 degrees (flipped in both spatial axes), filter by filter and
    channel by channel: ``w[k_h-1-u][k_w-1-v]``. Cross-correlating with it is a true convolution."""
    array = to_array(kernel)
    levels = depth(array)
    if levels == 2:
        return tuple(tuple(reversed(row)) for row in reversed(array))
    return tuple(flip_kernel(part) for part in array)


def _bank(kernel: Array) -> Bank:
    levels = depth(kernel)
    return ((kernel,),) if levels == 2 else (kernel,) if levels == 3 else kernel


@dataclass(frozen=True)
class Im2col:
    """One group's cross-correlation as a matrix product ``kernel @ patches``.

    ``patches`` has one row per tap ``(c, u, v)`` of the group's input channels and one column per
    output position ``(i, j)``; ``kernel`` one row per filter of the group. ``product`` is their
    product; plus each filter's bias it is the output, one row per filter, reshaped.
    """

    group: int
    filters: tuple[int, ...]
    taps: tuple[tuple[int, int, int], ...]
    positions: tuple[Pair, ...]
    patches: Matrix
    kernel: Matrix
    product: Matrix


@dataclass(frozen=True)
class ConvSetup:
    """A cross-correlation ready to run: the padded input, the filters as applied (flipped for a
    true convolution) and the geometry. ``single``: one filter was given as a matrix or a stack, so
    the output is one matrix; otherwise one channel per filter."""

    input: Stack
    input_stacked: bool
    padded: Stack
    rows: tuple[int | None, ...]  # padded row -> the input row it reads (None: a zero)
    cols: tuple[int | None, ...]
    given: Bank  # the filters as given
    bank: Bank  # the filters as applied
    kernel_depth: int
    out_shape: Pair
    stride: Pair
    dilation: Pair
    groups: int
    bias: tuple[Number, ...]
    flip: bool

    @property
    def single(self) -> bool:
        return self.kernel_depth < 4

    @property
    def group_in(self) -> int:
        return len(self.bank[0])

    @property
    def group_out(self) -> int:
        return len(self.bank) // self.groups

    @property
    def kernel_shape(self) -> Pair:
        return _shape(self.bank[0][0])

    def taps(self, o: int, i: int, j: int) -> list[tuple[int, int, int, int, int, int]]:
        """``(input channel, padded row, padded column, c, u, v)`` of every product out[o, i, j] sums."""
        first = o // self.group_out * self.group_in
        (sh, sw), (dh, dw), (kh, kw) = self.stride, self.dilation, self.kernel_shape
        return [
            (first + c, i * sh + u * dh, j * sw + v * dw, c, u, v)
            for c in range(self.group_in)
            for u in range(kh)
            for v in range(kw)
        ]

    def terms(self, o: int, i: int, j: int) -> list[tuple[Number, Number]]:
        """(input, weight) pairs that out[o, i, j] sums, channel by channel, row by row."""
        return [(self.padded[ch][r][q], self.bank[o][c][u][v]) for ch, r, q, c, u, v in self.taps(o, i, j)]

    def value(self, o: int, i: int, j: int) -> Number:
        return _exact(self.bias[o] + sum(x * w for x, w in self.terms(o, i, j)))

    def output(self) -> Array:
        rows, cols = self.out_shape
        return self.as_output(tuple(
            tuple(tuple(self.value(o, i, j) for j in range(cols)) for i in range(rows)) for o in range(len(self.bank))
        ))

    def as_output(self, stack: Stack) -> Array:
        """A per-filter stack in the output's form: one matrix for a single filter."""
        return stack[0] if self.single else stack

    def as_kernel(self, bank: Bank) -> Array:
        """A bank in the form the kernel was given: a matrix, a stack or a bank."""
        return bank[0][0] if self.kernel_depth == 2 else bank[0] if self.kernel_depth == 3 else bank

    def as_input(self, stack: Stack) -> Array:
        return stack if self.input_stacked else stack[0]

    def out_label(self, o: int, i: int, j: int) -> str:
        return f"out[{_index(i, j)}]" if self.single else f"out[{_index(o, i, j)}]"

    def out_index(self, index: tuple[int, ...]) -> tuple[int, int, int]:
        """(filter, row, column) of an element named ``(i, j)`` or ``(o, i, j)``; checked."""
        shape = self.out_shape if self.single else (len(self.bank), *self.out_shape)
        _check_index("out", index, shape)
        return (0, *index) if self.single else index  # type: ignore[return-value]

    def explain(self, o: int, i: int, j: int) -> str:
        """``out[0,0] = 3*1 + 0*0 + 1*(-1) + ... = -5``: every product, then the bias."""
        terms, bias = self.terms(o, i, j), self.bias[o]
        parts = [f"{_factor(x)}*{_factor(w)}" for x, w in terms] + ([_factor(bias)] if bias else [])
        return f"{self.out_label(o, i, j)} = {' + '.join(parts)} = {format_number(self.value(o, i, j))}"

    def im2col(self) -> tuple[Im2col, ...]:
        rows, cols = self.out_shape
        positions = tuple((i, j) for i in range(rows) for j in range(cols))
        (kh, kw) = self.kernel_shape
        taps = tuple((c, u, v) for c in range(self.group_in) for u in range(kh) for v in range(kw))
        groups = []
        for g in range(self.groups):
            filters = tuple(range(g * self.group_out, (g + 1) * self.group_out))
            columns = [self.taps(filters[0], i, j) for i, j in positions]
            patches = tuple(
                tuple(self.padded[ch][r][q] for ch, r, q, *_ in (column[t] for column in columns))
                for t in range(len(taps))
            )
            kernel = tuple(tuple(self.bank[o][c][u][v] for c, u, v in taps) for o in filters)
            product = tuple(
                tuple(_exact(sum(w * patches[t][p] for t, w in enumerate(row))) for p in range(len(positions)))
                for row in kernel
            )
            groups.append(Im2col(g, filters, taps, positions, patches, kernel, product))
        return tuple(groups)


def _bias(value: Number | Sequence[Number], filters: int) -> tuple[Number, ...]:
    if isinstance(value, (list, tuple)):
        if len(value) != filters:
            raise UsageError("apply-bad-option", f"give one bias or one per filter ({filters}), got {len(value)}")
        return tuple(parse_number(v) for v in value)
    return (parse_number(value),) * filters


def _channels_message(setup_in: int, bank: Bank, kernel_depth: int, groups: int) -> str | None:
    """Why the kernel cannot run on the input's channels, or None when it can."""
    group_in, filters = len(bank[0]), len(bank)
    if kernel_depth < 4:
        if groups != 1:
            return "groups need a list of filters, [C_out][C_in / groups][k_h][k_w] (four levels of nesting)"
        if group_in != setup_in:
            return (
                f"the input has {setup_in} channel(s) and the kernel {group_in}; one filter needs one "
                "kernel matrix per input channel"
            )
        return None
    if setup_in % groups or filters % groups:
        return f"groups = {groups} must divide the input's {setup_in} channel(s) and the {filters} filter(s)"
    if group_in * groups != setup_in:
        return (
            f"each filter has {group_in} channel(s); with groups = {groups} it needs C_in / groups = "
            f"{setup_in} / {groups} = {setup_in // groups}"
        )
    return None


def setup_conv(
    input: Any,
    kernel: Any,
    stride: int | Pair = 1,
    padding: Padding = 0,
    padding_mode: str = "zeros",
    dilation: int | Pair = 1,
    bias: Number | Sequence[Number] = 0,
    groups: int = 1,
    flip: bool = False,
) -> ConvSetup:
    """Validate a cross-correlation (or, with ``flip``, a true convolution) and pad its input."""
    xs, stacked = _as_stack(input)
    weights = to_array(kernel)
    given, kernel_depth = _bank(weights), depth(weights)
    groups = _positive("groups", groups)
    problem = _channels_message(len(xs), given, kernel_depth, groups)
    if problem:
        raise UsageError("apply-channel-mismatch", problem)
    sides, mode = padding_sides(padding), _enum(PaddingMode, padding_mode)
    strides, dilations = _pair("stride", stride), _pair("dilation", dilation)
    out_shape = _out_shape(xs[0], _shape(given[0][0]), sides, strides, dilations)
    rows, cols = _sources(xs[0], sides, mode)
    padded = tuple(_pad_matrix(x, sides, mode) for x in xs)
    bank = _bank(flip_kernel(weights)) if flip else given
    return ConvSetup(
        xs, stacked, padded, rows, cols, given, bank, kernel_depth, out_shape, strides, dilations, groups,
        _bias(bias, len(given)), flip,
    )


def cross_correlate(
    input: Any,
    kernel: Any,
    stride: int | Pair = 1,
    padding: Padding = 0,
    padding_mode: str = "zeros",
    dilation: int | Pair = 1,
    bias: Number | Sequence[Number] = 0,
    groups: int = 1,
    flip: bool = False,
) -> Array:
    """Slide ``kernel`` over ``input`` without flipping it: what PyTorch's ``conv2d`` computes
    and deep-learning texts call convolution; ``flip=True`` flips it first (true convolution).

    ``out[o, i, j] = bias[o] + sum of x[i*s + u*d][j*s + v*d] * w[o][u][v]`` over the padded input
    and every channel of the filter's group; see the module docstring for padding, sizes, channels
    and exactness. One matrix for one filter, one channel per filter for a list of filters.
    """
    return setup_conv(input, kernel, stride, padding, padding_mode, dilation, bias, groups, flip).output()


def im2col(input: Any, kernel: Any, **options: Any) -> tuple[Im2col, ...]:
    """The cross-correlation as one matrix product per group (layout in the module docstring);
    ``options`` are those of :func:`setup_conv`."""
    return setup_conv(input, kernel, **options).im2col()


def explain_element(
    input: Any,
    kernel: Any,
    row: int = 0,
    col: int = 0,
    stride: int | Pair = 1,
    padding: Padding = 0,
    padding_mode: str = "zeros",
    dilation: int | Pair = 1,
    bias: Number | Sequence[Number] = 0,
    groups: int = 1,
    flip: bool = False,
    out_channel: int = 0,
) -> str:
    """One output element of ``cross_correlate`` worked out, ``input*weight`` for every product:
    ``out[0,0] = 3*1 + 0*0 + 1*(-1) + ... = -5`` (``out[o,i,j]`` for a list of filters).
    """
    setup = setup_conv(input, kernel, stride, padding, padding_mode, dilation, bias, groups, flip)
    index = (row, col) if setup.single else (out_channel, row, col)
    return setup.explain(*setup.out_index(index))


# ---------------------------------------------------------------------------------------------
# Pooling


def _reduce(window: list[Number | None], mode: PoolMode) -> Number:
    if mode is PoolMode.AVG:
        return _exact(Fraction(sum(v for v in window if v is not None), len(window)))
    values = [v for v in window if v is not None]
    return max(values) if mode is PoolMode.MAX else min(values)


@dataclass(frozen=True)
class PoolSetup:
    """A pooling ready to run, per axis ``(height, width)``."""

    channels: Stack
    stacked: bool
    out_shape: Pair
    kernel_size: Pair
    stride: Pair
    padding: Pair
    mode: PoolMode

    def cells(self, c: int, i: int, j: int) -> list[Pair | None]:
        """The input positions of pooled[c, i, j]'s window, row by row; None marks a padded cell."""
        height, width = _shape(self.channels[c])
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        return [
            (r, q) if 0 <= r < height and 0 <= q < width else None
            for r in range(i * sh - ph, i * sh - ph + kh)
            for q in range(j * sw - pw, j * sw - pw + kw)
        ]

    def window(self, c: int, i: int, j: int) -> list[Number | None]:
        return [None if cell is None else self.channels[c][cell[0]][cell[1]] for cell in self.cells(c, i, j)]

    def value(self, c: int, i: int, j: int) -> Number:
        return _reduce(self.window(c, i, j), self.mode)

    def output(self) -> Array:
        rows, cols = self.out_shape
        pooled = tuple(
            tuple(tuple(self.value(c, i, j) for j in range(cols)) for i in range(rows)) for c in range(len(self.channels))
        )
        return pooled if self.stacked else pooled[0]

    def label(self, c: int, i: int, j: int) -> str:
        return f"pooled[{_index(c, i, j) if self.stacked else _index(i, j)}]"

    def out_index(self, index: tuple[int, ...]) -> tuple[int, int, int]:
        """(channel, row, column) of an element named ``(i, j)``, or ``(c, i, j)`` for a stack; checked."""
        shape = (len(self.channels), *self.out_shape) if self.stacked else self.out_shape
        _check_index("pooled", index, shape)
        return index if self.stacked else (0, *index)  # type: ignore[return-value]

    def explain(self, c: int, i: int, j: int) -> str:
        """``pooled[0,0] = max(0.5, 0.2, 0, 0) = 0.5``; avg shows the sum over the whole window."""
        window = self.window(c, i, j)
        if self.mode is PoolMode.AVG:
            body = f"({' + '.join(_factor(0 if v is None else v) for v in window)}) / {len(window)}"
        else:
            body = f"{self.mode.value}({', '.join(format_number(v) for v in window if v is not None)})"
        return f"{self.label(c, i, j)} = {body} = {format_number(self.value(c, i, j))}"


def setup_pool(
    input: Any, kernel_size: int | Pair, stride: int | Pair | None = None, padding: int | Pair = 0, mode: str = "max"
) -> PoolSetup:
    """Validate a pooling: window and stride per axis, padding at most half the window."""
    channels, stacked = _as_stack(input)
    k = _pair("pool size", kernel_size)
    s = k if stride is None else _pair("pool stride", stride)
    p = _pair("pool padding", padding, minimum=0)
    if not all(2 * pi <= ki for pi, ki in zip(p, k)):
        raise UsageError(
            "apply-bad-option",
            f"pool padding must be between 0 and half the window ({_pair_text(k)} // 2 = "
            f"{_pair_text((k[0] // 2, k[1] // 2))}), got {padding!r}",
        )
    out_shape = _out_shape(channels[0], k, (p[0], p[0], p[1], p[1]), s, (1, 1))
    return PoolSetup(channels, stacked, out_shape, k, s, p, _enum(PoolMode, mode))


def pool(
    input: Any, kernel_size: int | Pair, stride: int | Pair | None = None, padding: int | Pair = 0, mode: str = "max"
) -> Array:
    """Max, average or min pooling over ``kernel_size`` windows (one int, or height and width).

    ``stride`` defaults to ``kernel_size``; padding rules are in the module docstring.
    """
    return setup_pool(input, kernel_size, stride, padding, mode).output()


def explain_pool_element(
    input: Any,
    kernel_size: int | Pair,
    row: int = 0,
    col: int = 0,
    stride: int | Pair | None = None,
    padding: int | Pair = 0,
    mode: str = "max",
    channel: int = 0,
) -> str:
    """One pooled element worked out: ``pooled[0,0] = max(0.5, 0.2, 0, 0) = 0.5``, or
    ``(1 + 2 + 0 + 0) / 4 = 0.75`` for avg, padded cells counted as zeros.
    A stack's element is named by channel first, ``pooled[0,0,0]``.
    """
    setup = setup_pool(input, kernel_size, stride, padding, mode)
    index = (channel, row, col) if setup.stacked else (row, col)
    return setup.explain(*setup.out_index(index))
