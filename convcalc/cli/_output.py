"""Writing a command's output to ``-o PATH`` without destroying anything.

- a regular file is replaced atomically: a temp file in the same folder, renamed over it; the
  file keeps its permission bits (a new file gets ``0666`` less the umask, as ``>`` gives it);
- a symbolic link is followed: its target is replaced, the link stays a link;
- a device, a FIFO or a socket is written in place, as the shell's ``> /dev/null`` does;
- a directory, or one of the command's own input files (the same file, by device and inode), is
  refused before anything is written, with exit 2.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path
from typing import Iterable, Optional, Union

from convcalc.errors import UsageError, quote_path

__all__ = ["write_output"]


Text = Union[str, bytes, Iterable[str]]


def write_output(text: Text, output: Optional[Path], inputs: Iterable = ()) -> None:
    """Print ``text``, or write it to ``output`` (see the module docstring). ``bytes`` (a PNG) are
    written as they are; text may come in pieces (a large JSON report), written as they come.
    ``inputs`` are the paths the command read (a built-in model's name, or ``-``, is not a file
    and is skipped)."""
    if output is None:
        if isinstance(text, bytes):
            sys.stdout.flush()
            sys.stdout.buffer.write(text)
            sys.stdout.buffer.flush()
        else:
            for chunk in _chunks(text):
                sys.stdout.write(chunk)
        return
    output = Path(output)
    shown = quote_path(output)
    try:
        info = os.stat(output)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise UsageError("io-write", f"cannot write {shown}: {exc.strerror or exc}") from None
    if info is not None:
        _refuse_inputs(output, info, inputs, shown)
        if stat.S_ISDIR(info.st_mode):
            raise UsageError("io-write", f"cannot write {shown}: it is a directory", hint="give a file name")
        if not stat.S_ISREG(info.st_mode):
            _write_in_place(text, output, shown)
            return
    target = Path(os.path.realpath(output))  # through a symbolic link (even a dangling one) to its target
    mode = stat.S_IMODE(info.st_mode) if info is not None else _new_file_mode()
    _replace(text, target, mode, shown)


def _chunks(text: Text) -> Iterable:
    return (text,) if isinstance(text, (str, bytes)) else text


def _open(target, text: Text):
    """``target`` (a path or a descriptor) opened for ``text``: binary for bytes, else UTF-8."""
    if isinstance(text, bytes):
        return open(target, "wb")
    return open(target, "w", encoding="utf-8")


def _refuse_inputs(output: Path, info: os.stat_result, inputs: Iterable, shown: str) -> None:
    for source in inputs:
        if source is None or str(source) == "-":
            continue
        other = _stat(str(source))
        if other is None:
            continue  # a built-in model's name, or a path that is gone: not this file
        if (other.st_dev, other.st_ino) == (info.st_dev, info.st_ino):
            raise UsageError(
                "io-write-input", f"refusing to write {shown}: it is the input {quote_path(source)}",
                hint="choose another output file",
            )


def _stat(source: str) -> Optional[os.stat_result]:
    """The input's file: the path, or the file of a PyTorch model ``FILE.py:FACTORY``."""
    for path in (source, *([source.rsplit(":", 1)[0]] if ":" in source else [])):
        try:
            return os.stat(path)
        except OSError:
            continue
    return None


def _write_in_place(text: Text, output: Path, shown: str) -> None:
    """A device, FIFO or socket: opened and written like ``>`` does, never replaced."""
    try:
        with _open(output, text) as handle:
            for chunk in _chunks(text):
                handle.write(chunk)
    except OSError as exc:
        raise UsageError("io-write", f"cannot write {shown}: {exc.strerror or exc}") from None


def _new_file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _replace(text: Text, target: Path, mode: int, shown: str) -> None:
    try:
        import tempfile  # only for a file: not on the way to stdout

        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise UsageError("io-write", f"cannot write {shown}: {exc.strerror or exc}") from None
    try:
        with _open(fd, text) as handle:
            for chunk in _chunks(text):
                handle.write(chunk)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise UsageError("io-write", f"cannot write {shown}: {exc.strerror or exc}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
