"""What the commands share: the console, error handling, reading specs and sizes from the command
line, writing output, and the ``Annotated`` option types that several commands take.

Only the CLI prints and exits: :func:`guarded` turns convcalc's typed errors into one line on
stderr and the documented exit code.
"""

from __future__ import annotations

import functools
import os
import re
import sys
import tempfile
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Callable, Iterable, Optional, Union

import typer

from convcalc.arith.dims import is_count
from convcalc.conventions import DType
from convcalc.errors import EXIT_USAGE, ConvcalcError, UsageError

__all__ = [
    "BatchOpt",
    "DTypeOpt",
    "InputOpt",
    "Layout",
    "LayoutOpt",
    "OutputOpt",
    "SpecArg",
    "analyze_target",
    "console",
    "emit_rich",
    "fail",
    "format_option",
    "guarded",
    "load",
    "one_stdin",
    "parse_input",
    "parse_shape",
    "parse_sweep",
    "parse_values",
    "set_debug",
    "write_output",
]

_state = {"debug": bool(os.environ.get("CONVCALC_DEBUG"))}


class Layout(str, Enum):
    """How shapes are written: channels first as PyTorch (chw), or last as textbooks do (hwc)."""

    chw = "chw"
    hwc = "hwc"


# -- printing and errors -------------------------------------------------------------------------


def set_debug(debug: bool) -> None:
    """Per run: the app may be invoked many times in one process (tests)."""
    _state["debug"] = debug or bool(os.environ.get("CONVCALC_DEBUG"))


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


def write_output(text: Union[str, Iterable[str]], output: Optional[Path]) -> None:
    """Print, or write the file atomically: a temp file in the same folder, then a rename.
    ``text`` may come in pieces (a large JSON report), written as they come."""
    chunks = (text,) if isinstance(text, str) else text
    if output is None:
        for chunk in chunks:
            sys.stdout.write(chunk)
        return
    folder = output.resolve().parent
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{output.name}.", suffix=".tmp")
    except OSError as exc:
        raise UsageError("io-write", f"{output}: cannot write there ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            for chunk in chunks:
                handle.write(chunk)
        os.replace(tmp, output)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def emit_rich(draw: Callable[[Any], None], output: Optional[Path], after: str = "") -> None:
    """Draw rich output (a table) on the terminal, or as plain text into ``output``; ``after`` is
    text printed below it."""
    if output is None:
        draw(console())
        sys.stdout.write(after)
        return
    from rich.console import Console

    with open(os.devnull, "w") as sink:
        capture = Console(width=200, record=True, file=sink, color_system=None)
        draw(capture)
    write_output(capture.export_text() + after, output)


# -- reading the command line --------------------------------------------------------------------


def load(target: str):
    """A spec file, ``-`` (standard input) or a built-in model's name, loaded."""
    from convcalc.spec import load_spec
    from convcalc.spec.zoo import read_source

    text, shown = read_source(target)
    return load_spec(text, shown)


def one_stdin(targets: list[str]) -> None:
    """Standard input can be read once: ``-`` may be given once."""
    from convcalc.spec.zoo import STDIN

    if targets.count(STDIN) > 1:
        raise UsageError("usage-stdin", f"'{STDIN}' (standard input) is given {targets.count(STDIN)} times; it can be read once")


def parse_shape(text: str, layout: Layout, example: str, axes: str = "channels first") -> tuple:
    """``3x224x224`` (chw) or ``224x224x3`` (hwc) -> a channels-first tuple.

    Spatial sizes may be symbol names without an ``x`` in them (``3xHxW``); the channel count
    may not.
    """
    parts = [p.strip() for p in re.split(r"[x×,]", text)]
    dims: list[Any] = []
    for part in parts:
        if is_count(part) and int(part) > 0:
            dims.append(int(part))
        elif part.isidentifier():
            dims.append(part)
        else:
            raise UsageError("usage-input", f"--input {text!r}: {part!r} is neither a positive size nor a symbol name", hint=f"e.g. --input {example}")
    if not 1 <= len(dims) <= 4:
        raise UsageError("usage-input", f"--input {text!r}: give 1 to 4 sizes, {axes}")
    if layout == Layout.hwc and len(dims) > 1:
        dims = dims[-1:] + dims[:-1]
    if isinstance(dims[0], str):
        raise UsageError("usage-input", f"--input {text!r}: the channel count must be a number")
    return tuple(dims)


def parse_input(text: Optional[str], layout: Layout) -> Optional[tuple]:
    """``3x224x224`` (or ``224x224x3`` with ``--layout hwc``); spatial sizes may be symbols (``3xHxW``)."""
    return None if text is None else parse_shape(text, layout, "3x224x224 or 3xHxW")


def parse_values(text: Optional[str], option: str) -> dict[str, int]:
    """``H=224,W=224`` -> {"H": 224, "W": 224}."""
    values: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        name, _, value = part.partition("=")
        if not name.strip().isidentifier() or not is_count(value) or int(value) < 1:
            raise UsageError("usage-set", f"{option} {text!r}: write NAME=SIZE pairs, e.g. {option} H=224,W=224")
        values[name.strip()] = int(value)
    return values


def parse_param(text: str) -> Any:
    """A parameter's value on the command line: an int, a float, true / false, or a word."""
    text = text.strip()
    if re.fullmatch(r"[+-]?\d{1,15}", text):
        return int(text)
    if re.fullmatch(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d{1,3})?", text):
        return float(text)
    return {"true": True, "false": False}.get(text, text)


def split_set(text: Optional[str], spec) -> tuple[dict[str, Any], dict[str, int]]:
    """``--set``: the spec's parameters (``width_mult=2.0``) and sizes for its symbols (``H=224``)."""
    params: dict[str, Any] = {}
    sizes: list[str] = []
    seen: set[str] = set()
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise UsageError("usage-set", f"--set {text!r}: write NAME=VALUE pairs, e.g. --set H=224,W=224 or --set width_mult=2.0")
        if name in seen:
            raise UsageError("usage-set", f"--set {text!r}: {name} is given twice")
        seen.add(name)
        if name in spec.params:
            params[name] = parse_param(value)
        else:
            sizes.append(part)
    return params, parse_values(",".join(sizes), "--set")


def parse_sweep(text: str) -> tuple[str, list[int]]:
    """``H=224,256,320`` -> ("H", [224, 256, 320])."""
    name, _, values = text.partition("=")
    sizes = [v.strip() for v in values.split(",") if v.strip()]
    if not name.strip().isidentifier() or not sizes or not all(is_count(v) and int(v) > 0 for v in sizes):
        raise UsageError("usage-sweep", f"--sweep {text!r}: write NAME=SIZE,SIZE,..., e.g. --sweep H=224,256,320")
    return name.strip(), [int(v) for v in sizes]


def analyze_target(target: str, input_: Optional[str], batch: Optional[int], layout: Layout, dtype: DType, symbolic: bool = False,
                   params: Optional[dict[str, Any]] = None):
    """(spec, report) of a spec named on the command line, at ``--input`` if given, with its
    top-level ``params`` given other values; ``symbolic`` replaces integer spatial sizes by
    symbols (``--sweep`` substitutes them)."""
    from convcalc.engine import analyze

    spec = load(target) if isinstance(target, str) else target
    if params:
        spec = spec.with_params(params)
    shape = parse_input(input_, layout) or spec.input
    if symbolic and all(isinstance(d, int) for d in shape[1:]):
        from convcalc.kinds._window import axis_names

        shape = (shape[0], *axis_names(len(shape) - 1))
    return spec, analyze(spec, input_shape=shape, batch=batch, dtype=dtype.value)


# -- option types --------------------------------------------------------------------------------


def format_option(formats: tuple, help: str = "Output format.") -> Any:
    """``--format/-f``, showing and completing only the formats the command supports; the
    command resolves the value with :func:`convcalc.render.formats.choose_format`."""
    names = [f.value for f in formats]
    return typer.Option("--format", "-f", metavar="<" + "|".join(names) + ">", help=help, autocompletion=lambda: names)


SpecArg = Annotated[str, typer.Argument(help="A spec file, - for standard input, or the name of a built-in model (see `convcalc models`).", metavar="SPEC_OR_MODEL", show_default=False)]
InputOpt = Annotated[Optional[str], typer.Option("--input", "-i", help="Input shape, channels first: 3x224x224 (sizes may be symbols: 3xHxW).")]
BatchOpt = Annotated[Optional[int], typer.Option("--batch", "-b", min=1, help="Batch size, for memory.")]
LayoutOpt = Annotated[Layout, typer.Option("--layout", help="Print shapes channels first (chw) or last, as textbooks do (hwc).")]
DTypeOpt = Annotated[DType, typer.Option("--dtype", help="Element type, for memory.")]
OutputOpt = Annotated[Optional[Path], typer.Option("--output", "-o", help="Write to this file (atomically) instead of stdout.")]
