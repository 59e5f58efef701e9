"""What a command-line target names, told from its text alone: an ONNX file or a PyTorch
factory. Kept apart from the importers, so that a command given a spec imports neither."""

from __future__ import annotations

import re

__all__ = ["FACTORY", "is_factory", "is_onnx_path"]

FACTORY = re.compile(r"^(?P<source>[^:]+):(?P<name>[A-Za-z_][\w.]*)$")


def is_onnx_path(target: str) -> bool:
    return target.lower().endswith(".onnx")


def is_factory(target: str) -> bool:
    """``FILE.py:FACTORY`` or ``package.module:FACTORY``."""
    match = FACTORY.match(target)
    if not match:
        return False
    source = match["source"]
    return source.endswith(".py") or all(part.isidentifier() for part in source.split("."))
