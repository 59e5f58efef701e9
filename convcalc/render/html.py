"""``convcalc summary X --format html``: one self-contained page (its CSS, script and pictures
inline; it loads nothing), and the HTML tables that notebooks show.

The page has the totals and the counting conventions, the layer table (every count exact; click a
header to sort by it, ``#`` for the network's order again; click a block to fold it), the network
drawn by Graphviz's ``dot`` (:mod:`convcalc.render.graph`) and per-layer charts of MACs,
parameters, activation memory and receptive-field growth drawn by matplotlib. Both are in the
``convcalc[report]`` extra (matplotlib from PyPI; ``dot`` is Graphviz's program: ``apt-get install
graphviz``); a missing one is a usage error that says what to install.
"""

from __future__ import annotations

import html
import io
from typing import Any, Sequence

from convcalc.errors import UsageError
from convcalc.render.report import display_rows, format_count, format_shape, summary_caption
from convcalc.report import Report

__all__ = ["html_grid", "html_report_table", "notebook_html", "render_charts", "render_html"]

_STYLE = """
.convcalc { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222; }
.convcalc h1 { font-size: 1.4em; margin: 0.2em 0; }
.convcalc h2 { font-size: 1.1em; margin: 1.2em 0 0.4em; border-bottom: 1px solid #ddd; }
.convcalc table { border-collapse: collapse; font-size: 12px; }
.convcalc th, .convcalc td { padding: 2px 8px; border-bottom: 1px solid #eee; white-space: nowrap; }
.convcalc th { background: #f3f5f9; position: sticky; top: 0; text-align: left; }
.convcalc td.n, .convcalc th.n { text-align: right; font-variant-numeric: tabular-nums; }
.convcalc tr.group td { font-weight: 600; background: #fafbfd; }
.convcalc tr.group td.label { cursor: pointer; }
.convcalc td.kind { color: #2a6f97; }
.convcalc .sort { cursor: pointer; user-select: none; }
.convcalc .hidden { display: none; }
.convcalc .scroll { overflow: auto; max-height: 80vh; border: 1px solid #ddd; }
.convcalc dl { display: grid; grid-template-columns: max-content auto; gap: 2px 16px; margin: 0; }
.convcalc dt { color: #555; } .convcalc dd { margin: 0; font-variant-numeric: tabular-nums; }
.convcalc .note { color: #8a5a00; }
.convcalc #charts svg { max-width: 100%; height: auto; }
"""

# Sorting by a column shows the layers alone in that order; "#" brings the tree back. A click on a
# block's name folds (or unfolds) the rows inside it.
_SCRIPT = """
(function () {
  var table = document.getElementById("layers");
  var body = table.tBodies[0];
  var original = Array.prototype.slice.call(body.rows);
  var folded = {};
  function refresh(sorted) {
    original.forEach(function (row) {
      var inside = (row.getAttribute("data-in") || "").split(" ").filter(Boolean);
      var hide = sorted ? row.classList.contains("group") : inside.some(function (g) { return folded[g]; });
      row.classList.toggle("hidden", hide);
    });
  }
  var state = {column: 0, up: true};
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (cell, column) {
    cell.classList.add("sort");
    cell.addEventListener("click", function () {
      state.up = state.column === column ? !state.up : true;
      state.column = column;
      var rows = original.slice();
      if (column > 0) {
        rows.sort(function (a, b) {
          var x = a.cells[column].getAttribute("data-v"), y = b.cells[column].getAttribute("data-v");
          var nx = parseFloat(x), ny = parseFloat(y);
          var order = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : String(x).localeCompare(String(y));
          return state.up ? order : -order;
        });
      } else if (!state.up) {
        rows.reverse();
      }
      rows.forEach(function (row) { body.appendChild(row); });
      refresh(column > 0);
    });
  });
  original.forEach(function (row) {
    if (!row.classList.contains("group")) { return; }
    row.cells[1].addEventListener("click", function () {
      var path = row.getAttribute("data-path");
      folded[path] = !folded[path];
      row.cells[1].firstChild.textContent = folded[path] ? "\\u25b8 " : "\\u25be ";
      refresh(false);
    });
  });
})();
"""


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def html_grid(header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool] = ()) -> str:
    """A plain HTML table (a notebook's display of a comparison)."""
    def cell(tag: str, i: int, text: str) -> str:
        return f'<{tag}{" class=n" if i < len(right) and right[i] else ""}>{_e(text)}</{tag}>'

    head = "".join(cell("th", i, h) for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(cell("td", i, c) for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f'<div class="convcalc"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _sort_value(value: Any) -> str:
    return str(value) if isinstance(value, int) else ""


def html_report_table(report: Report, foldable: bool = True) -> str:
    """The layer table: a ``tr.layer`` per layer (row), a ``tr.group`` per block, every count exact."""
    rows = display_rows(report)
    layer_index = {r.path: r.index for r in report.rows}
    headers = ("#", "layer", "kind", "output shape", "act.", "params", "MACs", "FLOPs", "RF")
    numeric = (True, False, False, False, True, True, True, True, True)
    head = "".join(f'<th{" class=n" if n else ""}>{_e(h)}</th>' for h, n in zip(headers, numeric))
    groups = sorted((g for g in report.groups if g.end > g.first), key=lambda g: (g.first, g.depth))
    lines = []
    for d in rows:
        index = layer_index.get(d.path) if not d.is_group else None
        if d.is_group:
            group = next(g for g in groups if g.path == d.path)
            inside = [g.path for g in groups if g.first <= group.first and group.end <= g.end and g.depth < group.depth]
        else:
            inside = [g.path for g in groups if g.first <= index < g.end]
        toggle = "<span>\u25be </span>" if d.is_group and foldable else ""
        indent = f' style="padding-left:{8 + 14 * d.depth}px"'
        cells = [
            f'<td class=n data-v="{"" if index is None else index}">{"" if index is None else index}</td>',
            f'<td class=label{indent} data-v="{_e(d.path)}">{toggle}{_e(d.label)}</td>',
            f'<td class=kind data-v="{_e(d.kind)}">{_e(d.kind)}</td>',
            f'<td data-v="{_e(format_shape(d.output_shape))}">{_e(format_shape(d.output_shape))}</td>',
            *(f'<td class=n data-v="{_sort_value(v)}">{_e(format_count(v))}</td>' for v in (d.activations, d.params, d.macs, d.flops)),
            f'<td class=n data-v="{_e(d.rf)}">{_e(d.rf)}</td>',
        ]
        kind = "group" if d.is_group else "layer"
        lines.append(f'<tr class="{kind}" data-path="{_e(d.path)}" data-in="{_e(" ".join(inside))}">{"".join(cells)}</tr>')
    t = report.totals
    foot = (
        "<tr><td></td><td>total</td><td></td>"
        f"<td>{_e(format_shape(report.output_shape))}</td>"
        + "".join(f"<td class=n>{_e(format_count(v))}</td>" for v in (t.activations, t.params, t.macs, t.flops))
        + "<td></td></tr>"
    )
    return f'<table id="layers"><thead><tr>{head}</tr></thead><tbody>{"".join(lines)}</tbody><tfoot>{foot}</tfoot></table>'


def _totals(report: Report) -> str:
    """Totals, memory and the counting conventions, as a definition list."""
    t = report.totals
    m = report.memory
    items = [
        ("input", f"{format_shape(report.input_shape)}, batch {report.batch}, {report.dtype}"),
        ("output", format_shape(report.output_shape)),
        ("layers", f"{len(report.rows)}"),
        ("params", f"{format_count(t.params)} trainable" + (f" + {format_count(t.buffers)} buffers" if t.buffers else "")),
        ("MACs", format_count(t.macs)),
        ("FLOPs", format_count(t.flops)),
        ("activations", f"{format_count(t.activations)} elements, {format_count(report.activation_bytes)} bytes"),
    ]
    if not report.symbols:
        items += [
            ("peak memory", f"{format_count(m['peak_activation_bytes'])} bytes of activations live at {m['peak_at']} (inference, theoretical)"),
            ("weights", f"{format_count(m['weight_bytes'])} bytes"),
            ("training", f"{format_count(m['training_activation_bytes'])} bytes of activations kept for the backward pass"),
        ]
    rows = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in items)
    return f"<dl>{rows}</dl>"


_CONVENTIONS = (
    "params: trainable parameters, as PyTorch's sum(p.numel() for p in model.parameters()); buffers (batch norm's running statistics) apart.",
    "MACs: multiply-accumulates of convolutions and linear layers, bias ignored (what papers call FLOPs: ResNet-50 4.1 G).",
    "FLOPs: 2 x MACs + bias adds + the element-wise work of pooling, normalisation, activations and merges.",
    "activations: elements of each layer's output per sample; memory = elements x batch x bytes of the dtype.",
    "RF: receptive field size in input pixels (one value when every axis agrees); global after flatten, linear or global pooling.",
)


def render_charts(report: Report) -> str:
    """Four per-layer charts (MACs, params, activation memory, receptive field) as one inline
    ``<svg>``, drawn by matplotlib (``pip install 'convcalc[report]'``)."""
    try:
        from matplotlib.figure import Figure
    except ModuleNotFoundError:
        raise UsageError("report-no-matplotlib", "the HTML report's charts need matplotlib, which is not installed", hint="pip install 'convcalc[report]'") from None
    import matplotlib

    matplotlib.rcParams["svg.hashsalt"] = "convcalc"  # the same ids in every run: the same file
    rows = report.rows
    x = list(range(len(rows)))

    def values(get) -> list[float]:
        return [float(v) if isinstance(v := get(r), int) else float("nan") for r in rows]

    rf = [float("nan") if r.is_global or not r.rf or not isinstance(r.rf[0].size, int) else float(r.rf[0].size) for r in rows]
    panels = (
        ("MACs per layer", values(lambda r: r.macs), "bar"),
        ("parameters per layer", values(lambda r: r.params), "bar"),
        (f"activation memory per layer (bytes, {report.dtype}, batch {report.batch})", values(lambda r: report.bytes_of(r.activations)), "bar"),
        ("receptive field size (input pixels, first axis; gaps: global)", rf, "step"),
    )
    figure = Figure(figsize=(10, 9), dpi=96, layout="constrained")
    axes = figure.subplots(len(panels), 1, sharex=True)
    for ax, (title, ys, style) in zip(axes, panels):
        if style == "bar":
            ax.bar(x, ys, width=0.8, color="#4c78a8")
        else:
            ax.step(x, ys, where="mid", color="#e45756")
        ax.set_title(title, fontsize=10, loc="left")
        ax.grid(axis="y", alpha=0.3)
        ax.tick_params(labelsize=8)
    axes[-1].set_xlabel("layer # (the table's first column)", fontsize=9)
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]


def render_html(report: Report) -> str:
    """The page: totals and conventions, the layer table, the network drawn, the charts."""
    from convcalc.render.graph import render_dot, svg_element

    drawing = svg_element(render_dot(report))
    charts = render_charts(report)
    notes = "".join(f'<li class="note">{_e(d.code)}: {_e(d.message)}</li>' for d in report.diagnostics)
    conventions = "".join(f"<li>{_e(c)}</li>" for c in _CONVENTIONS)
    caption = "" if report.symbols else f"<p>{_e(summary_caption(report)).replace(chr(10), '<br>')}</p>"
    title = f"{report.name}: convcalc report"
    description = f"<p>{_e(report.description)}</p>" if report.description else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>{_e(title)}</title>
<style>{_STYLE}</style>
</head>
<body class="convcalc">
<h1>{_e(report.name)}</h1>
{description}
<h2>Totals</h2>
{_totals(report)}
{caption}
{f"<ul>{notes}</ul>" if notes else ""}
<h2>How it counts</h2>
<ul>{conventions}</ul>
<h2>Layers</h2>
<p>Click a column's name to sort by it (# for the network's order), a block's name to fold it.</p>
<div class="scroll">{html_report_table(report)}</div>
<h2>The network</h2>
<p>One box per layer with its output shape; blocks are framed; a dashed edge reads a tensor's size only (a crop).</p>
<div class="scroll" id="network">{drawing}</div>
<h2>Per layer</h2>
<div id="charts">{charts}</div>
<script>{_SCRIPT}</script>
</body>
</html>
"""


def notebook_html(report: Report) -> str:
    """A report in a notebook: the totals and the layer table (no script: notebooks may not run it)."""
    return f'<div class="convcalc"><style>{_STYLE}</style><b>{_e(report.name)}</b>{_totals(report)}<div class="scroll">{html_report_table(report, foldable=False)}</div></div>'
