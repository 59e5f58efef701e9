"""``convcalc exercises``: a worksheet of random, well-posed questions and its answer key (rules in
:mod:`convcalc.teach.exercises`); ``convcalc check answers.yaml`` grades the filled-in answers.

    convcalc exercises [--topic output-size|params|macs|receptive-field|padding|pooling|backward ...]
                       [--count 10] [--seed 1] [--key] [--format markdown|json] [-o FILE]
"""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from convcalc.cli._common import format_option
from convcalc.render.formats import Format, choose_format
from convcalc.teach.exercises import TOPICS, generate, render_key_markdown, render_markdown, to_json

__all__ = ["FORMATS", "Topic", "exercises_command"]

Topic = Enum("Topic", {name.replace("-", "_"): name for name in TOPICS}, type=str)  # type: ignore[misc]


FORMATS = (Format.markdown, Format.json)


def exercises_command(
    topic: Annotated[
        Optional[list[Topic]],
        typer.Option("--topic", "-t", help="A topic; repeat for several (default: all, in turn).", show_default=False),
    ] = None,
    count: Annotated[int, typer.Option("--count", "-n", help="How many questions.")] = 10,
    seed: Annotated[int, typer.Option("--seed", help="The same seed gives the same worksheet.")] = 1,
    key: Annotated[bool, typer.Option("--key", help="Print the answer key (answers and worked formulas) instead.")] = False,
    format_: Annotated[str, format_option(FORMATS)] = "markdown",
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write to this file (atomically) instead of stdout.")] = None,
) -> None:
    """A worksheet of random questions in the lecture notes' style; --key for its answer key.
    Fill in the answers file it ends with and grade it with `convcalc check answers.yaml`.
    """
    from convcalc.cli._common import write_output

    sheet = generate(tuple(t.value for t in topic or ()), count, seed)
    if choose_format(format_, FORMATS, "exercises") == Format.json:
        text = json.dumps(to_json(sheet, key), indent=2) + "\n"
    else:
        text = render_key_markdown(sheet) if key else render_markdown(sheet)
    write_output(text, output)
