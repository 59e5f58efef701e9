"""GitHub workflow commands: ``::error file=F,line=L,col=C,title=T::message``, which the Actions
runner turns into annotations on the pull request.

Values are escaped as GitHub's toolkit escapes them (``actions/toolkit``, ``command.ts``):
``%``, ``\\r`` and ``\\n`` everywhere, and also ``:`` and ``,`` in properties.
"""

from __future__ import annotations

from typing import Optional

from convcalc.errors import Position

__all__ = ["LEVELS", "annotation", "escape_data", "escape_property"]

LEVELS = ("error", "warning", "notice")


def escape_data(text: str) -> str:
    """Workflow command message escaping (actions/toolkit ``escapeData``)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Workflow command property escaping (actions/toolkit ``escapeProperty``)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(level: str, message: str, file: str, pos: Optional[Position], title: str) -> str:
    """One workflow command; ``pos`` (when there is one) gives the file, line and column."""
    if level not in LEVELS:
        level = "notice"
    properties = [f"file={escape_property(pos.file if pos else file)}"]
    if pos:
        properties += [f"line={pos.line}", f"col={pos.col}"]
    properties.append(f"title={escape_property(title)}")
    return f"::{level} {','.join(properties)}::{escape_data(message)}"
