"""Inverse questions of convolution arithmetic: which padding, geometry or input size gives a size.

Every answer is an exact list read off the forward rule of PyTorch's ``Conv``/``MaxPool``::

    out = floor((in + T - d*(k-1) - 1) / s) + 1        T = total padding, 2*p when symmetric

Because of the floor, ``out`` is reached exactly when ``(out-1)*s <= in + T - d*(k-1) - 1 <=
(out-1)*s + s-1``: for given k, s and d the admissible totals T are ``s`` consecutive integers.
TensorFlow/Keras ``padding='same'`` gives ``out = ceil(in / s)`` with total padding
``T = max((out-1)*s + d*(k-1) + 1 - in, 0)``, split ``[T//2, T - T//2]`` (the extra pixel after).

A solution is *uneven* when its windows do not tile the input exactly, by the rule ``convcalc
sizes`` uses: with 'same'-style padding (``T == d*(k-1)``) the input must be a multiple of the
stride (output = in / s); otherwise ``(in + T - d*(k-1) - 1) % s`` must be 0 (the last window ends
on the last row).

Padding is bounded by ``p <= d*(k-1)`` (total ``T <= 2*d*(k-1)``): beyond it a window at the edge
would see padding only. "No solution" is an empty list, never an error; bad arguments raise
:class:`~convcalc.errors.UsageError` with code ``solve-bad-argument``. The questions enumerate
integers, so this module works on ints only (the helpers of :mod:`convcalc.dims` keep the rules
written as the shape engine writes them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from convcalc.arith._exact import uneven_notes
from convcalc.arith.dims import ceil_div, dmax
from convcalc.errors import UsageError

__all__ = [
    "MAX_KERNEL",
    "MAX_STRIDE",
    "AdaptiveSolution",
    "GeometrySolution",
    "InputSolution",
    "PaddingKind",
    "PaddingSolution",
    "padding_limit",
    "solve_adaptive",
    "solve_geometry",
    "solve_input",
    "solve_padding",
]

MAX_KERNEL = 15
MAX_STRIDE = 8

PaddingKind = Literal["symmetric", "tf_same", "asymmetric"]


@dataclass(frozen=True)
class PaddingSolution:
    """A padding ``[before, after]`` that maps the input size to the output size.

    ``symmetric``: PyTorch's ``padding=p`` (before == after == p). ``tf_same``: TensorFlow's
    ``padding='same'``. ``asymmetric``: another total padding T, split as TensorFlow does; any
    split of T gives the same size.
    """

    kind: PaddingKind
    before: int
    after: int
    uneven: bool
    derivation: str


@dataclass(frozen=True)
class GeometrySolution:
    """A ``(kernel, stride, padding)`` triple that maps the input size to the output size."""

    kernel: int
    stride: int
    padding: int
    uneven: bool
    derivation: str


@dataclass(frozen=True)
class InputSolution:
    """An input size that a layer maps to the requested output size."""

    in_size: int
    uneven: bool
    derivation: str


@dataclass(frozen=True)
class AdaptiveSolution:
    """The fixed window (kernel, stride) that an adaptive pooling layer is equivalent to."""

    kernel: int
    stride: int
    derivation: str


def padding_limit(kernel: int, dilation: int = 1) -> int:
    """The largest symmetric padding considered, ``d*(k-1)``: one more would give a window
    made of padding only."""
    return dilation * (kernel - 1)


def solve_padding(
    in_size: int, out_size: int, kernel: int, stride: int = 1, dilation: int = 1
) -> list[PaddingSolution]:
    """Every padding with which ``in_size`` becomes ``out_size``.

    Lists each symmetric ``p`` in ``0..d*(k-1)`` that the forward rule admits (ascending), then
    TensorFlow's 'same' pair when ``out_size == ceil(in_size / stride)``. When no symmetric ``p``
    works, it also lists the other admissible odd totals ``T <= 2*d*(k-1)`` as ``[T//2, T - T//2]``.
    """
    _check_at_least(1, in_size=in_size, out_size=out_size, kernel=kernel, stride=stride, dilation=dilation)
    limit = padding_limit(kernel, dilation)
    symmetric = [
        _padding_solution("symmetric", p, p, in_size, kernel, stride, dilation)
        for p in _symmetric_paddings(in_size, out_size, kernel, stride, dilation)
        if p <= limit
    ]
    same = _tf_same(in_size, out_size, kernel, stride, dilation)
    if symmetric:
        return symmetric + same
    taken = {solution.before + solution.after for solution in same}
    asymmetric = [
        _padding_solution("asymmetric", total // 2, total - total // 2, in_size, kernel, stride, dilation)
        for total in _total_paddings(in_size, out_size, kernel, stride, dilation)
        if total <= 2 * limit and total not in taken
    ]
    return same + asymmetric


def solve_geometry(
    in_size: int,
    out_size: int,
    kernel: int | None = None,
    stride: int | None = None,
    padding: int | None = None,
    dilation: int = 1,
    max_kernel: int = MAX_KERNEL,
    max_stride: int = MAX_STRIDE,
    max_padding: int | None = None,
) -> list[GeometrySolution]:
    """Every ``(kernel, stride, padding)`` with which ``in_size`` becomes ``out_size``.

    A value given is fixed (even outside the bounds); a free one ranges over ``1..max_kernel``,
    ``1..max_stride`` and ``0..max_padding`` (default ``d*(k-1)`` for each kernel). Sorted by
    (kernel, stride, padding).
    """
    _check_at_least(1, in_size=in_size, out_size=out_size, dilation=dilation)
    _check_at_least(1, max_kernel=max_kernel, max_stride=max_stride, **_given(kernel=kernel, stride=stride))
    _check_at_least(0, **_given(padding=padding, max_padding=max_padding))
    kernels = [kernel] if kernel is not None else range(1, max_kernel + 1)
    strides = [stride] if stride is not None else range(1, max_stride + 1)
    solutions = []
    for k in kernels:
        limit = max_padding if max_padding is not None else padding_limit(k, dilation)
        paddings = [padding] if padding is not None else range(limit + 1)
        for s in strides:
            solutions += [
                _geometry_solution(in_size, k, s, p, dilation)
                for p in _symmetric_paddings(in_size, out_size, k, s, dilation)
                if p in paddings
            ]
    return solutions


def solve_input(
    out_size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1
) -> list[InputSolution]:
    """Every input size that becomes ``out_size``: by the floor, ``stride`` consecutive sizes
    from ``(out-1)*s + d*(k-1) + 1 - 2*p`` (only the smallest one is even), those >= 1."""
    _check_at_least(1, out_size=out_size, kernel=kernel, stride=stride, dilation=dilation)
    _check_at_least(0, padding=padding)
    smallest = (out_size - 1) * stride + dilation * (kernel - 1) + 1 - 2 * padding
    return [
        InputSolution(
            in_size=in_size,
            uneven=_uneven(in_size, 2 * padding, kernel, stride, dilation),
            derivation=_forward_line(in_size, f"2*{padding}", 2 * padding, kernel, stride, dilation),
        )
        for in_size in range(dmax(smallest, 1), smallest + stride)
    ]


def solve_adaptive(in_size: int, out_size: int) -> list[AdaptiveSolution]:
    """The fixed window equivalent to adaptive pooling from ``n = in_size`` to ``m = out_size``:
    ``s = floor(n / m)``, ``f = n - (m-1)*s``. Empty when ``m > n`` (no stride >= 1 reaches it)."""
    _check_at_least(1, in_size=in_size, out_size=out_size)
    stride = in_size // out_size
    if stride == 0:
        return []
    kernel = in_size - (out_size - 1) * stride
    derivation = (
        f"s = floor({in_size} / {out_size}) = {stride}, "
        f"f = {in_size} - ({out_size}-1)*{stride} = {kernel}; "
        + _forward_line(in_size, "0", 0, kernel, stride, 1)
    )
    return [AdaptiveSolution(kernel=kernel, stride=stride, derivation=derivation)]


def _total_paddings(in_size: int, out_size: int, kernel: int, stride: int, dilation: int) -> range:
    """Every total padding ``T >= 0`` the forward rule admits: ``in + T - d*(k-1) - 1`` must lie
    in ``[(out-1)*s, (out-1)*s + s-1]``, an interval of ``s`` consecutive values."""
    lowest = (out_size - 1) * stride + dilation * (kernel - 1) + 1 - in_size
    return range(dmax(lowest, 0), lowest + stride)


def _symmetric_paddings(in_size: int, out_size: int, kernel: int, stride: int, dilation: int) -> list[int]:
    """Every symmetric ``p >= 0`` the forward rule admits: the even totals, halved."""
    return [total // 2 for total in _total_paddings(in_size, out_size, kernel, stride, dilation) if total % 2 == 0]


def _tf_same(in_size: int, out_size: int, kernel: int, stride: int, dilation: int) -> list[PaddingSolution]:
    """TensorFlow's 'same' pair when it reaches ``out_size`` (``out == ceil(in / s)``), else none."""
    if out_size != ceil_div(in_size, stride):
        return []
    need = (out_size - 1) * stride + dilation * (kernel - 1) + 1 - in_size
    total = dmax(need, 0)
    before, after = total // 2, total - total // 2
    rule = (
        f"ceil({in_size} / {stride}) = {out_size}, "
        f"T = max(({out_size}-1)*{stride} + {dilation}*({kernel}-1) + 1 - {in_size}, 0) = {total} "
        f"-> [{before}, {after}]; "
    )
    return [_padding_solution("tf_same", before, after, in_size, kernel, stride, dilation, rule)]


def _padding_solution(
    kind: PaddingKind,
    before: int,
    after: int,
    in_size: int,
    kernel: int,
    stride: int,
    dilation: int,
    rule: str = "",
) -> PaddingSolution:
    """A padding solution; ``rule`` is how the padding was chosen, put before the forward rule."""
    total = before + after
    term = f"2*{before}" if before == after else str(total)
    return PaddingSolution(
        kind=kind,
        before=before,
        after=after,
        uneven=_uneven(in_size, total, kernel, stride, dilation),
        derivation=rule + _forward_line(in_size, term, total, kernel, stride, dilation),
    )


def _geometry_solution(in_size: int, kernel: int, stride: int, padding: int, dilation: int) -> GeometrySolution:
    return GeometrySolution(
        kernel=kernel,
        stride=stride,
        padding=padding,
        uneven=_uneven(in_size, 2 * padding, kernel, stride, dilation),
        derivation=_forward_line(in_size, f"2*{padding}", 2 * padding, kernel, stride, dilation),
    )


def _forward_line(in_size: int, pad_term: str, pad_total: int, kernel: int, stride: int, dilation: int) -> str:
    """The forward rule with the numbers substituted and its value, e.g.
    ``floor((224 + 2*3 - 1*(7-1) - 1) / 2) + 1 = 112``."""
    out = (in_size + pad_total - dilation * (kernel - 1) - 1) // stride + 1
    return f"floor(({in_size} + {pad_term} - {dilation}*({kernel}-1) - 1) / {stride}) + 1 = {out}"


def _uneven(in_size: int, pad_total: int, kernel: int, stride: int, dilation: int) -> bool:
    """True when the windows do not tile the input exactly (the rule of ``layers._base.uneven_notes``)."""
    pads = ((pad_total // 2, pad_total - pad_total // 2),)
    return bool(uneven_notes((in_size,), (kernel,), (stride,), (dilation,), pads, ("L",)))


def _given(**values: int | None) -> dict[str, int]:
    """The optional arguments that were given (``None`` means "free")."""
    return {name: value for name, value in values.items() if value is not None}


def _check_at_least(minimum: int, **values: int) -> None:
    """Reject any value that is not an integer >= ``minimum``."""
    for name, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool):
            raise UsageError("solve-bad-argument", f"{name} must be an integer, got {value!r}")
        if value < minimum:
            raise UsageError("solve-bad-argument", f"{name} must be >= {minimum}, got {value}")
