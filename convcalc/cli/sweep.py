"""``convcalc sweep SPEC --grid NAME=LOW..HIGH[:STEP] ...``: a design space in one process."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from convcalc.cli._common import OutputOpt, SpecArg, emit_rich, format_option, load, write_output
from convcalc.render.formats import Format, choose_format
from convcalc.render.grid import FORMATS, draw_grid, render_grid

__all__ = ["sweep_command"]


def sweep_command(
    spec: SpecArg,
    grid: Annotated[list[str], typer.Option("--grid", "-g", help="A parameter's values: NAME=LOW..HIGH[:STEP] or NAME=A,B,C (repeat for a grid).")],
    budget: Annotated[Optional[list[str]], typer.Option("--budget", help="Mark the points that break it: 'macs<=600M' (check's budget syntax).")] = None,
    pareto: Annotated[str, typer.Option("--pareto", help="The metrics of the Pareto front, comma-separated: params, macs, flops, peak_activation_bytes.")] = "params,macs",
    format_: Annotated[str, format_option(FORMATS)] = "table",
    output: OutputOpt = None,
) -> None:
    """Every combination of the spec's params (its top-level `params:`): params, MACs, FLOPs, peak memory, receptive field, output; budgets and the Pareto front marked."""
    from convcalc.analysis.grid import METRICS, parse_grid, parse_sweep_budget, sweep_grid
    from convcalc.errors import UsageError

    chosen = choose_format(format_, FORMATS, "sweep")
    front = tuple(m.strip() for m in pareto.split(",") if m.strip())
    unknown = [m for m in front if m not in METRICS or m == "receptive_field"]
    if unknown or not front:
        raise UsageError("usage-pareto", f"--pareto {pareto!r}: choose among params, macs, flops, peak_activation_bytes")
    model = load(spec)
    grids = [parse_grid(g) for g in grid]
    budgets = tuple(parse_sweep_budget(b) for b in budget or ())
    with _progress() as advance:
        points = sweep_grid(model, grids, budgets, front, advance)
    names = [name for name, _ in grids]
    if chosen == Format.table:
        emit_rich(lambda console: draw_grid(console, points, names, front, f"{model.name}: {len(points):,} points"), output, inputs=(spec,))
    else:
        write_output(render_grid(points, names, front, chosen), output, (spec,))


class _progress:
    """A progress bar on stderr when stderr is a terminal; nothing otherwise."""

    def __enter__(self):
        import sys

        self.bar = None
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import Progress

            self.bar = Progress(console=Console(stderr=True), transient=True)
            self.bar.start()
            self.task = self.bar.add_task("sweep", total=None)
        return self.advance

    def advance(self, done: int, total: int) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=done, total=total)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()
