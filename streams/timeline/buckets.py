"""A customer's timeline stored in day buckets, so that adding an event rewrites one day.

Stored per customer in the `timelines` table:

- the head, key `customer_id`: `{"to": survivor or None, "b": sorted bucket numbers}`,
  rewritten only when a day is added or dropped or the customer is merged (the event count
  and the newest event time follow from the buckets);
- one bucket per day of event time, key `bucket_key(customer_id, day)`: the day's entries
  (`streams.timeline.timeline.Entry`), sorted by (ts, event_id).

An event's bucket follows from its event time, so de-duplication by event_id looks at one
bucket only (an event_id names one event, with one event time). Retention is the same as for a
flat timeline (`insert`): events older than the retention window before the newest event time
are dropped, whole days at a time except the boundary day, which is filtered.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from streams.timeline.timeline import Entry, insert

BUCKET_S = 86400.0
Head = dict[str, Any]


def bucket_of(ts: float) -> int:
    """The day bucket of an event time (epoch seconds)."""
    return int(ts // BUCKET_S)


def bucket_key(customer_id: str, bucket: int) -> str:
    """The table key of one bucket of a customer's timeline."""
    return f"{customer_id}#{bucket}"


def customer_of_key(key: str) -> str:
    """The customer a `timelines` key belongs to: a head's key is the customer_id, a bucket's
    `bucket_key(customer_id, day)` (customer ids hold no `#`)."""
    return key.split("#", 1)[0]


def erase_keys(customer_id: str, head: Head | None, keys: Iterable[str] = ()) -> list[str]:
    """The `timelines` keys to delete to erase a customer, days first and the head last: the
    days the head names, any other of `keys` that belongs to the customer (a day written just
    before a crash, whose head was never written), then the head.

    Head last, so a worker killed part-way still holds the head when it repeats the erasure
    (the request is not acknowledged yet) and finds the remaining days from it; until then
    readers skip a named day that is missing (`BucketedTimeline.newest`, `newest_first`).
    """
    named = [bucket_key(customer_id, b) for b in (head or {}).get("b", [])]
    orphans = sorted(
        (k for k in keys if k != customer_id and customer_of_key(k) == customer_id),
        key=lambda k: int(k.rsplit("#", 1)[1]),
    )
    days = list(dict.fromkeys([*named, *orphans]))
    return [*days, *([customer_id] if head is not None else [])]


def new_head() -> Head:
    return {"to": None, "b": []}


class BucketedTimeline:
    """One customer's timeline during a batch: buckets are loaded on demand through `load`
    and changes are collected, to be written once (`dirty`, `dropped`)."""

    def __init__(
        self, customer_id: str, head: Head | None, load: Callable[[str], list[Entry] | None]
    ) -> None:
        self.customer_id = customer_id
        self.head: Head = dict(head) if head else new_head()
        self._load = load
        self.buckets: dict[int, list[Entry]] = {}
        self.dirty: set[int] = set()  # buckets to write
        self.dropped: set[int] = set()  # buckets to delete
        self.head_dirty = False

    def bucket(self, b: int) -> list[Entry]:
        if b not in self.buckets:
            stored = self._load(bucket_key(self.customer_id, b)) if b in self.head["b"] else None
            self.buckets[b] = list(stored or [])
        return self.buckets[b]

    def insert(self, entry: Entry, retention_s: float) -> bool:
        """Insert `entry`; True if it was new (and within retention)."""
        b = bucket_of(entry["ts"])
        newest = max(entry["ts"], self.newest() or entry["ts"])
        horizon = newest - retention_s
        if entry["ts"] < horizon:
            return False
        entries, new = insert(self.bucket(b), entry, retention_s)
        if not new:
            return False
        self.buckets[b] = entries
        self.dirty.add(b)
        self.dropped.discard(b)
        bs: list[int] = self.head["b"]
        if b not in bs:
            self.head["b"] = sorted([*bs, b])
            self.head_dirty = True
        self._retain(horizon)
        return True

    def newest(self) -> float | None:
        """The newest event time held (epoch s), or None when empty."""
        for b in reversed(self.head["b"]):
            # A named day is never empty once written; but a changelog cut by a crash in
            # older versions (tombstones before the head) can name a deleted day: skip it.
            entries = self.bucket(b)
            if entries:
                return float(entries[-1]["ts"])
        return None

    def records(self) -> list[tuple[str, Any]]:
        """The table writes of the changes, in a crash-safe order: (key, value), None for a
        tombstone.

        New or changed days first, then the head, then tombstones of the days the head no
        longer names: any prefix of these records (a worker killed between two of them) leaves
        a head that names only days that exist, for readers and for the worker restoring it.
        """
        out: list[tuple[str, Any]] = [
            (bucket_key(self.customer_id, b), self.buckets[b]) for b in sorted(self.dirty)
        ]
        if self.head_dirty:
            out.append((self.customer_id, self.head))
        out.extend((bucket_key(self.customer_id, b), None) for b in sorted(self.dropped))
        return out

    def count(self) -> int:
        return sum(len(self.bucket(b)) for b in self.head["b"])

    def _retain(self, horizon: float) -> None:
        first = bucket_of(horizon)
        bs: list[int] = self.head["b"]
        if not bs or bs[0] > first:
            return
        keep = []
        for b in bs:
            if b < first:
                self._drop(b)
            elif b == first:
                entries = self.bucket(b)
                kept = [e for e in entries if e["ts"] >= horizon]
                if len(kept) != len(entries):
                    self.buckets[b] = kept
                    self.dirty.add(b)
                if kept:
                    keep.append(b)
                else:
                    self._drop(b)
            else:
                keep.append(b)
        if keep != bs:
            self.head["b"] = keep
            self.head_dirty = True

    def _drop(self, b: int) -> None:
        self.buckets.pop(b, None)
        self.dirty.discard(b)
        self.dropped.add(b)

    def entries(self) -> Iterator[Entry]:
        """All entries, oldest first."""
        for b in list(self.head["b"]):
            yield from self.bucket(b)

    def move_to(self, survivor: str) -> list[Entry]:
        """Merged away: empty the timeline, redirect to `survivor`; returns the entries."""
        moved = list(self.entries())
        for b in list(self.head["b"]):
            self._drop(b)
        self.head = {"to": survivor, "b": []}
        self.head_dirty = True
        return moved

    def revive(self) -> None:
        if self.head["to"] is not None:
            self.head["to"] = None
            self.head_dirty = True


def stored_count(head: Head, customer_id: str, load: Callable[[str], list[Entry] | None]) -> int:
    """The number of events of a stored timeline."""
    return sum(len(load(bucket_key(customer_id, b)) or []) for b in head.get("b", []))


def newest_first(
    head: Head, customer_id: str, load: Callable[[str], list[Entry] | None]
) -> Iterator[Entry]:
    """A stored timeline's entries, newest first (reads buckets lazily)."""
    for b in reversed(head.get("b", [])):
        yield from reversed(load(bucket_key(customer_id, b)) or [])
