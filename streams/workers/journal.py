"""The identity graph's write-ahead journal: a batch's graph changes become all-or-nothing.

The graph lives in two changelog topics (`identity-nodes`, `identity-components`), and a worker
killed while writing a batch's changes can leave any part of each delivered. Every such cut was
readable (`graph_write_phases`), but not every cut was *the same graph*: the worker that took
over re-resolved the batch's events over a graph half old and half new, and could choose other
survivors than the first run did. The crash test, killed 5 s into its replay, ended with 235
timelines incomplete that way: an identifier still pointing at a component that the first run
had merged away made the second run revive it and merge another one into it, and the two never
met again (2 of the 8 runs before the journal, 2026-12-03).

So the batch's writes are first written, whole, to a third single-partition table (this
journal: chunks `"0"`..`"n-1"` of at most `CHUNK_BYTES`, then the head `{"n": n}`, in one
partition, so a delivered head means delivered chunks). Only once the head is delivered do the
graph writes go out; once they are all delivered the head is deleted. A worker restoring the
tables finds either no head (the graph is as before the batch, or as after it) or a head, and
then it applies the journal again (`pending_writes`: puts and deletes are idempotent) before it
resolves anything. Either way the graph it resolves over is one a clean run had.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

HEAD = "head"
CHUNK_BYTES = 256 * 1024
"""A journal record's size bound (the broker refuses records over 1 MB)."""

Write = tuple[str, str, Any]
"""(table, key, value): table "nodes" or "components", value None for a deletion."""


def journal_records(writes: Iterable[Write]) -> list[tuple[str, Any]]:
    """The journal's (key, value) records for a batch's graph writes, head last."""
    chunks: list[list[list[Any]]] = []
    current: list[list[Any]] = []
    size = 0
    for table, key, value in writes:
        item = [table, key, value]
        n = len(orjson.dumps(item)) + 1  # and its comma
        if current and size + n > CHUNK_BYTES:
            chunks.append(current)
            current, size = [], 0
        current.append(item)
        size += n
    if current:
        chunks.append(current)
    return [*((str(i), chunk) for i, chunk in enumerate(chunks)), (HEAD, {"n": len(chunks)})]


def pending_writes(journal: Mapping[str, Any]) -> list[Write] | None:
    """The writes of a batch cut by a crash (to apply again), or None when none was."""
    head = journal.get(HEAD)
    if head is None:
        return None
    out: list[Write] = []
    for i in range(int(head["n"])):
        out.extend((str(t), str(k), v) for t, k, v in journal[str(i)])
    return out


def cleared(n_chunks: int) -> list[str]:
    """The journal keys to delete once the graph writes are delivered: the head first (a head
    naming a deleted chunk must never be read), then the chunks (they hold identifiers)."""
    return [HEAD, *(str(i) for i in range(n_chunks))]
