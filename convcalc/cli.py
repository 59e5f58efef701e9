"""The command line. Commands compute data through the library; only this module prints and exits."""

from __future__ import annotations

import functools
import os
import re
import sys
import tempfile
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer

from .errors import EXIT_USAGE, ConvcalcError, UsageError

__all__ = ["app", "main"]

app = typer.Typer(
    name="convcalc",
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


class Layout(str, Enum):
    chw = "chw"
    hwc = "hwc"


class DType(str, Enum):
    float64 = "float64"
    float32 = "float32"
    float16 = "float16"
    bfloat16 = "bfloat16"
    int8 = "int8"


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
    """``3x224x224`` (or ``224x224x3`` with ``--layout hwc``); spatial sizes may be names
    (without an ``x`` in them: ``3xHxW``)."""
    if text is None:
        return None
    parts = [p.strip() for p in re.split(r"[x×,]", text)]
    dims: list[Any] = []
    for part in parts:
        if part.isdigit() and int(part) > 0:
            dims.append(int(part))
        elif part.isidentifier():
            dims.append(part)
        else:
            raise UsageError("usage-input", f"--input {text!r}: {part!r} is neither a positive size nor a symbol name", hint="e.g. --input 3x224x224 or 3xHxW")
    if not 1 <= len(dims) <= 4:
        raise UsageError("usage-input", f"--input {text!r}: give 1 to 4 sizes, channels first")
    if layout == Layout.hwc and len(dims) > 1:
        dims = dims[-1:] + dims[:-1]
    if isinstance(dims[0], str):
        raise UsageError("usage-input", f"--input {text!r}: the channel count must be a number")
    return tuple(dims)


def load(target: str):
    from .spec import load_spec
    from .zoo import read_source

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


def _report(spec_target: str, input_: Optional[str], batch: Optional[int], layout: Layout, dtype: DType):
    from .engine import analyze

    spec = load(spec_target)
    return analyze(spec, input_shape=parse_input(input_, layout), batch=batch, dtype=dtype.value)


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
    output: OutputOpt = None,
) -> None:
    """Layer-by-layer shapes, parameters, MACs, FLOPs, activations and receptive fields."""
    from . import render

    report = _report(spec, input_, batch, layout, dtype)
    if format_ == Format.json:
        write_output(render.render_json(report) + "\n", output)
    elif format_ == Format.csv:
        write_output(render.render_csv(report, layout.value), output)
    elif format_ == Format.markdown:
        write_output(render.render_markdown(report, depth, layout.value), output)
    elif output is not None:
        from rich.console import Console

        capture = Console(width=200, record=True, file=open(os.devnull, "w"), color_system=None)
        render.render_table(report, capture, depth, layout.value)
        write_output(capture.export_text(), output)
    else:
        render.render_table(report, console(), depth, layout.value)


@app.command()
@guarded
def models(
    format_: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.table,
) -> None:
    """List the built-in models with their parameters and MACs."""
    import json

    from .engine import analyze
    from .render import format_count
    from .zoo import builtin_names

    entries = []
    for name in builtin_names():
        report = analyze(load(name))
        first_line = (report.description or report.name).strip().splitlines()[0]
        entries.append({"name": name, "description": first_line, "input_shape": list(report.input_shape), "params": report.totals.params, "macs": report.totals.macs})
    if format_ == Format.json:
        print(json.dumps(entries, indent=2))
        return
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD)
    for column, justify in (("name", "left"), ("input", "left"), ("params", "right"), ("MACs", "right"), ("description", "left")):
        table.add_column(column, justify=justify)
    for e in entries:
        table.add_row(e["name"], "x".join(map(str, e["input_shape"])), format_count(e["params"]), format_count(e["macs"]), e["description"])
    console().print(table)


@app.command()
@guarded
def schema(output: OutputOpt = None) -> None:
    """Print the JSON Schema of the spec format (for editor completion)."""
    import json

    from .schema import spec_json_schema

    write_output(json.dumps(spec_json_schema(), indent=2) + "\n", output)


def _register_optional() -> None:
    from .cmd_apply import apply_command
    from .cmd_solve import solve_command

    app.command("solve", help="Inverse questions: which padding, which kernel/stride/padding, which input sizes.")(guarded(solve_command))
    app.command("apply", help="Hand-computed convolution and pooling on small matrices, step by step.")(guarded(apply_command))


_register_optional()


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
