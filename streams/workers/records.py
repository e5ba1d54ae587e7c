"""The JSON records the workers keep in their tables and send between agents (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from schemas.events import InteractionEvent
from schemas.signals import OutreachSignal
from streams.features.state import FirstResponse


def features_json(features: dict[str, Any]) -> dict[str, Any]:
    """Feature values as JSON (datetimes as RFC 3339)."""
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in features.items()}


def customer_record(
    previous: dict[str, Any] | None,
    state: dict[str, Any],
    features: dict[str, Any],
    signals: Iterable[OutreachSignal],
    keep: int,
) -> dict[str, Any]:
    """The `customers` table value: feature state, features as of the latest event, and the
    `keep` most recent signals (by raised_at; a signal raised again replaces its copy)."""
    by_id = {s["signal_id"]: s for s in (previous or {}).get("signals", [])}
    for sig in signals:
        by_id[sig.signal_id] = sig.model_dump(mode="json")
    recent = sorted(by_id.values(), key=lambda s: (s["raised_at"], s["signal_id"]))[-keep:]
    return {"state": state, "features": features_json(features), "signals": recent}


def first_response_json(fr: FirstResponse) -> dict[str, Any]:
    return {
        "customer_id": fr.customer_id,
        "channel": fr.channel,
        "conversation_id": fr.conversation_id,
        "seconds": fr.seconds,
        "answered_at": fr.answered_at.isoformat(),
        "first_inbound_at": fr.first_inbound_at.isoformat(),
    }


def first_response_from_json(data: dict[str, Any]) -> FirstResponse:
    return FirstResponse(
        customer_id=data["customer_id"],
        channel=data["channel"],
        conversation_id=data["conversation_id"],
        seconds=float(data["seconds"]),
        answered_at=datetime.fromisoformat(data["answered_at"]),
        first_inbound_at=datetime.fromisoformat(data["first_inbound_at"]),
    )


def event_from_resolved(data: dict[str, Any]) -> InteractionEvent:
    """The `InteractionEvent` of a resolved message's `e` (`model_dump(mode="json")` of an
    event the identity agent validated).

    Validated again, because that is the cheapest way to build it: pydantic's validator runs
    in Rust, and `model_construct` with the datetimes, enums and nested models built in Python
    took 13.9 us per event of the bench's journeys against 5.0 us for `model_validate` (the
    construction this replaced). The result equals the model the identity agent dumped
    (tests/streams/workers/test_records.py).
    """
    return InteractionEvent.model_validate(data)
