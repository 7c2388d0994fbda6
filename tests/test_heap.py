"""Long-lived allocations: no collector pauses while loading, and later collections skip what was loaded."""

from __future__ import annotations

import gc

import pytest

from memstudio.core.assessors.registry import load_assessor
from memstudio.core.heap import long_lived


def test_collector_paused_inside_and_objects_frozen_after():
    assert gc.isenabled()
    before = gc.get_freeze_count()
    with long_lived():
        assert not gc.isenabled()
        with long_lived():
            made = [[i] for i in range(1000)]
        assert not gc.isenabled()  # the outer block still holds the collector
    assert gc.isenabled()
    assert gc.get_freeze_count() >= before + len(made)


def test_collector_comes_back_after_a_failed_load():
    with pytest.raises(OSError, match="truncated"), long_lived():
        raise OSError("truncated checkpoint")
    assert gc.isenabled()


def test_loading_an_assessor_freezes_it():
    gc.collect()
    before = gc.get_freeze_count()
    load_assessor("colorfulness", "meta")  # a device no other test uses, so this really loads
    assert gc.get_freeze_count() > before
