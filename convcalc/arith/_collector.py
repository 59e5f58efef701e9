"""The cyclic garbage collector around work that makes many small objects and frees none (a
fold, a report's rows): paused while they are made, and a large heap of them moved to the oldest
generation after, in one step, instead of each young collection walking it again."""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator

__all__ = ["PROMOTE_AT", "collector_paused"]

# tracked objects made while paused from which they are promoted, not walked: a 10,000-layer
# fold makes ~140,000, ResNet-50's ~11,000 (left to the collector as any other: promoted objects
# are walked only by full collections, which their count does not bring on, so a promoted cycle
# waits longer to be freed)
PROMOTE_AT = 100_000


@contextmanager
def collector_paused() -> Iterator[None]:
    """With the collector enabled on entry: off inside, and on leaving, when the work made at
    least ``PROMOTE_AT`` objects (millions at 100,000 layers), those are promoted to the oldest
    generation without being walked (``gc.freeze``, then ``gc.unfreeze`` unless the program keeps
    frozen objects of its own, which they then join). Left as it was when already off."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        if gc.get_count()[0] >= PROMOTE_AT:
            frozen = gc.get_freeze_count()
            gc.freeze()
            if not frozen:
                gc.unfreeze()
        gc.enable()
