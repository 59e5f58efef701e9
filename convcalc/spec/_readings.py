"""The built-in specs as read: each ``specs/NAME.yaml`` is also stored as convcalc's YAML reader
reads it (``specs/_read/NAME.json``: the document's text, its value and the positions of its
values and keys), so that naming a built-in costs neither PyYAML's import nor its parse (about a
tenth of ``convcalc summary resnet50``'s whole process).

A stored reading is used only for the very text it was made from: a spec edited since is read from
its YAML, as any file is. ``python -m convcalc.spec._write_readings`` writes them again; a test
fails while one is not current.

The file: ``{"text": ..., "value": ..., "paths": [[parent, key], ...], "values": [[path, line,
col], ...], "keys": [...]}``. Path 0 is the document's root; path ``i`` is path ``parent``'s
``key`` (a mapping's key or a list's index), its parent listed before it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Optional

from convcalc.spec._source import Source

__all__ = ["READ_DIR", "decoded", "specs_dir", "stored_reading"]

READ_DIR = "_read"  # below the specs' directory
_BUILTIN_NAME = re.compile(r"[A-Za-z0-9_]+\.yaml")  # how read_source names a built-in's text


def specs_dir() -> Path:
    """``convcalc/specs`` in an installed wheel; the repository's ``specs/`` in a checkout."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "specs", package.parent / "specs"):
        if candidate.is_dir():
            return candidate
    return package / "specs"  # pragma: no cover - a broken install


def stored_reading(text: str, file: str) -> Optional[tuple[Any, Source]]:
    """The value and positions of ``text`` (named ``file``) as the reader gives them, when it is a
    built-in's text, stored; else None (read it)."""
    if not _BUILTIN_NAME.fullmatch(file):
        return None
    try:
        with open(specs_dir() / READ_DIR / f"{file[:-5]}.json", encoding="utf-8") as handle:
            stored = json.load(handle)
    except (OSError, ValueError):
        return None
    if not isinstance(stored, dict) or stored.get("text") != text:
        return None
    return decoded(stored, file)


def decoded(stored: dict, file: str) -> tuple[Any, Source]:
    """A stored reading's value and its :class:`Source`."""
    paths: list[tuple] = [()]
    for parent, key in stored["paths"]:
        paths.append((*paths[parent], key))
    values = {paths[i]: (line, col) for i, line, col in stored["values"]}
    keys = {paths[i]: (line, col) for i, line, col in stored["keys"]}
    return stored["value"], Source(file, values, keys)
