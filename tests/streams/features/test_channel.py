"""Channel reply-time features: median of first responses answered in the last hour."""

from __future__ import annotations

import json

import pytest

from streams.features.channel import ChannelResponseState, apply_response, channel_features
from streams.features.state import FirstResponse, StateError
from tests.streams.features.factory import at

pytestmark = pytest.mark.unit


def _fr(conv: str, answered_min: float, seconds: float, channel: str = "chat") -> FirstResponse:
    answered = at(answered_min)
    first = at(answered_min - seconds / 60)
    return FirstResponse("c", channel, conv, seconds, answered, first)


def test_median_of_the_last_hour_hand_checked() -> None:
    state = ChannelResponseState("chat")
    for conv, minute, seconds in [("a", 0, 600), ("b", 10, 60), ("c", 20, 300), ("d", 30, 120)]:
        assert apply_response(state, _fr(conv, minute, seconds))
    f = channel_features(state)
    assert f == {"first_response_s_p50_1h": (120 + 300) / 2, "answered_1h": 4}
    # At 11:05 the window is (10:05, 11:05]: b, c, d -> median 120.
    assert channel_features(state, now=at(65)) == {
        "first_response_s_p50_1h": 120.0,
        "answered_1h": 3,
    }
    # At 11:31 nothing is left.
    assert channel_features(state, now=at(91)) == {
        "first_response_s_p50_1h": None,
        "answered_1h": 0,
    }


def test_idempotent_and_corrections_replace() -> None:
    state = ChannelResponseState("chat")
    assert apply_response(state, _fr("a", 0, 600))
    assert not apply_response(state, _fr("a", 0, 600))
    assert apply_response(state, _fr("a", 0, 900))  # a late first message moved its start
    assert channel_features(state)["first_response_s_p50_1h"] == 900.0
    assert channel_features(state)["answered_1h"] == 1


def test_old_responses_are_pruned_and_ignored() -> None:
    state = ChannelResponseState("chat")
    apply_response(state, _fr("a", 0, 10))
    apply_response(state, _fr("b", 120, 20))
    assert set(state.responses) == {"b"}
    assert not apply_response(state, _fr("c", 60, 30))  # an hour before the clock: too old
    assert channel_features(state)["first_response_s_p50_1h"] == 20.0


def test_other_channel_is_refused() -> None:
    with pytest.raises(ValueError, match="phone"):
        apply_response(ChannelResponseState("chat"), _fr("a", 0, 10, channel="phone"))


def test_empty_and_serialisation() -> None:
    empty = ChannelResponseState("email")
    assert channel_features(empty) == {"first_response_s_p50_1h": None, "answered_1h": 0}
    state = ChannelResponseState("chat")
    apply_response(state, _fr("a", 0, 10))
    back = ChannelResponseState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert back == state
    with pytest.raises(StateError):
        ChannelResponseState.from_dict({"v": 2})
