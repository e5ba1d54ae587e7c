"""The real-time customer features (`schemas.features.CUSTOMER_REALTIME_FEATURES`).

Definitions (windows are half-open, (now - W, now]; "inbound" means direction inbound):

- `contacts_1h`, `contacts_24h`, `contacts_7d`: contacts in the window. A contact is a distinct
  conversation with at least one inbound event in the window (a conversation that goes on for
  days counts in every window it has an inbound message in).
- `channels_24h`: distinct channels with an inbound event in the last 24 h.
- `last_contact_at`, `last_channel`: time (UTC datetime) and channel of the latest inbound
  event ever seen (ties: the larger event_id).
- `open_conversations`: conversations whose latest inbound event has no outbound event at or
  after it. Inbound messages unanswered for 30 days are dropped (abandoned).
- `oldest_unanswered_s`: now minus the time of the oldest unanswered inbound event (one with no
  outbound in its conversation at or after it); None when nothing is unanswered.
- `first_response_s_last`: seconds from a conversation's first inbound event to its first
  outbound event at or after it, for the conversation answered most recently (the one whose
  first response is latest). For conversations that began more than 7 days ago the "first"
  inbound is the oldest one still held: one that was unanswered at the 7-day horizon. None
  before any answer.
- `sentiment_last`: VADER compound of the latest inbound text (ties: larger event_id).
- `sentiment_avg_24h`: mean VADER compound of the inbound texts of the last 24 h; None without
  any.
- `digital_to_phone_24h`: phone contacts (phone conversations, timed by their first inbound
  event) in the last 24 h that came within 60 min after an inbound event on a digital channel
  (app, chat, email, social) — customers who gave up on a digital channel and phoned.
"""

from __future__ import annotations

import bisect
from datetime import UTC, datetime
from typing import NamedTuple

from schemas.events import DIGITAL_CHANNELS, Direction, InteractionEvent
from schemas.features import CUSTOMER_REALTIME_FEATURES
from streams.features.state import (
    DAY_S,
    HOUR_S,
    OPEN_S,
    PHONE,
    CustomerState,
    FirstResponse,
    Inbound,
    apply,
    conversation_key,
)

FALLBACK_WINDOW_S = HOUR_S  # digital_to_phone_24h: phone within 60 min after digital

FeatureValue = int | float | str | datetime | None

_DIGITAL = frozenset(c.value for c in DIGITAL_CHANNELS)


def customer_features(state: CustomerState, now: datetime | None = None) -> dict[str, FeatureValue]:
    """The customer's real-time features at `now` (default: the state's clock).

    Returns a dict with exactly the keys of `CUSTOMER_REALTIME_FEATURES`, in that order: ints for
    `int64` features (0 when nothing counts), floats or None for `float64`, str or None for
    `string`, and a UTC datetime or None for `unix_timestamp`. Pass the wall-clock time as `now`
    when serving live and nothing when processing in event time; a `now` earlier than the
    state's clock is taken as the clock.
    """
    at = _now(state, now)
    out: dict[str, FeatureValue] = dict.fromkeys(CUSTOMER_REALTIME_FEATURES)
    last_in = state.last_in
    out["last_contact_at"] = None if last_in is None else datetime.fromtimestamp(last_in[0], UTC)
    out["last_channel"] = None if last_in is None else last_in[2]
    out["sentiment_last"] = None if state.last_text is None else state.last_text[2]
    if at is None:
        out.update(
            contacts_1h=0,
            contacts_24h=0,
            contacts_7d=0,
            channels_24h=0,
            open_conversations=0,
            digital_to_phone_24h=0,
        )
        return out

    lo_1h, lo_24h, lo_7d = at - HOUR_S, at - DAY_S, at - 7 * DAY_S
    inbound = state.inbound
    end = bisect.bisect_right(inbound, at, key=_t)
    # Comprehensions over slices, not one loop with branches: a customer can hold thousands of
    # inbound records and this runs on every event.
    w7 = inbound[bisect.bisect_right(inbound, lo_7d, key=_t) : end]
    w24 = inbound[bisect.bisect_right(inbound, lo_24h, key=_t) : end]
    w1 = inbound[bisect.bisect_right(inbound, lo_1h, key=_t) : end]
    scores = [r.compound for r in w24 if r.compound is not None]

    firsts = {r.conversation: r for r in reversed(inbound)}  # the earliest of each wins
    lasts = {r.conversation: r for r in inbound}
    # A wall-clock `now` can be past the state's last pruning: apply the 30-day abandonment
    # here too. A conversation is open when its latest inbound is later than both its latest
    # answer and the abandonment horizon; its unanswered messages are those after that point.
    abandoned = at - OPEN_S
    open_after: dict[str, float] = {}
    for conv, last in lasts.items():
        answered_to = state.last_out(conv)
        after = abandoned if answered_to is None else max(answered_to, abandoned)
        if last.t > after:
            open_after[conv] = after
    oldest: float | None = None
    if open_after:
        # Records are in time order: the first unanswered one met is the oldest.
        start = bisect.bisect_right(inbound, min(open_after.values()), key=_t)
        for rec in inbound[start:]:
            after_c = open_after.get(rec.conversation)
            if after_c is not None and rec.t > after_c:
                oldest = rec.t
                break

    out["contacts_1h"] = len({r.conversation for r in w1})
    out["contacts_24h"] = len({r.conversation for r in w24})
    out["contacts_7d"] = len({r.conversation for r in w7})
    out["channels_24h"] = len({r.channel for r in w24})
    out["open_conversations"] = len(open_after)
    out["oldest_unanswered_s"] = None if oldest is None else max(0.0, at - oldest)
    out["first_response_s_last"] = _first_response_last(state, firsts)
    out["sentiment_avg_24h"] = sum(scores) / len(scores) if scores else None
    out["digital_to_phone_24h"] = sum(
        1
        for rec in firsts.values()
        if rec.channel == PHONE and lo_24h < rec.t <= at and came_after_digital(state, rec)
    )
    return out


def came_after_digital(
    state: CustomerState, phone: Inbound, window_s: float = FALLBACK_WINDOW_S
) -> Inbound | None:
    """The latest inbound event on a digital channel at most `window_s` before `phone` (and not
    after it), or None."""
    i = bisect.bisect_right(state.inbound, phone.t, key=_t)
    while i > 0:
        i -= 1
        rec = state.inbound[i]
        if rec.t < phone.t - window_s:
            return None
        if rec.channel in _DIGITAL and rec.conversation != phone.conversation:
            return rec
    return None


def _first_response_last(state: CustomerState, firsts: dict[str, Inbound]) -> float | None:
    best: tuple[float, str, float] | None = None
    for conv, first in firsts.items():
        c = state.conversations.get(conv)
        if c is None or c.settled:
            continue
        i = bisect.bisect_left(c.outs, first.t)
        if i == len(c.outs):
            continue
        cand = (c.outs[i], conv, c.outs[i] - first.t)
        if best is None or cand[:2] > best[:2]:
            best = cand
    if best is None:
        best = state.last_fr
    return None if best is None else best[2]


def _now(state: CustomerState, now: datetime | None) -> float | None:
    if now is None:
        return state.clock
    ts = now.timestamp()
    return ts if state.clock is None else max(ts, state.clock)


def _t(rec: Inbound) -> float:
    return rec.t


class Update(NamedTuple):
    """What `process` did with one event."""

    changed: bool  # False: a duplicate (or an event too old to matter); nothing to publish
    features: dict[str, FeatureValue]  # `customer_features` after the event
    first_responses: list[FirstResponse]  # new or corrected first responses, for the channels


def process(
    state: CustomerState,
    event: InteractionEvent,
    now: datetime | None = None,
    with_features: bool = True,
) -> Update:
    """Apply one event to the customer's state (in place) and report what follows from it.

    Idempotent like `apply`: processing an event again returns `changed=False`, the same
    features and no first responses. `first_responses` holds the event's conversation's first
    response when this event created or changed it (an outbound answer, or a late inbound that
    moved the conversation's start); feed each to `streams.features.channel.apply_response` of
    the state keyed by its `channel`.

    Args:
        state: the customer's state; changed in place.
        event: a resolved event of this customer (any direction).
        now: wall-clock time for the features when serving live; None computes them at the
            state's clock (event time).
        with_features: False leaves `features` empty, for a caller that processes several
            events of a customer and needs the features after the last one only
            (`customer_features(state)` then gives them).
    """
    if event.direction is Direction.INTERNAL:
        changed = apply(state, event)
        responses: list[FirstResponse] = []
    else:
        conv = conversation_key(event)
        before = state.first_response(conv)
        changed = apply(state, event)
        after = state.first_response(conv) if changed else before
        responses = [after] if after is not None and after != before else []
    features = customer_features(state, now) if with_features else {}
    return Update(changed, features, responses)
