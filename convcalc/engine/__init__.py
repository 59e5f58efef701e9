"""The engine: fold the network over (shape, receptive field) and collect frozen rows."""

from __future__ import annotations

from convcalc.engine.fold import MAX_BLOCK_DEPTH, MAX_LAYERS, MAX_SYMBOLIC_LAYERS, analyze

__all__ = ["MAX_BLOCK_DEPTH", "MAX_LAYERS", "MAX_SYMBOLIC_LAYERS", "analyze"]
