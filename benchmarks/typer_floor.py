"""A typer app with the options of ``convcalc summary`` and an empty body: what typer alone costs.

The import floor (``import typer, rich, pydantic, yaml``) does not parse a command line. Parsing
one costs more: typer builds a pydantic ``TypeAdapter`` per option it converts, which imports
pydantic's model machinery and ``importlib.metadata``. This app measures that share, so that the
start-up table can tell typer's part from convcalc's.

    python benchmarks/typer_floor.py summary resnet50 --format json
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


class DType(str, Enum):
    float32 = "float32"
    float16 = "float16"


@app.callback()
def _root(debug: Annotated[bool, typer.Option("--debug")] = False) -> None:
    """Parse the root options, as convcalc's callback does."""


@app.command()
def summary(
    spec: str,
    input_: Annotated[Optional[str], typer.Option("--input", "-i")] = None,
    batch: Annotated[Optional[int], typer.Option("--batch", "-b", min=1)] = None,
    format_: Annotated[Format, typer.Option("--format", "-f")] = Format.table,
    depth: Annotated[Optional[int], typer.Option("--depth", "-d", min=1)] = None,
    dtype: Annotated[DType, typer.Option("--dtype")] = DType.float32,
    exact: Annotated[bool, typer.Option("--exact")] = False,
    output: Annotated[Optional[Path], typer.Option("--output", "-o")] = None,
) -> None:
    """Parse the options and do nothing."""


@app.command()
def models() -> None:
    """A second command, so that typer builds a group as convcalc's does."""


if __name__ == "__main__":
    app()
