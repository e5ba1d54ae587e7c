"""The built-in outreach rules, as pure functions of the customer's state.

An event rule is called after an inbound event was applied, with that event's record; a clock
rule is called when the customer's time (event clock or wall-clock tick) has moved from `lo` to
`hi`. Both return `Trigger`s; the engine (`streams.rules.engine`) applies cooldowns, turns them
into `OutreachSignal`s and remembers them. A rule never changes the state.

Late events: a rule looks at every moment its condition could have become true because of the
event (for `repeat_contact`, the later contacts within the window too), so an event that
arrives late raises what it would have raised in order, at the same event time.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any, NamedTuple

from schemas.events import DIGITAL_CHANNELS, Channel
from streams.features.customer import came_after_digital
from streams.features.state import PHONE, CustomerState, Inbound
from streams.rules.config import (
    ChannelFallbackConfig,
    NegativeSentimentConfig,
    RepeatContactConfig,
    UnansweredPublicPostConfig,
)

SOCIAL = Channel.SOCIAL.value
_DIGITAL = frozenset(c.value for c in DIGITAL_CHANNELS)


class Trigger(NamedTuple):
    """A rule's finding: the condition held at event time `at`.

    The reason is written only when asked for (`reason`): most findings are dropped by the
    rule's cooldown, and formatting their times cost more than finding them.
    """

    at: float  # the event time the rule fired (the signal's raised_at)
    trigger_id: str  # the event that completed the condition; names the signal
    evidence: tuple[str, ...]  # event ids, oldest first
    describe: Callable[[], str]  # writes the human-readable reason

    @property
    def reason(self) -> str:
        """Human-readable: why the rule fired."""
        return self.describe()


EventRule = Callable[[CustomerState, Inbound, Any], list[Trigger]]
ClockRule = Callable[[CustomerState, float | None, float, Any], list[Trigger]]


def repeat_contact(state: CustomerState, rec: Inbound, cfg: RepeatContactConfig) -> list[Trigger]:
    """`cfg.threshold` or more contacts (distinct conversations with an inbound event) in the
    window ending at an inbound event: at `rec` itself, or at a later inbound event whose
    window `rec` (a late event) now completes.

    Evidence: the first inbound event of each contact in the window. Trigger: the latest
    inbound event in the window.
    """
    w = cfg.window_s
    moments = [rec.t] + sorted(
        {r.t for r in state.inbound_between(rec.t, rec.t + w) if r.t < rec.t + w}
    )
    out: list[Trigger] = []
    for tau in moments:
        window = state.inbound_between(tau - w, tau)
        firsts: dict[str, Inbound] = {}
        for r in window:
            firsts.setdefault(r.conversation, r)
        if len(firsts) < cfg.threshold:
            continue
        out.append(
            Trigger(
                tau,
                window[-1].event_id,
                tuple(r.event_id for r in firsts.values()),
                partial(_repeat_reason, firsts, w, tau, cfg.threshold),
            )
        )
    return out


def _repeat_reason(firsts: dict[str, Inbound], w: float, tau: float, threshold: int) -> str:
    channels = sorted({r.channel for r in firsts.values()})
    return (
        f"{len(firsts)} contacts in {_span(w)} ({', '.join(channels)}), "
        f"the latest at {_hm(tau)}; threshold {threshold}"
    )


def channel_fallback(
    state: CustomerState, rec: Inbound, cfg: ChannelFallbackConfig
) -> list[Trigger]:
    """A phone contact (the first inbound event of a phone conversation) at most
    `cfg.window_s` after an inbound event on a digital channel in another conversation.

    Called with the phone event, or with a late digital event (then for the phone contacts
    it precedes). Evidence: the latest such digital event, then the phone event.
    """
    w = cfg.window_s
    if rec.channel == PHONE:
        phones = [rec]
    elif rec.channel in _DIGITAL:
        phones = [r for r in state.inbound_between(rec.t - w, rec.t + w) if r.channel == PHONE]
        phones = [r for r in phones if r.t >= rec.t]
    else:
        return []
    out: list[Trigger] = []
    for phone in phones:
        if not _first_of_conversation(state, phone):
            continue
        digital = came_after_digital(state, phone, w)
        if digital is None:
            continue
        out.append(
            Trigger(
                phone.t,
                phone.event_id,
                (digital.event_id, phone.event_id),
                partial(_fallback_reason, phone, digital),
            )
        )
    return out


def _fallback_reason(phone: Inbound, digital: Inbound) -> str:
    gap_min = (phone.t - digital.t) / 60
    return (
        f"phoned at {_hm(phone.t)}, {gap_min:.0f} min after a {digital.channel} contact "
        f"at {_hm(digital.t)}"
    )


def negative_sentiment(
    state: CustomerState, rec: Inbound, cfg: NegativeSentimentConfig
) -> list[Trigger]:
    """Inbound text on one of `cfg.channels` whose VADER compound is at most
    `cfg.threshold`. Evidence: the event."""
    if rec.compound is None or rec.compound > cfg.threshold:
        return []
    if rec.channel not in {c.value for c in cfg.channels}:
        return []
    return [
        Trigger(
            rec.t, rec.event_id, (rec.event_id,), partial(_sentiment_reason, rec, cfg.threshold)
        )
    ]


def _sentiment_reason(rec: Inbound, threshold: float) -> str:
    return (
        f"{rec.channel} message at {_hm(rec.t)} scored {rec.compound:+.2f} "
        f"(VADER compound; threshold {threshold:+.2f})"
    )


def unanswered_public_post_late(
    state: CustomerState, rec: Inbound, cfg: UnansweredPublicPostConfig
) -> list[Trigger]:
    """The event half of `unanswered_public_post`: a post that arrives after the clock has
    already passed its reply deadline is judged at once."""
    if state.evaluated_to is None or rec.t + cfg.window_s > state.evaluated_to:
        return []  # its deadline is still ahead; the clock half will judge it
    found = _unanswered(state, rec, cfg)
    return [] if found is None else [found]


def unanswered_public_posts_due(
    state: CustomerState, lo: float | None, hi: float, cfg: UnansweredPublicPostConfig
) -> list[Trigger]:
    """The clock half of `unanswered_public_post`: every public inbound social post whose reply
    deadline (event time + `cfg.window_s`) falls in (lo, hi] and that has no outbound event in
    its conversation between the post and the deadline. Evidence: the post."""
    w = cfg.window_s
    start = -float("inf") if lo is None else lo - w
    out: list[Trigger] = []
    for rec in state.inbound_between(start, hi - w):
        found = _unanswered(state, rec, cfg)
        if found is not None:
            out.append(found)
    return out


def _unanswered(
    state: CustomerState, post: Inbound, cfg: UnansweredPublicPostConfig
) -> Trigger | None:
    if post.channel != SOCIAL or post.private:
        return None
    due = post.t + cfg.window_s
    conv = state.conversations.get(post.conversation)
    if conv is not None:
        i = bisect.bisect_left(conv.outs, post.t)
        if i < len(conv.outs) and conv.outs[i] <= due:
            return None
        if conv.before is not None and post.t <= conv.before <= due:
            return None
    return Trigger(due, post.event_id, (post.event_id,), partial(_unanswered_reason, post, cfg))


def _unanswered_reason(post: Inbound, cfg: UnansweredPublicPostConfig) -> str:
    return f"public social post at {_hm(post.t)} has had no reply for {_span(cfg.window_s)}"


def _first_of_conversation(state: CustomerState, rec: Inbound) -> bool:
    for r in state.inbound:
        if r.conversation == rec.conversation:
            return r is rec or r == rec
    return False


def _hm(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _span(seconds: float) -> str:
    if seconds % 3600 == 0:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 60:.0f} min"


# rule name (the signal type) -> function; the engine reads its config as RulesConfig.<name>.
EVENT_RULES: dict[str, EventRule] = {
    "repeat_contact": repeat_contact,
    "channel_fallback": channel_fallback,
    "negative_sentiment": negative_sentiment,
    "unanswered_public_post": unanswered_public_post_late,
}
CLOCK_RULES: dict[str, ClockRule] = {
    "unanswered_public_post": unanswered_public_posts_due,
}
