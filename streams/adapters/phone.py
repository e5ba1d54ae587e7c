"""Phone: Amazon Connect contact trace records (CTRs) of voice calls.

One CTR becomes two events: `call_started` at InitiationTimestamp and `call_ended` at
DisconnectTimestamp (event ids `make_event_id("amazon_connect_ctr", ContactId, part)`). The
customer is `CustomerEndpoint.Address` (plus identifiers in the contact's `Attributes`, e.g.
CustomerEmail). `call_ended` carries wait seconds (Queue.Duration), talk seconds
(Agent.AgentInteractionDuration) and `abandoned` when no agent took the call (Agent is null:
the caller hung up in the queue or the IVR).
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
    get_number,
    get_object,
    get_str,
    load_object,
    parse_iso_time,
    split_json_records,
    type_name,
)
from streams.adapters.config import AdapterConfig
from streams.adapters.errors import InvalidField, InvalidTimestamp

SYSTEM = "amazon_connect_ctr"
channel = Channel.PHONE.value

DIRECTIONS: dict[str, Direction] = {
    "INBOUND": Direction.INBOUND,
    "TRANSFER": Direction.INBOUND,
    "QUEUE_TRANSFER": Direction.INBOUND,
    "OUTBOUND": Direction.OUTBOUND,
    "EXTERNAL_OUTBOUND": Direction.OUTBOUND,
    "CALLBACK": Direction.OUTBOUND,
    "API": Direction.OUTBOUND,
}


def split(data: bytes, source: str, content_type: str | None = None) -> list[RawRecord]:
    """JSON lines or a JSON array of CTRs."""
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
    """One voice CTR -> call_started and call_ended."""
    ctr = load_object(data, config, "contact trace record")
    contact_id = get_str(ctr, "ContactId", "CTR", required=True) or ""
    channel_name = get_str(ctr, "Channel", "CTR", record_id=contact_id) or "VOICE"
    if channel_name != "VOICE":
        raise InvalidField(
            f"Channel is {channel_name!r}: only VOICE contact records are calls (chat "
            "transcripts go to the chat channel)",
            contact_id,
        )
    method = get_str(ctr, "InitiationMethod", "CTR", required=True, record_id=contact_id) or ""
    direction = DIRECTIONS.get(method)
    if direction is None:
        raise InvalidField(
            f"InitiationMethod {method!r} is not one of {', '.join(DIRECTIONS)}", contact_id
        )
    started = _time(ctr, "InitiationTimestamp", config, received_at, contact_id)
    ended = _time(ctr, "DisconnectTimestamp", config, received_at, contact_id)
    if ended < started:
        raise InvalidTimestamp(
            f"DisconnectTimestamp {ended.isoformat()} is before InitiationTimestamp "
            f"{started.isoformat()}",
            contact_id,
        )

    identifiers = Identifiers(config.default_phone_region)
    endpoint = get_object(ctr, "CustomerEndpoint", "CTR", contact_id)
    address = get_str(endpoint, "Address", "CustomerEndpoint", record_id=contact_id)
    endpoint_type = endpoint.get("Type")
    if endpoint_type in (None, "TELEPHONE_NUMBER"):
        identifiers.add(IdentifierType.PHONE, address, "CustomerEndpoint.Address")
    elif endpoint_type == "EMAIL_ADDRESS":
        identifiers.add(IdentifierType.EMAIL, address, "CustomerEndpoint.Address")
    contact_attributes = get_object(ctr, "Attributes", "CTR", contact_id)
    identifiers.add_named(contact_attributes, config.contact_attribute_identifiers, "Attributes")
    ids = identifiers.require(
        "the CTR has no usable CustomerEndpoint.Address and no customer identifier in Attributes",
        contact_id,
    )

    queue = ctr.get("Queue")
    if queue is not None and not isinstance(queue, dict):
        raise InvalidField(
            f"CTR.Queue must be an object or null, got {type_name(queue)}", contact_id
        )
    agent = ctr.get("Agent")
    if agent is not None and not isinstance(agent, dict):
        raise InvalidField(
            f"CTR.Agent must be an object or null, got {type_name(agent)}", contact_id
        )
    queue_name = get_str(queue, "Name", "Queue", record_id=contact_id) if queue else None
    wait_s = _wait_seconds(queue, contact_id) if queue else None
    talk_s = get_number(agent, "AgentInteractionDuration", "Agent", contact_id) if agent else None
    agent_id = get_str(agent, "Username", "Agent", record_id=contact_id) if agent else None
    connected = None
    if agent and agent.get("ConnectedToAgentTimestamp"):
        connected = parse_iso_time(
            agent["ConnectedToAgentTimestamp"], "Agent.ConnectedToAgentTimestamp", contact_id
        ).isoformat()
    conversation_id = get_str(ctr, "InitialContactId", "CTR", record_id=contact_id) or contact_id
    common: dict[str, Any] = {
        "contact_id": contact_id,
        "initiation_method": method,
        "queue": queue_name,
        "system_endpoint": get_object(ctr, "SystemEndpoint", "CTR", contact_id).get("Address"),
    }
    if identifiers.dropped:
        common["unusable_identifiers"] = identifiers.dropped
    ended_attributes = {
        **common,
        "wait_s": wait_s,
        "talk_s": talk_s if talk_s is not None else 0.0,
        "hold_s": get_number(agent, "CustomerHoldDuration", "Agent", contact_id) if agent else None,
        "after_contact_work_s": (
            get_number(agent, "AfterContactWorkDuration", "Agent", contact_id) if agent else None
        ),
        "duration_s": (ended - started).total_seconds(),
        "abandoned": agent is None,
        "connected_to_agent_at": connected,
        "disconnect_reason": get_str(ctr, "DisconnectReason", "CTR", record_id=contact_id),
        "contact_attributes": contact_attributes,
    }

    def event(part: str, moment: datetime, attributes: dict[str, Any]) -> InteractionEvent:
        return build_event(
            contact_id,
            event_id=make_event_id(SYSTEM, contact_id, part),
            occurred_at=moment,
            ingested_at=received_at,
            channel=Channel.PHONE,
            direction=direction,
            kind=part,
            conversation_id=conversation_id,
            identifiers=ids,
            tenant=config.default_tenant,
            agent_id=agent_id,
            attributes={k: v for k, v in attributes.items() if v is not None},
            source={"system": SYSTEM, "record_id": contact_id},
        )

    return Adapted(
        contact_id,
        [event("call_started", started, common), event("call_ended", ended, ended_attributes)],
    )


def _time(
    ctr: dict[str, Any],
    name: str,
    config: AdapterConfig,
    received_at: datetime,
    contact_id: str,
) -> datetime:
    if ctr.get(name) is None:
        raise InvalidTimestamp(f"the CTR has no {name}", contact_id)
    moment = parse_iso_time(ctr[name], name, contact_id)
    return check_time(moment, name, config, received_at, contact_id)


def _wait_seconds(queue: dict[str, Any], contact_id: str) -> float | None:
    duration = get_number(queue, "Duration", "Queue", contact_id)
    if duration is not None:
        return duration
    enqueued, dequeued = queue.get("EnqueueTimestamp"), queue.get("DequeueTimestamp")
    if enqueued and dequeued:
        start = parse_iso_time(enqueued, "Queue.EnqueueTimestamp", contact_id)
        end = parse_iso_time(dequeued, "Queue.DequeueTimestamp", contact_id)
        return max(0.0, (end - start).total_seconds())
    return None
