"""Receptive fields through upsampling: the input positions PyTorch's interpolation reads for each
output (nearest, nearest-exact, linear, bilinear, bicubic, trilinear; align_corners; scale factors
as float32 as PyTorch computes them), as an exact map of :mod:`convcalc.kinds._rf`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property
from typing import Any, Optional

from convcalc.arith.dims import is_int
from convcalc.kinds._rf import MAX_RF_EXCEPTIONS, RFAxis, _Resample, _scaled, _Unknown, repeated_rf

__all__ = ["upsample_rf"]


def _f32(x: Fraction) -> Fraction:
    """The float32 nearest to x (ties to even), exactly, in integer arithmetic. (The values here
    are source coordinates and scales: never below float32's normal range, never above it.)"""
    n, d = x.numerator, x.denominator
    if n == 0:
        return Fraction(0)
    sign, n = (-1, -n) if n < 0 else (1, n)
    shift = 23 - (n.bit_length() - d.bit_length())
    while True:  # m = n/d * 2**shift, with 2**23 <= m < 2**24
        m, rest = divmod(n << shift, d) if shift >= 0 else divmod(n, d << -shift)
        den = d if shift >= 0 else d << -shift
        if m >= 1 << 24:
            shift -= 1
        elif m < 1 << 23:
            shift += 1
        else:
            break
    if 2 * rest > den or (2 * rest == den and m & 1):
        m += 1
    return Fraction(sign * m, 1 << shift) if shift >= 0 else Fraction(sign * m << -shift)


def _simplest_between(low: Fraction, high: Fraction) -> Fraction:
    """The fraction with the smallest denominator in [low, high] (Stern-Brocot), low > 0."""
    whole = math.floor(low)
    if whole + 1 <= high or whole == low:
        return Fraction(whole if whole == low else whole + 1)
    # low and high share their integer part: recurse on the reciprocals of the fractional parts
    inner = _simplest_between(1 / (high - whole), 1 / (low - whole))
    return whole + 1 / inner


def _ratio(value: float) -> Fraction:
    """The simplest rational within float32 rounding of a double (1/0.7 -> 10/7, 1/(1/3) -> 3)."""
    x = Fraction(value)
    tolerance = x / (1 << 26)
    return _simplest_between(x - tolerance, x + tolerance)


def _cubic_weights(t: Fraction) -> tuple[Fraction, ...]:
    """PyTorch's ``get_cubic_upsample_coefficients`` (A = -0.75), each step rounded to float32."""
    a = Fraction(-3, 4)

    def one(x):  # ((A + 2) * x - (A + 3)) * x * x + 1
        return _f32(_f32(_f32(_f32(_f32((a + 2) * x) - (a + 3)) * x) * x) + 1)

    def two(x):  # ((A * x - 5 * A) * x + 8 * A) * x - 4 * A
        return _f32(_f32(_f32(_f32(_f32(_f32(a * x) - 5 * a) * x) + 8 * a) * x) - 4 * a)

    rest = _f32(1 - t)
    return two(_f32(t + 1)), one(t), one(rest), two(_f32(rest + 1))


def _is_dyadic(q: Fraction) -> bool:
    return q.denominator & (q.denominator - 1) == 0 and q.numerator < (1 << 24)


@dataclass(frozen=True)
class _Upsample:
    """One axis of ``F.interpolate``: the scale PyTorch uses and how it reads its source."""

    mode: str  # nearest, linear (for bilinear and trilinear too), cubic
    n: Any  # input size
    out: Any  # output size
    scale_factor: Optional[float]  # given with scale_factor (PyTorch then uses 1 / scale_factor)
    align_corners: bool = False
    ratio: Fraction = field(init=False, default=Fraction(1))

    def __post_init__(self):
        object.__setattr__(self, "ratio", self._ratio())

    def _ratio(self) -> Any:
        """The exact source step per output: PyTorch's ``compute_scales_value`` (1 / scale_factor
        when given, else in / out) or ``(in - 1) / (out - 1)`` with align_corners."""
        if self.mode != "nearest" and self.out == self.n and is_int(self.n):
            return Fraction(1)  # the linear kernels copy when the size does not change
        if self.align_corners and self.mode != "nearest":
            if not (is_int(self.n) and is_int(self.out)):
                return (self.n - 1) / (self.out - 1)
            return Fraction(self.n - 1, self.out - 1) if self.out > 1 else Fraction(0)
        if self.scale_factor is not None:
            return _ratio(1.0 / self.scale_factor)
        if is_int(self.n) and is_int(self.out):
            return Fraction(self.n, self.out)
        return self.n / self.out

    # the exact rule: the pattern, without clamping or rounding
    def rule(self, o: int) -> tuple:
        q = self.ratio
        if self.mode == "nearest":
            i = math.floor(o * q)
            return (i, i, 1)
        src = q * o if self.align_corners else q * (o + Fraction(1, 2)) - Fraction(1, 2)
        i = math.floor(src)
        if self.mode == "linear":
            return (i, i if src == i else i + 1, 1)
        return (i, i, 1) if src == i else (i - 1, i + 2, 1)

    @cached_property
    def _float_scale(self) -> Fraction:
        if self.align_corners:
            return _f32(_f32(Fraction(self.n - 1)) / _f32(Fraction(self.out - 1))) if self.out > 1 else Fraction(0)
        if self.scale_factor is not None:
            return _f32(Fraction(1.0 / self.scale_factor))
        return _f32(_f32(Fraction(self.n)) / _f32(Fraction(self.out)))

    # what PyTorch's CPU kernel reads at one output (float32 arithmetic, exactly)
    def pytorch(self, o: int) -> Optional[tuple]:
        n, out = self.n, self.out
        if self.mode == "nearest":
            i = min(math.floor(_f32(_f32(Fraction(o)) * self._float_scale)), n - 1)
            return (i, i, 1)
        if out == n and self.mode == "linear":
            return (o, o, 1)
        s = self._float_scale
        if self.align_corners:
            src = _f32(s * _f32(Fraction(o)))
        else:  # the compiler fuses the multiply-add; only the linear modes clamp at 0
            src = _f32(s * _f32(Fraction(o) + Fraction(1, 2)) - Fraction(1, 2))
            if self.mode == "linear":
                src = max(src, Fraction(0))
        i0 = min(math.floor(src), n - 1)
        lam = min(max(_f32(src - i0), Fraction(0)), Fraction(1))
        if self.mode == "linear":
            i1 = i0 + (1 if i0 < n - 1 else 0)
            read = ([i0] if lam != 1 else []) + ([i1] if lam != 0 else [])
        else:  # the four cubic weights in float32; taps clamped to one input add their weights
            weights: dict[int, Fraction] = {}
            for j, w in zip((-1, 0, 1, 2), _cubic_weights(lam)):
                k = min(max(i0 + j, 0), n - 1)
                weights[k] = _f32(weights.get(k, Fraction(0)) + w)
            read = [k for k, w in weights.items() if w != 0]
        return (min(read), max(read), 1)

    def exceptions(self) -> dict:
        """Every output where PyTorch reads other taps than the exact rule: at the borders (the
        clamps), and where the exact source coordinate is within float32 rounding of an integer."""
        n, out, q = self.n, self.out, self.ratio
        if q == 0 or (self.mode != "nearest" and out == n):
            return {}  # PyTorch copies, or reads input 0 only: no float arithmetic, no clamp
        candidates = set(self._borders()) if self._float_exact() else set(self._near_integers()) | set(self._borders())
        if len(candidates) > MAX_RF_EXCEPTIONS:
            raise _Unknown(f"{len(candidates):,} upsampled positions need PyTorch's float32 arithmetic, more than {MAX_RF_EXCEPTIONS:,} (limit MAX_RF_EXCEPTIONS)")
        found = {}
        for o in sorted(candidates):
            if 0 <= o < out:
                taps = self.pytorch(o)
                if taps != self.rule(o):
                    found[o] = taps
        return found

    def _float_exact(self) -> bool:
        """float32 computes the exact rule at every output: the scale is a float32 and every
        product and sum fits float32's 24 bits (a power-of-two scale on a moderate size)."""
        q, out = self.ratio, self.out
        if self._float_scale != q or q.denominator & (q.denominator - 1):
            return False
        bits = q.numerator.bit_length() + (2 * out + 1).bit_length() + q.denominator.bit_length()
        return bits <= 24

    def _near_integers(self) -> list[int]:
        """Outputs whose exact source coordinate ``(alpha*o + beta) / gamma`` lies within the
        float32 error bound of an integer: a few residues of ``alpha*o + beta`` mod gamma."""
        q, out = self.ratio, self.out
        if self.mode == "nearest" or self.align_corners:
            alpha, beta, gamma = q.numerator, 0, q.denominator
        else:
            alpha, beta, gamma = 2 * q.numerator, q.numerator - q.denominator, 2 * q.denominator
        error = Fraction(1, 1 << 21) * (q * (out + 1) + 1)  # a generous bound on float32's error
        reach = math.floor(error * gamma)
        too_many = _Unknown(f"more than {MAX_RF_EXCEPTIONS:,} upsampled positions need PyTorch's float32 arithmetic (limit MAX_RF_EXCEPTIONS)")
        if 2 * reach + 1 >= gamma:
            if out > MAX_RF_EXCEPTIONS:
                raise too_many
            return list(range(out))
        positions: list[int] = []
        g = math.gcd(alpha, gamma)
        step = gamma // g
        inverse = pow(alpha // g, -1, step) if step > 1 else 0
        for residue in range(-reach, reach + 1):
            target = residue - beta
            if target % g:
                continue
            o = (target // g * inverse) % step if step > 1 else 0
            if o < out and len(positions) + (out - 1 - o) // step + 1 > MAX_RF_EXCEPTIONS:
                raise too_many
            positions.extend(range(o, out, step))
        return positions

    def _borders(self) -> list[int]:
        """Outputs whose taps may leave the input, clamped by PyTorch: while the widest taps of
        the rule (a whole-number source coordinate reads fewer) reach past either end."""
        n, out = self.n, self.out
        reach = 2 if self.mode == "cubic" else 1  # taps after floor(src): 1 (linear), 2 (cubic)
        below = 1 if self.mode == "cubic" else 0  # taps before it
        found = set()
        o = 0
        while o < out and math.floor(self._exact_src(o)) - below < 0:
            found.add(o)
            o += 1
        o = out - 1
        while o >= 0 and math.floor(self._exact_src(o)) + reach > n - 1:
            found.add(o)
            o -= 1
        return sorted(found)

    def _exact_src(self, o: int) -> Fraction:
        q = self.ratio
        if self.mode == "nearest" or self.align_corners:
            return q * o
        return q * (o + Fraction(1, 2)) - Fraction(1, 2)


def upsample_rf(axis: RFAxis, mode: str, n: Any, out: Any, scale_factor: Optional[float], align_corners: bool, rank: int = 1) -> RFAxis:
    """The field through one axis of ``nn.Upsample`` (module docstring: exceptions). PyTorch's
    2-d nearest kernel (not its 1-d or 3-d ones) reads input o when the size is kept and o >> 1
    when it doubles, whatever the scale factor (ATen's ``nearest_idx`` shortcuts)."""
    mode = {"bilinear": "linear", "trilinear": "linear", "bicubic": "cubic"}.get(mode, mode)
    symbolic = not (is_int(n) and is_int(out))
    if mode == "nearest" and rank == 2 and not symbolic and out in (n, 2 * n):
        return axis.shifted(0, out) if out == n else repeated_rf(axis, 2, out)
    up = _Upsample(mode, n, out, scale_factor, bool(align_corners))
    q = up.ratio
    if axis.unknown:
        return axis.apply(_Resample(q.denominator, q.numerator, up.rule), out) if isinstance(q, Fraction) else RFAxis((), (), out, None if axis.jump is None else axis.jump * q, axis.unknown)
    reason = _symbolic_upsample_reason(mode, scale_factor, align_corners) if symbolic else ""
    try:
        if reason:
            raise _Unknown(reason)
        exceptions = up.exceptions() if not symbolic else {}
    except _Unknown as exc:
        return RFAxis((), (), out, _scaled(axis.jump, q, 1) if isinstance(q, Fraction) else axis.jump * q, str(exc))
    return axis.apply(_Resample(q.denominator, q.numerator, up.rule, exceptions), out)


def _symbolic_upsample_reason(mode: str, scale_factor: Optional[float], align_corners: bool) -> str:
    """On a symbolic size the source indices must not depend on the size: nearest upsampling by
    a factor whose inverse is a power of two (float32 is then exact). The interpolating modes clamp
    their taps at the last input, whose position depends on the size."""
    if scale_factor is None:
        return "upsampling to a fixed size from a symbolic size: PyTorch's source indices depend on the input size"
    if mode != "nearest":
        return f"{mode} interpolation on a symbolic size: the clamp at the last input depends on the size; give the input size as a number"
    if not _is_dyadic(_ratio(1.0 / scale_factor)):
        return "a scale factor whose inverse is not a power of two, on a symbolic size: PyTorch's float32 source indices depend on the input size"
    return ""
