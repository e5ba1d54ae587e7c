"""App: Segment Spec messages (identify, track, page, screen).

`userId` becomes an app_user_id, `anonymousId` a device_id; identify traits (and any message's
`context.traits`) named in the configured trait map become identifiers too (email, phone,
twitter -> social_handle, ...). App telemetry is `internal`: it is not a conversation with
the business. The exception is a track event in which the customer asks for help
(`support_events`, e.g. "Support Request", "Help Requested"): that is an inbound contact,
kind `case_opened`, with the customer's words as text. App errors (`error_events`) stay
internal (kind `app_error`): a crash is a signal about the customer, not a contact by them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from schemas.events import Channel, Direction, make_event_id
from schemas.identifiers import IdentifierType
from streams.adapters.base import (
    Adapted,
    Identifiers,
    RawRecord,
    build_event,
    check_time,
    fallback_record_id,
    get_object,
    get_str,
    load_object,
    parse_iso_time,
    split_json_records,
    type_name,
)
from streams.adapters.config import AdapterConfig
from streams.adapters.errors import (
    InvalidField,
    InvalidTimestamp,
    UnsupportedMessage,
)

SYSTEM = "segment"
channel = Channel.APP.value
MESSAGE_TYPES = ("identify", "track", "page", "screen")
_TIME_FIELDS = ("timestamp", "originalTimestamp", "receivedAt", "sentAt")
_SUPPORT_TEXT = ("message", "description", "body", "text", "subject", "reason")


def split(data: bytes, source: str, content_type: str | None = None) -> list[RawRecord]:
    """JSON lines or a JSON array of messages; a Segment batch envelope (`{"batch": [...]}`)
    is opened into its messages."""
    records: list[RawRecord] = []
    for record in split_json_records(data, source, content_type):
        if b'"batch"' in record.data[:200]:
            try:
                doc = json.loads(record.data)
            except ValueError:
                doc = None
            if isinstance(doc, dict) and isinstance(doc.get("batch"), list):
                for item in doc["batch"]:
                    raw = json.dumps(item, ensure_ascii=False, separators=(",", ":"))
                    records.append(RawRecord(raw.encode(), source, record.line, content_type))
                continue
        records.append(record)
    return records


def build_context(records: Sequence[RawRecord]) -> None:
    return None


def adapt(
    data: bytes,
    config: AdapterConfig,
    *,
    received_at: datetime,
    context: Any = None,
) -> Adapted:
    """One Segment message -> one event."""
    doc = load_object(data, config, "Segment message")
    message_id = get_str(doc, "messageId", "message", allow_int=True)
    record_id = message_id or fallback_record_id(data)
    kind_raw = doc.get("type")
    if not isinstance(kind_raw, str):
        raise InvalidField(
            f"message.type must be a string ({', '.join(MESSAGE_TYPES)}), got "
            f"{type_name(kind_raw)}",
            record_id,
        )
    mtype = kind_raw.strip().lower()
    if mtype in ("alias", "group"):
        raise UnsupportedMessage(
            f"Segment '{mtype}' messages are not ingested (supported: {', '.join(MESSAGE_TYPES)})",
            record_id,
        )
    if mtype not in MESSAGE_TYPES:
        raise InvalidField(
            f"message.type {kind_raw!r} is not one of {', '.join(MESSAGE_TYPES)}", record_id
        )
    moment = _timestamp(doc, record_id)
    check_time(moment, "timestamp", config, received_at, record_id)

    context_obj = get_object(doc, "context", "message", record_id)
    traits = get_object(doc, "traits", "message", record_id) if mtype == "identify" else {}
    context_traits = get_object(context_obj, "traits", "message.context", record_id)
    properties = get_object(doc, "properties", "message", record_id)

    identifiers = Identifiers(config.default_phone_region)
    user_id = get_str(doc, "userId", "message", record_id=record_id, allow_int=True)
    anonymous_id = get_str(doc, "anonymousId", "message", record_id=record_id, allow_int=True)
    identifiers.add(IdentifierType.APP_USER_ID, user_id, "userId")
    identifiers.add(IdentifierType.DEVICE_ID, anonymous_id, "anonymousId")
    identifiers.add_named(traits, config.trait_identifiers, "traits")
    identifiers.add_named(context_traits, config.trait_identifiers, "context.traits")
    ids = identifiers.require(
        "the message has no userId, anonymousId or identifying trait", record_id
    )

    direction = Direction.INTERNAL
    text: str | None = None
    conversation_id: str | None = None
    attributes: dict[str, Any] = {"segment_type": mtype}
    if mtype == "identify":
        kind = "identify"
        attributes["traits"] = {
            k: v for k, v in traits.items() if k not in config.trait_identifiers
        }
    elif mtype == "track":
        event_name = get_str(doc, "event", "track", required=True, record_id=record_id) or ""
        kind, direction = _track_kind(event_name, config)
        attributes["event"] = event_name
        attributes["properties"] = properties
        if kind == "purchase":
            attributes.update(_purchase(properties, record_id))
        if kind == "case_opened":
            text = _first_text(properties)
            conversation_id = (
                get_str(properties, "ticket_id", "properties", record_id=record_id, allow_int=True)
                or get_str(properties, "case_id", "properties", record_id=record_id, allow_int=True)
                or record_id
            )
        if kind == "app_error":
            text = _first_text(properties) or get_str(
                properties, "error", "properties", record_id=record_id
            )
    else:
        kind = "page_view" if mtype == "page" else "screen_view"
        name = get_str(doc, "name", mtype, record_id=record_id)
        page = get_object(context_obj, "page", "message.context", record_id)
        attributes.update(
            {
                "name": name,
                "category": get_str(doc, "category", mtype, record_id=record_id),
                "url": properties.get("url") or page.get("url"),
                "path": properties.get("path") or page.get("path"),
                "title": properties.get("title") or page.get("title"),
                "properties": properties,
            }
        )
    app = get_object(context_obj, "app", "message.context", record_id)
    device = get_object(context_obj, "device", "message.context", record_id)
    os_info = get_object(context_obj, "os", "message.context", record_id)
    attributes.update(
        {
            "app": app.get("name"),
            "app_version": app.get("version"),
            "device_type": device.get("type"),
            "os": os_info.get("name"),
            "session_id": context_obj.get("sessionId"),
        }
    )
    if identifiers.dropped:
        attributes["unusable_identifiers"] = identifiers.dropped
    event = build_event(
        record_id,
        event_id=make_event_id(SYSTEM, record_id),
        occurred_at=moment,
        ingested_at=received_at,
        channel=Channel.APP,
        direction=direction,
        kind=kind,
        conversation_id=conversation_id,
        identifiers=ids,
        tenant=config.default_tenant,
        text=text,
        attributes={k: v for k, v in attributes.items() if v is not None},
        source={"system": SYSTEM, "record_id": record_id},
    )
    return Adapted(record_id, [event])


def _timestamp(doc: dict[str, Any], record_id: str) -> datetime:
    for name in _TIME_FIELDS:
        if doc.get(name) is not None:
            return parse_iso_time(doc[name], f"message.{name}", record_id)
    raise InvalidTimestamp(f"the message has none of {', '.join(_TIME_FIELDS)}", record_id)


def _track_kind(event_name: str, config: AdapterConfig) -> tuple[str, Direction]:
    folded = event_name.strip().lower()

    def listed(names: list[str]) -> bool:
        return folded in _folded(tuple(names))

    if listed(config.purchase_events):
        return "purchase", Direction.INTERNAL
    if listed(config.support_events):
        return "case_opened", Direction.INBOUND
    if listed(config.login_events):
        return "login", Direction.INTERNAL
    if listed(config.error_events):
        return "app_error", Direction.INTERNAL
    return "track", Direction.INTERNAL


@lru_cache(maxsize=64)
def _folded(names: tuple[str, ...]) -> frozenset[str]:
    """Lower-cased event names of a config list (folded once, not once per message)."""
    return frozenset(n.lower() for n in names)


def _purchase(properties: dict[str, Any], record_id: str) -> dict[str, Any]:
    """Revenue of a purchase: Segment's `revenue`, else `total`, else `value`."""
    for key in ("revenue", "total", "value"):
        value = properties.get(key)
        if value is None:
            continue
        if isinstance(value, bool):
            raise InvalidField(f"properties.{key} must be a number, got a boolean", record_id)
        try:
            amount = float(value)
        except (TypeError, ValueError):
            amount = math.nan
        if not math.isfinite(amount):
            raise InvalidField(
                f"properties.{key} must be a finite number, got {type_name(value)} {value!r}",
                record_id,
            )
        return {
            "revenue": amount,
            "currency": properties.get("currency") or "USD",
            "order_id": properties.get("order_id"),
        }
    return {"revenue": None}


def _first_text(properties: dict[str, Any]) -> str | None:
    for key in _SUPPORT_TEXT:
        value = properties.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None
