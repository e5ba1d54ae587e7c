"""replay(): the clean recomputation the crash test compares the workers with."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.features.channel import ChannelResponseState, apply_response
from streams.features.customer import customer_features
from streams.features.state import CustomerState
from streams.rules.config import RulesConfig
from streams.rules.engine import step
from streams.rules.replay import replay
from tests.streams.features.factory import at, ev
from tests.streams.features.test_properties import journeys

pytestmark = pytest.mark.unit

BAD = "this is terrible, awful service"


def _events() -> list:
    a = [
        ev("a1", 0, "chat", conv="A1", text=BAD),
        ev("a2", 4, "chat", "outbound", conv="A1"),
        ev("a3", 30, "phone", conv="A2"),
        ev("a4", 50, "phone", "outbound", conv="A2"),
    ]
    b = [
        ev("b1", 10, "social", conv="B1", customer_id="cust-2"),
        ev("b2", 12, "chat", conv="B2", customer_id="cust-2"),
        ev("b3", 20, "chat", "outbound", conv="B2", customer_id="cust-2"),
        ev("b4", 90, "email", conv="B3", customer_id="cust-2"),
    ]
    return a + b


def test_replay_hand_checked() -> None:
    r = replay(_events())
    assert r.events == 8 and set(r.features) == {"cust-1", "cust-2"}
    one, two = r.features["cust-1"], r.features["cust-2"]
    assert (one["contacts_1h"], one["open_conversations"], one["first_response_s_last"]) == (
        2,
        0,
        20 * 60.0,  # phone call 10:30 answered 10:50
    )
    assert one["digital_to_phone_24h"] == 1
    assert (two["contacts_24h"], two["open_conversations"]) == (3, 2)  # B1 and B3 unanswered
    # chat first responses: a1 240 s (answered 10:04), b2 480 s (10:20); clock 10:20 -> median
    assert r.channel_features["chat"] == {"first_response_s_p50_1h": 360.0, "answered_1h": 2}
    assert r.channel_features["phone"] == {"first_response_s_p50_1h": 1200.0, "answered_1h": 1}
    kinds = sorted((s.customer_id, s.type) for s in r.signals)
    assert kinds == [
        ("cust-1", "channel_fallback"),
        ("cust-1", "negative_sentiment"),
        ("cust-2", "repeat_contact"),
        ("cust-2", "unanswered_public_post"),  # B1 at 10:10, b4 at 11:30 passes its deadline
    ]


def test_replay_equals_a_shuffled_redelivered_run() -> None:
    # A worker sees the events in another order, some twice: same features, same channels.
    events = _events()
    rng = random.Random(7)
    arrival = events + rng.sample(events, 4)
    rng.shuffle(arrival)
    states: dict[str, CustomerState] = {}
    chats: dict[str, ChannelResponseState] = {}
    for e in arrival:
        state = states.setdefault(e.customer_id, CustomerState(e.customer_id))
        update, _ = step(state, e)
        for fr in update.first_responses:
            apply_response(chats.setdefault(fr.channel, ChannelResponseState(fr.channel)), fr)
    r = replay(events)
    assert {c: customer_features(s) for c, s in states.items()} == r.features
    assert {c: s.to_dict()["inbound"] for c, s in states.items()} == {
        c: s.to_dict()["inbound"] for c, s in r.customers.items()
    }
    assert chats == r.channels


def test_replay_at_a_later_time_and_refuses_unresolved() -> None:
    r = replay(_events(), now=at(24 * 60 + 100))
    assert r.features["cust-2"]["contacts_24h"] == 0
    with pytest.raises(ValueError, match="customer_id"):
        replay([ev("x", 0, customer_id=None)])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_crash_and_redelivery_publish_exactly_the_clean_signals(data: st.DataObject) -> None:
    # A worker processes the events in order, snapshots its state at k (the changelog), gets
    # as far as m, crashes, restores the snapshot and processes k.. again (at-least-once).
    # De-duplicated by signal_id, what it published equals the clean replay's signals.
    events = sorted(
        data.draw(journeys(span_min=3 * 24 * 60)), key=lambda e: (e.occurred_at, e.event_id)
    )
    k = data.draw(st.integers(0, len(events)))
    m = data.draw(st.integers(k, len(events)))
    published: dict[str, object] = {}
    state = CustomerState("cust-1")
    snapshot = json.dumps(state.to_dict())
    for i, e in enumerate(events[:m]):
        if i == k:
            snapshot = json.dumps(state.to_dict())
        for s in step(state, e)[1]:
            assert published.setdefault(s.signal_id, s) == s  # a re-raise is identical
    if m == k:
        snapshot = json.dumps(state.to_dict())
    state = CustomerState.from_dict(json.loads(snapshot))
    for e in events[k:]:
        for s in step(state, e)[1]:
            assert published.setdefault(s.signal_id, s) == s
    clean = {s.signal_id: s for s in replay(events).signals}
    assert published == clean


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_order_respects_cooldowns(data: st.DataObject) -> None:
    # Whatever the arrival order and redeliveries, two different signals of one rule are never
    # closer than its cooldown in event time, and every signal's evidence is made of real events.
    events = data.draw(journeys(span_min=3 * 24 * 60))
    arrival = list(data.draw(st.permutations(events)))
    arrival += data.draw(st.lists(st.sampled_from(events), max_size=6))
    config = RulesConfig()
    state = CustomerState("cust-1")
    published = {}
    for e in arrival:
        for s in step(state, e, config)[1]:
            published[s.signal_id] = s
    ids = {e.event_id for e in events}
    by_rule: dict[str, list[float]] = {}
    for s in published.values():
        assert set(s.evidence) <= ids
        by_rule.setdefault(s.type, []).append(s.raised_at.timestamp())
    for rule, times in by_rule.items():
        times.sort()
        cooldown = getattr(config, rule).cooldown_s
        assert all(b - a >= cooldown for a, b in zip(times, times[1:], strict=False)), rule
