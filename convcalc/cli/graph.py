"""``convcalc graph``: the network drawn, one node per layer with its output shape, blocks as
clusters (the drawing: :mod:`convcalc.render.graph`).

    convcalc graph resnet18 --format dot | dot -Tsvg > resnet18.svg
    convcalc graph unet --format svg -o unet.svg       # needs Graphviz's dot
    convcalc graph googlenet --format mermaid          # paste into Markdown
"""

from __future__ import annotations

import sys
from typing import Annotated

from convcalc.cli._common import InputOpt, Layout, OutputOpt, SpecArg, analyze_target, format_option, progress, write_output
from convcalc.conventions import DType
from convcalc.errors import UsageError
from convcalc.render.formats import Format, choose_format

__all__ = ["FORMATS", "graph_command"]

FORMATS = (Format.dot, Format.mermaid, Format.svg, Format.png)


def graph_command(
    spec: SpecArg,
    input_: InputOpt = None,
    format_: Annotated[str, format_option(FORMATS, "dot (Graphviz), mermaid, or svg / png laid out by Graphviz's dot (apt-get install graphviz).")] = "dot",
    output: OutputOpt = None,
) -> None:
    """Draw the network: a node per layer with its output shape, an edge per tensor, blocks as clusters."""
    from convcalc.render.graph import layout, render_dot, render_mermaid

    chosen = choose_format(format_, FORMATS, "graph")
    if chosen == Format.png and output is None and sys.stdout.isatty():
        raise UsageError("usage-binary", "--format png writes an image: give -o FILE.png or redirect standard output")
    _, report = analyze_target(spec, input_, None, Layout.chw, DType.float32)
    if chosen == Format.mermaid:
        write_output(render_mermaid(report), output, (spec,))
        return
    source = render_dot(report)
    if chosen == Format.dot:
        write_output(source, output, (spec,))
        return
    with progress(f"laying out {report.name} with dot"):
        drawn = layout(source, chosen.value)
    write_output(drawn if chosen == Format.png else drawn.decode("utf-8"), output, (spec,))
