"""The command line. Commands compute data through the library; only this module prints and exits."""

from __future__ import annotations

import functools
import os
import sys
import tempfile
from enum import Enum
from pathlib import Path
from typing import Annotated, Callable, Optional

import typer
from typer.core import TyperGroup

from convcalc.cli._options import Layout, is_count, parse_shape
from convcalc.conventions import DType
from convcalc.errors import EXIT_USAGE, ConvcalcError, UsageError

__all__ = ["app", "main"]


class _LazyGroup(TyperGroup):
    """Imports the commands of ``_register_optional`` when one of them is asked for or listed.

    ``convcalc summary`` should cost little more than starting Python: the other commands' modules
    (and what they import: rich, the hand calculator, the checker ...) load only when needed.
    """

    def get_command(self, ctx, cmd_name):
        if cmd_name not in self.commands:
            self._add_optional()
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx):
        self._add_optional()
        return super().list_commands(ctx)

    def _add_optional(self) -> None:
        for name, command in _optional_commands().items():
            self.commands.setdefault(name, command)


app = typer.Typer(
    name="convcalc",
    cls=_LazyGroup,
    help="Exact shapes, parameters, MACs, FLOPs, memory and receptive fields of CNN architectures.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_state = {"debug": bool(os.environ.get("CONVCALC_DEBUG"))}


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


class Compat(str, Enum):
    fvcore = "fvcore"
    ptflops = "ptflops"
    torchinfo = "torchinfo"


def console(stderr: bool = False):
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    wide = not stream.isatty() and "COLUMNS" not in os.environ  # a file or a pipe: never squeeze numbers
    return Console(stderr=stderr, highlight=False, width=200 if wide else None)


def fail(error: ConvcalcError) -> typer.Exit:
    print(error.render(), file=sys.stderr)
    return typer.Exit(error.exit_code)


def guarded(fn: Callable) -> Callable:
    """Turn convcalc's errors into one line and an exit code; anything else is an internal error."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ConvcalcError as exc:
            if _state["debug"]:
                raise
            raise fail(exc) from None
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:  # an internal error: report it, never a traceback unless --debug
            if _state["debug"]:
                raise
            print(f"convcalc: error[internal]: {type(exc).__name__}: {exc} (run with --debug for the traceback)", file=sys.stderr)
            raise typer.Exit(EXIT_USAGE) from None

    return wrapper


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show Python tracebacks (for developers).")] = False,
) -> None:
    _state["debug"] = debug or bool(os.environ.get("CONVCALC_DEBUG"))  # per run: the app may be invoked many times in one process


def parse_input(text: Optional[str], layout: Layout) -> Optional[tuple]:
    """``3x224x224`` (or ``224x224x3`` with ``--layout hwc``); spatial sizes may be symbols (``3xHxW``)."""
    return None if text is None else parse_shape(text, layout, "3x224x224 or 3xHxW")


def load(target: str):
    from convcalc.spec import load_spec
    from convcalc.spec.zoo import read_source

    text, shown = read_source(target)
    return load_spec(text, shown)


def write_output(text: str, output: Optional[Path]) -> None:
    """Print, or write the file atomically: a temp file in the same folder, then a rename."""
    if output is None:
        sys.stdout.write(text)
        return
    folder = output.resolve().parent
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{output.name}.", suffix=".tmp")
    except OSError as exc:
        raise UsageError("io-write", f"{output}: cannot write there ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, output)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def parse_values(text: Optional[str], option: str) -> dict[str, int]:
    """``H=224,W=224`` -> {"H": 224, "W": 224}."""
    values: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        name, _, value = part.partition("=")
        if not name.strip().isidentifier() or not is_count(value) or int(value) < 1:
            raise UsageError("usage-set", f"{option} {text!r}: write NAME=SIZE pairs, e.g. {option} H=224,W=224")
        values[name.strip()] = int(value)
    return values


def parse_sweep(text: str) -> tuple[str, list[int]]:
    """``H=224,256,320`` -> ("H", [224, 256, 320])."""
    name, _, values = text.partition("=")
    sizes = [v.strip() for v in values.split(",") if v.strip()]
    if not name.strip().isidentifier() or not sizes or not all(is_count(v) and int(v) > 0 for v in sizes):
        raise UsageError("usage-sweep", f"--sweep {text!r}: write NAME=SIZE,SIZE,..., e.g. --sweep H=224,256,320")
    return name.strip(), [int(v) for v in sizes]


def _report(spec_target: str, input_: Optional[str], batch: Optional[int], layout: Layout, dtype: DType, symbolic: bool = False):
    from convcalc.engine import analyze

    spec = load(spec_target)
    shape = parse_input(input_, layout) or spec.input
    if symbolic and all(isinstance(d, int) for d in shape[1:]):
        from convcalc.kinds._window import axis_names

        shape = (shape[0], *axis_names(len(shape) - 1))
    return spec, analyze(spec, input_shape=shape, batch=batch, dtype=dtype.value)


SpecArg = Annotated[str, typer.Argument(help="A spec file, or the name of a built-in model (see `convcalc models`).", metavar="SPEC_OR_MODEL")]
InputOpt = Annotated[Optional[str], typer.Option("--input", "-i", help="Input shape, channels first: 3x224x224 (sizes may be symbols: 3xHxW).")]
BatchOpt = Annotated[Optional[int], typer.Option("--batch", "-b", min=1, help="Batch size, for memory.")]
LayoutOpt = Annotated[Layout, typer.Option("--layout", help="Print shapes channels first (chw) or last, as textbooks do (hwc).")]
DTypeOpt = Annotated[DType, typer.Option("--dtype", help="Element type, for memory.")]
OutputOpt = Annotated[Optional[Path], typer.Option("--output", "-o", help="Write to this file (atomically) instead of stdout.")]


@app.command()
@guarded
def summary(
    spec: SpecArg,
    input_: InputOpt = None,
    batch: BatchOpt = None,
    format_: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.table,
    layout: LayoutOpt = Layout.chw,
    depth: Annotated[Optional[int], typer.Option("--depth", "-d", min=1, help="Collapse everything below this depth into one row per block.")] = None,
    dtype: DTypeOpt = DType.float32,
    set_: Annotated[Optional[str], typer.Option("--set", help="Give the symbols sizes: H=224,W=224.")] = None,
    sweep: Annotated[Optional[str], typer.Option("--sweep", help="One row per size: H=224,256,320 (other symbols take the same size).")] = None,
    exact: Annotated[bool, typer.Option("--exact", help="Also print the input sizes every strided layer and crop divides exactly.")] = False,
    compat: Annotated[Optional[Compat], typer.Option("--compat", help="Also print the total that tool reports, rule by rule (its conventions and its bugs).")] = None,
    output: OutputOpt = None,
) -> None:
    """Layer-by-layer shapes, parameters, MACs, FLOPs, activations and receptive fields."""
    from convcalc import render

    spec_obj, report = _report(spec, input_, batch, layout, dtype, symbolic=sweep is not None)
    if sweep is not None:
        name, sizes = parse_sweep(sweep)
        rows = sweep_reports(report, name, sizes, parse_values(set_, "--set"))
        _emit_sweep(rows, name, format_, layout, output)
        return
    if set_:
        report = report.subs(parse_values(set_, "--set"))
    extra = {}
    if report.symbols:
        from convcalc.report._substitute import requirements

        extra["valid_if"] = requirements(report)
    if exact:
        from convcalc.analysis.sizes import exact_rule

        rule = exact_rule(spec_obj)
        extra["exact_sizes"] = str(rule) if rule else "no valid size"
    if compat is not None:
        from convcalc.interop.compat import compat_total

        extra["compat"] = compat_total(report, compat.value).to_dict()
    if format_ == Format.json:
        import json

        data = render.report_to_dict(report)
        data.update(extra)
        write_output(json.dumps(data, indent=2) + "\n", output)
    elif format_ == Format.csv:
        write_output(render.render_csv(report, layout.value), output)
    elif format_ == Format.markdown:
        write_output(render.render_markdown(report, depth, layout.value) + render.render_extra(extra, markdown=True), output)
    elif output is not None:
        from rich.console import Console

        capture = Console(width=200, record=True, file=open(os.devnull, "w"), color_system=None)
        render.render_table(report, capture, depth, layout.value)
        write_output(capture.export_text() + render.render_extra(extra), output)
    else:
        render.render_table(report, console(), depth, layout.value)
        text = render.render_extra(extra)
        if text:
            sys.stdout.write(text)


def sweep_reports(report, name: str, sizes: list[int], fixed: dict[str, int]) -> list:
    """The report at each size of the sweep; symbols not given with --set take the same size."""
    if name not in report.symbols:
        raise UsageError("usage-sweep", f"--sweep {name}: no symbol {name!r} in the input {tuple(str(d) for d in report.input_shape)}", hint=f"symbols: {', '.join(report.symbols)}")
    return [report.subs({**{s: n for s in report.symbols if s != str(report.batch)}, **fixed, name: n}) for n in sizes]


def _emit_sweep(reports: list, name: str, format_: Format, layout: Layout, output: Optional[Path]) -> None:
    from convcalc import render

    rows = [
        {
            "input_shape": list(r.input_shape), "output_shape": list(r.output_shape), "params": r.totals.params,
            "macs": r.totals.macs, "flops": r.totals.flops, "activations": r.totals.activations, "activation_bytes": r.activation_bytes,
        }
        for r in reports
    ]
    if format_ == Format.json:
        import json

        write_output(json.dumps({"schema_version": render.SCHEMA_VERSION, "sweep": name, "rows": rows}, indent=2) + "\n", output)
        return
    if format_ in (Format.csv, Format.markdown):
        header = ["input_shape", "output_shape", "params", "macs", "flops", "activations", "activation_bytes"]
        if format_ == Format.csv:
            lines = [",".join(header)] + [",".join("x".join(map(str, v)) if isinstance(v, list) else str(v) for v in row.values()) for row in rows]
        else:
            lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            lines += ["| " + " | ".join(render.format_shape(tuple(v), layout.value) if isinstance(v, list) else render.format_count(v) for v in row.values()) + " |" for row in rows]
        write_output("\n".join(lines) + "\n", output)
        return
    from rich import box
    from rich.table import Table

    table = Table(title=f"{reports[0].name}: sweep over {name}", box=box.SIMPLE_HEAD, title_justify="left")
    for column in ("input", "output", "params", "MACs", "FLOPs", "activation memory"):
        table.add_column(column, justify="left" if column in ("input", "output") else "right", no_wrap=True)
    for r, row in zip(reports, rows):
        table.add_row(
            render.format_shape(r.input_shape, layout.value), render.format_shape(r.output_shape, layout.value), render.format_count(row["params"]),
            render.format_count(row["macs"]), render.format_count(row["flops"]), render.format_count(row["activation_bytes"], True) + "B",
        )
    console().print(table)


@app.command()
@guarded
def rf(
    spec: SpecArg,
    input_: InputOpt = None,
    layout: LayoutOpt = Layout.chw,
    format_: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.table,
    output: OutputOpt = None,
) -> None:
    """How the receptive field grows: size, jump, start and effective padding of every layer."""
    import json

    from convcalc.render import receptive_field_rows, render_rf_table

    _, report = _report(spec, input_, None, layout, DType.float32)
    if format_ == Format.json:
        write_output(json.dumps({"name": report.name, "layers": receptive_field_rows(report)}, indent=2) + "\n", output)
    else:
        render_rf_table(report, console(), layout.value)


@app.command()
@guarded
def sizes(
    spec: SpecArg,
    range_: Annotated[str, typer.Option("--range", "-r", help="Sizes to try, LOW..HIGH (every spatial axis takes the size).")] = "1..1024",
    any_: Annotated[bool, typer.Option("--any", help="Accept every valid size, not only the exact ones.")] = False,
    format_: Annotated[Format, typer.Option("--format", "-f", help="Output format (table or json).")] = Format.table,
) -> None:
    """The input sizes a network accepts exactly (every strided layer and crop divides evenly), and why the others fail."""
    import json

    from convcalc.render import format_shape
    from convcalc.analysis.sizes import exact_rule, scan_sizes

    low, sep, high = range_.partition("..")
    if not sep or not is_count(low) or not is_count(high) or not 1 <= int(low) <= int(high) or int(high) - int(low) > 100_000:
        raise UsageError("usage-range", f"--range {range_!r}: write LOW..HIGH with 1 <= LOW <= HIGH, at most 100,000 sizes")
    spec_obj = load(spec)
    results = scan_sizes(spec_obj, range(int(low), int(high) + 1))
    accepted = [r for r in results if r.valid and (any_ or r.exact)]
    rejected = [r for r in results if not (r.valid and (any_ or r.exact))]
    rule = exact_rule(spec_obj)
    if format_ == Format.json:
        data = {
            "name": spec_obj.name, "range": [int(low), int(high)], "exact_rule": str(rule) if rule else None,
            "accepted": [{"size": r.size, "output_shape": list(r.output_shape), "exact": r.exact, "macs": r.macs} for r in accepted],
            "rejected": [{"size": r.size, "valid": r.valid, "reason": r.reason} for r in rejected],
        }
        print(json.dumps(data, indent=2))
        return
    out = console()
    out.print(f"{spec_obj.name}: input sizes {low}..{high} on every spatial axis ({'valid' if any_ else 'exact'} sizes)")
    if rule:
        out.print(f"exact sizes: {rule}")
    for r in accepted:
        out.print(f"  accepted {r.size:>6} -> {format_shape(r.output_shape)}" + ("" if r.exact else "  (valid, not exact)"))
    reasons: dict[str, list[int]] = {}
    for r in rejected:
        reasons.setdefault(_reason_key(r.reason), []).append(r.size)
    for key, sizes_ in reasons.items():
        example = next(r for r in rejected if r.size == sizes_[0])
        shown = ", ".join(map(str, sizes_[:8])) + (", ..." if len(sizes_) > 8 else "")
        out.print(f"  rejected {len(sizes_)} size(s) ({shown}): at {sizes_[0]}: {example.reason}")
    if not accepted:
        out.print("  no size in this range is accepted")


def _reason_key(reason: Optional[str]) -> str:
    """Group rejections by the layer at fault."""
    return (reason or "").split(":", 1)[0]


@app.command()
@guarded
def models(
    format_: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.table,
) -> None:
    """List the built-in models with their parameters and MACs."""
    import json

    from convcalc.engine import analyze
    from convcalc.render import format_count
    from convcalc.spec.zoo import builtin_names

    entries = []
    for name in builtin_names():
        report = analyze(load(name))
        text = " ".join((report.description or report.name).split())
        first_sentence = text.split(". ")[0].rstrip(".")
        entries.append({"name": name, "title": report.name, "description": first_sentence, "input_shape": list(report.input_shape), "params": report.totals.params, "macs": report.totals.macs})
    if format_ == Format.json:
        print(json.dumps(entries, indent=2))
        return
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD)
    for column, justify in (("name", "left"), ("input", "left"), ("params", "right"), ("MACs", "right"), ("description", "left")):
        table.add_column(column, justify=justify, no_wrap=column != "description", overflow="ellipsis" if column == "description" else "fold")
    for e in entries:
        table.add_row(e["name"], "x".join(map(str, e["input_shape"])), format_count(e["params"]), format_count(e["macs"]), e["description"])
    console().print(table)


@app.command()
@guarded
def schema(output: OutputOpt = None) -> None:
    """Print the JSON Schema of the spec format (for editor completion)."""
    import json

    from convcalc.spec.schema import spec_json_schema

    write_output(json.dumps(spec_json_schema(), indent=2) + "\n", output)


def _register_optional() -> None:
    from convcalc.cli.apply import apply_command
    from convcalc.cli.solve import solve_command

    app.command("solve", help="Inverse questions: which padding, which kernel/stride/padding, which input sizes.")(guarded(solve_command))
    app.command("apply", help="Hand-computed convolution and pooling on small matrices, step by step.")(guarded(apply_command))
    from convcalc.cli.check import check_command

    app.command("check", help="Check the expect: values and budget: entries of specs (CI guard, homework checker); exit 0 held, 1 failed, 2 could not run.")(guarded(check_command))
    from convcalc.cli.layer import explain_command, layer_command

    app.command("layer", help="One layer without a spec: shape, params, MACs, FLOPs, receptive field; --explain shows the formulas.")(guarded(layer_command))
    app.command("explain", help="Every formula of every layer of a spec, with the numbers substituted.")(guarded(explain_command))
    from convcalc.cli.compare import compare_command

    app.command("compare", help="Specs, built-in models or inline layers side by side: params, MACs, FLOPs, activation memory, exact ratios, savings.")(guarded(compare_command))
    from convcalc.cli.export import export_command

    app.command("export", help="Write a spec as a runnable PyTorch module (--to torch), one class per block.")(guarded(export_command))
    from convcalc.cli.exercises import exercises_command; app.command("exercises", help="A worksheet of random questions (output size, params, MACs, receptive field, padding, pooling, backward) and its answer key; `check` grades the answers.")(guarded(exercises_command))  # noqa: E702


@functools.cache
def _optional_commands() -> dict:
    """Register the optional commands once, on first need, and build their click commands."""
    _register_optional()
    return dict(typer.main.get_command(app).commands)


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
