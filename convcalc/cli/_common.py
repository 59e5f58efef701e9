"""What the commands share: the console, error handling, reading specs and sizes from the command
line, writing output, and the ``Annotated`` option types that several commands take.

Only the CLI prints and exits: :func:`guarded` turns convcalc's typed errors into one line on
stderr and the documented exit code.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import re
import signal
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Callable, Iterable, Iterator, NoReturn, Optional

import typer

from convcalc.arith.dims import is_count
from convcalc.cli._output import write_output
from convcalc.conventions import DType
from convcalc.errors import EXIT_PARTIAL, ConvcalcError, UsageError

__all__ = [
    "BatchOpt",
    "DTypeOpt",
    "InputOpt",
    "Layout",
    "LayoutOpt",
    "OutputOpt",
    "SpecArg",
    "WideOpt",
    "analyze_target",
    "console",
    "console_class",
    "emit_rich",
    "error_json",
    "fail",
    "format_option",
    "guarded",
    "keep_results",
    "load",
    "load_model",
    "one_stdin",
    "parse_input",
    "parse_shape",
    "parse_sweep",
    "parse_values",
    "progress",
    "reader_gone",
    "set_debug",
    "start_up",
    "started",
    "text_width",
    "tracked",
    "warn",
    "warn_layout",
    "warn_spec_layout",
    "write_output",
]

_state: dict[str, Any] = {"debug": bool(os.environ.get("CONVCALC_DEBUG")), "partial": None}
# what the commands analysed, held to the end of a process that leaves without freeing it
# (:func:`convcalc.cli.run`); None: freed as usual (the app run in-process, as tests run it)
_kept: dict[str, Optional[list]] = {"results": None}


class Layout(str, Enum):
    """How shapes are written: channels first as PyTorch (chw), or last as textbooks do (hwc)."""

    chw = "chw"
    hwc = "hwc"


# -- printing and errors -------------------------------------------------------------------------


def start_up() -> None:
    """Turn the collector off until a command runs (:func:`started`, called by :func:`guarded`):
    start-up (typer's parse, pydantic's schema machinery, the command's imports) makes tens of
    thousands of objects that live as long as the process and frees none, as the builder and the
    fold do."""
    if gc.isenabled():
        gc.disable()
        _state["starting"] = True


def started() -> None:
    """Start-up is over (the command runs, or none will): what it made is frozen (never walked
    again) and the collector is back on, as it was before :func:`start_up`."""
    if _state.pop("starting", False):
        gc.freeze()
        gc.enable()


def keep_results() -> None:
    """From now on, what :func:`analyze_target` returns lives as long as the process: one that
    leaves without freeing it (:func:`convcalc.cli.run`) need not free it when the command returns."""
    _kept["results"] = []


def set_debug(debug: bool) -> None:
    """Per run: the app may be invoked many times in one process (tests)."""
    _state["debug"] = debug or bool(os.environ.get("CONVCALC_DEBUG"))


def console(stderr: bool = False, wide: bool = False):
    """A rich console on stdout (or stderr) as wide as the terminal (or ``COLUMNS``); a file, a
    pipe or ``wide`` has no width (:data:`convcalc.render.fit.UNBOUNDED`: tables in full)."""
    from convcalc.render.fit import UNBOUNDED

    stream = sys.stderr if stderr else sys.stdout
    unbounded = wide or (not stream.isatty() and "COLUMNS" not in os.environ)
    return console_class()(stderr=stderr, highlight=False, width=UNBOUNDED if unbounded else None)


@functools.cache
def console_class():
    """rich's Console, but a reader that stops reading ends the run as :func:`reader_gone` says
    (rich's own way exits 1, which is ``check``'s "failed")."""
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            reader_gone()

    return _Console


def reader_gone() -> NoReturn:
    """stdout's reader has stopped reading (``convcalc summary resnet50 | head``): stop without a
    word, as cat and grep do, killed by SIGPIPE (the shell shows 141), so that a pipeline under
    ``set -o pipefail`` never takes a cut output for a success. Where there is no SIGPIPE
    (Windows), exit 2."""
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # what is still buffered goes nowhere
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGPIPE)
    raise typer.Exit(2)


def _stdout_gone() -> bool:
    """Whether stdout is a pipe (or terminal) whose reader has gone: a broken pipe elsewhere (a
    child process's) is an error like any other."""
    try:
        import select

        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))
    except (AttributeError, OSError, ValueError):  # no poll (Windows), no descriptor (a test's capture)
        return False


def text_width(stderr: bool = False) -> Optional[int]:
    """The terminal's width (or ``COLUMNS``) for text that wraps at words; ``None`` for a file or
    a pipe, where every line stays whole for the programs that read it."""
    import shutil

    stream = sys.stderr if stderr else sys.stdout
    if not stream.isatty() and "COLUMNS" not in os.environ:
        return None
    return shutil.get_terminal_size().columns


PROGRESS_DELAY = 0.5  # seconds before a bar appears: a quick command never flashes one


@contextlib.contextmanager
def progress(description: str, total: Optional[int] = None) -> Iterator[Callable[..., None]]:
    """A rich progress bar (a spinner when ``total`` is unknown) on stderr while the block runs,
    when stderr is a terminal, from :data:`PROGRESS_DELAY` on; nothing otherwise (a pipe, a file,
    CI), so stdout (JSON, tables) is never touched. Yields ``advance(steps=1, description=None)``."""
    if not sys.stderr.isatty():
        yield lambda steps=1, description=None: None
        return
    import threading

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = [SpinnerColumn(), TextColumn("{task.description}")]
    if total is not None:
        columns += [BarColumn(), MofNCompleteColumn()]
    bar = Progress(*columns, TimeElapsedColumn(), console=Console(stderr=True), transient=True)
    task = bar.add_task(description, total=total)
    lock = threading.Lock()
    state = {"done": False}

    def start() -> None:
        with lock:
            if not state["done"]:
                bar.start()

    timer = threading.Timer(PROGRESS_DELAY, start)
    timer.daemon = True
    timer.start()

    def advance(steps: int = 1, description: Optional[str] = None) -> None:
        bar.update(task, advance=steps, **({"description": description} if description else {}))

    try:
        yield advance
    finally:
        timer.cancel()
        with lock:
            state["done"] = True
            bar.stop()


def tracked(items: Iterable[Any], description: str, label: Callable[[Any], str] = str) -> Iterator[Any]:
    """``items``, one by one, under a :func:`progress` bar that names the current one."""
    items = list(items)
    with progress(description, total=len(items)) as advance:
        for item in items:
            advance(0, f"{description} {label(item)}")
            yield item
            advance()


def warn(code: str, message: str, pos: Any = None, hint: Optional[str] = None) -> None:
    """One line on stderr, as an error is written: ``path:line:col: warning[code]: message (hint)``."""
    print(f"{pos or 'convcalc'}: warning[{code}]: {message}" + (f" ({hint})" if hint else ""), file=sys.stderr)


def warn_layout(what: str, dims: tuple, layout: Layout, pos: Any = None, *, fix: Optional[str] = None, as_list: bool = False) -> None:
    """Warn when ``dims`` (as written, in ``layout``) look written in the other layout
    (:mod:`convcalc.spec.layout`). The hint writes them swapped (``3x224x224``, or as a YAML list
    ``[3, 224, 224]``), then ``fix``, another way out."""
    from convcalc.spec.layout import looks_other_layout, read_as, swap_layout

    if looks_other_layout(dims, layout.value):
        swapped = swap_layout(dims, layout.value)
        written = f"[{', '.join(map(str, swapped))}]" if as_list else "x".join(map(str, swapped))
        warn("input-layout", f"{what} is {read_as(dims, layout.value)}", pos, f"write {written}" + (f", or {fix}" if fix else ""))


def fail(error: ConvcalcError, as_json: bool = False) -> typer.Exit:
    """The error's line on stderr; with ``as_json`` (``--format json``) its JSON object on stdout too."""
    print(error.render(), file=sys.stderr)
    if as_json:
        sys.stdout.write(error_json(error))
    return typer.Exit(error.exit_code)


def error_json(error: ConvcalcError) -> str:
    """What a command asked for JSON prints on stdout when it fails, in place of its report, one
    entry per fault (a file with three mistakes has three)::

        {"schema_version": 1, "exit_code": 1,
         "errors": [{"code": "spec-unknown-kind", "message": "unknown layer kind 'conv2'",
                     "file": "net.yaml", "line": 6, "col": 5, "hint": "did you mean 'conv2d'?"}]}

    ``file``, ``line``, ``col`` and ``hint`` are null when the error has none, as ``check``'s are.
    """
    import json

    from convcalc.report import SCHEMA_VERSION

    entries = [
        {
            "code": one.code, "message": one.message, "file": one.pos.file if one.pos else None,
            "line": one.pos.line if one.pos else None, "col": one.pos.col if one.pos else None, "hint": one.hint,
        }
        for one in getattr(error, "errors", [error])  # SpecErrors: every fault of a file
    ]
    return json.dumps({"schema_version": SCHEMA_VERSION, "exit_code": error.exit_code, "errors": entries}, indent=2) + "\n"


def _wants_json(kwargs: dict[str, Any]) -> bool:
    """Whether the command was asked for ``--format json`` (its ``format_``, read as
    :func:`convcalc.render.formats.choose_format` reads it)."""
    value = kwargs.get("format_")
    return isinstance(value, str) and value.strip().lower() == "json"


def guarded(fn: Callable) -> Callable:
    """Turn convcalc's errors into one line and an exit code (and, under ``--format json``, a JSON
    error object on stdout); anything else is an internal error."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        started()
        _state["partial"] = None
        try:
            result = fn(*args, **kwargs)
            sys.stdout.flush()  # here, where a reader that has gone is seen, not in the exit's own flush
            if _state["partial"]:  # an imported model with operations convcalc has no kind for: said, and exit 3
                print(f"convcalc: warning[import-partial]: {_state['partial']}", file=sys.stderr)
                raise typer.Exit(EXIT_PARTIAL)
            return result
        except BrokenPipeError as exc:
            if not _stdout_gone():
                raise _internal(exc, kwargs) from None
            reader_gone()
        except ConvcalcError as exc:
            if _state["debug"]:
                raise
            raise fail(exc, _wants_json(kwargs)) from None
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:  # an internal error: report it, never a traceback unless --debug
            raise _internal(exc, kwargs) from None

    return wrapper


def _internal(exc: BaseException, kwargs: dict[str, Any]) -> typer.Exit:
    """An error convcalc did not expect: one line and exit 2 (the traceback with ``--debug``)."""
    if _state["debug"]:
        raise exc
    return fail(UsageError("internal", f"{type(exc).__name__}: {exc}", hint="run with --debug for the traceback"), _wants_json(kwargs))


def emit_rich(draw: Callable[[Any], None], output: Optional[Path], after: str = "", wide: bool = False, inputs: Iterable = ()) -> None:
    """Draw rich output (a table) on the terminal, fitted to its width unless ``wide``, or in
    full as plain text into ``output`` (never one of ``inputs``); ``after`` is text printed below it."""
    if output is None:
        draw(console(wide=wide))
        width = None if wide else text_width()
        if width is not None and after:  # the lines under the table break at words, as check's do
            from convcalc.render.fit import wrap_words

            lines = after.rstrip("\n").split("\n")
            after = "".join(part + "\n" for line in lines
                            for part in wrap_words(line.lstrip(" "), width, indent=line[: len(line) - len(line.lstrip(" "))]))
        sys.stdout.write(after)
        return
    from rich.console import Console

    from convcalc.render.fit import UNBOUNDED

    with open(os.devnull, "w") as sink:
        capture = Console(width=UNBOUNDED, record=True, file=sink, color_system=None)
        draw(capture)
    write_output(capture.export_text() + after, output, inputs)


# -- reading the command line --------------------------------------------------------------------


def load(target: str, input_shape: Optional[tuple] = None, *, check_layout: bool = True):
    """A spec file, ``-`` (standard input) or a built-in model's name, loaded (with
    ``check_layout``, a warning when its ``input:`` looks channels last); an ONNX file
    (``model.onnx``) or a PyTorch model (``FILE.py:FACTORY``, which needs ``input_shape``) as its
    graph, built at ``input_shape`` when it is given."""
    from convcalc.interop._targets import is_factory, is_onnx_path

    if is_onnx_path(target) or is_factory(target) and not Path(target).exists():
        return load_model(target, input_shape)
    from convcalc.spec import load_spec
    from convcalc.spec.zoo import read_source

    text, shown = read_source(target)
    spec = load_spec(text, shown)
    if check_layout:
        warn_spec_layout(spec)
    return spec


def warn_spec_layout(spec) -> None:
    """Warn, at ``input:``, when a spec's input looks channels last."""
    warn_layout(f"input [{', '.join(map(str, spec.input))}]", spec.input, Layout.chw, spec.pos(("input",)), as_list=True)


def load_model(target: str, input_shape: Optional[tuple] = None):
    """The graph of an ONNX file or a PyTorch factory; remembers, for the exit code, whether it has
    operations convcalc has no kind for."""
    from convcalc.interop._imported import partial_message
    from convcalc.interop.onnx_import import is_onnx_path, load_onnx

    if is_onnx_path(target):
        graph = load_onnx(target, input_shape=input_shape)
    else:
        from convcalc.interop.torch_import import import_torch

        if input_shape is None:
            raise UsageError("usage-input", f"{target}: a PyTorch model is traced at an input size: give --input, e.g. --input 3x224x224")
        graph = import_torch(target, input_shape)
    _state["partial"] = _state["partial"] or partial_message(graph)
    return graph


def one_stdin(targets: list[str]) -> None:
    """Standard input can be read once: ``-`` may be given once."""
    from convcalc.spec.zoo import STDIN

    if targets.count(STDIN) > 1:
        raise UsageError("usage-stdin", f"'{STDIN}' (standard input) is given {targets.count(STDIN)} times; it can be read once")


def parse_shape(text: str, layout: Layout, example: str, axes: str = "channels first") -> tuple:
    """``3x224x224`` (chw) or ``224x224x3`` (hwc) -> a channels-first tuple; a warning when it
    looks written in the other layout.

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
    warn_layout(f"--input {text}", tuple(dims), layout, fix="drop --layout hwc" if layout == Layout.hwc else "add --layout hwc")
    if layout == Layout.hwc and len(dims) > 1:
        dims = dims[-1:] + dims[:-1]
    if isinstance(dims[0], str):
        other = "channels first: --layout chw" if layout == Layout.hwc else "--layout hwc for channels last"
        raise UsageError("usage-input", f"--input {text!r}: the channel count must be a number", hint=f"{axes}; {other}")
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
        if name.strip() in values:
            raise UsageError("usage-set", f"{option} {text!r}: {name.strip()} is given twice", hint="give each symbol one size")
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
    """(spec, report) of a spec named on the command line (or loaded with ``check_layout=False``),
    at ``--input`` if given, with its top-level ``params`` given other values; ``symbolic``
    replaces integer spatial sizes by symbols (``--sweep`` substitutes them). Without ``--input``,
    a warning when the spec's input looks channels last."""
    from convcalc.engine import analyze
    from convcalc.graph.model import Graph

    with progress(f"analysing {target}"):
        given = parse_input(input_, layout)
        if symbolic and given is not None and all(isinstance(d, int) for d in given[1:]):
            from convcalc.kinds._window import axis_names

            given = (given[0], *axis_names(len(given) - 1))
        # a model is traced (an ONNX file read) at the size asked for
        spec = load(target, given, check_layout=False) if isinstance(target, str) else target
        if params:
            spec = spec.with_params(params)
        if input_ is None and not isinstance(spec, Graph):
            warn_spec_layout(spec)
        shape = given or (spec.input_shape if isinstance(spec, Graph) else spec.input)
        if symbolic and all(isinstance(d, int) for d in shape[1:]):
            from convcalc.kinds._window import axis_names

            shape = (shape[0], *axis_names(len(shape) - 1))
        analysed = spec, analyze(spec, input_shape=shape, batch=batch, dtype=dtype.value)
        if _kept["results"] is not None:
            _kept["results"].append(analysed)
        return analysed


# -- option types --------------------------------------------------------------------------------


def format_option(formats: tuple, help: str = "Output format.", short: bool = True) -> Any:
    """``--format/-f`` (``-f`` left out where a command gives it another meaning), showing and
    completing only the formats the command supports; the command resolves the value with
    :func:`convcalc.render.formats.choose_format`."""
    names = [f.value for f in formats]
    return typer.Option("--format", *(("-f",) if short else ()), metavar="<" + "|".join(names) + ">", help=help, autocompletion=lambda: names)


SpecArg = Annotated[str, typer.Argument(help="A spec file, - for standard input, the name of a built-in model (see `convcalc models`), an ONNX file (model.onnx) or a PyTorch model (FILE.py:FACTORY, with --input).", metavar="SPEC_OR_MODEL", show_default=False)]
InputOpt = Annotated[Optional[str], typer.Option("--input", "-i", help="Input shape, channels first: 3x224x224 (224x224x3 with --layout hwc; sizes may be symbols: 3xHxW).")]
BatchOpt = Annotated[Optional[int], typer.Option("--batch", "-b", min=1, help="Batch size, for memory.")]
LayoutOpt = Annotated[Layout, typer.Option("--layout", help="Read --input and print shapes channels first (chw, as PyTorch) or last (hwc, as textbooks).")]
DTypeOpt = Annotated[DType, typer.Option("--dtype", help="Element type, for memory.")]
WideOpt = Annotated[bool, typer.Option("--wide", help="Every column, counts exact, however wide the terminal (files and pipes always get this).")]
OutputOpt = Annotated[Optional[Path], typer.Option("--output", "-o", help="Write to this file (atomically) instead of stdout.")]
