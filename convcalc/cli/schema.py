"""``convcalc schema``: the JSON Schema of the spec format, or of one spec (its blocks by name)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from convcalc.cli._common import OutputOpt, load, write_output

__all__ = ["schema_command"]


def schema_command(
    spec: Annotated[Optional[str], typer.Argument(help="A spec (file, - or built-in model): the schema of this spec, which knows its blocks' names and parameters.", metavar="SPEC", show_default=False)] = None,
    output: OutputOpt = None,
) -> None:
    """Print the JSON Schema of the spec format (for editors: see the README's "Editors")."""
    from convcalc.spec.schema import schema_text, spec_json_schema

    write_output(schema_text(spec_json_schema(load(spec, check_layout=False) if spec is not None else None)), output, (spec,))
