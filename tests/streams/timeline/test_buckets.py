"""Bucketed timelines hold exactly what a flat timeline holds (any order, repeats, retention,
small and large buckets), a merge empties them into a redirect, and a worker killed between any
two of a batch's writes leaves a timeline that holds every entry written before the batch."""

from __future__ import annotations

import random

import pytest

from streams.timeline import (
    BUCKET_MAX,
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
@pytest.mark.parametrize("span_days", [90, 2])  # sparse; or many entries a day (splits)
def test_same_as_flat_timeline_in_any_order_with_repeats_and_retention(
    seed: int, span_days: int
) -> None:
    rng = random.Random(seed)
    retention = span_days / 3 * DAY
    entries = [entry(i, rng.uniform(0, span_days * DAY)) for i in range(300)]
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
    # Retention really dropped something, and whole buckets left the store.
    assert 0 < len(flat) < 300
    assert len([k for k in store if k.startswith("c#")]) == len(store["c"]["b"])
    newest = max(e["ts"] for e in entries)
    assert min(e["ts"] for e in flat) >= newest - retention
    # Buckets stay small (a split halves one that a late entry overflows).
    sizes = [len(store[bucket_key("c", b)]) for b in store["c"]["b"]]
    assert max(sizes) <= BUCKET_MAX and min(sizes) >= 1


def test_appends_fill_buckets_and_write_one_small_bucket_per_event() -> None:
    store: dict = {}
    written: list[int] = []
    for i in range(5 * BUCKET_MAX):
        tl = BucketedTimeline("c", store.get("c"), store.get)
        assert tl.insert(entry(i, 1000.0 + i), 400 * DAY)
        records = tl.records()
        written.append(max(len(v) for k, v in records if k != "c" and v is not None))
        # The head is rewritten only when a bucket is added.
        assert ("c" in dict(records)) == (i % BUCKET_MAX == 0)
        stored(tl, store)
    assert written == [i % BUCKET_MAX + 1 for i in range(5 * BUCKET_MAX)]
    assert [len(store[bucket_key("c", b)]) for b in store["c"]["b"]] == [BUCKET_MAX] * 5


def test_a_day_bucket_of_the_first_layout_is_read_and_split() -> None:
    # Heads written before buckets were capped name day numbers; their buckets are any size.
    day = 20_400
    big = [entry(i, day * DAY + 10.0 * i) for i in range(3 * BUCKET_MAX)]
    older = entry(999, (day - 1) * DAY + 5.0)
    store: dict = {"c": {"to": None, "b": [day - 1, day]}, f"c#{day - 1}": [older]}
    store[f"c#{day}"] = big
    tl = BucketedTimeline("c", store["c"], store.get)
    late = entry(500, day * DAY + 15.0)  # between big[1] and big[2]
    assert tl.insert(late, 400 * DAY) is True
    assert tl.insert(entry(3, big[3]["ts"]), 400 * DAY) is False  # a repeat stays out
    stored(tl, store)
    assert f"c#{day}" not in store  # replaced by two new halves
    assert store["c"]["b"][0] == day - 1 and all(b > day for b in store["c"]["b"][1:])
    got = [e["id"] for e in newest_first(store["c"], "c", store.get)]
    want = sorted([*big, late, older], key=lambda e: (e["ts"], e["id"]))
    assert got == [e["id"] for e in reversed(want)]


def flat_ids(store: dict, cid: str) -> list[str]:
    head = store.get(cid)
    return [e["id"] for e in newest_first(head, cid, store.get)] if head else []


@pytest.mark.parametrize("where", ["append", "middle", "front"])
def test_a_kill_between_any_two_writes_of_a_split_keeps_every_earlier_entry(where: str) -> None:
    # A bucket rewritten in place under the head that names it would, cut after the rewrite
    # of its first half, lose its second half: entries of earlier, acknowledged batches.
    base: dict = {}
    tl = BucketedTimeline("c", None, base.get)
    for i in range(2 * BUCKET_MAX):
        tl.insert(entry(i, 100.0 * (i + 1)), 400 * DAY)
    stored(tl, base)
    before = flat_ids(base, "c")
    ts = {"append": 1e6, "middle": 100.0 * BUCKET_MAX / 2 + 50, "front": 1.0}[where]
    batch = BucketedTimeline("c", base["c"], base.get)
    assert batch.insert(entry(9999, ts), 400 * DAY)
    records = batch.records()
    for upto in range(len(records) + 1):
        store = dict(base)
        stored(batch, store, upto)
        ids = flat_ids(store, "c")
        assert set(before) <= set(ids) and len(ids) == len(set(ids)), (upto, records)
        assert named_days_exist(store, "c")


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
    assert [k for k, _ in records] == ["old", "old#0"]  # head first
    for upto in range(len(records) + 1):
        store = dict(base)
        stored(merge, store, upto)
        assert named_days_exist(store, "old"), upto
        # The restored timeline takes the customer's events again (at-least-once replay).
        again = BucketedTimeline("old", store["old"], store.get)
        again.insert(entry(9, 2 * DAY), 400 * DAY)


def test_new_buckets_are_written_before_the_head_that_names_them() -> None:
    store: dict = {}
    tl = BucketedTimeline("c", None, store.get)
    for i in range(BUCKET_MAX + 1):
        tl.insert(entry(i, 10.0 + i), 400 * DAY)
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
    for i in range(2 * BUCKET_MAX + 1):
        tl.insert(entry(i, 10.0 * i), 400 * DAY)
    stored(tl, store)
    assert store["cus_a"]["b"] == [0, 1, 2]
    other = BucketedTimeline("cus_ab", None, store.get)
    other.insert(entry(9, 0.0), 400 * DAY)
    stored(other, store)
    # A bucket written just before a crash, whose head never named it.
    store[bucket_key("cus_a", 7)] = [entry(99, 7 * DAY)]
    assert customer_of_key("cus_a#3") == "cus_a" and customer_of_key("cus_a") == "cus_a"

    keys = erase_keys("cus_a", store["cus_a"], list(store))
    assert keys == ["cus_a#0", "cus_a#1", "cus_a#2", "cus_a#7", "cus_a"]
    # A worker killed after any prefix of the deletions repeats the erasure (the request was
    # not acknowledged) and, from what is left, finishes it; readers skip missing days.
    for upto in range(len(keys) + 1):
        left = {k: v for k, v in store.items() if k not in keys[:upto]}
        if "cus_a" in left:
            assert [e["id"] for e in newest_first(left["cus_a"], "cus_a", left.get)] == [
                e["id"]
                for b in (2, 1, 0)
                for e in reversed(store.get(bucket_key("cus_a", b), []))
                if bucket_key("cus_a", b) in left
            ]
        again = erase_keys("cus_a", left.get("cus_a"), list(left))
        assert {k for k in left if k not in again} == {"cus_ab", "cus_ab#0"}
    remaining = {k for k in store if k not in keys}
    assert remaining == {"cus_ab", "cus_ab#0"}
    # Without a head (already erased, or never written): the orphan days only.
    assert erase_keys("cus_a", None, ["cus_a#7", "cus_ab#0"]) == ["cus_a#7"]
