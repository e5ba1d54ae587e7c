"""The canonical InteractionEvent v1: what every channel's payload becomes.

Consumers rely on this shape (docs/contract.md, schemas/json/). Adding an optional field is
compatible; removing or retyping a field, or narrowing an enum, needs a new schema version.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from schemas.identifiers import IdentifierType, normalise

SCHEMA_VERSION: Literal[1] = 1

# Namespace for event ids: uuid5(namespace, JSON [system, record_id, part]) is stable, so
# ingesting the same source record twice yields the same event_id. JSON, not a separator, so
# no two different triples can spell the same name.
EVENT_ID_NAMESPACE = uuid.UUID("6f1d3f3c-3b7e-5a55-9a63-0c1f6b0e7a10")
_NAMESPACE_BYTES = EVENT_ID_NAMESPACE.bytes
# One encoder for every id (json.dumps with options builds a new JSONEncoder per call).
_ID_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_json_str = json.encoder.encode_basestring  # a JSON string literal, non-ASCII kept


class Channel(StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    SOCIAL = "social"
    APP = "app"
    CHAT = "chat"


class Direction(StrEnum):
    INBOUND = "inbound"  # from the customer
    OUTBOUND = "outbound"  # from the business (agent, brand account, system message)
    INTERNAL = "internal"  # neither: app telemetry, case updates


DIGITAL_CHANNELS = frozenset({Channel.APP, Channel.CHAT, Channel.EMAIL, Channel.SOCIAL})

# Known kinds; `kind` is an open string so a new adapter can add one without a version bump.
KNOWN_KINDS = (
    "message",
    "reply",
    "call_started",
    "call_ended",
    "chat_message",
    "page_view",
    "screen_view",
    "track",
    "identify",
    "purchase",
    "login",
    "case_opened",
    "case_resolved",
)


class Identifier(BaseModel):
    """One way to recognise a customer; `value` is normalised on construction."""

    model_config = ConfigDict(frozen=True)

    type: IdentifierType
    value: str = Field(min_length=1)

    @field_validator("value")
    @classmethod
    def _normalise(cls, value: str, info: Any) -> str:
        kind = info.data.get("type")
        return normalise(kind, value) if kind is not None else value

    @property
    def key(self) -> str:
        """`type:value`, the string used as a Kafka key and graph node."""
        return f"{self.type.value}:{self.value}"


class Source(BaseModel):
    """Where the event came from: the source system and its record id."""

    model_config = ConfigDict(frozen=True)

    system: str = Field(
        min_length=1, description="e.g. twcs, twitter_api_v2, segment, amazon_connect_ctr"
    )
    record_id: str = Field(min_length=1, description="the record's id in that system")


class InteractionEvent(BaseModel):
    """One interaction between a customer and the business, on any channel."""

    model_config = ConfigDict(extra="forbid")

    event_id: str = Field(min_length=1, description="stable id derived from the source record")
    occurred_at: AwareDatetime = Field(description="when it happened (RFC 3339 with offset)")
    ingested_at: AwareDatetime = Field(description="when omnicx received it")
    channel: Channel
    direction: Direction
    kind: str = Field(min_length=1, description="message, reply, call_started, ... (open set)")
    conversation_id: str | None = Field(None, description="thread, call or chat contact")
    in_reply_to: str | None = Field(None, description="event_id this one answers, if known")
    identifiers: list[Identifier] = Field(
        min_length=1, description="how the customer is known on this channel"
    )
    customer_id: str | None = Field(None, description="null until identity resolution")
    tenant: str = Field("default", description="business unit or brand")
    agent_id: str | None = Field(None, description="the agent or brand account, if any")
    text: str | None = Field(None, description="message body or transcript line")
    attributes: dict[str, Any] = Field(default_factory=dict, description="channel specifics")
    source: Source
    schema_version: Literal[1] = SCHEMA_VERSION

    def to_json_bytes(self) -> bytes:
        # The serializer's own bytes (model_dump_json decodes them to str, which we would
        # only encode again); the same JSON.
        return self.__pydantic_serializer__.to_json(self)

    @classmethod
    def from_json_bytes(cls, data: bytes) -> InteractionEvent:
        return cls.model_validate_json(data)

    @property
    def primary_identifier(self) -> Identifier:
        """The identifier used as the key on cx.interactions.v1 (the first one)."""
        return self.identifiers[0]


def make_event_id(system: str, record_id: str, part: str = "") -> str:
    """The stable event id of (source system, record id, part-of-record).

    `part` distinguishes several events made from one record (a call's call_started and
    call_ended, the messages of one chat transcript).
    """
    if type(system) is str and type(record_id) is str and type(part) is str:
        # What the encoder writes for three strings, without its list machinery.
        name = f"[{_json_str(system)},{_json_str(record_id)},{_json_str(part)}]"
    else:
        name = _ID_ENCODER.encode([system, record_id, part])
    # uuid.uuid5 by hand (RFC 4122 4.3: SHA-1 of namespace + name, version and variant bits
    # set, the canonical 8-4-4-4-12 hex form): the same id, without a json.JSONEncoder and a
    # UUID object (its __init__ and __str__ were a sixth of an app record's adapting).
    digest = bytearray(
        hashlib.sha1(_NAMESPACE_BYTES + name.encode("utf-8"), usedforsecurity=False).digest()
    )
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # variant RFC 4122
    h = digest[:16].hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def to_rfc3339(moment: datetime) -> str:
    return moment.isoformat()


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
