"""Built-in models: the specs shipped in the package (``specs/`` in the repository)."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

from convcalc.spec._readings import specs_dir
from convcalc.spec._source import MAX_FILE_BYTES
from convcalc.errors import Position, SpecError, UsageError, read_errors
from convcalc.spec import did_you_mean

__all__ = ["STDIN", "STDIN_NAME", "builtin_names", "read_source", "specs_dir"]

STDIN = "-"  # as a spec path: read the spec from standard input
STDIN_NAME = "<stdin>"  # its name in messages


def builtin_names() -> list[str]:
    return sorted(p.stem for p in specs_dir().glob("*.yaml"))


def read_source(target: str) -> tuple[str, str]:
    """Return (text, display name) for a spec path, ``-`` (standard input) or a built-in model name."""
    if target == STDIN:
        return _read_stdin(), STDIN_NAME
    path = Path(target)
    if path.suffix in (".yaml", ".yml") or path.exists() or "/" in target:
        return _read_file(path), target
    builtin = specs_dir() / f"{target}.yaml"
    if builtin.is_file():
        return builtin.read_text(encoding="utf-8"), f"{target}.yaml"
    hint = did_you_mean(target, builtin_names()) or "run `convcalc models` for the list"
    raise UsageError("usage-unknown-model", f"no spec file and no built-in model named {target!r}", hint=hint)


_STDIN = ("/dev/stdin", "/proc/self/fd/0", "/dev/fd/0")


def _read_file(path: Path) -> str:
    """The file's text. A path convcalc cannot read is a :class:`UsageError` (exit 2); a file that
    is not UTF-8 text is a :class:`SpecError` (exit 1). Both point at the file, as ``path:1:1``.

    Only regular files are read (and stdin, named as ``/dev/stdin``): a FIFO, a device or a socket
    is refused at once. The file is opened without blocking (a FIFO with no writer would wait
    forever) and checked after opening, so that it cannot be swapped in between."""
    shown = str(path)
    where = Position(shown)
    if path.is_dir():
        raise UsageError("io-directory", "this is a directory, not a spec file", where)
    stdin = str(path) in _STDIN
    with read_errors(where):
        fd = os.open(path, os.O_RDONLY | (0 if stdin else os.O_NONBLOCK))
    try:
        kind = os.fstat(fd).st_mode
        if not stdin and not stat.S_ISREG(kind):
            what = "a FIFO" if stat.S_ISFIFO(kind) else "a device" if stat.S_ISCHR(kind) or stat.S_ISBLK(kind) else "a socket" if stat.S_ISSOCK(kind) else "not a regular file"
            raise UsageError("io-not-regular", f"this is {what}, not a spec file", where, "give a file, or pipe the spec into /dev/stdin")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(MAX_FILE_BYTES + 1)  # never more than the limit into memory
    except OSError as exc:
        raise UsageError("io-error", f"cannot read it: {exc.strerror or exc}", where) from None
    finally:
        os.close(fd)
    return _decode(data, shown)


def _read_stdin() -> str:
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:  # no standard input, or a text-only stand-in for it
        return _decode((sys.stdin.read(MAX_FILE_BYTES + 1) if sys.stdin else "").encode("utf-8"), STDIN_NAME)
    return _decode(stream.read(MAX_FILE_BYTES + 1), STDIN_NAME)


def _decode(data: bytes, shown: str) -> str:
    """At most ``MAX_FILE_BYTES + 1`` bytes read from ``shown``, as text."""
    if len(data) > MAX_FILE_BYTES:
        raise SpecError("limit-file-size", f"file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB (limit MAX_FILE_BYTES)", Position(shown))
    if b"\0" in data:
        raise SpecError("io-binary", "this is a binary file, not a YAML spec", Position(shown))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise SpecError("io-encoding", f"byte 0x{data[exc.start]:02x} is not UTF-8", Position(shown, line, col), "save the file as UTF-8") from None
