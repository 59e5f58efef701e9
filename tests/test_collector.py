"""The collector around the fold and the report's rows (convcalc.arith._collector): left as the
caller had it, big heaps promoted, small ones left to the collector so that no cycle made by
repeated analyses outlives them."""

from __future__ import annotations

import gc

import convcalc
from convcalc.arith import _collector
from convcalc.arith._collector import collector_paused


def test_the_collector_is_left_as_it_was():
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_big_heap_is_promoted_to_the_oldest_generation(monkeypatch):
    monkeypatch.setattr(_collector, "PROMOTE_AT", 1_000)
    gc.unfreeze()  # a CLI run in this process (main()) froze what its start-up made
    gc.collect()
    with collector_paused():
        made = [[i] for i in range(5_000)]
    assert gc.get_count()[0] < 1_000 and gc.get_freeze_count() == 0
    assert len(gc.get_objects(2)) >= len(made)


def test_repeated_analyses_leave_no_garbage_behind():
    """ResNet-50's fold makes fewer objects than PROMOTE_AT: the collector frees its cycles as it
    frees any (promoted, each analysis's ~80 would wait for a full collection: +3,000 here)."""
    for _ in range(10):
        convcalc.analyze(convcalc.load_model("resnet50")).to_json()
    gc.collect()
    before = len(gc.get_objects())
    for _ in range(40):
        convcalc.analyze(convcalc.load_model("resnet50")).to_json()
    assert len(gc.get_objects()) <= before + 1_000  # the young garbage not collected yet
