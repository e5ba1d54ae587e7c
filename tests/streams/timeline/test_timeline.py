"""Timeline logic: idempotent by event_id, ordered by event time, late events slot in,
retention counted from the newest event, conversations grouped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schemas.events import InteractionEvent, Source
from streams.timeline import conversations, entry_for, insert, query

pytestmark = pytest.mark.unit

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
DAY = 86400.0


def ev(
    eid: str,
    minutes: float,
    channel: str = "chat",
    conv: str | None = "c1",
    direction: str = "inbound",
) -> InteractionEvent:
    return InteractionEvent(
        event_id=eid,
        occurred_at=T0 + timedelta(minutes=minutes),
        ingested_at=T0,
        channel=channel,
        direction=direction,
        kind="message",
        conversation_id=conv,
        identifiers=[{"type": "email", "value": "A@x.com"}],
        source=Source(system="test", record_id=eid),
    )


def build(events: list[InteractionEvent], retention_s: float = 400 * DAY) -> list:
    entries: list = []
    for e in events:
        entries, _ = insert(entries, entry_for(e), retention_s)
    return entries


def test_order_dedup_and_late_events() -> None:
    entries = build([ev("b", 10), ev("c", 20), ev("a", 0), ev("b", 10), ev("c", 20)])
    assert [e["id"] for e in entries] == ["a", "b", "c"]
    again, new = insert(entries, entry_for(ev("a", 0)), 400 * DAY)
    assert new is False and again == entries
    # Same event time: ordered by event_id, so every arrival order gives one timeline.
    tie = build([ev("z", 5), ev("y", 5)])
    assert [e["id"] for e in tie] == ["y", "z"]


def test_retention_is_counted_back_from_the_newest_event() -> None:
    entries = build([ev("old", 0), ev("mid", 60 * 24 * 2)], retention_s=3 * DAY)
    assert [e["id"] for e in entries] == ["old", "mid"]
    # An event 4 days after "old" pushes it out of a 3-day window; "mid" (2 days) stays.
    entries, new = insert(entries, entry_for(ev("new", 60 * 24 * 4)), 3 * DAY)
    assert new and [e["id"] for e in entries] == ["mid", "new"]
    # A late event older than the window is not kept.
    entries2, new2 = insert(entries, entry_for(ev("ancient", -60)), 3 * DAY)
    assert not new2 and entries2 == entries


def test_query_newest_first_with_filters() -> None:
    entries = build([ev("a", 0), ev("b", 10, channel="phone"), ev("c", 20), ev("d", 30)])
    assert [e["event_id"] for e in query(entries)] == ["d", "c", "b", "a"]
    assert [e["event_id"] for e in query(entries, channel="phone")] == ["b"]
    assert [e["event_id"] for e in query(entries, limit=2)] == ["d", "c"]
    got = query(entries, since=T0 + timedelta(minutes=10), until=T0 + timedelta(minutes=30))
    assert [e["event_id"] for e in got] == ["c", "b"]


def test_conversations_are_grouped() -> None:
    entries = build(
        [
            ev("a", 0, conv="c1"),
            ev("b", 5, conv="c1", direction="outbound"),
            ev("c", 7, channel="phone", conv="call9"),
            ev("d", 9, channel="app", conv=None, direction="internal"),
        ]
    )
    groups = conversations(query(entries))
    assert [g["conversation_id"] for g in groups] == [None, "call9", "c1"]
    c1 = groups[2]
    assert c1["event_ids"] == ["b", "a"] and c1["inbound"] == 1 and c1["outbound"] == 1
    assert c1["first_at"].startswith("2026-03-01T12:00:00")
    assert c1["last_at"].startswith("2026-03-01T12:05:00")
    assert groups[0]["event_ids"] == ["d"] and groups[0]["channels"] == ["app"]
