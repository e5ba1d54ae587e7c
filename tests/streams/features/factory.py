"""Events for the feature and rule tests: minutes after a fixed T0, one customer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.events import InteractionEvent

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
CUSTOMER = "cust-1"


def at(minutes: float) -> datetime:
    """T0 plus `minutes`."""
    return T0 + timedelta(minutes=minutes)


def ev(
    event_id: str,
    minutes: float,
    channel: str = "chat",
    direction: str = "inbound",
    conv: str | None = None,
    text: str | None = None,
    **extra: Any,
) -> InteractionEvent:
    """One resolved event of CUSTOMER at T0 + `minutes`."""
    data: dict[str, Any] = {
        "event_id": event_id,
        "occurred_at": at(minutes),
        "ingested_at": at(minutes),
        "channel": channel,
        "direction": direction,
        "kind": "message",
        "conversation_id": conv,
        "text": text,
        "identifiers": [{"type": "email", "value": "jane@example.com"}],
        "customer_id": CUSTOMER,
        "source": {"system": "test", "record_id": event_id},
    }
    data.update(extra)
    return InteractionEvent.model_validate(data)
