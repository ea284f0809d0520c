"""The projector's garbage-collector settings: inside the block only, collections at the
loop's pace."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from consumer.collector import (
    BATCH_THRESHOLDS,
    FULL_EVERY,
    IDLE_SECONDS,
    BatchCollector,
    batch_collector,
)


@contextmanager
def collected_generations() -> Iterator[list[int]]:
    """The generation of every collection that runs inside the block."""
    generations: list[int] = []

    def note(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            generations.append(int(info["generation"]))

    gc.callbacks.append(note)
    try:
        yield generations
    finally:
        gc.callbacks.remove(note)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


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


def test_the_cycles_a_batch_left_are_collected_after_it() -> None:
    class Node:
        partner: object = None

    with batch_collector() as collector:
        first, second = Node(), Node()
        first.partner, second.partner = second, first
        del first, second
        alive = sum(isinstance(each, Node) for each in gc.get_objects())
        assert alive == 2, "a cycle outlives its names until a collection"
        collector.after_batch()
        assert not any(isinstance(each, Node) for each in gc.get_objects())


def test_every_batch_is_followed_by_a_young_collection_and_every_hundredth_by_a_full_one(
) -> None:
    collector = BatchCollector(Clock())
    with collected_generations() as generations:
        for _ in range(FULL_EVERY):
            collector.after_batch()
    assert len(generations) == FULL_EVERY
    assert generations[:-1] == [1] * (FULL_EVERY - 1)
    assert generations[-1] == 2


def test_an_idle_loop_collects_once_the_idle_time_has_passed() -> None:
    clock = Clock()
    collector = BatchCollector(clock)
    with collected_generations() as generations:
        clock.now = IDLE_SECONDS - 0.1
        collector.idle()
        assert generations == [], "not yet"
        clock.now = IDLE_SECONDS
        collector.idle()
        assert generations == [1]
        clock.now = IDLE_SECONDS + 1
        collector.idle()
        assert generations == [1], "the idle time counts from the last collection"
        collector.after_batch()
        clock.now = IDLE_SECONDS * 2
        collector.idle()
        assert generations == [1, 1]
