"""merge(): identity resolution joined two customers; the merged state holds both histories."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.features.customer import customer_features
from streams.features.state import CustomerState, apply, merge
from streams.rules.engine import step
from tests.streams.features.factory import ev
from tests.streams.features.test_properties import journeys

pytestmark = pytest.mark.unit


def _state(cid: str, events: list) -> CustomerState:
    state = CustomerState(cid)
    for e in events:
        apply(state, e)
    return state


def test_merge_hand_checked() -> None:
    # Customer 1 chatted at 10:00 (answered 10:05); customer 2 (the same person on the phone)
    # called at 10:30 about it. Merged: two contacts, one open, a digital->phone fallback.
    one = _state("cust-1", [ev("c1", 0, conv="A"), ev("o1", 5, "chat", "outbound", conv="A")])
    two = _state("cust-2", [ev("p1", 30, "phone", conv="P")])
    merged = merge(one, two)
    assert merged.customer_id == "cust-1"
    f = customer_features(merged)
    assert (f["contacts_1h"], f["open_conversations"], f["digital_to_phone_24h"]) == (2, 1, 1)
    assert f["last_channel"] == "phone" and f["first_response_s_last"] == 300.0
    # The inputs are unchanged, and merging again changes nothing.
    assert customer_features(two)["digital_to_phone_24h"] == 0
    assert merge(merged, two) == merged
    assert merge(merged, one) == merged


def test_merge_keeps_both_customers_signals() -> None:
    bad = "this is terrible, awful service"
    one, two = CustomerState("cust-1"), CustomerState("cust-2")
    [s1] = step(one, ev("n1", 0, conv="A", text=bad))[1]
    [s2] = step(two, ev("n2", 30, "email", conv="M", text=bad, customer_id="cust-2"))[1]
    merged = merge(one, two)
    ids = [r.signal_id for r in merged.signals["negative_sentiment"]]
    assert ids == [s1.signal_id, s2.signal_id]
    # Cooldown now covers the joined history: another negative chat at 11:00 is quiet.
    assert step(merged, ev("n3", 60, conv="A", text=bad))[1] == []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_merge_equals_one_customer_with_all_events(data: st.DataObject) -> None:
    events = data.draw(journeys(span_min=6 * 24 * 60))
    split = data.draw(st.lists(st.booleans(), min_size=len(events), max_size=len(events)))
    mine = [e for e, s in zip(events, split, strict=True) if s]
    theirs = [e for e, s in zip(events, split, strict=True) if not s]
    merged = merge(_state("cust-1", mine), _state("cust-2", theirs))
    assert merged == _state("cust-1", events)
    assert merge(_state("cust-2", theirs), _state("cust-1", mine)).to_dict() == {
        **merged.to_dict(),
        "customer_id": "cust-2",
    }
