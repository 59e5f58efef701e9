"""What a read spec document is made of, without the reader: the positions of its values
(:class:`Source`), the path type, and the reader's limits (``convcalc.spec._yaml``'s docstring).
Kept apart from the reader so that a spec read already (a built-in's stored reading,
``convcalc.spec._compiled``) needs no PyYAML."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from convcalc.arith.dims import MAX_INT
from convcalc.errors import Position

__all__ = ["MAX_DEPTH", "MAX_FILE_BYTES", "MAX_INT", "MAX_INT_CHARS", "MAX_NODES", "Path", "Source"]

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_NODES = 200_000  # values built, counting every expansion of an alias
MAX_DEPTH = 64
MAX_INT_CHARS = 64  # longer integer literals are refused unread (base-60 `1:2:3...` costs quadratic time)

Path = tuple[Any, ...]


@dataclass
class Source:
    """Positions of the values (and of the keys) of one YAML document, by path."""

    file: str
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def pos(self, path: Path, *, key: bool = False) -> Position:
        """Position of ``path``, or of its deepest ancestor that exists in the file."""
        path = tuple(path)
        while True:
            table = self.keys if key and path in self.keys else self.values
            if path in table:
                line, col = table[path]
                return Position(self.file, line, col)
            if not path:
                return Position(self.file, 1, 1)
            path = path[:-1]
            key = False
