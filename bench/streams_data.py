"""Synthetic multi-channel journeys for the stream benchmark and the crash test.

Each customer has an e-mail, a phone, a chat visitor id, an app user id and a social handle;
an event carries the identifier of its channel, so a customer starts as several customers and
is merged when an app `identify` (carrying all five) arrives. Conversations have inbound
messages and outbound replies; a few texts are angry. Event times spread over `span_s`, and
the list is only roughly time-ordered (late events)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from schemas.events import InteractionEvent, Source

START = datetime(2026, 6, 1, 8, tzinfo=UTC)
TEXTS = (
    "hi, where is my order?",
    "thanks, that helped",
    "can you check my bill please",
    "This is terrible, the worst service ever. I am furious.",
    "still waiting for an answer",
)


def identifiers(c: int) -> dict[str, dict[str, str]]:
    return {
        "email": {"type": "email", "value": f"Customer{c}@Example.com"},
        "phone": {"type": "phone", "value": f"+1 415 {5000000 + c:07d}"},
        "chat": {"type": "chat_visitor_id", "value": f"v-{c}"},
        "app": {"type": "app_user_id", "value": f"u-{c}"},
        "social": {"type": "social_handle", "value": f"@Cust_{c}"},
    }


def journeys(
    n_events: int,
    customers: int,
    seed: int = 7,
    span_s: float = 2 * 86400,
    start: datetime = START,
    tag: str = "s",
) -> list[InteractionEvent]:
    """`n_events` events of `customers` customers (deterministic for a seed)."""
    rng = random.Random(seed)
    events: list[InteractionEvent] = []
    open_convs: dict[tuple[int, str], str] = {}
    channels = ("chat", "email", "phone", "app", "social")
    for i in range(n_events):
        c = rng.randrange(customers)
        channel = rng.choice(channels)
        ids = identifiers(c)
        t = start + timedelta(seconds=span_s * i / n_events + rng.uniform(-900, 60))
        kind, direction, conv, text = "message", "inbound", None, None
        carried = [ids[channel]]
        if channel == "app":
            if rng.random() < 0.3:
                kind, direction, carried = "identify", "internal", list(ids.values())
            else:
                kind, direction = "screen_view", "internal"
        else:
            key = (c, channel)
            if key in open_convs and rng.random() < 0.45:
                conv, direction = open_convs.pop(key), "outbound"
                text = "we are on it"
            else:
                conv = f"{tag}-{c}-{channel}-{i}"
                open_convs[key] = conv
                text = rng.choice(TEXTS)
            if channel == "phone":
                kind, text = ("call_started" if direction == "inbound" else "reply"), None
        events.append(
            InteractionEvent(
                event_id=f"{tag}-{i}",
                occurred_at=t,
                ingested_at=t,
                channel=channel,
                direction=direction,
                kind=kind,
                conversation_id=conv,
                identifiers=carried,
                text=text,
                source=Source(system="synthetic", record_id=f"{tag}-{i}"),
            )
        )
    return events
