"""Layers written inline on a command line: ``KIND:ARG=VALUE,...@INPUT``, with a channels-first
input (channels last, ``@6x6x3``, with ``layout="hwc"``: ``compare --layout hwc``), several layers
joined by ``+``::

    conv2d:out_channels=5,kernel_size=3@3x6x6
    conv2d:out_channels=3,kernel_size=3,groups=3+conv2d:out_channels=5,kernel_size=1@3x6x6

A value is an integer, a number, ``true`` / ``false``, a word (``padding=same``) or a bracketed
list (``kernel_size=[3,5]``). The result is spec data, for :func:`convcalc.spec.parse_spec`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from convcalc.arith.dims import is_count
from convcalc.errors import UsageError
from convcalc.spec._source import MAX_INT

__all__ = ["inline_input", "inline_spec", "is_inline"]

_INT = re.compile(r"^-?\d+$")
_KIND = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def is_inline(target: str) -> bool:
    """``KIND:ARGS@INPUT``, unless a file of that name exists."""
    return "@" in target and not Path(target).exists()


def inline_spec(target: str, layout: str = "chw") -> dict[str, Any]:
    """The spec data of an inline layer chain: ``conv2d:out_channels=5,kernel_size=3@3x6x6``
    (``@6x6x3`` with ``layout="hwc"``); its ``input`` is channels first."""
    layers_text = target.rpartition("@")[0]
    layers = [_layer(part.strip(), target) for part in _split(layers_text, "+")]
    named = [{**layer, "name": f"layer{i}"} if isinstance(layer, dict) else {layer: None, "name": f"layer{i}"} for i, layer in enumerate(layers, 1)]
    dims = inline_input(target)
    if layout == "hwc" and len(dims) > 1:
        dims = dims[-1:] + dims[:-1]
    return {"name": layers_text, "input": dims, "layers": named}


def _layer(text: str, target: str) -> Any:
    kind, colon, args_text = text.partition(":")
    kind = kind.strip()
    if not _KIND.match(kind):
        raise UsageError("usage-layer", f"{target!r}: {text!r} does not start with a layer kind", hint="write KIND:ARG=VALUE,...@CxHxW")
    if not colon:
        return kind
    args: dict[str, Any] = {}
    for pair in _split(args_text, ","):
        name, equals, value = pair.partition("=")
        if not equals or not name.strip().isidentifier() or not value.strip():
            raise UsageError("usage-layer", f"{target!r}: {pair.strip()!r} is not ARG=VALUE", hint="e.g. conv2d:out_channels=5,kernel_size=3@3x6x6")
        args[name.strip()] = _value(value.strip(), target)
    return {kind: args}


def _split(text: str, sep: str) -> list[str]:
    """Split at ``sep`` outside brackets."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += {"[": 1, "]": -1}.get(ch, 0)
        if ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _value(text: str, target: str) -> Any:
    if text.startswith("[") and text.endswith("]"):
        return [_value(part.strip(), target) for part in _split(text[1:-1], ",") if part.strip()]
    if _INT.match(text):
        if abs(int(text)) > MAX_INT:
            raise UsageError("limit-int", f"{target!r}: {text} is larger than {MAX_INT:,} (limit MAX_INT)")
        return int(text)
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return float(text)
    except ValueError:
        return text


def inline_input(target: str) -> list[int]:
    """The sizes after the ``@``, as written."""
    text = target.rpartition("@")[2]
    parts = [p.strip() for p in re.split(r"[x×]", text)]
    if not 1 <= len(parts) <= 4 or not all(is_count(p) and 1 <= int(p) <= MAX_INT for p in parts):
        raise UsageError("usage-input", f"{target!r}: the input {text!r} is not 1 to 4 positive sizes", hint="e.g. @3x6x6, channels first; @6x6x3 with --layout hwc")
    return [int(p) for p in parts]
