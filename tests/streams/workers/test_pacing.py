"""Spreading a burst of ticks (`streams.workers.pacing.paced`)."""

from __future__ import annotations

import asyncio

import pytest

from streams.workers.pacing import paced

pytestmark = pytest.mark.unit


def test_items_come_in_chunks_with_a_pause_after_each() -> None:
    pauses: list[tuple[int, float]] = []
    got: list[int] = []

    async def sleep(seconds: float) -> None:
        pauses.append((len(got), seconds))

    async def run() -> None:
        async for item in paced(range(45), per_s=200.0, chunk=20, sleep=sleep):
            got.append(item)

    asyncio.run(run())
    assert got == list(range(45))  # all of them, in order
    assert pauses == [(20, 0.1), (40, 0.1)]  # 20 at 200/s: 0.1 s after each full chunk


def test_nothing_to_pace() -> None:
    async def sleep(seconds: float) -> None:
        raise AssertionError("no pause without items")

    async def run() -> list[int]:
        return [i async for i in paced([], per_s=1.0, sleep=sleep)]

    assert asyncio.run(run()) == []
