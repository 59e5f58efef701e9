"""The cyclic garbage collector around work that makes many small objects and frees none (a
fold, a report's rows): paused while they are made, and what was made moved to the oldest
generation after, in one step, instead of each young collection walking it again."""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator

__all__ = ["collector_paused"]


@contextmanager
def collector_paused() -> Iterator[None]:
    """With the collector enabled on entry: off inside, and on leaving, the objects made inside
    (millions at 100,000 layers) are promoted to the oldest generation without being walked
    (``gc.freeze`` then ``gc.unfreeze``; skipped while the program keeps its own frozen objects).
    Left as it was when already off."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        if gc.get_freeze_count() == 0:
            gc.freeze()
            gc.unfreeze()
        gc.enable()
