"""``convcalc show NAME``: a built-in model's spec, exactly as shipped (``> my.yaml`` to start from it)."""

from __future__ import annotations

from typing import Annotated

import typer

from convcalc.cli._common import OutputOpt, write_output
from convcalc.errors import UsageError

__all__ = ["show_command"]


def show_command(
    name: Annotated[str, typer.Argument(help="A built-in model (see `convcalc models`).", metavar="MODEL", show_default=False)],
    output: OutputOpt = None,
) -> None:
    """Print a built-in model's spec, to read it or to start a spec from it."""
    from convcalc.spec import did_you_mean
    from convcalc.spec.zoo import builtin_names, specs_dir

    names = builtin_names()
    if name not in names:
        hint = did_you_mean(name, names) or "run `convcalc models` for the list"
        raise UsageError("usage-unknown-model", f"no built-in model named {name!r}", hint=hint)
    write_output((specs_dir() / f"{name}.yaml").read_text(encoding="utf-8"), output)
