"""A clean recomputation of the customer features from the whole event list, written straight
from the definitions (no windows kept, no pruning): the oracle for the property tests."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

from schemas.events import InteractionEvent
from streams.features.sentiment import compound as _compound
from streams.features.sentiment import has_text
from streams.features.state import conversation_key

H, D = 3600.0, 86400.0
DIGITAL = {"app", "chat", "email", "social"}


@functools.cache
def compound(text: str) -> float:
    return _compound(text)


def oracle_features(events: list[InteractionEvent]) -> dict[str, Any]:
    """The features at the latest event time of `events` (distinct by event_id)."""
    uniq = {e.event_id: e for e in events}.values()
    now = max(e.occurred_at.timestamp() for e in uniq)
    inb = sorted(
        ((e.occurred_at.timestamp(), e.event_id, e) for e in uniq if e.direction == "inbound"),
        key=lambda x: (x[0], x[1]),
    )
    outs: dict[str, list[float]] = {}
    for e in uniq:
        if e.direction == "outbound":
            outs.setdefault(conversation_key(e), []).append(e.occurred_at.timestamp())

    def in_window(w: float) -> list[tuple[float, str, InteractionEvent]]:
        return [x for x in inb if now - w < x[0] <= now]

    def answered(conv: str, t: float) -> bool:
        return any(o >= t for o in outs.get(conv, []))

    f: dict[str, Any] = {
        "contacts_1h": len({conversation_key(e) for _, _, e in in_window(H)}),
        "contacts_24h": len({conversation_key(e) for _, _, e in in_window(D)}),
        "contacts_7d": len({conversation_key(e) for _, _, e in in_window(7 * D)}),
        "channels_24h": len({e.channel.value for _, _, e in in_window(D)}),
        "last_contact_at": datetime.fromtimestamp(inb[-1][0], UTC) if inb else None,
        "last_channel": inb[-1][2].channel.value if inb else None,
    }
    unanswered = [
        (t, conversation_key(e))
        for t, _, e in inb
        if t > now - 30 * D and not answered(conversation_key(e), t)
    ]
    f["open_conversations"] = len({c for _, c in unanswered})
    f["oldest_unanswered_s"] = now - min(t for t, _ in unanswered) if unanswered else None

    firsts: dict[str, tuple[float, InteractionEvent]] = {}
    for t, _, e in inb:
        firsts.setdefault(conversation_key(e), (t, e))
    best: tuple[float, str, float] | None = None
    for conv, (t, _) in firsts.items():
        later = [o for o in outs.get(conv, []) if o >= t]
        if later:
            cand = (min(later), conv, min(later) - t)
            if best is None or cand[:2] > best[:2]:
                best = cand
    f["first_response_s_last"] = None if best is None else best[2]

    texts = [(t, e) for t, _, e in inb if has_text(e.text)]
    f["sentiment_last"] = compound(texts[-1][1].text or "") if texts else None
    day = [compound(e.text or "") for t, e in texts if now - D < t <= now]
    f["sentiment_avg_24h"] = sum(day) / len(day) if day else None

    fallbacks = 0
    for conv, (t, e) in firsts.items():
        if e.channel.value == "phone" and now - D < t <= now:
            if any(
                x[2].channel.value in DIGITAL
                and conversation_key(x[2]) != conv
                and t - H <= x[0] <= t
                for x in inb
            ):
                fallbacks += 1
    f["digital_to_phone_24h"] = fallbacks
    return f
