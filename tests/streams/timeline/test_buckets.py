"""Day-bucketed timelines hold exactly what a flat timeline holds (any order, repeats,
retention), and a merge empties them into a redirect."""

from __future__ import annotations

import random

import pytest

from streams.timeline import (
    BucketedTimeline,
    bucket_key,
    customer_of_key,
    erase_keys,
    insert,
    newest_first,
    stored_count,
)

pytestmark = pytest.mark.unit

DAY = 86400.0


def entry(i: int, ts: float) -> dict:
    return {"ts": ts, "id": f"e{i:04d}", "e": {"event_id": f"e{i:04d}"}}


def stored(tl: BucketedTimeline, store: dict, upto: int | None = None) -> None:
    """Write a batch's changes the way the worker does (only the first `upto` records: a
    worker killed in the middle of writing them)."""
    for key, value in tl.records()[:upto]:
        if value is None:
            store.pop(key, None)
        else:
            store[key] = value


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


def named_days_exist(store: dict, cid: str) -> bool:
    return all(bucket_key(cid, b) in store for b in store.get(cid, {"b": []})["b"])


def test_a_kill_between_any_two_writes_of_a_merge_leaves_a_head_naming_only_stored_days() -> None:
    # The crash test's loss: tombstones were written before the head, so a worker killed in
    # between left (in the changelog) the old head naming deleted days; the worker restoring
    # it crashed in `newest()` re-processing the customer's events, and faust acknowledged
    # the batch.
    base: dict = {}
    tl = BucketedTimeline("old", None, base.get)
    for i, ts in enumerate([10.0, DAY + 5, 3 * DAY]):
        tl.insert(entry(i, ts), 400 * DAY)
    stored(tl, base)
    merge = BucketedTimeline("old", base["old"], base.get)
    merge.move_to("new")
    records = merge.records()
    assert [k for k, _ in records] == ["old", "old#0", "old#1", "old#3"]  # head first
    for upto in range(len(records) + 1):
        store = dict(base)
        stored(merge, store, upto)
        assert named_days_exist(store, "old"), upto
        # The restored timeline takes the customer's events again (at-least-once replay).
        again = BucketedTimeline("old", store["old"], store.get)
        again.insert(entry(9, 2 * DAY), 400 * DAY)


def test_new_days_are_written_before_the_head_that_names_them() -> None:
    store: dict = {}
    tl = BucketedTimeline("c", None, store.get)
    tl.insert(entry(0, 10.0), 400 * DAY)
    tl.insert(entry(1, DAY + 10), 400 * DAY)
    assert [k for k, _ in tl.records()] == ["c#0", "c#1", "c"]
    for upto in range(4):
        partial: dict = {}
        stored(tl, partial, upto)
        assert named_days_exist(partial, "c")


def test_newest_skips_a_named_day_that_is_missing() -> None:
    # A changelog written by the older order can still hold such a head.
    store = {"c": {"to": None, "b": [0, 1]}, "c#0": [entry(0, 10.0)]}
    tl = BucketedTimeline("c", store["c"], store.get)
    assert tl.newest() == 10.0
    assert tl.insert(entry(1, 20.0), 400 * DAY) is True


def test_erasure_deletes_every_day_then_the_head() -> None:
    store: dict = {}
    tl = BucketedTimeline("cus_a", None, store.get)
    for i, ts in enumerate([0.0, DAY + 5, 3 * DAY + 1]):
        tl.insert(entry(i, ts), 400 * DAY)
    stored(tl, store)
    other = BucketedTimeline("cus_ab", None, store.get)
    other.insert(entry(9, 0.0), 400 * DAY)
    stored(other, store)
    # A day written just before a crash, whose head never named it.
    store[bucket_key("cus_a", 7)] = [entry(8, 7 * DAY)]
    assert customer_of_key("cus_a#3") == "cus_a" and customer_of_key("cus_a") == "cus_a"

    keys = erase_keys("cus_a", store["cus_a"], list(store))
    assert keys == ["cus_a#0", "cus_a#1", "cus_a#3", "cus_a#7", "cus_a"]
    # A worker killed after any prefix of the deletions repeats the erasure (the request was
    # not acknowledged) and, from what is left, finishes it; readers skip missing days.
    for upto in range(len(keys) + 1):
        left = {k: v for k, v in store.items() if k not in keys[:upto]}
        if "cus_a" in left:
            assert [e["id"] for e in newest_first(left["cus_a"], "cus_a", left.get)] == [
                e["id"]
                for b in (3, 1, 0)
                for e in store.get(bucket_key("cus_a", b), [])
                if bucket_key("cus_a", b) in left
            ]
        again = erase_keys("cus_a", left.get("cus_a"), list(left))
        assert {k for k in left if k not in again} == {"cus_ab", "cus_ab#0"}
    remaining = {k for k in store if k not in keys}
    assert remaining == {"cus_ab", "cus_ab#0"}
    # Without a head (already erased, or never written): the orphan days only.
    assert erase_keys("cus_a", None, ["cus_a#7", "cus_ab#0"]) == ["cus_a#7"]
