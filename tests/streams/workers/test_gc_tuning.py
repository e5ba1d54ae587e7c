"""The worker's garbage-collector tuning (`streams.workers.__main__.tune_gc`)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import faust
import pytest

from streams.workers.__main__ import GC_THRESHOLDS, tune_gc

pytestmark = pytest.mark.unit


@pytest.fixture
def gc_state() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_thresholds_are_raised_and_a_timer_freezes_the_survivors(gc_state: None) -> None:
    app = faust.App("gc-tuning-test", broker="memory://", store="memory://")
    tasks = len(app._app_tasks)
    timer = tune_gc(app)
    assert gc.get_threshold() == GC_THRESHOLDS
    assert len(app._app_tasks) == tasks + 1  # started with the app, as a faust timer

    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    asyncio.run(asyncio.wait_for(timer(), 30))  # one tick of the timer
    assert gc.get_freeze_count() > 0
    # A cycle made after the freeze is still collected.
    cycle: list[object] = []
    cycle.append(cycle)
    del cycle
    assert gc.collect() >= 1


def test_a_long_collection_is_logged(
    gc_state: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import streams.workers.__main__ as worker_main

    app = faust.App("gc-tuning-log-test", broker="memory://", store="memory://")
    timer = tune_gc(app)
    monkeypatch.setattr(worker_main, "GC_PAUSE_LOGGED_S", 0.0)  # every collection is "long"
    with caplog.at_level("WARNING"):
        asyncio.run(asyncio.wait_for(timer(), 30))
    assert any("full collection and freeze held the worker" in r.message for r in caplog.records)
    monkeypatch.setattr(worker_main, "GC_PAUSE_LOGGED_S", 3600.0)
    caplog.clear()
    asyncio.run(asyncio.wait_for(timer(), 30))
    assert not caplog.records
