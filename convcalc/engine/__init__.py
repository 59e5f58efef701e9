"""The engine: fold the network over (shape, receptive field) and collect frozen rows."""

from __future__ import annotations

from convcalc.engine.fold import BLOCK_INPUT, MAX_BLOCK_DEPTH, MAX_LAYERS, MAX_SYMBOLIC_LAYERS, META_KEYS, analyze

__all__ = ["BLOCK_INPUT", "MAX_BLOCK_DEPTH", "MAX_LAYERS", "MAX_SYMBOLIC_LAYERS", "META_KEYS", "analyze"]
