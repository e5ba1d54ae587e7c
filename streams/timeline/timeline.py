"""A customer's timeline: every canonical event once, ordered by event time.

A timeline is a list of entries `{"ts": epoch seconds, "id": event_id, "e": event JSON}` sorted
by (ts, id). Inserting is idempotent by event_id (at-least-once delivery may repeat an event),
a late event slots into its place, and events older than the retention window (counted back
from the newest event time, so a replay gives the same result as live operation) are dropped.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from schemas.events import InteractionEvent

Entry = dict[str, Any]


def entry_for(event: InteractionEvent) -> Entry:
    """The stored form of an event."""
    return {
        "ts": event.occurred_at.timestamp(),
        "id": event.event_id,
        "e": event.model_dump(mode="json"),
    }


def insert(entries: list[Entry], entry: Entry, retention_s: float) -> tuple[list[Entry], bool]:
    """Return (new entries, True if the event was new).

    An event already present (same event_id) leaves the timeline unchanged, wherever it sits.
    An event older than the retention window is not inserted.
    """
    if any(e["id"] == entry["id"] for e in entries):
        return entries, False
    newest = max(entry["ts"], entries[-1]["ts"]) if entries else entry["ts"]
    horizon = newest - retention_s
    if entry["ts"] < horizon:
        return entries, False
    keys = [(e["ts"], e["id"]) for e in entries]
    pos = bisect.bisect(keys, (entry["ts"], entry["id"]))
    out = [*entries[:pos], entry, *entries[pos:]]
    # Retention: drop from the old end only (the list is sorted).
    cut = 0
    while cut < len(out) and out[cut]["ts"] < horizon:
        cut += 1
    return out[cut:], True


def query(
    entries: list[Entry],
    since: datetime | None = None,
    until: datetime | None = None,
    channel: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Events (JSON) newest first, filtered by event time [since, until) and channel."""
    return query_newest_first(reversed(entries), since, until, channel, limit)


def query_newest_first(
    entries: Iterable[Entry],
    since: datetime | None = None,
    until: datetime | None = None,
    channel: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """`query` over entries given newest first (stops reading at `limit`)."""
    lo = since.timestamp() if since else float("-inf")
    hi = until.timestamp() if until else float("inf")
    out = []
    for entry in entries:
        if not lo <= entry["ts"] < hi:
            continue
        if channel and entry["e"]["channel"] != channel:
            continue
        out.append(entry["e"])
        if limit is not None and len(out) >= limit:
            break
    return out


def conversations(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Group events (JSON) by conversation, newest conversation first.

    An event without a conversation_id is its own group (keyed by its event_id).
    """
    groups: dict[str, dict[str, Any]] = {}
    for ev in events:
        key = ev.get("conversation_id") or f"event:{ev['event_id']}"
        group = groups.setdefault(
            key,
            {
                "conversation_id": ev.get("conversation_id"),
                "channels": [],
                "first_at": ev["occurred_at"],
                "last_at": ev["occurred_at"],
                "event_ids": [],
                "inbound": 0,
                "outbound": 0,
            },
        )
        if ev["channel"] not in group["channels"]:
            group["channels"].append(ev["channel"])
        group["event_ids"].append(ev["event_id"])
        ts = datetime.fromisoformat(ev["occurred_at"])
        if ts < datetime.fromisoformat(group["first_at"]):
            group["first_at"] = ev["occurred_at"]
        if ts > datetime.fromisoformat(group["last_at"]):
            group["last_at"] = ev["occurred_at"]
        if ev["direction"] == "inbound":
            group["inbound"] += 1
        elif ev["direction"] == "outbound":
            group["outbound"] += 1
    return sorted(groups.values(), key=lambda g: datetime.fromisoformat(g["last_at"]), reverse=True)
