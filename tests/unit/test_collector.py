"""The projector's garbage-collector settings apply inside the block only."""

from __future__ import annotations

import gc

import pytest

from consumer.collector import BATCH_THRESHOLDS, batch_collector


def test_thresholds_are_raised_inside_and_restored_after() -> None:
    before = gc.get_threshold()
    frozen_before = gc.get_freeze_count()
    with batch_collector():
        assert gc.get_threshold() == BATCH_THRESHOLDS
        assert gc.get_freeze_count() > frozen_before
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == frozen_before


def test_settings_are_restored_when_the_block_fails() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), batch_collector():
        raise RuntimeError("batch failed")
    assert gc.get_threshold() == before


def test_cycles_are_still_collected_inside() -> None:
    class Node:
        partner: object = None

    with batch_collector():
        first, second = Node(), Node()
        first.partner, second.partner = second, first
        del first, second
        assert gc.collect() >= 2
