"""Typed errors. The library raises them; only the CLI renders them and picks the exit code.

Every error carries a stable ``code`` (for programs) and a ``message`` (for people), and, when it
comes from a spec, the source position of the YAML node that is wrong.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Iterator

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_PARTIAL",
    "EXIT_USAGE",
    "ConvcalcError",
    "LayerError",
    "SpecErrors",
    "Position",
    "SpecError",
    "UsageError",
    "quote_path",
    "read_errors",
]

EXIT_OK = 0
EXIT_FAILED = 1  # the thing being checked is wrong: invalid spec, failed expectation or budget
EXIT_USAGE = 2  # convcalc could not do its job: bad usage, unreadable path, internal error
EXIT_PARTIAL = 3  # the report was written but is incomplete: an imported model has operations convcalc has no kind for


@dataclass(frozen=True)
class Position:
    """A 1-based source position in a spec file."""

    file: str
    line: int = 1
    col: int = 1

    def __str__(self) -> str:
        return f"{self.file if self.file.isprintable() else quote_path(self.file)}:{self.line}:{self.col}"


def quote_path(path) -> str:
    """A path inside a message: quoted, every character that would break the line (or not print)
    escaped, so that an error stays one line whatever the file is called."""
    return repr(os.fspath(path))


class ConvcalcError(Exception):
    """Base of every error convcalc reports on purpose."""

    exit_code = EXIT_USAGE

    def __init__(self, code: str, message: str, pos: Position | None = None, hint: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.pos = pos
        self.hint = hint

    def render(self) -> str:
        """One line, ``path:line:col: error[code]: message``, as linters print it."""
        where = f"{self.pos}: " if self.pos else "convcalc: "
        text = f"{where}error[{self.code}]: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text


class SpecError(ConvcalcError):
    """The spec is wrong: exit 1."""

    exit_code = EXIT_FAILED


class SpecErrors(SpecError):
    """Several faults of one spec, each located: the first is this error's code and position;
    ``render`` gives one line each."""

    def __init__(self, errors: list[SpecError]):
        first = errors[0]
        super().__init__(first.code, first.message, first.pos, first.hint)
        self.errors = list(errors)

    def render(self) -> str:
        return "\n".join(error.render() for error in self.errors)


class UsageError(ConvcalcError):
    """convcalc could not do its job (bad command line, unreadable path): exit 2."""

    exit_code = EXIT_USAGE


class LayerError(Exception):
    """A layer cannot take this input. ``field`` names the argument at fault, if one is."""

    def __init__(self, code: str, message: str, field: str | tuple | None = None, hint: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.hint = hint


@contextlib.contextmanager
def read_errors(where: Position) -> Iterator[None]:
    """A file that cannot be opened or read, as the :class:`UsageError` (exit 2) at ``where`` every
    reader gives: ``io-missing``, ``io-permission``, or ``io-error`` with the system's reason."""
    try:
        yield
    except FileNotFoundError:
        raise UsageError("io-missing", "no such file", where) from None
    except PermissionError:
        raise UsageError("io-permission", "permission denied", where) from None
    except OSError as exc:
        raise UsageError("io-error", f"cannot read it: {exc.strerror or exc}", where) from None
