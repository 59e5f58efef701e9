"""Networks or layers side by side: their costs, each one's exact ratio to the first, and the savings
the textbooks derive.

Ratios are :class:`fractions.Fraction`: ``672 / 2160`` is ``14/45``, never ``0.3111``. Two pairs get
their textbook identity spelt out:

depthwise-separable
    A normal conv with kernel k and N output channels against a depthwise conv (``groups`` = its
    input channels, one filter each, same kernel, same output size) followed by a 1x1 conv to N
    channels. Per output position the normal conv does ``C * k^2 * N`` multiplications, the pair
    ``C * k^2 + C * N``, so ``separable / normal = 1/N + 1/k^2`` exactly (Howard et al. 2017,
    MobileNets, Section 3.1).
bottleneck
    A conv against a 1x1 conv that first reduces the channels, then the same conv (Szegedy et al.
    2014, GoogLeNet, Section 4): the saving is the difference of the MACs.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, ClassVar, Optional, Sequence

from convcalc.kinds._compat import layer_arg
from convcalc.arith.dims import Dim, prod, to_json_dim
from convcalc.report import Report, Row
from convcalc.report._display import Displayed

__all__ = [
    "METRICS",
    "SIGNIFICANT_DIGITS",
    "Bottleneck",
    "Comparison",
    "Entry",
    "Separable",
    "bottleneck",
    "compare",
    "comparison_to_dict",
    "decimal_text",
    "separable",
]

METRICS: tuple[str, ...] = ("params", "macs", "flops", "activation_bytes")
SIGNIFICANT_DIGITS = 3  # of a ratio written as a decimal
_CONV = ("conv1d", "conv2d", "conv3d")


@dataclass(frozen=True)
class Entry:
    """One network or layer of the comparison, as the user named it."""

    label: str
    report: Report

    def value(self, metric: str) -> Dim:
        if metric == "activation_bytes":
            return self.report.activation_bytes
        return getattr(self.report.totals, metric)


@dataclass(frozen=True)
class Separable:
    """``separable / normal = 1/N + 1/k^2``, with the numbers."""

    title: ClassVar[str] = "depthwise-separable"

    normal: str
    separable: str
    out_channels: int
    kernel: tuple[int, ...]
    normal_macs: int
    depthwise_macs: int
    pointwise_macs: int

    @property
    def labels(self) -> tuple[str, str]:
        """(the separable one, the normal one)."""
        return self.separable, self.normal

    @property
    def ratio(self) -> Fraction:
        return Fraction(self.depthwise_macs + self.pointwise_macs, self.normal_macs)

    def lines(self) -> list[str]:
        total = self.depthwise_macs + self.pointwise_macs
        k_name, k_value = _kernel_terms(self.kernel)
        return [
            f"depthwise {self.depthwise_macs:,} + pointwise {self.pointwise_macs:,} = {total:,} MACs vs "
            f"{self.normal_macs:,} for the normal conv",
            f"separable/normal = 1/N + 1/{k_name} = 1/{self.out_channels} + 1/{k_value} = {_fraction(self.ratio)} "
            f"({decimal_text(self.ratio)}; N = {self.out_channels} output channels, kernel {'x'.join(map(str, self.kernel))})",
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "depthwise_separable", "normal": self.normal, "separable": self.separable,
            "out_channels": self.out_channels, "kernel": list(self.kernel), "normal_macs": self.normal_macs,
            "depthwise_macs": self.depthwise_macs, "pointwise_macs": self.pointwise_macs,
            "separable_macs": self.depthwise_macs + self.pointwise_macs, "ratio": _fraction(self.ratio),
            "formula": "1/N + 1/k^2", "lines": self.lines(),
        }


@dataclass(frozen=True)
class Bottleneck:
    """A conv against a 1x1 reduction followed by the same conv."""

    title: ClassVar[str] = "bottleneck"

    direct: str
    bottleneck: str
    in_channels: int
    reduced_channels: int
    kernel: tuple[int, ...]
    direct_macs: int
    reduce_macs: int
    conv_macs: int

    @property
    def labels(self) -> tuple[str, str]:
        """(the bottleneck, the direct conv)."""
        return self.bottleneck, self.direct

    @property
    def bottleneck_macs(self) -> int:
        return self.reduce_macs + self.conv_macs

    @property
    def factor(self) -> Fraction:
        """How many times fewer MACs the bottleneck needs."""
        return Fraction(self.direct_macs, self.bottleneck_macs)

    def lines(self) -> list[str]:
        kernel = "x".join(map(str, self.kernel))
        return [
            f"1x1 conv {self.in_channels} -> {self.reduced_channels} channels, then the same {kernel} conv: "
            f"{self.reduce_macs:,} + {self.conv_macs:,} = {self.bottleneck_macs:,} MACs",
            f"{self.direct_macs:,} -> {self.bottleneck_macs:,} MACs: {float(self.factor):.2f}x fewer, "
            f"saves {self.direct_macs - self.bottleneck_macs:,}",
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "bottleneck", "direct": self.direct, "bottleneck": self.bottleneck,
            "in_channels": self.in_channels, "reduced_channels": self.reduced_channels, "kernel": list(self.kernel),
            "direct_macs": self.direct_macs, "reduce_macs": self.reduce_macs, "conv_macs": self.conv_macs,
            "bottleneck_macs": self.bottleneck_macs, "saved_macs": self.direct_macs - self.bottleneck_macs,
            "factor": _fraction(self.factor), "lines": self.lines(),
        }


@dataclass(frozen=True)
class Comparison(Displayed):
    """Reports side by side; a notebook shows it as the compare table."""

    entries: tuple[Entry, ...]
    savings: tuple[Separable | Bottleneck, ...]

    def to_dict(self) -> dict[str, Any]:
        """Exactly ``convcalc compare --format json``."""
        return comparison_to_dict(self)

    def __repr__(self) -> str:
        labels = ", ".join(entry.label for entry in self.entries)
        return f"<Comparison of {len(self.entries)}: {labels}; {len(self.savings)} saving(s) found>"

    def ratio(self, index: int, metric: str) -> Optional[Fraction]:
        """Entry ``index`` over the first entry, exactly; None when undefined (a 0 or a symbol)."""
        a, b = self.entries[index].value(metric), self.entries[0].value(metric)
        if not isinstance(a, int) or not isinstance(b, int) or b == 0:
            return None
        return Fraction(a, b)


def compare(entries: Sequence[tuple[str, Report]]) -> Comparison:
    """Put the reports side by side; find the separable and bottleneck pairs among (first, other)."""
    items = tuple(Entry(label, report) for label, report in entries)
    savings: list[Separable | Bottleneck] = []
    for other in items[1:]:
        for a, b in ((items[0], other), (other, items[0])):
            found = separable(a, b) or bottleneck(a, b)
            if found:
                savings.append(found)
    return Comparison(items, tuple(savings))


def decimal_text(x: Fraction, digits: int = SIGNIFICANT_DIGITS) -> str:
    """``x`` to ``digits`` significant digits, rounded half to even from the exact fraction and
    written out without an exponent: 14/45 -> ``0.311``, 8/5 -> ``1.60``, 1/12345 ->
    ``0.0000810``. From 10**(digits-1) on, the nearest integer: 2048/3 -> ``683``, ``1,234``."""
    if x == 0:
        return "0"
    sign, x = ("-" if x < 0 else ""), abs(x)
    exponent = _exponent(x)
    decimals = digits - 1 - exponent
    if decimals <= 0:
        return f"{sign}{round(x):,}"
    rounded = round(x * 10**decimals)  # Fraction rounds half to even, exactly
    if rounded == 10**digits:  # 0.9996 -> 1.00: the rounding carried into one more digit
        rounded, decimals = rounded // 10, decimals - 1
        if decimals == 0:
            return f"{sign}{rounded:,}"
    text = str(rounded).rjust(decimals + 1, "0")
    return f"{sign}{int(text[:-decimals]):,}.{text[-decimals:]}"


def _exponent(x: Fraction) -> int:
    """The power of ten of the first significant digit of ``x`` > 0: 10**e <= x < 10**(e+1)."""
    exponent = len(str(x.numerator)) - len(str(x.denominator))
    while Fraction(10) ** exponent > x:
        exponent -= 1
    while Fraction(10) ** (exponent + 1) <= x:
        exponent += 1
    return exponent


def comparison_to_dict(comparison: Comparison) -> dict[str, Any]:
    from convcalc.report import SCHEMA_VERSION

    entries = []
    for i, entry in enumerate(comparison.entries):
        report = entry.report
        item = {
            "label": entry.label, "name": report.name, "input_shape": _shape(report.input_shape),
            "output_shape": _shape(report.output_shape), "batch": to_json_dim(report.batch), "dtype": report.dtype,
            **{metric: to_json_dim(entry.value(metric)) for metric in METRICS},
        }
        ratios = {metric: comparison.ratio(i, metric) for metric in METRICS}
        item["ratio"] = {metric: to_json_dim(r) if r is not None else None for metric, r in ratios.items()}
        item["ratio_decimal"] = {metric: float(r) if r is not None else None for metric, r in ratios.items()}
        entries.append(item)
    return {
        "schema_version": SCHEMA_VERSION, "baseline": comparison.entries[0].label, "entries": entries,
        "savings": [s.to_dict() for s in comparison.savings],
    }


# -- recognising the textbook pairs --------------------------------------------------------------


def separable(normal: Entry, candidate: Entry) -> Optional[Separable]:
    """``candidate`` is ``normal`` made depthwise-separable: same input and output shapes, a
    depthwise conv with ``normal``'s kernel, then a 1x1 conv to its channels."""
    pair = _single_and_pair(normal, candidate)
    if pair is None:
        return None
    conv, (depthwise, pointwise) = pair
    c_in = depthwise.input_shapes[0][0]
    if not (
        _groups(conv) == 1 and _groups(depthwise) == c_in == depthwise.output_shape[0]
        and _kernel(depthwise) == _kernel(conv) and depthwise.output_shape[1:] == conv.output_shape[1:]
        and _is_pointwise(pointwise)
    ):
        return None
    found = Separable(
        normal=normal.label, separable=candidate.label, out_channels=conv.output_shape[0], kernel=_kernel(conv),
        normal_macs=conv.macs, depthwise_macs=depthwise.macs, pointwise_macs=pointwise.macs,
    )
    identity = Fraction(1, found.out_channels) + Fraction(1, prod(found.kernel))
    return found if found.ratio == identity else None


def bottleneck(direct: Entry, candidate: Entry) -> Optional[Bottleneck]:
    """``candidate`` is a 1x1 conv that reduces the channels, then ``direct``'s conv."""
    pair = _single_and_pair(direct, candidate)
    if pair is None:
        return None
    conv, (reduce, second) = pair
    c_in, c_mid = reduce.input_shapes[0][0], reduce.output_shape[0]
    same = all(layer_arg(second, name) == layer_arg(conv, name) for name in ("stride", "dilation", "groups"))
    if not (_is_pointwise(reduce) and c_mid < c_in and same and _kernel(second) == _kernel(conv)):
        return None
    return Bottleneck(
        direct=direct.label, bottleneck=candidate.label, in_channels=c_in, reduced_channels=c_mid,
        kernel=_kernel(conv), direct_macs=conv.macs, reduce_macs=reduce.macs, conv_macs=second.macs,
    )


def _single_and_pair(single: Entry, pair: Entry) -> Optional[tuple[Row, tuple[Row, Row]]]:
    """The one conv of ``single`` and the two convs of ``pair``, when those are the only layers
    with MACs, everything is a number, and both map the same input shape to the same output shape."""
    a, b = single.report, pair.report
    if a.input_shape != b.input_shape or a.output_shape != b.output_shape:
        return None
    if not all(isinstance(d, int) for d in (*a.input_shape, *b.input_shape)):
        return None
    ones, twos = _mac_rows(a), _mac_rows(b)
    if len(ones) != 1 or len(twos) != 2 or any(r.kind != ones[0].kind for r in (*ones, *twos)):
        return None
    if ones[0].kind not in _CONV or twos[1].output_shape != ones[0].output_shape:
        return None
    return ones[0], (twos[0], twos[1])


def _mac_rows(report: Report) -> list[Row]:
    return [row for row in report.rows if row.macs != 0]


def _kernel(row: Row) -> tuple[int, ...]:
    kernel = layer_arg(row, "kernel_size")
    rank = len(row.output_shape) - 1
    return tuple(kernel) if isinstance(kernel, list) else (kernel,) * rank


def _groups(row: Row) -> int:
    return layer_arg(row, "groups")


def _is_pointwise(row: Row) -> bool:
    """A plain 1x1 conv: stride 1, no groups, so it keeps the spatial size."""
    return set(_kernel(row)) == {1} and _groups(row) == 1 and row.output_shape[1:] == row.input_shapes[0][1:]


def _kernel_terms(kernel: tuple[int, ...]) -> tuple[str, str]:
    """The name of the kernel term in ``1/N + 1/k^2`` and its value, for this kernel's rank."""
    power = {1: "k", 2: "k^2", 3: "k^3"}[len(kernel)]
    name = power if len(set(kernel)) == 1 else "(" + "*".join(f"k{i + 1}" for i in range(len(kernel))) + ")"
    return name, str(prod(kernel))


def _shape(shape: tuple) -> list:
    return [to_json_dim(d) for d in shape]


def _fraction(x: Fraction) -> str:
    return str(x.numerator) if x.denominator == 1 else f"{x.numerator}/{x.denominator}"
