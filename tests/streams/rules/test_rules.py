"""Each outreach rule on hand-checked journeys, cooldowns, late events, the wall-clock tick.

VADER compounds used: "this is terrible, awful service" -0.7269, "where is my parcel?" 0.0.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from omnicx.settings import load_settings
from schemas.events import InteractionEvent
from schemas.signals import OutreachSignal, Severity
from streams.features.state import CustomerState
from streams.rules.config import (
    NegativeSentimentConfig,
    RepeatContactConfig,
    RulesConfig,
)
from streams.rules.engine import pending_deadline, signal_id, step, tick
from tests.streams.features.factory import CUSTOMER, at, ev

pytestmark = pytest.mark.unit

BAD = "this is terrible, awful service"
DAY = 24 * 60


def run(
    events: list[InteractionEvent], config: RulesConfig | None = None
) -> tuple[CustomerState, list[OutreachSignal]]:
    state = CustomerState(CUSTOMER)
    signals: list[OutreachSignal] = []
    for e in events:
        signals += step(state, e, config or RulesConfig())[1]
    return state, signals


def of(signals: list[OutreachSignal], kind: str) -> list[OutreachSignal]:
    return [s for s in signals if s.type == kind]


# -- repeat_contact -------------------------------------------------------------------------


def test_repeat_contact_three_conversations_in_a_day() -> None:
    events = [
        ev("e1", 0, "chat", conv="A"),
        ev("e2", 30, "email", conv="M"),
        ev("e2b", 35, "email", conv="M"),  # same conversation: still two contacts
        ev("e3", 60, "phone", conv="P"),
    ]
    _, signals = run(events)
    [sig] = of(signals, "repeat_contact")
    assert sig.signal_id == signal_id("repeat_contact", CUSTOMER, "e3")
    assert sig.evidence == ["e1", "e2", "e3"]  # the first event of each contact
    assert sig.raised_at == at(60) and sig.expires_at == at(60 + DAY)
    assert sig.severity is Severity.HIGH
    assert sig.reason.startswith("3 contacts in 24 h (chat, email, phone)")
    assert "11:00 UTC" in sig.reason


def test_repeat_contact_window_is_half_open() -> None:
    # 10:00, next day 09:00 and 10:00: the window (day0 10:00, day1 10:00] holds two.
    base = [ev("e1", 0, conv="A"), ev("e2", DAY - 60, conv="B")]
    assert of(run([*base, ev("e3", DAY, conv="C")])[1], "repeat_contact") == []
    assert len(of(run([*base, ev("e3", DAY - 1, conv="C")])[1], "repeat_contact")) == 1


def test_repeat_contact_cooldown() -> None:
    events = [
        ev("e1", 0, conv="A"),
        ev("e2", 30, conv="B"),
        ev("e3", 60, conv="C"),  # fires at 11:00
        ev("e4", 120, conv="D"),  # 4 contacts, but within the 24 h cooldown
        ev("e5", DAY + 30, conv="E"),  # 24h30 after: window holds D, E -> 2
        ev("e6", DAY + 100, conv="F"),  # window (day0 11:40, day1 11:40]: D, E, F -> fires
    ]
    signals = of(run(events)[1], "repeat_contact")
    assert [s.raised_at for s in signals] == [at(60), at(DAY + 100)]
    assert signals[1].evidence == ["e4", "e5", "e6"]


def test_repeat_contact_late_event_gives_the_same_signal() -> None:
    in_order = [ev("e1", 0, conv="A"), ev("e2", 20, conv="B"), ev("e3", 40, conv="C")]
    late = [in_order[0], in_order[2], in_order[1]]  # B arrives after C
    [a] = of(run(in_order)[1], "repeat_contact")
    [b] = of(run(late)[1], "repeat_contact")
    assert a == b  # same id, same time (10:40, trigger e3), same evidence


def test_repeat_contact_threshold_from_config() -> None:
    cfg = RulesConfig(repeat_contact=RepeatContactConfig(threshold=4))
    events = [ev(f"e{i}", 10 * i, conv=f"C{i}") for i in range(3)]
    assert of(run(events, cfg)[1], "repeat_contact") == []
    [sig] = of(run([*events, ev("e3", 30, conv="C3")], cfg)[1], "repeat_contact")
    assert sig.evidence == ["e0", "e1", "e2", "e3"]


# -- channel_fallback -----------------------------------------------------------------------


def test_channel_fallback_phone_after_chat() -> None:
    _, signals = run([ev("c1", 0, "chat", conv="A"), ev("p1", 45, "phone", conv="P")])
    [sig] = of(signals, "channel_fallback")
    assert sig.evidence == ["c1", "p1"]
    assert sig.raised_at == at(45)
    assert sig.signal_id == signal_id("channel_fallback", CUSTOMER, "p1")
    assert "45 min after a chat contact" in sig.reason


@pytest.mark.parametrize(
    ("first", "gap", "fires"),
    [("app", 60, True), ("social", 61, False), ("email", 0, True), ("phone", 10, False)],
)
def test_channel_fallback_window(first: str, gap: int, fires: bool) -> None:
    # 60 min is inside, 61 outside; an earlier phone call is not a digital contact.
    _, signals = run([ev("d1", 0, first, conv="X"), ev("p1", gap, "phone", conv="P")])
    assert len(of(signals, "channel_fallback")) == int(fires)


def test_channel_fallback_late_digital_event() -> None:
    # The call is processed first, the chat that preceded it arrives afterwards.
    _, signals = run([ev("p1", 45, "phone", conv="P"), ev("c1", 0, "chat", conv="A")])
    [sig] = of(signals, "channel_fallback")
    assert (sig.evidence, sig.raised_at) == (["c1", "p1"], at(45))


def test_channel_fallback_only_first_event_of_a_call() -> None:
    cfg = RulesConfig(channel_fallback={"cooldown_s": 0})  # type: ignore[arg-type]
    _, signals = run(
        [
            ev("c1", 0, "chat", conv="A"),
            ev("p1", 10, "phone", conv="P", kind="call_started"),
            ev("p2", 20, "phone", conv="P", kind="call_ended"),
        ],
        cfg,
    )
    assert [s.evidence for s in of(signals, "channel_fallback")] == [["c1", "p1"]]


# -- negative_sentiment ---------------------------------------------------------------------


def test_negative_sentiment_on_chat() -> None:
    _, signals = run([ev("n1", 0, "chat", conv="A", text=BAD)])
    [sig] = of(signals, "negative_sentiment")
    assert sig.evidence == ["n1"]
    assert "-0.73" in sig.reason and "chat" in sig.reason
    assert sig.recommended_action == NegativeSentimentConfig().recommended_action


def test_negative_sentiment_not_on_phone_nor_neutral_text() -> None:
    _, signals = run(
        [
            ev("n1", 0, "phone", conv="P", text=BAD),
            ev("n2", 5, "email", conv="M", text="where is my parcel?"),
        ]
    )
    assert of(signals, "negative_sentiment") == []


@pytest.mark.parametrize(("threshold", "fires"), [(-0.7269, True), (-0.73, False)])
def test_negative_sentiment_threshold_is_inclusive(threshold: float, fires: bool) -> None:
    cfg = RulesConfig(negative_sentiment=NegativeSentimentConfig(threshold=threshold))
    _, signals = run([ev("n1", 0, "social", conv="S", text=BAD)], cfg)
    assert len(of(signals, "negative_sentiment")) == int(fires)


def test_negative_sentiment_cooldown_twelve_hours() -> None:
    events = [
        ev("n1", 0, conv="A", text=BAD),
        ev("n2", 60, conv="A", text=BAD),  # 1 h later: cooling down
        ev("n3", 12 * 60, conv="B", text=BAD),  # exactly 12 h: the cooldown is over
    ]
    signals = of(run(events)[1], "negative_sentiment")
    assert [s.evidence for s in signals] == [["n1"], ["n3"]]


def test_disabled_rule_is_silent() -> None:
    cfg = RulesConfig(negative_sentiment=NegativeSentimentConfig(enabled=False))
    assert run([ev("n1", 0, conv="A", text=BAD)], cfg)[1] == []


# -- unanswered_public_post -----------------------------------------------------------------


def test_unanswered_post_fires_when_a_later_event_passes_the_deadline() -> None:
    events = [ev("s1", 0, "social", conv="S"), ev("x1", 61, "app", "internal")]
    state, signals = run(events)
    [sig] = of(signals, "unanswered_public_post")
    assert sig.evidence == ["s1"]
    assert sig.raised_at == at(60)  # the deadline, not the later event
    assert sig.signal_id == signal_id("unanswered_public_post", CUSTOMER, "s1")
    assert "no reply for 1 h" in sig.reason


def test_answered_post_is_quiet_and_a_late_answer_is_too_late() -> None:
    answered = [
        ev("s1", 0, "social", conv="S"),
        ev("r1", 30, "social", "outbound", conv="S"),
        ev("x1", 120, "app", "internal"),
    ]
    assert of(run(answered)[1], "unanswered_public_post") == []
    late_reply = [ev("s1", 0, "social", conv="S"), ev("r1", 65, "social", "outbound", conv="S")]
    assert len(of(run(late_reply)[1], "unanswered_public_post")) == 1
    # A reply in another conversation does not answer the post.
    other = [
        ev("s1", 0, "social", conv="S"),
        ev("r1", 30, "social", "outbound", conv="T"),
        ev("x1", 120, "app", "internal"),
    ]
    assert len(of(run(other)[1], "unanswered_public_post")) == 1


def test_private_message_is_not_a_public_post() -> None:
    events = [
        ev("s1", 0, "social", conv="S", attributes={"public": False}),
        ev("x1", 120, "app", "internal"),
    ]
    assert of(run(events)[1], "unanswered_public_post") == []


def test_tick_raises_once_after_deadline_and_grace() -> None:
    state, signals = run([ev("s1", 0, "social", conv="S")])
    assert signals == []
    assert pending_deadline(state) == at(61)  # 10:00 + 60 min + 60 s grace
    assert tick(state, at(60.5)) == []  # 10:59:30 is judged: not due yet
    [sig] = tick(state, at(61))
    assert sig.type == "unanswered_public_post" and sig.raised_at == at(60)
    assert tick(state, at(90)) == []  # already raised
    assert pending_deadline(state) is None


def test_late_post_past_the_evaluated_time_is_judged_at_once() -> None:
    state, _ = run([ev("x1", 180, "app", "internal")])
    _, signals = step(state, ev("s1", 0, "social", conv="S"))
    [sig] = signals
    assert (sig.type, sig.raised_at) == ("unanswered_public_post", at(60))


def test_unanswered_post_cooldown_one_hour() -> None:
    events = [
        ev("s1", 0, "social", conv="S1"),
        ev("s2", 30, "social", conv="S2"),  # due 11:30, 30 min after the first signal
        ev("s3", 60, "social", conv="S3"),  # due 12:00, an hour after: raised
        ev("x1", 200, "app", "internal"),
    ]
    signals = of(run(events)[1], "unanswered_public_post")
    assert [s.evidence for s in signals] == [["s1"], ["s3"]]


# -- engine ---------------------------------------------------------------------------------


def test_duplicate_event_reraises_its_signal_with_the_same_id() -> None:
    state, signals = run([ev("n1", 0, conv="A", text=BAD)])
    update, again = step(state, ev("n1", 0, conv="A", text=BAD))
    assert update.changed is False
    assert again == signals  # same id, same content: consumers de-duplicate
    _, none = step(state, ev("n2", 5, conv="A", text="where is my parcel?"))
    assert none == []


def test_signals_survive_serialisation() -> None:
    state, _ = run([ev("n1", 0, conv="A", text=BAD)])
    back = CustomerState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert back == state
    # The restored state still knows the cooldown.
    assert step(back, ev("n2", 30, conv="A", text=BAD))[1] == []


def test_signals_are_forgotten_after_a_week() -> None:
    state, _ = run([ev("n1", 0, conv="A", text=BAD), ev("x1", 7 * DAY + 1, "app", "internal")])
    assert state.signals == {}


def test_unresolved_customer_is_refused() -> None:
    with pytest.raises(ValueError, match="customer_id"):
        step(CustomerState(), ev("n1", 0, conv="A").model_copy(update={"customer_id": None}))


def test_signal_json_is_valid_outreach_signal() -> None:
    _, signals = run([ev("n1", 0, conv="A", text=BAD)])
    assert OutreachSignal.from_json_bytes(signals[0].to_json_bytes()) == signals[0]
    assert signals[0].expires_at - signals[0].raised_at == timedelta(days=1)


def test_rules_config_loads_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNICX_RULES__REPEAT_CONTACT__THRESHOLD", "5")
    monkeypatch.setenv("OMNICX_RULES__NEGATIVE_SENTIMENT__SEVERITY", "high")
    rules = load_settings().rules
    assert rules.repeat_contact.threshold == 5
    assert rules.negative_sentiment.severity is Severity.HIGH
    assert rules.channel_fallback.window_s == 3600.0
    with pytest.raises(ValueError):
        RepeatContactConfig(cooldown_s=8 * 24 * 3600)  # longer than the state remembers
