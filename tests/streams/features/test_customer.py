"""Customer features: hand-checked figures, idempotency, late events, windows, serialisation.

VADER compounds used below (vaderSentiment 3.3.2): "this is terrible, awful service" -0.7269,
"thanks, great" 0.7906, "where is my parcel?" 0.0.
"""

from __future__ import annotations

import json

import pytest

from schemas.features import CUSTOMER_REALTIME_FEATURES
from streams.features.customer import customer_features, process
from streams.features.state import CustomerState, StateError, apply
from tests.streams.features.factory import CUSTOMER, at, ev

pytestmark = pytest.mark.unit

BAD = "this is terrible, awful service"
GOOD = "thanks, great"


def _journey() -> list:
    # 10:00 chat A (negative), 10:05 agent answers A, 10:30 phone call P (no text),
    # 10:40 email M (positive), nothing answered after.
    return [
        ev("e1", 0, "chat", conv="A", text=BAD),
        ev("o1", 5, "chat", "outbound", conv="A"),
        ev("e3", 30, "phone", conv="P"),
        ev("e4", 40, "email", conv="M", text=GOOD),
    ]


def _state(events: list) -> CustomerState:
    state = CustomerState()
    for e in events:
        apply(state, e)
    return state


def test_features_of_a_journey_hand_checked() -> None:
    f = customer_features(_state(_journey()))
    assert list(f) == list(CUSTOMER_REALTIME_FEATURES)
    assert f["contacts_1h"] == 3  # A, P, M all inside (09:40, 10:40]
    assert f["contacts_24h"] == 3
    assert f["contacts_7d"] == 3
    assert f["channels_24h"] == 3  # chat, phone, email
    assert f["last_contact_at"] == at(40)
    assert f["last_channel"] == "email"
    assert f["open_conversations"] == 2  # P and M; A was answered at 10:05
    assert f["oldest_unanswered_s"] == 600.0  # P at 10:30, clock 10:40
    assert f["first_response_s_last"] == 300.0  # A: 10:00 -> 10:05
    assert f["sentiment_last"] == pytest.approx(0.7906)
    assert f["sentiment_avg_24h"] == pytest.approx((-0.7269 + 0.7906) / 2)  # phone has no text
    assert f["digital_to_phone_24h"] == 1  # P came 30 min after chat A


def test_features_at_a_later_wall_clock() -> None:
    # At 11:20 the 1 h window is (10:20, 11:20]: P and M only; A has left it.
    f = customer_features(_state(_journey()), now=at(80))
    assert f["contacts_1h"] == 2
    assert f["contacts_24h"] == 3
    assert f["oldest_unanswered_s"] == 50 * 60.0
    # A day later the 24 h window (next day 10:40, ...] is empty; 7 d still holds all three.
    f = customer_features(_state(_journey()), now=at(40 + 24 * 60))
    assert (f["contacts_1h"], f["contacts_24h"], f["contacts_7d"]) == (0, 0, 3)
    assert f["channels_24h"] == 0
    assert f["sentiment_avg_24h"] is None
    assert f["sentiment_last"] == pytest.approx(0.7906)  # lifetime, not windowed
    assert f["digital_to_phone_24h"] == 0


def test_window_is_half_open() -> None:
    # An event exactly 1 h before now is outside the 1 h window; one second later is inside.
    state = _state([ev("e1", 0, conv="A"), ev("e2", 60, conv="B")])
    assert customer_features(state)["contacts_1h"] == 1
    state = _state([ev("e1", 0, conv="A"), ev("e2", 60 - 1 / 60, conv="B")])
    assert customer_features(state)["contacts_1h"] == 2


def test_a_conversation_counts_once_per_window() -> None:
    state = _state([ev("e1", 0, conv="A"), ev("e2", 10, conv="A"), ev("e3", 20, conv="B")])
    f = customer_features(state)
    assert (f["contacts_1h"], f["channels_24h"]) == (2, 1)


def test_empty_state() -> None:
    f = customer_features(CustomerState())
    assert f["contacts_24h"] == 0 and f["open_conversations"] == 0
    assert f["last_contact_at"] is None and f["oldest_unanswered_s"] is None
    assert f["first_response_s_last"] is None and f["sentiment_avg_24h"] is None


def test_reapplying_an_event_changes_nothing() -> None:
    state = _state(_journey())
    snapshot = state.to_dict()
    for e in _journey():
        assert apply(state, e) is False
    assert state.to_dict() == snapshot


def test_a_late_answer_and_a_late_message_slot_in() -> None:
    # The answer to P arrives before the call itself is seen, and the first chat message last.
    events = _journey() + [ev("o2", 45, "phone", "outbound", conv="P")]
    in_order = _state(events)
    shuffled = _state([events[4], events[2], events[3], events[1], events[0]])
    assert shuffled == in_order
    f = customer_features(shuffled)
    assert f["open_conversations"] == 1  # only M
    assert f["first_response_s_last"] == 15 * 60.0  # P: 10:30 -> 10:45 is the latest answered


def test_first_response_counts_from_the_first_inbound() -> None:
    # Two customer messages at 10:00 and 10:10, the answer at 10:30: 30 min, not 20.
    state = _state(
        [ev("e1", 0, conv="A"), ev("e2", 10, conv="A"), ev("o1", 30, "chat", "outbound", conv="A")]
    )
    assert customer_features(state)["first_response_s_last"] == 1800.0
    # A later exchange in the same conversation does not change its first response.
    apply(state, ev("e3", 40, conv="A"))
    apply(state, ev("o2", 41, "chat", "outbound", conv="A"))
    assert customer_features(state)["first_response_s_last"] == 1800.0


def test_answer_before_message_does_not_answer_it() -> None:
    state = _state([ev("o1", 0, "chat", "outbound", conv="A"), ev("e1", 5, conv="A")])
    f = customer_features(state)
    assert f["open_conversations"] == 1
    assert f["first_response_s_last"] is None


def test_old_events_leave_the_window_but_open_ones_stay() -> None:
    # A answered, B never answered; 8 days later a new message arrives.
    state = _state(
        [
            ev("e1", 0, conv="A"),
            ev("o1", 1, "chat", "outbound", conv="A"),
            ev("e2", 2, conv="B"),
            ev("e3", 8 * 24 * 60, conv="C"),
        ]
    )
    assert [r.event_id for r in state.inbound] == ["e2", "e3"]  # A's message pruned
    assert "A" not in state.conversations or not state.conversations["A"].outs
    f = customer_features(state)
    assert f["contacts_7d"] == 1
    assert f["open_conversations"] == 2  # B (8 days unanswered) and C
    assert f["oldest_unanswered_s"] == (8 * 24 * 60 - 2) * 60.0
    assert f["first_response_s_last"] == 60.0  # remembered after A's exchange left the window


def test_unanswered_for_thirty_days_is_abandoned() -> None:
    state = _state([ev("e1", 0, conv="A"), ev("e2", 31 * 24 * 60, conv="B")])
    assert [r.event_id for r in state.inbound] == ["e2"]
    assert customer_features(state)["open_conversations"] == 1


def test_phone_without_preceding_digital_is_not_a_fallback() -> None:
    # The chat comes after the call; and an email 61 min before a call is too early.
    state = _state(
        [
            ev("e1", 0, "phone", conv="P"),
            ev("e2", 5, "chat", conv="A"),
            ev("e3", 100, "email", conv="M"),
            ev("e4", 161, "phone", conv="Q"),
        ]
    )
    assert customer_features(state)["digital_to_phone_24h"] == 0


def test_serialisation_round_trips_through_json() -> None:
    state = _state(_journey())
    data = json.loads(json.dumps(state.to_dict()))
    back = CustomerState.from_dict(data)
    assert back == state
    assert customer_features(back) == customer_features(state)
    # The rebuilt state keeps working: duplicates are still recognised.
    assert apply(back, _journey()[0]) is False


def test_unreadable_state_is_a_clear_error() -> None:
    with pytest.raises(StateError, match="version"):
        CustomerState.from_dict({"v": 99})
    with pytest.raises(StateError, match="malformed"):
        CustomerState.from_dict({"v": 1, "customer_id": "x"})


def test_process_reports_features_and_first_responses() -> None:
    state = CustomerState()
    u = process(state, ev("e1", 0, conv="A", text=BAD))
    assert u.changed and u.first_responses == []
    assert u.features["contacts_1h"] == 1
    u = process(state, ev("o1", 4, "chat", "outbound", conv="A"))
    assert u.changed
    [fr] = u.first_responses
    assert (fr.customer_id, fr.channel, fr.conversation_id, fr.seconds) == (
        CUSTOMER,
        "chat",
        "A",
        240.0,
    )
    assert fr.answered_at == at(4) and fr.first_inbound_at == at(0)
    # A duplicate, and a second answer, report nothing new.
    assert process(state, ev("o1", 4, "chat", "outbound", conv="A"))[:1] == (False,)
    assert process(state, ev("o2", 6, "chat", "outbound", conv="A")).first_responses == []
    # A late earlier customer message moves the start: the corrected response is reported.
    [fr] = process(state, ev("e0", -2, conv="A")).first_responses
    assert fr.seconds == 360.0
