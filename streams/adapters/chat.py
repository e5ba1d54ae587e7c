"""Chat: Amazon Connect chat transcripts (Version, ContactId, Participants, Transcript).

Each MESSAGE (and ATTACHMENT) item becomes one `chat_message` event; EVENT items (participant
joined, typing, chat ended) are not messages and are skipped. One conversation per contact
(`conversation_id` = ContactId). CUSTOMER messages are inbound; AGENT, SYSTEM, CUSTOM_BOT and
SUPERVISOR messages are outbound and answer the latest customer message (`in_reply_to`).
Identifiers come from the contact's `Attributes` (CustomerEmail, CustomerPhone, a visitor id:
see `contact_attribute_identifiers`), then the customer participant's id as chat_visitor_id.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from schemas.events import Channel, Direction, InteractionEvent, make_event_id
from schemas.identifiers import IdentifierType
from streams.adapters.base import (
    Adapted,
    Identifiers,
    RawRecord,
    build_event,
    check_time,
    get_object,
    get_str,
    load_object,
    parse_iso_time,
    split_json_records,
    type_name,
)
from streams.adapters.config import AdapterConfig
from streams.adapters.errors import InvalidField, UnsupportedMessage

SYSTEM = "amazon_connect_chat"
channel = Channel.CHAT.value

ROLES: dict[str, Direction] = {
    "CUSTOMER": Direction.INBOUND,
    "AGENT": Direction.OUTBOUND,
    "SYSTEM": Direction.OUTBOUND,
    "CUSTOM_BOT": Direction.OUTBOUND,
    "SUPERVISOR": Direction.OUTBOUND,
}
MESSAGE_TYPES = ("MESSAGE", "ATTACHMENT")


def split(data: bytes, source: str, content_type: str | None = None) -> list[RawRecord]:
    """JSON lines or a JSON array of transcripts (or one pretty-printed transcript)."""
    return split_json_records(data, source, content_type)


def build_context(records: Sequence[RawRecord]) -> None:
    return None


def adapt(
    data: bytes,
    config: AdapterConfig,
    *,
    received_at: datetime,
    context: Any = None,
) -> Adapted:
    """One transcript -> one event per message."""
    doc = load_object(data, config, "chat transcript")
    contact_id = get_str(doc, "ContactId", "transcript", required=True) or ""
    transcript = doc.get("Transcript")
    if not isinstance(transcript, list):
        raise InvalidField(
            f"transcript.Transcript must be an array, got {type_name(transcript)}", contact_id
        )
    participants = doc.get("Participants") or []
    if not isinstance(participants, list):
        raise InvalidField(
            f"transcript.Participants must be an array, got {type_name(participants)}", contact_id
        )
    items = []
    for index, item in enumerate(transcript):
        if not isinstance(item, dict):
            raise InvalidField(
                f"Transcript[{index}] must be an object, got {type_name(item)}", contact_id
            )
        items.append((index, item))

    customer_ids = [
        p.get("ParticipantId")
        for p in participants
        if isinstance(p, dict) and p.get("ParticipantRole") == "CUSTOMER" and p.get("ParticipantId")
    ] + [
        item["ParticipantId"]
        for _, item in items
        if item.get("ParticipantRole") == "CUSTOMER" and item.get("ParticipantId")
    ]
    identifiers = Identifiers(config.default_phone_region)
    attributes = get_object(doc, "Attributes", "transcript", contact_id)
    identifiers.add_named(attributes, config.contact_attribute_identifiers, "Attributes")
    for participant_id in customer_ids[:1]:
        identifiers.add(IdentifierType.CHAT_VISITOR_ID, participant_id, "customer ParticipantId")
    ids = identifiers.require(
        "the transcript has no CUSTOMER participant and no identifier in Attributes", contact_id
    )

    messages = []
    for index, item in items:
        item_type = item.get("Type")
        if item_type not in MESSAGE_TYPES:
            if not isinstance(item_type, str):
                raise InvalidField(
                    f"Transcript[{index}].Type must be a string, got {type_name(item_type)}",
                    contact_id,
                )
            continue  # EVENT items: joins, leaves, typing, chat ended
        role = item.get("ParticipantRole")
        if role not in ROLES:
            raise InvalidField(
                f"Transcript[{index}].ParticipantRole {role!r} is not one of {', '.join(ROLES)}",
                contact_id,
            )
        moment = parse_iso_time(
            item.get("AbsoluteTime"), f"Transcript[{index}].AbsoluteTime", contact_id
        )
        check_time(moment, f"Transcript[{index}].AbsoluteTime", config, received_at, contact_id)
        item_id = get_str(item, "Id", f"Transcript[{index}]", record_id=contact_id) or f"#{index}"
        messages.append((moment, index, item_id, role, item))
    if not messages:
        raise UnsupportedMessage(
            "the transcript has no MESSAGE items: nothing was said, so there is no event",
            contact_id,
        )
    messages.sort(key=lambda m: (m[0], m[1]))

    common: dict[str, Any] = {
        "contact_id": contact_id,
        "initial_contact_id": doc.get("InitialContactId"),
        "transcript_version": doc.get("Version"),
    }
    if identifiers.dropped:
        common["unusable_identifiers"] = identifiers.dropped
    events: list[InteractionEvent] = []
    last_event_of: dict[Direction, str] = {}
    for moment, index, item_id, role, item in messages:
        direction = ROLES[role]
        event_id = make_event_id(SYSTEM, contact_id, item_id)
        other = Direction.OUTBOUND if direction is Direction.INBOUND else Direction.INBOUND
        content = item.get("Content")
        if content is not None and not isinstance(content, str):
            raise InvalidField(
                f"Transcript[{index}].Content must be a string, got {type_name(content)}",
                contact_id,
            )
        display = get_str(item, "DisplayName", f"Transcript[{index}]", record_id=contact_id)
        extra: dict[str, Any] = {
            "message_id": item_id,
            "participant_role": role,
            "participant_id": item.get("ParticipantId"),
            "display_name": display,
            "content_type": item.get("ContentType"),
        }
        if item.get("Type") == "ATTACHMENT":
            extra["attachments"] = [
                {"name": a.get("AttachmentName"), "content_type": a.get("ContentType")}
                for a in item.get("Attachments") or []
                if isinstance(a, dict)
            ]
        events.append(
            build_event(
                contact_id,
                event_id=event_id,
                occurred_at=moment,
                ingested_at=received_at,
                channel=Channel.CHAT,
                direction=direction,
                kind="chat_message",
                conversation_id=contact_id,
                in_reply_to=last_event_of.get(other),
                identifiers=ids,
                tenant=config.default_tenant,
                agent_id=(display or item.get("ParticipantId")) if role == "AGENT" else None,
                text=content,
                attributes={**common, **{k: v for k, v in extra.items() if v is not None}},
                source={"system": SYSTEM, "record_id": contact_id},
            )
        )
        last_event_of[direction] = event_id
    return Adapted(contact_id, events)
