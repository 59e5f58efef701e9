"""Command-line values shared by several commands: the shape layout and the ``--input`` parser."""

from __future__ import annotations

import re
from enum import Enum
from typing import Any

from convcalc.arith.dims import is_count
from convcalc.errors import UsageError

__all__ = ["Layout", "is_count", "parse_shape"]


class Layout(str, Enum):
    """How shapes are written: channels first as PyTorch (chw), or last as textbooks do (hwc)."""

    chw = "chw"
    hwc = "hwc"


def parse_shape(text: str, layout: Layout, example: str, axes: str = "channels first") -> tuple:
    """``3x224x224`` (chw) or ``224x224x3`` (hwc) -> a channels-first tuple.

    Spatial sizes may be symbol names without an ``x`` in them (``3xHxW``); the channel count
    may not.
    """
    parts = [p.strip() for p in re.split(r"[x×,]", text)]
    dims: list[Any] = []
    for part in parts:
        if is_count(part) and int(part) > 0:
            dims.append(int(part))
        elif part.isidentifier():
            dims.append(part)
        else:
            raise UsageError("usage-input", f"--input {text!r}: {part!r} is neither a positive size nor a symbol name", hint=f"e.g. --input {example}")
    if not 1 <= len(dims) <= 4:
        raise UsageError("usage-input", f"--input {text!r}: give 1 to 4 sizes, {axes}")
    if layout == Layout.hwc and len(dims) > 1:
        dims = dims[-1:] + dims[:-1]
    if isinstance(dims[0], str):
        raise UsageError("usage-input", f"--input {text!r}: the channel count must be a number")
    return tuple(dims)
