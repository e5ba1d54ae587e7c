"""The JSON records the workers keep in their tables and send between agents (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import orjson

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


class RawEvent:
    """A resolved event as its canonical JSON (`InteractionEvent.to_json_bytes`, customer_id
    set), carried from the identity agent to the timeline agent, published on
    cx.customer-events.v1 and kept in a timeline bucket as those very bytes.

    Before, the event went as a dict: dumped by the identity agent, encoded into the batch,
    decoded by the timeline agent, validated from the dict, dumped again to be published, and
    encoded again with its bucket at every write of the bucket. Now it is serialised once:
    the timeline agent validates it from the bytes, publishes them, and a bucket holding it
    embeds them (`raw_default`). Entries read back from a changelog are dicts, as before.
    """

    __slots__ = ("raw",)

    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    def as_dict(self) -> dict[str, Any]:
        return dict(orjson.loads(self.raw))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RawEvent) and other.raw == self.raw

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"RawEvent({self.raw[:60]!r}...)"


def raw_default(obj: Any) -> Any:
    """orjson's `default` for worker records: a `RawEvent` is embedded as its bytes."""
    if type(obj) is RawEvent:
        return orjson.Fragment(obj.raw)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def resolved_event(e: RawEvent | dict[str, Any]) -> tuple[InteractionEvent, bytes]:
    """The event of a resolved message's `e` and its canonical JSON (what is published)."""
    if type(e) is RawEvent:
        return InteractionEvent.model_validate_json(e.raw), e.raw
    ev = event_from_resolved(e)  # type: ignore[arg-type]
    return ev, ev.to_json_bytes()


def moved_event(e: RawEvent | dict[str, Any], to: str) -> RawEvent:
    """The event `e` (a message's or a timeline entry's) resolved to customer `to`."""
    data = e.as_dict() if type(e) is RawEvent else dict(e)  # type: ignore[union-attr,arg-type]
    data["customer_id"] = to
    return RawEvent(orjson.dumps(data))


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
