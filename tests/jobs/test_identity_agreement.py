"""silver.identity_graph agrees with the stream's identity resolution on the same events.

The batch side (`jobs.silver.identity.build_identity_graph`, min-label propagation in Spark)
and the stream side (`streams.identity.IdentityGraph`, weighted union event by event) are two
implementations of one rule (`schemas/identity.py`): connected components of "carried by one
event", named after the identifier first seen earliest (ties: key). Both run here on one set of
canonical events; every identifier must get the same customer_id and the same component.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta, timezone

import pytest

from jobs.silver.identity import build_identity_graph
from schemas.events import InteractionEvent
from schemas.identity import customer_id_for
from streams.identity import IdentityGraph
from tests.lakehouse_helpers import at, bronze_frame, event

pytestmark = pytest.mark.integration

CHANNEL_OF = {
    "email": "email",
    "phone": "phone",
    "chat_visitor_id": "chat",
    "app_user_id": "app",
    "social_handle": "social",
}


def hand_made() -> list[InteractionEvent]:
    """Cases whose answer is worked out by hand (see the test below), in arrival order."""
    return [
        # Ann: a chain email - phone - handle - chat visitor, each link one event, so the
        # anchor's label needs three rounds of propagation to reach the visitor id.
        event("ann1", at(0), ids=[("email", "Ann@Example.com")]),
        event(
            "ann2",
            at(5),
            channel="phone",
            ids=[("phone", "+44 20 7946 0001"), ("email", "ann@example.com")],
        ),
        event(
            "ann3",
            at(10),
            channel="social",
            ids=[("social_handle", "@Annie"), ("phone", "+442079460001")],
        ),
        event(
            "ann4",
            at(15),
            channel="chat",
            ids=[("chat_visitor_id", "v-ann"), ("social_handle", "annie")],
        ),
        # Dan and Eve are two customers until Eve gives the household phone Dan already used:
        # the shared identifier merges them into Dan (his e-mail was seen first, at 100) ...
        event("dan1", at(100), ids=[("email", "dan@example.com")]),
        event("eve1", at(105), channel="chat", ids=[("chat_visitor_id", "v-eve")]),
        event(
            "eve2",
            at(106),
            channel="app",
            ids=[("app_user_id", "u-eve"), ("chat_visitor_id", "v-eve")],
        ),
        event(
            "dan2",
            at(110),
            channel="phone",
            ids=[("phone", "+1 (415) 555-0100"), ("email", "Dan@Example.com")],
        ),
        event("eve3", at(120), ids=[("email", "eve@example.com"), ("app_user_id", "u-eve")]),
        event(
            "eve4",
            at(125),
            channel="phone",
            ids=[("phone", "+14155550100"), ("email", "eve@example.com")],
        ),
        # ... and a late event (arriving last, from 10 minutes before Dan's first) moves the
        # anchor to Eve's visitor id: the merged customer is renamed once more.
        event("eve0", at(90), channel="chat", ids=[("chat_visitor_id", "v-eve")]),
        # Fay and Gus: two anchors first seen at the same instant, joined later: the smaller
        # key wins ("email:..." < "social_handle:...").
        event("fay1", at(300), ids=[("email", "fay@example.com")]),
        event("gus1", at(300), channel="social", ids=[("social_handle", "gus")]),
        event("fg", at(310), ids=[("social_handle", "gus"), ("email", "fay@example.com")]),
        # Hal: the handle's offset makes it look later on the wall clock, but it is a minute
        # earlier in UTC, so it is the anchor.
        event("hal1", at(400), ids=[("email", "hal@example.com")]),
        event(
            "hal2",
            at(399).astimezone(timezone(timedelta(hours=2))),
            channel="social",
            ids=[("social_handle", "hal")],
        ),
        event("hal3", at(420), ids=[("social_handle", "hal"), ("email", "hal@example.com")]),
        # Ivy: first-seen times one microsecond apart; the later one has the smaller key.
        event(
            "ivy1", at(500) + timedelta(microseconds=1), channel="app", ids=[("app_user_id", "ivy")]
        ),
        event("ivy2", at(500), channel="social", ids=[("social_handle", "ivy")]),
        event(
            "ivy3", at(505), channel="app", ids=[("app_user_id", "ivy"), ("social_handle", "ivy")]
        ),
        # Joe: one event carrying the same identifier twice (two spellings) and nothing else.
        event("joe1", at(600), ids=[("email", "joe@example.com"), ("email", "JOE@example.com")]),
    ]


def population(
    customers: int = 30, per_customer: int = 12, seed: int = 20240304
) -> list[InteractionEvent]:
    """Synthetic journeys: each customer has five identifiers (one per channel); most events
    carry their channel's identifier only, some also a second identifier of the same customer
    (a logged-in chat, an app identify), so customers start split and merge as links arrive.
    Every seventh customer shares a phone with the one before (a household), which merges them.
    Event times are shuffled against the list order (late events); a few share a minute."""
    rng = random.Random(seed)
    events: list[InteractionEvent] = []
    for c in range(customers):
        phone_owner = c - 1 if c % 7 == 1 else c
        ids = {
            "email": ("email", f"Person{c}@Example.com"),
            "phone": ("phone", f"+1 415 {5000000 + phone_owner:07d}"),
            "chat_visitor_id": ("chat_visitor_id", f"v-{c}"),
            "app_user_id": ("app_user_id", f"u-{c}"),
            "social_handle": ("social_handle", f"@P_{c}"),
        }
        for j in range(per_customer):
            kind = rng.choice(sorted(ids))
            carried = [ids[kind]]
            if rng.random() < 0.4:
                carried.append(ids[rng.choice(sorted(set(ids) - {kind}))])
            # Whole minutes (with a few exact ties across customers) over three days.
            when = at(rng.randrange(3 * 24 * 60))
            events.append(event(f"p{c}-{j}", when, channel=CHANNEL_OF[kind], ids=carried))
        if phone_owner != c:
            # The household's phone, once with each person's e-mail: the two customers merge.
            for who, minute in ((phone_owner, 1000 + c), (c, 2000 + c)):
                shared = [ids["phone"], ("email", f"Person{who}@Example.com")]
                events.append(event(f"h{c}-{who}", at(minute), channel="phone", ids=shared))
    rng.shuffle(events)
    return events


def stream_assignment(events: Sequence[InteractionEvent]) -> tuple[dict[str, str], int]:
    """identifier key -> customer_id from the stream's graph over plain dicts, driven as the
    identity worker drives it (the event decoded from its Kafka bytes, then resolved); also the
    number of merges it performed."""
    graph = IdentityGraph({}, {})
    merges = 0
    for ev in events:
        decoded = InteractionEvent.from_json_bytes(ev.to_json_bytes())
        res = graph.resolve([i.key for i in decoded.identifiers], decoded.occurred_at)
        merges += len(res.merges)
    return graph.assignment(), merges


def components(assignment: dict[str, str]) -> set[frozenset[str]]:
    groups: dict[str, set[str]] = defaultdict(set)
    for key, customer in assignment.items():
        groups[customer].add(key)
    return {frozenset(g) for g in groups.values()}


def disagreements(stream: dict[str, str], batch: dict[str, str]) -> list[str]:
    """One line per identifier whose customer differs (or that only one side knows)."""
    return [
        f"{key}: stream {stream.get(key)} batch {batch.get(key)}"
        for key in sorted(set(stream) | set(batch))
        if stream.get(key) != batch.get(key)
    ]


def test_batch_and_stream_agree_on_every_identifier(spark) -> None:  # type: ignore[no-untyped-def]
    events = hand_made() + population()
    rows = build_identity_graph(bronze_frame(spark, events)).collect()
    batch = {r.identifier_key: r.customer_id for r in rows}
    assert len(rows) == len(batch)  # one row per identifier
    # The batch's customer_id is the anchor's, by the shared rule.
    assert all(r.customer_id == customer_id_for(r.anchor_key) for r in rows)

    # The stream in arrival order, in reverse, in event-time order and in shuffled orders:
    # each must equal the batch's answer identifier by identifier.
    orders = {
        "arrival": events,
        "reversed": events[::-1],
        "event time": sorted(events, key=lambda e: (e.occurred_at, e.event_id)),
        "newest first": sorted(events, key=lambda e: (e.occurred_at, e.event_id), reverse=True),
    }
    for seed in (1, 2, 3):
        shuffled = list(events)
        random.Random(seed).shuffle(shuffled)
        orders[f"shuffle {seed}"] = shuffled
    merges_by_order = {}
    for name, ordered in orders.items():
        stream, merges_by_order[name] = stream_assignment(ordered)
        assert disagreements(stream, batch) == [], name
        assert components(stream) == components(batch), name

    # The data really exercises merging: many multi-identifier customers, households joining
    # two people, and on the stream side customers that existed apart and merged, in every
    # order (even in event-time order, where links mostly arrive after both sides exist).
    groups = components(batch)
    assert len(batch) > 150 and len(groups) > 30
    assert sum(len(g) >= 5 for g in groups) >= 12
    household = {k for k, c in batch.items() if c == batch["phone:+14155000000"]}
    assert {"email:person0@example.com", "email:person1@example.com"} <= household
    assert min(merges_by_order.values()) >= 20, merges_by_order


def test_hand_checked_merges_agree(spark) -> None:  # type: ignore[no-untyped-def]
    events = hand_made()
    rows = build_identity_graph(bronze_frame(spark, events)).collect()
    batch = {r.identifier_key: r.customer_id for r in rows}
    anchors = {r.identifier_key: r.anchor_key for r in rows}
    stream, _ = stream_assignment(events)
    assert disagreements(stream, batch) == []

    def customer(anchor: str, *members: str) -> dict[str, str]:
        return dict.fromkeys((anchor, *members), customer_id_for(anchor))

    expected = {
        **customer(
            "email:ann@example.com",
            "phone:+442079460001",
            "social_handle:annie",
            "chat_visitor_id:v-ann",
        ),
        # Dan and Eve, merged through the shared phone; the late eve0 (at 90) makes Eve's
        # visitor id the earliest identifier of the merged customer, ahead of Dan's e-mail.
        **customer(
            "chat_visitor_id:v-eve",
            "app_user_id:u-eve",
            "email:dan@example.com",
            "email:eve@example.com",
            "phone:+14155550100",
        ),
        **customer("email:fay@example.com", "social_handle:gus"),
        **customer("social_handle:hal", "email:hal@example.com"),
        **customer("social_handle:ivy", "app_user_id:ivy"),
        **customer("email:joe@example.com"),
    }
    assert batch == expected
    assert stream == expected
    assert anchors["email:dan@example.com"] == "chat_visitor_id:v-eve"

    # Without the late event, the same merge keeps Dan's e-mail as the anchor on both sides.
    without_late = [e for e in events if e.source.record_id != "eve0"]
    rows = build_identity_graph(bronze_frame(spark, without_late)).collect()
    batch = {r.identifier_key: r.customer_id for r in rows}
    stream, _ = stream_assignment(without_late)
    dan = customer_id_for("email:dan@example.com")
    for key in (
        "email:dan@example.com",
        "phone:+14155550100",
        "email:eve@example.com",
        "chat_visitor_id:v-eve",
        "app_user_id:u-eve",
    ):
        assert batch[key] == stream[key] == dan, key
