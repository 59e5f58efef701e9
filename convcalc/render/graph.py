"""The network drawn: one node per layer (its name, kind and output shape), an edge per tensor
read, blocks as clusters; as Graphviz DOT, Mermaid, or SVG and PNG laid out by Graphviz's ``dot``.

It walks the report's graph (:attr:`convcalc.report.Report.graph`), the one every reader walks:
merges show as a node with several incoming edges, branches as a node read by several, a U-Net's
skip as the long edge from the encoder into its crop; a tensor read only for its size (a crop to
the size of another) is a dashed edge. A node's SVG group has the classes ``node layer`` and the
id ``layer-<index>`` (its row in the table); the network input and output are ``node io``.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from typing import Any, Callable, Optional

from convcalc.errors import UsageError
from convcalc.render.report import format_shape
from convcalc.report import Report

__all__ = ["DOT_TIMEOUT", "Drawing", "drawing", "layout", "render_dot", "render_mermaid"]

DOT_TIMEOUT = 120  # seconds: dot lays out ResNet-152 (515 nodes) in a few


@dataclass(frozen=True)
class Box:
    """A node of the drawing."""

    id: str
    lines: tuple[str, ...]
    kind: str  # "layer" | "io"
    index: int = -1  # the row of a layer
    synthetic: bool = False


@dataclass(frozen=True)
class Cluster:
    id: str
    label: str
    boxes: tuple[str, ...]  # ids of the boxes directly inside
    children: tuple[int, ...]  # indices of the clusters directly inside


@dataclass(frozen=True)
class Drawing:
    """What both DOT and Mermaid say: boxes, edges (source, target, label, dashed), clusters."""

    name: str
    boxes: tuple[Box, ...]
    edges: tuple[tuple[str, str, str, bool], ...]
    clusters: tuple[Cluster, ...]
    top: tuple[str, ...]  # boxes in no cluster
    roots: tuple[int, ...]  # clusters in no cluster


def _innermost(groups: list, index: int, below: Optional[int] = None) -> Optional[int]:
    """The deepest group holding node ``index`` (or group ``below``'s range, strictly)."""
    best = None
    for i, g in enumerate(groups):
        if below is not None:
            inner = groups[below]
            inside = i != below and g.first <= inner.first and inner.end <= g.end and (g.depth < inner.depth)
        else:
            inside = g.first <= index < g.end
        if inside and (best is None or g.depth > groups[best].depth):
            best = i
    return best


def drawing(report: Report) -> Drawing:
    """The drawing of ``report``'s network, with the shapes of the fold the report holds."""
    graph = report.graph
    if graph is None:
        raise UsageError("graph-none", f"{report.name}: this report has no network graph to draw")
    rows = report.rows
    boxes = [Box("input", ("input", format_shape(report.input_shape)), "io")]
    for node, row in zip(graph.nodes, rows):
        shapes = row.output_shapes if len(row.output_shapes) > 1 else (row.output_shape,)
        leaf = row.path.rsplit(".", 1)[-1]
        lines = (leaf if leaf == row.kind else f"{leaf}: {row.kind}", *(format_shape(s) for s in shapes))
        boxes.append(Box(f"n{node.index}", lines, "layer", node.index, node.synthetic))
    boxes.append(Box("output", ("output", format_shape(report.output_shape)), "io"))

    def source(port: Any) -> str:
        return "input" if port.node < 0 else f"n{port.node}"

    edges = []
    for node in graph.nodes:
        for port in node.inputs:
            many = port.node >= 0 and graph.nodes[port.node].outputs > 1
            edges.append((source(port), f"n{node.index}", f"{port.port}" if many else "", False))
        for port in node.refs:
            edges.append((source(port), f"n{node.index}", "size", True))
    edges.append((source(graph.output), "output", "", False))

    groups = [g for g in graph.groups if g.end > g.first]
    parent = [_innermost(groups, -1, below=i) for i in range(len(groups))]
    home = {f"n{node.index}": _innermost(groups, node.index) for node in graph.nodes}
    clusters = tuple(
        Cluster(
            f"cluster_{i}",
            g.path if g.kind in ("seq",) else f"{g.path}: {g.kind}",
            tuple(box for box, where in home.items() if where == i),
            tuple(j for j, p in enumerate(parent) if p == i),
        )
        for i, g in enumerate(groups)
    )
    top = ("input", *(box for box, where in home.items() if where is None), "output")
    roots = tuple(i for i, p in enumerate(parent) if p is None)
    return Drawing(report.name, tuple(boxes), tuple(edges), clusters, top, roots)


def _nested(d: Drawing, box_line: Callable[[Box, str], str], opening: Callable[[Cluster], list[str]], closing: str) -> list[str]:
    """The boxes outside any cluster, then each cluster (``opening`` lines, its boxes, its
    clusters, ``closing``), indented by nesting."""
    by_id = {box.id: box for box in d.boxes}

    def cluster_lines(i: int, indent: str) -> list[str]:
        c = d.clusters[i]
        out = [indent + line for line in opening(c)]
        out += [box_line(by_id[box], indent + "  ") for box in c.boxes]
        for child in c.children:
            out += cluster_lines(child, indent + "  ")
        return [*out, indent + closing]

    lines = [box_line(by_id[box], "  ") for box in d.top]
    for root in d.roots:
        lines += cluster_lines(root, "  ")
    return lines


def _dot_text(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_dot(report: Report) -> str:
    """Graphviz DOT (``dot -Tsvg`` lays it out): top to bottom, blocks as nested clusters."""
    d = drawing(report)
    lines = [
        f"digraph {_dot_text(d.name)} {{",
        "  graph [rankdir=TB, fontname=\"Helvetica\", fontsize=11, labeljust=l, nodesep=0.25, ranksep=0.3];",
        "  node [shape=box, style=\"rounded,filled\", fillcolor=\"#eef3fb\", color=\"#6b8cc7\", fontname=\"Helvetica\", fontsize=10];",
        "  edge [color=\"#555555\", arrowsize=0.6];",
    ]

    def box_line(box: Box, indent: str) -> str:
        label = "\\n".join(line.replace("\\", "\\\\").replace('"', '\\"') for line in box.lines)
        attrs = [f'label="{label}"', f'class="{box.kind}"']
        if box.kind == "layer":
            attrs.append(f'id="layer-{box.index}"')
            if box.synthetic:
                attrs.append('style="rounded,filled,dashed"')
        else:
            attrs += [f'id="{box.id}"', 'shape=ellipse', 'fillcolor="#fdf3e1"', 'color="#c79a4b"']
        return f"{indent}{box.id} [{', '.join(attrs)}];"

    def opening(c: Cluster) -> list[str]:
        return [f"subgraph {c.id} {{", f'  label={_dot_text(c.label)}; style="rounded"; color="#b8b8b8"; fontcolor="#444444";']

    lines += _nested(d, box_line, opening, "}")
    for src, dst, label, dashed in d.edges:
        attrs = ([f"label={_dot_text(label)}", "fontsize=8"] if label else []) + (["style=dashed", "color=\"#999999\""] if dashed else [])
        lines.append(f"  {src} -> {dst}" + (f" [{', '.join(attrs)}]" if attrs else "") + ";")
    return "\n".join([*lines, "}"]) + "\n"


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def render_mermaid(report: Report) -> str:
    """A Mermaid flowchart (GitHub and many Markdown viewers draw it): the same boxes, edges and
    clusters as :func:`render_dot`."""
    d = drawing(report)
    lines = ["flowchart TD"]

    def box_line(box: Box, indent: str) -> str:
        label = "<br/>".join(_mermaid_text(line) for line in box.lines)
        return f'{indent}{box.id}(["{label}"])' if box.kind == "io" else f'{indent}{box.id}["{label}"]'

    lines += _nested(d, box_line, lambda c: [f'subgraph {c.id}["{_mermaid_text(c.label)}"]'], "end")
    for src, dst, label, dashed in d.edges:
        arrow = "-.->" if dashed else "-->"
        lines.append(f"  {src} {arrow}|{_mermaid_text(label)}| {dst}" if label else f"  {src} {arrow} {dst}")
    return "\n".join(lines) + "\n"


def layout(dot_source: str, format_: str) -> bytes:
    """``dot -T<format_>`` of the DOT text: ``svg`` or ``png``. Graphviz is not a Python package:
    without its ``dot`` this is a usage error that says how to install it."""
    dot = shutil.which("dot")
    if dot is None:
        raise UsageError(
            "graph-no-dot", f"drawing {format_.upper()} needs Graphviz's dot program, which is not installed",
            hint="apt-get install graphviz (Debian, Ubuntu), brew install graphviz (macOS), or --format dot or mermaid",
        )
    try:
        done = subprocess.run([dot, f"-T{format_}"], input=dot_source.encode("utf-8"), capture_output=True, timeout=DOT_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise UsageError("graph-dot-timeout", f"dot did not lay the graph out in {DOT_TIMEOUT} s") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise UsageError("graph-dot-failed", f"dot failed: {message[0] if message else f'exit {done.returncode}'}")
    return done.stdout


def svg_element(dot_source: str) -> str:
    """The ``<svg>`` element of the layout, without the XML declaration and DOCTYPE (to inline it)."""
    svg = layout(dot_source, "svg").decode("utf-8")
    return svg[svg.index("<svg") :]
