"""Day-bucketed timelines hold exactly what a flat timeline holds (any order, repeats,
retention), and a merge empties them into a redirect."""

from __future__ import annotations

import random

import pytest

from streams.timeline import BucketedTimeline, bucket_key, insert, newest_first, stored_count

pytestmark = pytest.mark.unit

DAY = 86400.0


def entry(i: int, ts: float) -> dict:
    return {"ts": ts, "id": f"e{i:04d}", "e": {"event_id": f"e{i:04d}"}}


def stored(tl: BucketedTimeline, store: dict) -> None:
    """Write a batch's changes the way the worker does."""
    for b in tl.dirty:
        store[bucket_key(tl.customer_id, b)] = tl.buckets[b]
    for b in tl.dropped:
        store.pop(bucket_key(tl.customer_id, b), None)
    if tl.head_dirty:
        store[tl.customer_id] = tl.head


@pytest.mark.parametrize("seed", range(5))
def test_same_as_flat_timeline_in_any_order_with_repeats_and_retention(seed: int) -> None:
    rng = random.Random(seed)
    retention = 30 * DAY
    entries = [entry(i, rng.uniform(0, 90 * DAY)) for i in range(300)]
    arrivals = entries + rng.sample(entries, 60)  # at-least-once: repeats
    rng.shuffle(arrivals)
    flat: list = []
    store: dict = {}
    for start in range(0, len(arrivals), 37):  # batches
        tl = BucketedTimeline("c", store.get("c"), store.get)
        for e in arrivals[start : start + 37]:
            flat, new_flat = insert(flat, e, retention)
            assert tl.insert(e, retention) == new_flat
        stored(tl, store)
    got = [e["id"] for e in newest_first(store["c"], "c", store.get)]
    assert got == [e["id"] for e in reversed(flat)]
    assert stored_count(store["c"], "c", store.get) == len(flat)
    # Retention really dropped something, and whole days left the store.
    assert 0 < len(flat) < 300
    assert len([k for k in store if k.startswith("c#")]) == len(store["c"]["b"])
    newest = max(e["ts"] for e in entries)
    assert min(e["ts"] for e in flat) >= newest - retention


def test_move_to_survivor_empties_and_redirects() -> None:
    store: dict = {}
    tl = BucketedTimeline("old", None, store.get)
    for i, ts in enumerate([10.0, DAY + 5, 3 * DAY]):
        tl.insert(entry(i, ts), 400 * DAY)
    stored(tl, store)
    tl = BucketedTimeline("old", store["old"], store.get)
    moved = tl.move_to("new")
    assert [e["id"] for e in moved] == ["e0000", "e0001", "e0002"]
    stored(tl, store)
    assert store == {"old": {"to": "new", "b": []}}
    tl = BucketedTimeline("old", store["old"], store.get)
    tl.revive()
    assert tl.head["to"] is None and tl.head_dirty
