"""Exact receptive fields: per spatial axis, the input interval each output position reads.

A field map sends every position ``o`` of a tensor (along one axis) to ``[lo(o), hi(o)]``, the
first and last network-input coordinates that the value at ``o`` depends on, or to nothing (a
transposed convolution's output between its strided taps can read no input at all). Padding
counts as input: a position in a layer's padding has the field the map's pattern gives it there,
as the textbook rule ``r_out = r_in + (k_eff-1)*j_in`` assumes.

Every kind's map is periodic with an increment: ``lo(o + P) = lo(o) + A`` (likewise ``hi``), so a
map is a table of ``P`` entries (a *component*, :class:`_Comp`), and ``jump = A / P`` is the
average distance, in input pixels, between the fields of neighbouring outputs. A layer composes
with its input map in integer arithmetic over one period of its output: a window (convolution,
pooling, padding, crop) reads taps ``o*s - p + t*d``; a transposed convolution reads the inputs
``i`` with ``o = i*s - p + t*d``; upsampling and adaptive pooling read the source indices of
PyTorch's kernels (upsampling's in :mod:`convcalc.kinds._rf_upsample`). Most maps are monotone (a later position's field never starts or ends
earlier), and then the field of a run of taps is ``[lo(first tap read), hi(last tap read)]``; a
dilated transposed convolution interleaves its taps, and there the smallest ``lo`` and largest
``hi`` are searched over one cycle of the pattern's residues.

Two things are not periodic, and are kept as *exceptions* (exact entries for single positions of
the tensor):

- clamping at the borders: bilinear (and linear, trilinear, bicubic) upsampling clamps its source
  coordinate at 0 and its second tap at the last input, so the first and last outputs read fewer
  inputs than the pattern says (a tap whose weight is exactly 0 is not read);
- float rounding: PyTorch computes source coordinates in float32 (``nearest`` always; the linear
  modes in the input's precision, float32 by default, with a fused multiply-add on x86-64 CPUs with
  AVX2). Where the exact coordinate is an integer, or within float32 rounding of one, convcalc
  repeats PyTorch's arithmetic exactly and records the tap it really reads (PyTorch's forward:
  its backward of ``nearest`` takes a 1x / 2x shortcut the forward does not).

A merge of branches with different jumps is not periodic either: its map is the hull of a list of
components, one per jump.

A symbolic input size keeps every table exact while the positions read stay integers; what needs
the residue of a symbolic position in a pattern of more than one entry (a 'same' padding of a
strided layer after upsampling, say) is reported as unknown, with the reason, never guessed.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction
from typing import Any, Callable, NamedTuple, Optional

from convcalc.arith.dims import ceil_div, floor_div, is_int

__all__ = [
    "MAX_RF_COMPONENTS",
    "MAX_RF_EXCEPTIONS",
    "MAX_RF_PERIOD",
    "RFAxis",
    "adaptive_rf",
    "merge_axes",
    "repeated_rf",
    "simple_union",
    "unknown_axis",
]

_new_tuple = tuple.__new__  # a named tuple made from all its fields (``RFAxis.through``)

MAX_RF_PERIOD = 4096  # entries of one component's table: past it the field pattern is not kept
MAX_RF_EXCEPTIONS = 4096  # single positions kept exactly (border clamps, float rounding)
MAX_RF_COMPONENTS = 8  # branches with different jumps merged into one map

Entry = Optional[tuple]  # (lo, hi), inclusive network-input coordinates; None reads nothing


class _Unknown(Exception):
    """The map cannot be kept exactly (the reason is said, never a guess)."""


class _Comp(NamedTuple):
    """``lo(x) = table[x mod P][0] + (x div P) * step``, and likewise ``hi``."""

    period: int
    step: Any
    table: tuple

    def at(self, x: Any) -> Entry:
        if self.period == 1:
            entry = self.table[0]
            return None if entry is None else (entry[0] + x * self.step, entry[1] + x * self.step)
        if not is_int(x):
            raise _Unknown("a symbolic position in a field pattern of period > 1")
        q, r = divmod(x, self.period)
        entry = self.table[r]
        return None if entry is None else (entry[0] + q * self.step, entry[1] + q * self.step)

    @property
    def jump(self) -> Any:
        return _exact(self.step / self.period) if not is_int(self.step) else _exact(Fraction(self.step, self.period))



def _monotone(comp: _Comp) -> bool:
    """No later position's field starts or ends before an earlier one's (a dilated transposed
    convolution interleaves its taps and breaks this)."""
    if comp.period == 1:
        return True
    entries = [e for e in comp.table if e is not None]
    if not all(is_int(e[0]) and is_int(e[1]) for e in entries) or not is_int(comp.step):
        return False
    ordered = entries + [(entries[0][0] + comp.step, entries[0][1] + comp.step)]
    return all(a[0] <= b[0] and a[1] <= b[1] for a, b in zip(ordered, ordered[1:]))


def _exact(x: Any) -> Any:
    if isinstance(x, Fraction) and x.denominator == 1:
        return int(x)
    return x


def _hull(a: Entry, b: Entry) -> Entry:
    if a is None:
        return b
    if b is None:
        return a
    return (_smaller(a[0], b[0]), _larger(a[1], b[1]))


def _smaller(a: Any, b: Any) -> Any:
    if is_int(a) and is_int(b):
        return a if a <= b else b
    from convcalc.arith.dims import dmin

    return dmin(a, b)


def _larger(a: Any, b: Any) -> Any:
    if is_int(a) and is_int(b):
        return a if a >= b else b
    from convcalc.arith.dims import dmax

    return dmax(a, b)


def _reduce(period: int, step: Any, table: tuple) -> _Comp:
    """The same map with its smallest period (a canonical form: equal maps compare equal)."""
    if period == 1 or not all(entry is None or (is_int(entry[0]) and is_int(entry[1])) for entry in table) or not is_int(step):
        return _Comp(period, step, table)
    for divisor in _divisors(period):
        if divisor == period:
            break
        if (step * divisor) % period:
            continue
        inc = step * divisor // period
        if all(_shifted(table[r % divisor], (r // divisor) * inc) == table[r] for r in range(divisor, period)):
            return _Comp(divisor, inc, table[:divisor])
    return _Comp(period, step, table)


def _divisors(n: int) -> list[int]:
    small, large = [], []
    i = 1
    while i * i <= n:
        if n % i == 0:
            small.append(i)
            if i * i != n:
                large.append(n // i)
        i += 1
    return small + large[::-1]


def _shifted(entry: Entry, by: Any) -> Entry:
    return None if entry is None else (entry[0] + by, entry[1] + by)


# -- what a layer reads -------------------------------------------------------------------------
# A layer is described by the input positions each output position reads: an arithmetic
# progression (first, last, stride), or None. The progression of o + Q is that of o shifted by R.


class _Transform:
    Q: int = 1
    R: Any = 1

    def taps(self, o: Any) -> Optional[tuple]:  # pragma: no cover - every transform overrides
        raise NotImplementedError

    def readers(self, e: int, n_out: Any) -> range | list:
        """Output positions (of the tensor's ``n_out``) whose taps may include input position ``e``."""
        raise NotImplementedError  # pragma: no cover

    def own_exceptions(self) -> dict:
        """Output positions where the layer reads other taps than its pattern says."""
        return {}


class _Window(_Transform):
    """Output o reads ``o*s - p + t*d`` for t in 0..k-1 (convolution, pooling, padding, crop)."""

    def __init__(self, kernel: int, stride: int, dilation: int, pad_before: Any):
        self.k, self.s, self.d, self.p = kernel, stride, dilation, pad_before
        self.Q, self.R = 1, stride

    def taps(self, o):
        first = o * self.s - self.p
        return (first, first + self.d * (self.k - 1), self.d)

    def readers(self, e, n_out):
        if not is_int(self.p):
            raise _Unknown("an exception read through a symbolic padding")
        low = ceil_div(e + self.p - self.d * (self.k - 1), self.s)
        high = floor_div(e + self.p, self.s)
        return range(max(low, 0), _clip(high + 1, n_out))


class _Scatter(_Transform):
    """A transposed convolution: output o reads the inputs i with ``o = i*s - p + t*d``."""

    def __init__(self, kernel: int, stride: int, dilation: int, padding: int):
        self.k, self.s, self.d, self.p = kernel, stride, dilation, padding
        self.Q, self.R = stride, 1
        g = math.gcd(dilation, stride)
        self.g, self.m = g, stride // g
        self.inverse = pow(dilation // g, -1, self.m) if self.m > 1 else 0

    def taps(self, o):
        target = o + self.p
        if target % self.g:
            return None
        t0 = (target // self.g * self.inverse) % self.m if self.m > 1 else 0
        if t0 >= self.k:
            return None
        t_last = t0 + (self.k - 1 - t0) // self.m * self.m
        return ((target - t_last * self.d) // self.s, (target - t0 * self.d) // self.s, self.d // self.g)

    def readers(self, e, n_out):
        return sorted({o for t in range(self.k) if 0 <= (o := e * self.s - self.p + t * self.d) and (not is_int(n_out) or o < n_out)})


class _Resample(_Transform):
    """Output o reads a contiguous run of inputs given by a monotone rule (upsampling, adaptive
    pooling), with exact exceptions where PyTorch's kernel reads other taps."""

    def __init__(self, Q: int, R: Any, rule: Callable, exceptions: dict | None = None):
        self.Q, self.R, self.rule = Q, R, rule
        self.exceptions = exceptions or {}

    def taps(self, o):
        return self.rule(o)

    def own_exceptions(self):
        return self.exceptions

    def readers(self, e, n_out):
        """The outputs whose run of inputs contains e: runs only move right, so they are one
        interval of o, found by bisection (any position, the exceptions included)."""
        if not is_int(self.R):
            raise _Unknown("an exception read through a symbolic resampling")
        if self.R == 0:  # every output reads the same input position
            if not is_int(n_out):
                raise _Unknown("an exception broadcast over a symbolic size")
            return range(n_out)
        low = self._first(lambda o: self.rule(o)[1] >= e)
        high = self._first(lambda o: self.rule(o)[0] > e)
        return range(max(low, 0), _clip(high, n_out))

    def _first(self, passes: Callable) -> int:
        """The smallest o >= 0 that passes a monotone test."""
        if passes(0):
            return 0
        low, high = 0, 1  # passes(low) is false, passes(high) true, once the loop ends
        while not passes(high):
            low, high = high, high * 2
        while low + 1 < high:
            mid = (low + high) // 2
            if passes(mid):
                high = mid
            else:
                low = mid
        return high


def _clip(end: int, n_out: Any) -> int:
    return min(end, n_out) if is_int(n_out) else end


# -- the map of one axis ---------------------------------------------------------------------------


class RFAxis(NamedTuple):
    """Receptive field along one spatial axis: the exact map from output positions to the input
    intervals they read (the module docstring), and what the reports show of it. Immutable (a
    named tuple: the fold makes one per axis per layer, and a tuple is the cheapest to make).

    ``size`` is the largest field over the tensor's positions, ``first`` the first position's
    interval ``[lo, hi]``, ``start`` its centre and ``padding`` how far it reaches before the
    input (``-lo``); ``jump`` is the average distance between neighbouring fields, ``A / P``, exact.
    """

    comps: tuple = (_Comp(1, 1, ((0, 0),)),)
    exceptions: tuple = ()  # ((position, entry), ...), sorted; only positions inside the tensor
    n: Any = None  # the tensor's size along this axis (None: not known here)
    jump: Any = 1
    unknown: str = ""  # why the fields are not known; "" when they are

    # -- reading the map ------------------------------------------------------------------------
    def at(self, x: Any, special: Optional[dict] = None) -> Entry:
        """The interval that position x reads (padding positions included), or None.
        ``special``: the exceptions as a dict, for many lookups."""
        if self.exceptions and is_int(x):
            if special is None:
                special = dict(self.exceptions)
            if x in special:
                return special[x]
        value: Entry = None
        for comp in self.comps:
            value = _hull(value, comp.at(x))
        return value

    @property
    def known(self) -> bool:
        return not self.unknown

    @property
    def first(self) -> Entry:
        if self.unknown:
            return None
        try:
            return self.at(0)
        except _Unknown:
            return None

    @property
    def start(self) -> Any:
        """The centre of the first output's field."""
        entry = self.first
        if entry is None:
            return None
        lo, hi = entry
        if is_int(lo) and is_int(hi):
            return _exact(Fraction(lo + hi, 2))
        return (lo + hi) / 2

    @property
    def padding(self) -> Any:
        """How far the first output's field reaches before the input: ``-lo``."""
        entry = self.first
        return None if entry is None else -entry[0]

    @property
    def period(self) -> Optional[int]:
        if self.unknown or not self.comps:
            return None
        return math.lcm(*(c.period for c in self.comps))

    @property
    def size(self) -> Any:
        """The largest field over the tensor's positions (padding counted as input)."""
        if self.unknown:
            return None
        widths = [_width(entry) for _, entry in self.exceptions]
        if len(self.comps) > 1:
            widths += [_width(self.at(x)) for x in self._edge_positions()]
        elif self.comps:
            comp = self.comps[0]
            counted = {}
            for position, _ in self.exceptions:
                counted[position % comp.period] = counted.get(position % comp.period, 0) + 1
            limit = comp.period if not is_int(self.n) else min(comp.period, self.n)
            for r in range(limit):
                occurs = (self.n - 1 - r) // comp.period + 1 if is_int(self.n) else None
                if occurs is None or occurs > counted.get(r, 0):
                    widths.append(_width(comp.table[r]))
        if not widths:
            return 0
        numbers = [w for w in widths if is_int(w)]
        formulas = list(dict.fromkeys(w for w in widths if not is_int(w)))
        if not formulas:
            return max(numbers)
        if len(formulas) == 1 and not numbers:
            return formulas[0]
        from convcalc.arith.dims import sympy_module

        # a symbolic pattern (adaptive pooling): one width per residue, not simplified (costly, and no shorter)
        return sympy_module().Max(*formulas, *numbers, evaluate=False)

    def _edge_positions(self) -> list[int]:
        """With several jumps, each pair of components drifts apart linearly: the widest field is
        within a period (times the exceptions) of either end of the tensor."""
        span = math.lcm(*(c.period for c in self.comps)) * (len(self.exceptions) + 1)
        n = self.n
        return sorted(set(range(min(span, n))) | set(range(max(n - span, 0), n)))

    def interval(self, o: int) -> Entry:
        """The exact interval output position o reads (a position of the tensor)."""
        if self.unknown:
            raise ValueError(f"the receptive field is not known: {self.unknown}")
        return self.at(o)

    @property
    def is_simple(self) -> bool:
        """One field size, one integer offset per output: the textbook rule holds exactly."""
        return not self.unknown and len(self.comps) == 1 and self.comps[0].period == 1 and self.comps[0].table[0] is not None and not self.exceptions

    # -- building maps -----------------------------------------------------------------------------
    def through(self, kernel: int, stride: int, dilation: int, pad_before: Any, n_out: Any = None) -> RFAxis:
        """A window: output o reads ``o*s - p + t*d`` for t in 0..k-1."""
        comps = self.comps
        if len(comps) == 1 and not self.exceptions and comps[0].period == 1 and comps[0].table[0] is not None and not self.unknown:
            (lo, hi), = comps[0].table
            a = comps[0].step
            table = ((lo - pad_before * a, hi + (dilation * (kernel - 1) - pad_before) * a),)
            jump = self.jump * stride
            if type(jump) is Fraction and jump.denominator == 1:
                jump = int(jump)
            # RFAxis((_Comp(1, a * stride, table),), (), n_out, jump), without the named tuples'
            # __new__ (a Python function each): the fold and the memo's copies make one per layer and axis
            return _new_tuple(RFAxis, ((_new_tuple(_Comp, (1, a * stride, table)),), (), n_out, jump, ""))
        return self.apply(_Window(kernel, stride, dilation, pad_before), n_out)

    def shifted(self, offset: Any, n_out: Any = None) -> RFAxis:
        """Output o reads input ``o + offset`` (a crop by ``offset``, or padding by ``-offset``)."""
        return self.through(1, 1, 1, -offset, n_out)

    def transposed(self, kernel: int, stride: int, dilation: int, padding: int, n_out: Any = None) -> RFAxis:
        """A transposed convolution: output o reads the inputs i with ``o = i*s - p + t*d``."""
        if stride == 1:  # a stride-1 transposed conv is a window flipped: taps o + p - t*d
            return self.through(kernel, 1, dilation, dilation * (kernel - 1) - padding, n_out)
        return self.apply(_Scatter(kernel, stride, dilation, padding), n_out)

    def broadcast(self, n_out: Any) -> RFAxis:
        """A size-1 axis read by every output position (multiply's broadcasting)."""
        return self.apply(_Resample(1, 0, lambda o: (0, 0, 1)), n_out)

    def apply(self, transform: _Transform, n_out: Any) -> RFAxis:
        jump = _scaled(self.jump, transform.R, transform.Q)
        if self.unknown:
            return RFAxis((), (), n_out, jump, self.unknown)
        try:
            comps = tuple(c for c in (_through_comp(c, transform) for c in self.comps) if c is not None)
            exceptions = _exceptions_after(self, transform, comps, n_out)
        except _Unknown as exc:
            return RFAxis((), (), n_out, jump, str(exc))
        return RFAxis(comps, exceptions, n_out, jump)

    def subs(self, mapping: dict, values: Callable) -> RFAxis:
        """The same map with sizes given to the symbols (``Report.subs``); ``values`` substitutes one value."""
        n = values(self.n)
        jump = values(self.jump)
        if self.unknown:
            return RFAxis((), (), n, jump, self.unknown)
        comps = _canonical(tuple(_reduce(c.period, values(c.step), tuple(_subs_entry(e, values) for e in c.table)) for c in self.comps))
        pattern = RFAxis(comps, (), n, jump)
        # as a fold at these sizes keeps them: only the positions whose field differs from the pattern
        exceptions = tuple((x, entry) for x, e in self.exceptions if not is_int(n) or x < n
                           if (entry := _subs_entry(e, values)) != pattern.at(x))
        return RFAxis(comps, exceptions, n, jump)


def unknown_axis(reason: str, n: Any = None) -> RFAxis:
    """An axis whose fields are not known, with the reason (said, never guessed)."""
    return RFAxis((), (), n, None, reason)


def _subs_entry(entry: Entry, values: Callable) -> Entry:
    return None if entry is None else (values(entry[0]), values(entry[1]))


def _scaled(jump: Any, R: Any, Q: int) -> Any:
    """``jump * R / Q``, exact: an int or a Fraction while everything is a number (None: not known)."""
    if jump is None:
        return None
    if isinstance(jump, (int, Fraction)) and is_int(R):
        return _exact(Fraction(jump) * R / Q)
    return jump * R / Q


def _width(entry: Entry) -> Any:
    return 0 if entry is None else entry[1] - entry[0] + 1


def _through_comp(comp: _Comp, transform: _Transform) -> Optional[_Comp]:
    """One period of the output's pattern, read off the input's."""
    R = transform.R
    if is_int(R):
        g = math.gcd(R, comp.period) if R else comp.period
        period = transform.Q * comp.period // g
        step = comp.step * R // g if is_int(comp.step) else comp.step * R / g
    else:  # a symbolic shift per period (adaptive pooling of a symbolic size): a linear input only
        if comp.period != 1:
            raise _Unknown("a symbolic resampling of a field pattern of period > 1")
        period, step = transform.Q, comp.step * R
    if period > MAX_RF_PERIOD:
        raise _Unknown(f"the pattern of fields repeats only every {period:,} outputs, more than {MAX_RF_PERIOD:,} (limit MAX_RF_PERIOD)")
    full = None not in comp.table
    monotone = _monotone(comp)
    table = tuple(_read_comp(comp, transform.taps(r), full, monotone) for r in range(period))
    if all(entry is None for entry in table):
        return None
    return _reduce(period, step, table)


def _read_comp(comp: _Comp, taps: Optional[tuple], full: bool, monotone: bool) -> Entry:
    """The hull of the fields of a run of taps, for one component.

    Along the taps the residues repeat every ``c = period / gcd(stride, period)`` taps, and every
    repeat adds ``step >= 0``: the smallest ``lo`` is among the first ``c`` taps, the largest
    ``hi`` among the last ``c``. A monotone component needs only the first and last tap read."""
    if taps is None:
        return None
    first, last, stride = taps
    if full and comp.period == 1:
        return (comp.at(first)[0], comp.at(last)[1])
    if not (is_int(first) and is_int(last)):
        raise _Unknown("a symbolic position in a field pattern of period > 1")
    count = (last - first) // stride + 1
    scan = min(count, comp.period // math.gcd(stride, comp.period))
    if monotone:
        lo = next((e[0] for j in range(scan) if (e := comp.at(first + j * stride)) is not None), None)
        if lo is None:
            return None
        hi = next(e[1] for j in range(scan) if (e := comp.at(last - j * stride)) is not None)
        return (lo, hi)
    heads = [e[0] for j in range(scan) if (e := comp.at(first + j * stride)) is not None]
    if not heads:
        return None
    tails = [e[1] for j in range(scan) if (e := comp.at(last - j * stride)) is not None]
    return (functools.reduce(_smaller, heads), functools.reduce(_larger, tails))


def _read(axis: RFAxis, taps: Optional[tuple], special: Optional[dict] = None) -> Entry:
    """The exact field of a run of taps of ``axis``, its exceptions included: per component the
    first (last) occurrence of each residue among the taps that are not exceptions, and the
    exceptions among the taps."""
    if taps is None:
        return None
    first, last, stride = taps
    count = (last - first) // stride + 1
    if special is None:
        special = dict(axis.exceptions)
    value: Entry = None
    for position, entry in axis.exceptions:
        if first <= position <= last and (position - first) % stride == 0:
            value = _hull(value, entry)
    for comp in axis.comps:
        cycle = comp.period // math.gcd(stride, comp.period)
        for ends in ((first, stride), (last, -stride)):
            seen: set = set()
            j = 0
            while j < count and len(seen) < cycle:
                x = ends[0] + j * ends[1]
                j += 1
                if x in special:
                    continue
                seen.add(x % comp.period)
                entry = comp.at(x)
                if entry is not None:
                    value = _hull(value, entry)
    return value


def _exceptions_after(axis: RFAxis, transform: _Transform, comps: tuple, n_out: Any) -> tuple:
    """Output positions whose exact field differs from the output's pattern: those the layer
    reads differently itself, and those reading an input position that is an exception."""
    own = transform.own_exceptions()
    candidates = set(own)
    for position, _ in axis.exceptions:
        candidates.update(transform.readers(position, n_out))
    if not candidates:
        return ()
    if len(candidates) > MAX_RF_EXCEPTIONS:
        raise _Unknown(f"{len(candidates):,} positions read fields off the pattern, more than {MAX_RF_EXCEPTIONS:,} (limit MAX_RF_EXCEPTIONS)")
    out = []
    special = dict(axis.exceptions)
    for o in sorted(candidates):
        if o < 0 or (is_int(n_out) and o >= n_out):
            continue
        exact = _read(axis, own[o] if o in own else transform.taps(o), special)
        pattern: Entry = None
        for comp in comps:
            pattern = _hull(pattern, comp.at(o))
        if exact != pattern:
            out.append((o, exact))
    return tuple(out)


def _canonical(comps: tuple) -> tuple:
    """Components with one jump merged into one (their hull is periodic too), sorted."""
    by_jump: dict[Any, _Comp] = {}
    for comp in comps:
        key = comp.jump
        if key in by_jump:
            by_jump[key] = _union_comp(by_jump[key], comp)
        else:
            by_jump[key] = comp
    if len(by_jump) > MAX_RF_COMPONENTS:
        raise _Unknown(f"branches with {len(by_jump)} different jumps merged, more than {MAX_RF_COMPONENTS} (limit MAX_RF_COMPONENTS)")
    return tuple(by_jump[key] for key in sorted(by_jump, key=lambda j: (Fraction(j) if isinstance(j, (int, Fraction)) else 0, str(j))))


def _union_comp(a: _Comp, b: _Comp) -> _Comp:
    if a == b:
        return a
    period = math.lcm(a.period, b.period)
    if period > MAX_RF_PERIOD:
        raise _Unknown(f"merged branches repeat only every {period:,} outputs, more than {MAX_RF_PERIOD:,} (limit MAX_RF_PERIOD)")
    step = a.step * (period // a.period)
    return _reduce(period, step, tuple(_hull(a.at(r), b.at(r)) for r in range(period)))


def simple_union(axes: list[RFAxis], n_out: Any, centred: bool = False) -> Optional[RFAxis]:
    """The union of the fields of several tensors of one size in the common case: one offset per
    output in every input, one jump; None otherwise. ``centred``: None as well when their first
    outputs' fields have different centres (``merge_rf`` notes misaligned branches)."""
    jump = axes[0].jump
    lo = hi = key = None
    for i, a in enumerate(axes):
        comps = a.comps
        if a.exceptions or a.unknown or len(comps) != 1 or comps[0].period != 1 or a.jump != jump:
            return None
        entry = comps[0].table[0]
        if entry is None:
            return None
        if i == 0:
            lo, hi = entry
            if centred:
                key = lo + hi
            continue
        if centred and entry[0] + entry[1] != key:
            return None
        lo, hi = _smaller(lo, entry[0]), _larger(hi, entry[1])
    # RFAxis((_Comp(1, step, ((lo, hi),)),), (), n_out, jump), as RFAxis.through makes it
    return _new_tuple(RFAxis, ((_new_tuple(_Comp, (1, axes[0].comps[0].step, ((lo, hi),))),), (), n_out, jump, ""))


def merge_axes(axes: list[RFAxis], n_out: Any) -> RFAxis:
    """The union of the fields of several tensors of one size (add, multiply, concat)."""
    union = simple_union(axes, n_out)
    if union is not None:
        return union
    numbers = [a.jump for a in axes if isinstance(a.jump, (int, Fraction))]
    jump = max(numbers) if len(numbers) == len(axes) else axes[0].jump  # the largest, when they differ
    unknown = next((a.unknown for a in axes if a.unknown), "")
    if unknown:
        return RFAxis((), (), n_out, jump, unknown)
    try:
        comps = _canonical(tuple(c for a in axes for c in a.comps))
        if len(comps) > 1 and not is_int(n_out):
            raise _Unknown("branches with different jumps merged on a symbolic size")
        candidates = sorted({x for a in axes for x, _ in a.exceptions})
        exceptions = []
        for x in candidates:
            exact: Entry = None
            for a in axes:
                exact = _hull(exact, a.at(x))
            pattern: Entry = None
            for comp in comps:
                pattern = _hull(pattern, comp.at(x))
            if exact != pattern:
                exceptions.append((x, exact))
    except _Unknown as exc:
        return RFAxis((), (), n_out, jump, str(exc))
    return RFAxis(comps, tuple(exceptions), n_out, jump)


# -- adaptive pooling -------------------------------------------------------------------------------


def adaptive_rf(axis: RFAxis, size: Any, out: int) -> RFAxis:
    """PyTorch's adaptive windows: output i reads ``[floor(i*n/m), ceil((i+1)*n/m) - 1]``
    (ATen's start_index / end_index, integer arithmetic)."""
    if is_int(size):
        g = math.gcd(size, out)
        return axis.apply(_Resample(out // g, size // g, lambda i: (i * size // out, -((-(i + 1) * size) // out) - 1, 1)), out)
    if out == 1:
        return axis.through(size, size, 1, 0, 1)
    return axis.apply(_Resample(out, size, lambda i: (floor_div(i * size, out), ceil_div((i + 1) * size, out) - 1, 1)), out)


def repeated_rf(axis: RFAxis, factor: int, n_out: Any) -> RFAxis:
    """Every input position repeated ``factor`` times: output o reads input ``o // factor``
    (pixel shuffle, whose output pixel is one input pixel of one channel)."""
    return axis.apply(_Resample(factor, 1, lambda o: (o // factor, o // factor, 1)), n_out)
