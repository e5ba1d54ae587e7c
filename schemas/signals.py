"""OutreachSignal v1: a proactive prompt to act for one customer, raised by a rule."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


# Known types; `type` is an open string so a new rule needs no version bump.
KNOWN_SIGNAL_TYPES = (
    "repeat_contact",
    "unanswered_public_post",
    "channel_fallback",
    "negative_sentiment",
    "sla_breach_risk",
)


class OutreachSignal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    signal_id: str = Field(min_length=1, description="stable: rule + customer + evidence")
    customer_id: str = Field(min_length=1)
    type: str = Field(min_length=1, description="repeat_contact, channel_fallback, ...")
    severity: Severity
    reason: str = Field(min_length=1, description="human-readable why")
    evidence: list[str] = Field(min_length=1, description="event_ids that triggered it")
    recommended_action: str
    raised_at: AwareDatetime = Field(description="event time at which the rule fired")
    expires_at: AwareDatetime
    schema_version: Literal[1] = 1

    def to_json_bytes(self) -> bytes:
        return self.model_dump_json().encode("utf-8")

    @classmethod
    def from_json_bytes(cls, data: bytes) -> OutreachSignal:
        return cls.model_validate_json(data)
