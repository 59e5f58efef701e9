"""The command line: the typer app, its commands (one module each, imported when asked for) and ``main``.

What the commands share is in :mod:`convcalc.cli._common`; each command parses its arguments,
calls the library and renders the result (:mod:`convcalc.render`).
"""

from __future__ import annotations

import atexit
import functools
import importlib
import os
import sys
from typing import Annotated, Any, NoReturn, Optional

import typer
from typer.core import TyperCommand, TyperGroup, TyperOption

from convcalc.cli._common import console_class, guarded, keep_results, reader_gone, set_debug, start_up, started

__all__ = ["COMMANDS", "app", "main", "run"]

# name -> (module in convcalc.cli, function, help; None: the function's docstring), in --help order
COMMANDS: dict[str, tuple[str, str, Optional[str]]] = {
    "summary": ("summary", "summary_command", None),
    "rf": ("rf", "rf_command", None),
    "sizes": ("sizes", "sizes_command", None),
    "sweep": ("sweep", "sweep_command", None),
    "models": ("models", "models_command", None),
    "kinds": ("kinds", "kinds_command", None),
    "show": ("show", "show_command", None),
    "schema": ("schema", "schema_command", None),
    "solve": ("solve", "solve_command", "Inverse questions: which padding, which kernel/stride/padding, which input sizes."),
    "apply": ("apply", "apply_command", "Hand-computed convolution and pooling on small matrices, step by step."),
    "check": ("check", "check_command", "Check the expect: values and budget: entries of specs (CI guard, homework checker); exit 0 held, 1 failed, 2 could not run."),
    "layer": ("layer", "layer_command", "One layer without a spec: shape, params, MACs, FLOPs, receptive field; --explain shows the formulas."),
    "explain": ("layer", "explain_command", "Every formula of every layer of a spec, with the numbers substituted."),
    "compare": ("compare", "compare_command", "Specs, built-in models or inline layers side by side: params, MACs, FLOPs, activation memory, ratios, savings."),
    "export": ("export", "export_command", "Write a spec as a runnable PyTorch module (--to torch), one class per block."),
    "graph": ("graph", "graph_command", None),
    "import": ("import_", "import_command", "Write an ONNX file (model.onnx) or a PyTorch model (FILE.py:FACTORY) as a spec: its rows, its repeated modules as blocks."),
    "exercises": ("exercises", "exercises_command", "A worksheet of random questions (output size, params, MACs, receptive field, padding, pooling, backward) and its answer key; `check` grades the answers."),
}


def _help_console() -> None:
    """typer prints help on a console of ``typer.rich_utils.Console``: make it convcalc's class,
    so that ``convcalc --help | head`` ends as a command's output to a reader that has gone does
    (:func:`reader_gone`), not with rich's exit 1. Here, not at import: ``typer.rich_utils`` is
    imported only when help is printed."""
    from typer import rich_utils

    rich_utils.Console = console_class()


def _flags_as_flags(command, ctx) -> None:
    """A boolean flag takes no value: show no ``<bool>`` type beside it in ``--help``."""
    for param in command.get_params(ctx):
        if isinstance(param, TyperOption) and param.is_flag and param.metavar is None:
            param.metavar = ""


class _WhenGiven:
    """A parameter's conversion, built when a value comes. typer converts each value with a pydantic
    TypeAdapter that it builds on the parameter's first use (~0.3 ms each), left-out options
    included; their value is None, which converts to None."""

    def coerce(self, value, param, ctx):
        if value is None and not (param.multiple or param.nargs == -1):
            return None  # what typer's own conversion gives
        param._runtime_param = None
        return param.get_runtime_param().coerce(value, param=param, ctx=ctx)


def _convert_when_given(command, ctx) -> None:
    for param in command.get_params(ctx):
        if getattr(param, "_runtime_param", False) is None:  # typer's, not built yet
            param._runtime_param = _WhenGiven()


class _Command(TyperCommand):
    def parse_args(self, ctx, args):
        _convert_when_given(self, ctx)
        return super().parse_args(ctx, args)

    def format_help(self, ctx, formatter) -> None:
        _flags_as_flags(self, ctx)
        _help_console()
        super().format_help(ctx, formatter)


class _LazyGroup(TyperGroup):
    """Imports a command's module when the command is asked for (all of them to list them).

    ``convcalc summary`` should cost little more than starting Python: the other commands' modules
    (and what they import: the hand calculator, the checker, the exporter ...) load only when needed.
    """

    def get_command(self, ctx, cmd_name):
        if cmd_name not in self.commands:
            for name in (cmd_name,) if cmd_name in COMMANDS else COMMANDS:  # a typo: load all, for "did you mean"
                self.commands.setdefault(name, _click_command(name))
        return super().get_command(ctx, cmd_name)

    def parse_args(self, ctx, args):
        _convert_when_given(self, ctx)
        return super().parse_args(ctx, args)

    def list_commands(self, ctx):
        for name in COMMANDS:
            self.get_command(ctx, name)
        return [name for name in COMMANDS if name in self.commands]

    def format_help(self, ctx, formatter) -> None:
        _flags_as_flags(self, ctx)
        _help_console()
        super().format_help(ctx, formatter)


app = typer.Typer(
    name="convcalc",
    cls=_LazyGroup,
    help="Exact shapes, parameters, MACs, FLOPs, memory and receptive fields of CNN architectures.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@functools.cache
def _click_command(name: str):
    module, function, help_text = COMMANDS[name]
    callback = getattr(importlib.import_module(f"convcalc.cli.{module}"), function)
    info = typer.models.CommandInfo(name=name, cls=_Command, callback=guarded(callback), help=help_text)
    return typer.main.get_command_from_info(info, pretty_exceptions_short=app.pretty_exceptions_short, rich_markup_mode=app.rich_markup_mode)


def _print_version(value: bool) -> None:
    if value:
        from convcalc import __version__

        typer.echo(f"convcalc {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show Python tracebacks (for developers).")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print convcalc's version and exit.")] = False,
) -> None:
    set_debug(debug)


def main() -> None:
    """The app on ``sys.argv``, ending in ``SystemExit`` as typer's apps do."""
    start_up()
    try:
        app(prog_name="convcalc")  # also under `python -m convcalc`: the same usage lines and completion
    finally:
        started()  # --help, --version or a usage error: no command ran


def run() -> NoReturn:
    """The console script and ``python -m convcalc``: :func:`main`, then out of the process without
    freeing what the run made, object by object (a 100,000-layer report is millions of objects;
    mypy leaves the same way). The standard streams are flushed and the ``atexit`` functions run
    first; an exception other than ``SystemExit`` (``--debug``, Ctrl-C) leaves as usual."""
    keep_results()
    try:
        main()
        code: Any = 0
    except SystemExit as exc:
        code = exc.code
    if code is not None and not isinstance(code, int):  # SystemExit("message"): as Python ends it
        print(code, file=sys.stderr)
        code = 1
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        reader_gone()
    sys.stderr.flush()
    atexit._run_exitfuncs()
    os._exit(code or 0)


if __name__ == "__main__":  # pragma: no cover
    run()
