"""A clean recomputation: the final features and signals of a list of events, from scratch.

The stream workers' crash test compares what the workers hold with this. The events are
processed in event-time order (ties by event_id), duplicates removed by event_id, with the same
`step` the workers call, so the features equal the workers' whatever order and duplicates they
saw (the states are order-independent; see `streams.features.state`). Signals depend on the
processing order through cooldowns: these are the signals of in-order processing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from schemas.events import InteractionEvent
from schemas.signals import OutreachSignal
from streams.features.channel import ChannelResponseState, apply_response, channel_features
from streams.features.customer import FeatureValue, customer_features
from streams.features.state import CustomerState
from streams.rules.config import RulesConfig
from streams.rules.engine import DEFAULT_RULES, step


@dataclass
class Replayed:
    """The outcome of `replay`."""

    customers: dict[str, CustomerState] = field(default_factory=dict)
    channels: dict[str, ChannelResponseState] = field(default_factory=dict)
    features: dict[str, dict[str, FeatureValue]] = field(default_factory=dict)  # by customer
    channel_features: dict[str, dict[str, float | int | None]] = field(default_factory=dict)
    signals: list[OutreachSignal] = field(default_factory=list)  # in processing order
    events: int = 0  # distinct events processed


def replay(
    events: Iterable[InteractionEvent],
    config: RulesConfig = DEFAULT_RULES,
    now: datetime | None = None,
) -> Replayed:
    """Compute every customer's and channel's final features and all signals from `events`.

    Args:
        events: resolved events (each with a customer_id), in any order, duplicates allowed.
        config: the rules' configuration.
        now: time at which to read the features; None reads each state at its own clock (what
            a worker last published for it).

    Raises:
        ValueError: an event has no customer_id.
    """
    distinct: dict[str, InteractionEvent] = {}
    for e in events:
        if not e.customer_id:
            raise ValueError(f"event {e.event_id} has no customer_id: resolve identities first")
        distinct.setdefault(e.event_id, e)
    out = Replayed(events=len(distinct))
    for e in sorted(distinct.values(), key=lambda e: (e.occurred_at, e.event_id)):
        cid = e.customer_id
        assert cid is not None
        state = out.customers.get(cid)
        if state is None:
            state = out.customers[cid] = CustomerState(cid)
        update, signals = step(state, e, config)
        out.signals.extend(signals)
        for fr in update.first_responses:
            ch = out.channels.get(fr.channel)
            if ch is None:
                ch = out.channels[fr.channel] = ChannelResponseState(fr.channel)
            apply_response(ch, fr)
    out.features = {cid: customer_features(s, now) for cid, s in out.customers.items()}
    out.channel_features = {name: channel_features(ch, now) for name, ch in out.channels.items()}
    return out
