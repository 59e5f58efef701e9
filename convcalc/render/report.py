"""Reports to text: a rich table for people; JSON, CSV and Markdown for programs and documents.

Units (K, M, G) exist only here, and only in the human formats.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Iterable, Optional, Sequence

from convcalc.arith.dims import dsum, format_dim, to_json_dim
from convcalc.kinds import RFAxis
from convcalc.report import SCHEMA_VERSION, Group, Report, Row
from convcalc.report.model import head_dict, layer_dict, rf_axis_json, tail_dict
from convcalc.report.model import rf_json as _rf_json
from convcalc.report.model import shape_json as _shape_json

__all__ = [
    "SCHEMA_VERSION",
    "RF_COLUMNS",
    "SUMMARY_COLUMNS",
    "SYMBOLIC_COLUMNS",
    "DisplayRow",
    "display_rows",
    "format_count",
    "format_rf",
    "format_shape",
    "indented",
    "json_chunks",
    "ordered",
    "parse_columns",
    "print_formula",
    "summary_caption",
    "summary_columns",
    "report_to_dict",
    "render_csv",
    "render_extra",
    "receptive_field_rows",
    "render_json",
    "render_markdown",
    "render_rf_table",
    "render_table",
    "rf_axis_json",
]

_UNITS = ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "K"))


def format_count(n: Any, units: bool = False) -> str:
    if not isinstance(n, int):
        return format_dim(n)
    if units:
        for scale, suffix in _UNITS:
            if abs(n) >= scale:
                return f"{n / scale:.2f}{suffix}"
    return f"{n:,}"


def format_shape(shape: tuple, layout: str = "chw") -> str:
    dims = list(shape)
    if layout == "hwc" and len(dims) > 1:
        dims = dims[1:] + dims[:1]
    return "(" + ", ".join(format_dim(d) for d in dims) + ")"


def _fraction_text(x: Any) -> str:
    return format_dim(x) if not isinstance(x, Fraction) else (str(x.numerator) if x.denominator == 1 else f"{x.numerator}/{x.denominator}")


def format_rf(rf: tuple[RFAxis, ...], is_global: bool, what: str = "size") -> str:
    """One property of the field, per axis (``5``, or ``5x7`` when the axes differ); ``?`` where
    the field is not known, ``none`` for a first output that reads no input at all."""
    if is_global:
        return "global"
    if not rf:
        return ""
    if what == "size":  # the table's column: most fields are the textbook one, worked out directly
        sizes = [_simple_size(a) for a in rf]
        if None not in sizes:
            return str(sizes[0]) if len(set(sizes)) == 1 else "x".join(map(str, sizes))
    values = [_rf_value_text(a, what) for a in rf]
    return values[0] if len(set(values)) == 1 else "x".join(values)


def _textbook_entry(a: RFAxis) -> Optional[tuple[int, int]]:
    """The interval ``[lo, hi]`` every output position of ``a`` reads, offset by its position, when
    the field is the textbook one in integers (one interval a position, no exceptions, a size
    known to be at least 1 or not known); else None (read the general way)."""
    comps, exceptions, n, _, unknown = a
    if unknown or exceptions or len(comps) != 1 or not (n is None or (type(n) is int and n >= 1)):
        return None
    period, _, table = comps[0]
    entry = table[0]
    if period != 1 or entry is None or type(entry[0]) is not int or type(entry[1]) is not int:
        return None
    return entry


def _simple_size(a: RFAxis) -> Optional[int]:
    """``a.size`` of a textbook field (:func:`_textbook_entry`), else None."""
    entry = _textbook_entry(a)
    return None if entry is None else entry[1] - entry[0] + 1


def _rf_value_text(axis: RFAxis, what: str) -> str:
    if not axis.known and (what != "jump" or axis.jump is None):
        return "?"
    if what == "first":
        first = axis.first
        return "none" if first is None else f"[{_fraction_text(first[0])}, {_fraction_text(first[1])}]"
    value = getattr(axis, what)
    return "none" if value is None else _fraction_text(value)


@dataclass(frozen=True)
class DisplayRow:
    """One line of the table: a layer, or a block collapsed by ``--depth``."""

    label: str
    kind: str
    depth: int
    output_shape: tuple
    params: Any
    buffers: Any
    macs: Any
    flops: Any
    activations: Any
    rf: str
    is_group: bool
    path: str


def _sum(rows: Iterable[Row], attr: str) -> Any:
    return dsum(getattr(r, attr) for r in rows)


_SUMMED = ("params", "buffers", "macs", "flops", "activations")


class _Sums:
    """The sums of a report's rows over any range, from running totals: a group's sums cost the
    same whatever its size (a repeat of 5,000 blocks holds 10,000 rows). Symbolic counts are
    summed row by row, as ``dsum`` adds them."""

    def __init__(self, rows: Sequence[Row]):
        self.rows = rows
        self.running: dict[str, Optional[list[int]]] = {}
        for attr in _SUMMED:
            values = [getattr(r, attr) for r in rows]
            if all(type(v) is int for v in values):
                running = [0]
                total = 0
                for v in values:
                    total += v
                    running.append(total)
                self.running[attr] = running
            else:
                self.running[attr] = None

    def __call__(self, attr: str, first: int, end: int) -> Any:
        running = self.running[attr]
        if running is None:
            return _sum(self.rows[first:end], attr)
        return running[end] - running[first]


def _group_row(report: Report, g: Group, collapsed: bool, sums: Optional[_Sums] = None) -> DisplayRow:
    sums = sums or _Sums(report.rows)
    last = report.rows[g.end - 1]
    return DisplayRow(
        label=g.path.rsplit(".", 1)[-1] if not collapsed else g.path, kind=g.kind, depth=g.depth,
        output_shape=g.output_shape, params=sums("params", g.first, g.end), buffers=sums("buffers", g.first, g.end),
        macs=sums("macs", g.first, g.end), flops=sums("flops", g.first, g.end), activations=sums("activations", g.first, g.end),
        rf=format_rf(last.rf, last.is_global), is_group=True, path=g.path,
    )


def _leaf_row(r: Row, collapsed_label: bool) -> DisplayRow:
    label = r.path if collapsed_label else r.path.rsplit(".", 1)[-1]
    return DisplayRow(
        label=label, kind=r.kind, depth=r.depth, output_shape=r.output_shape, params=r.params,
        buffers=r.buffers, macs=r.macs, flops=r.flops, activations=r.activations,
        rf=format_rf(r.rf, r.is_global), is_group=False, path=r.path,
    )


def display_rows(report: Report, depth: Optional[int] = None) -> list[DisplayRow]:
    """The rows a person sees, in order: the full tree with group headers, or, with ``depth``,
    everything below that depth collapsed into one row per block."""
    groups = sorted((g for g in report.groups if g.end > g.first), key=lambda g: (g.first, g.depth))
    sums = _Sums(report.rows) if groups else None
    out: list[DisplayRow] = []
    gi = 0
    i = 0
    while i < len(report.rows):
        while gi < len(groups) and groups[gi].first < i:
            gi += 1
        advanced = False
        while gi < len(groups) and groups[gi].first == i:
            g = groups[gi]
            gi += 1
            if depth is not None and g.depth >= depth:
                continue
            if depth is not None and g.depth == depth - 1:
                out.append(_group_row(report, g, collapsed=True, sums=sums))
                i = g.end
                advanced = True
                break
            out.append(_group_row(report, g, collapsed=False, sums=sums))
        if advanced:
            continue
        r = report.rows[i]
        if depth is None or r.depth < depth:
            out.append(_leaf_row(r, collapsed_label=depth is not None))
        i += 1
    return out


def report_to_dict(report: Report) -> dict[str, Any]:
    """The JSON contract (see the README): :meth:`convcalc.report.Report.to_dict`."""
    return report.to_dict()


def render_json(report: Report) -> str:
    return "".join(json_chunks(report))


# -- JSON, fast --------------------------------------------------------------------------------
# ``json.dumps(indent=2)`` runs the pure-Python encoder (the C one only writes compact JSON): about
# 50 us a layer. A network's rows repeat themselves (the same kind, shapes and counts at another
# path), so each layer's text is written from pieces kept by value: the same bytes as
# ``json.dumps(report_to_dict(report), indent=2)`` (tests/test_formats.py holds them equal), at a
# few microseconds a layer, written out in chunks rather than held whole.

_CHUNK_ROWS = 2_000


_key = json.encoder.encode_basestring_ascii  # the C encoder of a string, as json.dumps writes it


def indented(value: Any, level: int) -> str:
    """``json.dumps(value, indent=2)`` as it reads nested ``level`` deep in a larger document."""
    kind = type(value)
    if kind is int:
        return int.__repr__(value)
    if kind is str:
        return _key(value)
    if kind is list and all(type(v) is int or type(v) is list for v in value):  # shapes, the inputs
        if not value:
            return "[]"
        pad = "\n" + "  " * (level + 1)
        return "[" + pad + ("," + pad).join(int.__repr__(v) if type(v) is int else indented(v, level + 1) for v in value) + "\n" + "  " * level + "]"
    text = json.dumps(value, indent=2)
    return text.replace("\n", "\n" + "  " * level) if level and "\n" in text else text


def json_chunks(report: Report, extra: Optional[dict[str, Any]] = None) -> Iterable[str]:
    """The report as JSON (``report_to_dict`` and ``extra`` after it), in pieces. ``extra``'s
    ``training`` adds each layer's ``backward_macs`` and the training totals."""
    extra = dict(extra or {})
    training = bool(extra.pop("training", None))
    head = ",\n".join(f"  {_key(k)}: {indented(v, 1)}" for k, v in head_dict(report).items())
    yield "{\n" + head + ",\n  \"layers\": "
    yield from _items(report.rows, _LayerText(report, training), 2)
    yield ",\n  \"groups\": "
    yield from _items(report.groups, _GroupText(), 2)
    tail = {**tail_dict(report), **extra}
    if training:
        tail["totals"] = {**tail["totals"], "backward_macs": to_json_dim(report.backward_macs), "training_macs": to_json_dim(report.training_macs)}
    yield "".join(f",\n  {_key(k)}: {indented(v, 1)}" for k, v in tail.items()) + "\n}"


def _items(items, pieces_of, level: int) -> Iterable[str]:
    """A list of objects ``level`` deep, ``_CHUNK_ROWS`` at a time. ``pieces_of`` gives an object's
    text in pieces, the separator after it last: they are joined once a chunk, not once an object
    (a layer's text is ~1 KB: made whole, it would be written twice)."""
    if not items:
        yield "[]"
        return
    pieces = ["[\n" + "  " * level]
    for start in range(0, len(items), _CHUNK_ROWS):
        for item in items[start:start + _CHUNK_ROWS]:
            pieces += pieces_of(item)
        if start + _CHUNK_ROWS >= len(items):
            pieces[-1] = "\n" + "  " * (level - 1) + "]"  # the last separator: the list's end
        yield "".join(pieces)
        pieces = []


_SEP = ",\n    "  # between the objects of a list two levels deep (``layers``, ``groups``)


class _GroupText:
    """Writes one group's object, at the depth of a layer's, and the separator after it."""

    def __init__(self):
        self.shapes: dict[tuple, str] = {}

    def __call__(self, g: Group) -> tuple[str, str]:
        shape = self.shapes.get(g.output_shape)
        if shape is None:
            shape = self.shapes[g.output_shape] = indented(_shape_json(g.output_shape), 3)
        return (
            f"{{\n      \"path\": {_key(g.path)},\n      \"kind\": {_key(g.kind)},\n      \"depth\": {g.depth},\n      \"first\": {g.first},\n"
            f"      \"end\": {g.end},\n      \"output_shape\": {shape}\n    }}",
            _SEP,
        )


class _LayerText:
    """Writes one layer's object (three levels deep: the document, ``layers``, the object) in
    pieces, most of them kept by value, and the separator after it."""

    def __init__(self, report: Report, training: bool = False):
        self.report = report
        self.training = training
        self.bodies: dict[tuple, str] = {}  # the keys from kind to activation_bytes, and the next key's name
        self.notes: dict[tuple, str] = {}  # notes, with the keys after them when not training
        self.fields: dict[tuple, str] = {}  # the fields written the general way
        # the last row's field and its text: a layer that leaves the field unchanged (an
        # activation, a norm) passes its input's tuple on, or an equal one (a residual's add), and
        # the row before wrote it already. A field that changes (a conv's) is new: kept by value,
        # its text would be looked up in vain, in a table as large as the network
        self.last_rf: Any = None
        self.last_field = ""

    def __call__(self, r: Row) -> tuple[str, ...]:
        key = (r.kind, r.depth, r.input_shapes, r.output_shape, r.output_shapes, r.params, r.buffers, r.macs, r.flops)
        body = self.bodies.get(key)
        if body is None:
            data = layer_dict(self.report, r)
            for name in ("path", "name", "receptive_field", "receptive_field_global", "inputs", "notes"):
                del data[name]
            text = ",\n      ".join(f"{_key(k)}: {indented(v, 3)}" for k, v in data.items())
            body = self.bodies[key] = f",\n      {text},\n      \"receptive_field\": "
        notes = self.notes.get(r.notes)
        if notes is None:
            notes = self.notes[r.notes] = f",\n      \"notes\": {indented(list(r.notes), 3)}" + ("" if self.training else "\n    }")
        sources = r.inputs  # row indices, plain ints: str() writes them as json.dumps does
        if len(sources) == 1:
            inputs = f"[\n        {sources[0]}\n      ]"
        else:
            inputs = "[\n        " + ",\n        ".join(map(str, sources)) + "\n      ]" if sources else "[]"
        rf = r.rf
        if rf is self.last_rf or rf == self.last_rf:
            field = self.last_field
        else:
            field = _simple_rf_text(rf)
            if field is None:
                field = self.fields.get(rf)
                if field is None:
                    field = self.fields[rf] = _rf_text(rf)
            self.last_rf, self.last_field = rf, field
        if self.training:
            return (
                "{\n      \"path\": ", _key(r.path), ",\n      \"name\": ", _key(r.name or r.path.rsplit(".", 1)[-1]), body, field,
                _GLOBAL if r.is_global else _LOCAL, inputs, notes, f",\n      \"backward_macs\": {indented(to_json_dim(r.backward_macs), 3)}\n    }}", _SEP,
            )
        return (
            "{\n      \"path\": ", _key(r.path), ",\n      \"name\": ", _key(r.name or r.path.rsplit(".", 1)[-1]), body, field,
            _GLOBAL if r.is_global else _LOCAL, inputs, notes, _SEP,
        )


_GLOBAL = ",\n      \"receptive_field_global\": true,\n      \"inputs\": "
_LOCAL = ",\n      \"receptive_field_global\": false,\n      \"inputs\": "


def _rf_text(rf: tuple[RFAxis, ...]) -> str:
    """``receptive_field``'s list, three levels deep (as ``rf_json`` writes it)."""
    return _simple_rf_text(rf) or (indented([rf_axis_json(a) for a in rf], 3) if rf else "[]")


def _simple_rf_text(rf: tuple[RFAxis, ...]) -> Optional[str]:
    """``_rf_text`` of a field whose every axis is the textbook one in integers, else None."""
    if len(rf) == 2:  # most fields: two axes, the same when the input is square
        first, second = rf
        text = _simple_axis_text(first)
        if text is None:
            return None
        other = text if second == first else _simple_axis_text(second)
        return None if other is None else f"[\n        {text},\n        {other}\n      ]"
    texts = [_simple_axis_text(a) for a in rf]
    if not texts or None in texts:
        return None
    return "[\n        " + ",\n        ".join(texts) + "\n      ]"


def _simple_axis_text(a: RFAxis) -> Optional[str]:
    """One axis's object, four levels deep, when its field is the textbook one in integers (one
    size, an integer jump and centre): the text ``rf_axis_json`` gives, written directly. None for
    any other field (written the general way)."""
    jump = a.jump
    entry = _textbook_entry(a) if type(jump) is int else None
    if entry is None or (entry[0] + entry[1]) % 2:
        return None
    lo, hi = entry
    return (
        f"{{\n          \"size\": {hi - lo + 1},\n          \"jump\": {jump},\n          \"start\": {(lo + hi) // 2},\n"
        f"          \"padding\": {-lo},\n          \"first\": [\n            {lo},\n            {hi}\n          ],\n          \"period\": 1\n        }}"
    )


CSV_COLUMNS = ("path", "kind", "input_shape", "output_shape", "params", "buffers", "macs", "flops", "activations", "rf_size", "rf_jump", "rf_start")


def render_csv(report: Report, layout: str = "chw") -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in report.rows:
        writer.writerow([
            r.path, r.kind, "x".join(format_dim(d) for d in ordered(r.input_shapes[0], layout)) if r.input_shapes else "",
            "x".join(format_dim(d) for d in ordered(r.output_shape, layout)), *(format_dim(v) for v in (r.params, r.buffers, r.macs, r.flops, r.activations)),
            format_rf(r.rf, r.is_global), format_rf(r.rf, r.is_global, "jump"), format_rf(r.rf, r.is_global, "start"),
        ])
    return buffer.getvalue()


def ordered(shape: tuple, layout: str) -> list:
    """The sizes of a channels-first shape in ``layout`` order."""
    dims = list(shape)
    return dims[1:] + dims[:1] if layout == "hwc" and len(dims) > 1 else dims


def render_markdown(report: Report, depth: Optional[int] = None, layout: str = "chw") -> str:
    lines = [
        f"## {report.name}",
        "",
        f"Input {format_shape(report.input_shape, layout)}, batch {report.batch}.",
        "",
        "| layer | kind | output shape | activations | params | MACs | FLOPs | RF |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for d in display_rows(report, depth):
        label = ("&nbsp;&nbsp;" * d.depth) + (f"**{d.label}**" if d.is_group else d.label)
        lines.append(
            f"| {label} | {d.kind} | {format_shape(d.output_shape, layout)} | {format_count(d.activations)} | "
            f"{format_count(d.params)} | {format_count(d.macs)} | {format_count(d.flops)} | {d.rf} |"
        )
    t = report.totals
    lines.append(f"| **total** | | {format_shape(report.output_shape, layout)} | {format_count(t.activations)} | {format_count(t.params)} | {format_count(t.macs)} | {format_count(t.flops)} | |")
    return "\n".join(lines) + "\n"


def receptive_field_rows(report: Report) -> list[dict[str, Any]]:
    return [
        {"path": r.path, "kind": r.kind, "output_shape": _shape_json(r.output_shape), "global": r.is_global, "receptive_field": _rf_json(r)}
        for r in report.rows
    ]


RF_COLUMNS = (  # key, header, drop rank (the highest is dropped first)
    ("layer", "layer", 0), ("kind", "kind", 4), ("shape", "output shape", 3),
    ("size", "size", 1), ("jump", "jump", 2), ("start", "start", 5), ("padding", "eff. padding", 6), ("first", "first field", 7),
)


def render_rf_table(report: Report, console, layout: str = "chw") -> None:
    """The receptive-field walkthrough: per layer, the largest field r, jump j, start, effective
    padding P and the first output's exact interval (``[-P, ...]``), fitted to the console; a
    field that is not known is ``?``, with a note saying why."""
    from rich.markup import escape

    from convcalc.render.fit import Column, fit, pretty_formula, print_table, width_of

    def quantity(r: Row, what: str) -> str:
        if r.is_global:
            return "global" if what == "size" else ""
        return pretty_formula(format_rf(r.rf, False, what))

    cells = {
        "layer": [r.path for r in report.rows],
        "kind": [r.kind for r in report.rows],
        "shape": [pretty_formula(format_shape(r.output_shape, layout)) for r in report.rows],
        **{what: [quantity(r, what) for r in report.rows] for what in ("size", "jump", "start", "padding", "first")},
    }
    columns = [
        Column(key, header, tuple(cells[key]), right=key not in ("layer", "kind", "shape"), drop=drop, label=key == "layer",
               wrap=key in ("shape", "start", "padding", "first"), style="cyan" if key == "kind" else None)
        for key, header, drop in RF_COLUMNS
    ]
    unknown: dict[str, str] = {}  # reason -> the first layer it holds from
    for r in report.rows:
        for a in () if r.is_global else r.rf:
            if not a.known:
                unknown.setdefault(a.unknown, r.path)
    fitted = fit(columns, width_of(console))
    print_table(console, fitted, title=f"{report.name}  receptive field")
    console.print()
    console.print("size r (the largest field), jump j (average distance between neighbouring fields), start (centre of the first field), "
                  "eff. padding P, first field [lo, hi] in input pixels (padding counted)", highlight=False, markup=False)
    note = fitted.note()
    if note:
        console.print(f"[dim]{note}[/dim]", highlight=False)
    for diag in report.diagnostics:
        if diag.code == "rf-misaligned":
            console.print(f"[yellow]note[/yellow]\\[{diag.code}]: {escape(str(diag.message))}", highlight=False)
    for reason, path in unknown.items():
        console.print(f"[yellow]note[/yellow]\\[rf-unknown]: from {escape(path)} on, the field is not known: {escape(reason)}", highlight=False)


def render_extra(extra: dict[str, Any], markdown: bool = False) -> str:
    """The validity conditions and exact sizes printed under a symbolic report."""
    lines = []
    if "valid_if" in extra:
        lines.append("valid for: " + (", ".join(extra["valid_if"]) or "every input size"))
    if "exact_sizes" in extra:
        lines.append(f"exact input sizes: {extra['exact_sizes']}")
    if "compat" in extra:
        from convcalc.interop.compat import compat_lines

        lines += compat_lines(extra["compat"])
    if extra.get("training"):
        t = extra["training"]
        lines.append(
            f"training step (per sample): forward MACs {format_count(t['macs'])} + backward MACs {format_count(t['backward_macs'])} = "
            f"{format_count(t['training_macs'])} (every weight's gradient; an input's gradient where the input depends on weights)"
        )
    if markdown:
        return "".join(f"\n{line}\n" for line in lines)
    return "".join(f"{line}\n" for line in lines)


# The summary's columns: key (for --columns), header, and drop rank (the highest is dropped first
# when the table does not fit; the layer is never dropped). README: "Tables that fit".
SUMMARY_COLUMNS = (
    ("layer", "layer", 0),
    ("kind", "kind", 4),
    ("shape", "output shape", 1),
    ("act", "act.", 6),
    ("params", "params", 2),
    ("macs", "MACs", 3),
    ("flops", "FLOPs", 7),
    ("rf", "RF", 5),
)
SYMBOLIC_COLUMNS = ("layer", "kind", "shape", "params", "macs")  # formulas are long: the rest is in the JSON


def parse_columns(text: Optional[str], known: Iterable[str]) -> Optional[tuple[str, ...]]:
    """``--columns layer,params,macs`` -> the keys, in the table's order (the layer is always
    shown); ``None`` when not given. An unknown name is a usage error naming the known ones."""
    if text is None:
        return None
    from convcalc.errors import UsageError

    known = tuple(known)
    asked = [part.strip().lower() for part in text.split(",") if part.strip()]
    unknown = [name for name in asked if name not in known]
    if unknown or not asked:
        raise UsageError("usage-columns", f"--columns {text!r}: " + (f"no column {unknown[0]!r}" if unknown else "name at least one column"), hint="columns: " + ",".join(known))
    return tuple(key for key in known if key in asked or key == known[0])


def summary_columns(report: Report, depth: Optional[int] = None, layout: str = "chw", keys: Optional[Sequence[str]] = None,
                    rows: Optional[list[DisplayRow]] = None) -> list:
    """The summary table's columns (:class:`convcalc.render.fit.Column`), exact and compact;
    ``rows``: the report's :func:`display_rows` at ``depth``, when made already."""
    from convcalc.render.fit import Column, pretty_formula, with_compact

    rows = display_rows(report, depth) if rows is None else rows
    t = report.totals
    symbolic = bool(report.symbols)
    keys = keys or (SYMBOLIC_COLUMNS if symbolic else tuple(key for key, _, _ in SUMMARY_COLUMNS))
    values = {
        "act": ([d.activations for d in rows], t.activations),
        "params": ([d.params for d in rows], t.params),
        "macs": ([d.macs for d in rows], t.macs),
        "flops": ([d.flops for d in rows], t.flops),
    }
    columns = []
    for key, header, drop in SUMMARY_COLUMNS:
        if key not in keys:
            continue
        if key == "layer":
            column = Column(key, header, tuple("  " * d.depth + d.label for d in rows), footer="total", label=True)
        elif key == "kind":
            column = Column(key, header, tuple(d.kind for d in rows), footer="", drop=drop, style="cyan")
        elif key == "shape":
            shapes: dict[tuple, str] = {}  # rows repeat their shapes
            for d in rows:
                if d.output_shape not in shapes:
                    shapes[d.output_shape] = pretty_formula(format_shape(d.output_shape, layout))
            column = Column(key, header, tuple([shapes[d.output_shape] for d in rows]),
                            footer=pretty_formula(format_shape(report.output_shape, layout)), drop=drop, wrap=symbolic)
        elif key == "rf":
            column = Column(key, header, tuple(d.rf for d in rows), footer="", right=True, drop=drop)
        else:
            cells, total = values[key]
            exact = Column(key, header, tuple([f"{v:,}" if type(v) is int else pretty_formula(format_count(v)) for v in cells]), footer=pretty_formula(format_count(total)),
                           right=True, drop=drop, wrap=not all(isinstance(v, int) for v in (*cells, total)))
            column = with_compact(exact, cells, total)
        columns.append(column)
    return columns


def render_table(report: Report, console, depth: Optional[int] = None, layout: str = "chw", keys: Optional[Sequence[str]] = None) -> None:
    """The walkthrough table, fitted to the console (:mod:`convcalc.render.fit`): counts in
    K/M/G and columns dropped, in the order of :data:`SUMMARY_COLUMNS`, when the full table does
    not fit, and said so under it; numbers are never cut. On the symbolic path the cells are
    formulas broken at their terms, and the totals follow the table."""
    from rich.markup import escape

    from convcalc.render.fit import fit, print_table, width_of

    symbolic = bool(report.symbols)
    width = width_of(console)
    rows = display_rows(report, depth)
    fitted = fit(summary_columns(report, depth, layout, keys, rows), width)
    title = f"{report.name}  input {format_shape(report.input_shape, layout)}" + (f"  batch {report.batch}" if report.batch != 1 else "")
    styles = ["bold" if d.is_group else None for d in rows]
    print_table(console, fitted, title=title, row_styles=styles, show_footer=not symbolic)
    if symbolic:
        t = report.totals
        console.print()
        for name, value in (("output shape", format_shape(report.output_shape, layout)), ("activations", format_count(t.activations)),
                            ("params", format_count(t.params)), ("MACs", format_count(t.macs)), ("FLOPs", format_count(t.flops))):
            print_formula(console, f"total {name}: ", value)
    else:
        console.print()
        console.print(summary_caption(report), highlight=False, markup=False)
    note = fitted.note(columns="--columns")
    if note:
        console.print(f"[dim]{note}[/dim]", highlight=False)
    for diag in report.diagnostics:  # the code escaped: rich would read [rf-misaligned] as markup
        console.print(f"[yellow]note[/yellow]\\[{diag.code}]: {escape(str(diag.message))}", highlight=False)


def print_formula(console, lead: str, formula: str) -> None:
    """``lead`` and a formula, broken at its terms to the console's width (indented under it)."""
    from convcalc.render.fit import pretty_formula, width_of, wrap_formula

    text = pretty_formula(formula) if isinstance(formula, str) else formula
    width = width_of(console)
    if width is None or len(lead) + len(text) <= width:
        console.print(lead + text, highlight=False, markup=False, soft_wrap=True)
        return
    lines = wrap_formula(text, max(8, width - 4), first=width - len(lead))
    console.print(lead + lines[0], highlight=False, markup=False, soft_wrap=True)
    for line in lines[1:]:
        console.print("    " + line, highlight=False, markup=False, soft_wrap=True)


def summary_caption(report: Report) -> str:
    """The totals and memory under the summary table, in K/M/G (the HTML report shows it too)."""
    t = report.totals
    m = report.memory
    parts = [
        f"params {format_count(t.params, True)} trainable" + (f" + {format_count(t.buffers, True)} buffers" if t.buffers else ""),
        f"MACs {format_count(t.macs, True)}",
        f"FLOPs {format_count(t.flops, True)}",
    ]
    memory = (  # integer sizes only: a symbolic report prints its totals instead
        f"memory ({report.dtype}, batch {report.batch}, theoretical): activations {format_count(m['activation_bytes'], True)}B in all, "
        f"peak {format_count(m['peak_activation_bytes'], True)}B live at {m['peak_at']}; weights {format_count(m['weight_bytes'], True)}B; "
        f"training keeps {format_count(m['training_activation_bytes'], True)}B of activations"
    )
    return " | ".join(parts) + "\n" + memory + "\nper sample; MACs = multiply-accumulates of conv/linear, FLOPs = 2*MACs + bias + element-wise work"
