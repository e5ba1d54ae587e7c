"""What the channel adapters need to know about the business: its own addresses and handles,
how to read phone numbers without a country code, which app events mean what, and limits."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, Field, field_validator

from schemas.identifiers import IdentifierType

DEFAULT_TRAIT_IDENTIFIERS: dict[str, IdentifierType] = {
    "email": IdentifierType.EMAIL,
    "phone": IdentifierType.PHONE,
    "twitter": IdentifierType.SOCIAL_HANDLE,
    "twitter_handle": IdentifierType.SOCIAL_HANDLE,
    "crm_id": IdentifierType.CRM_ID,
}

DEFAULT_CONTACT_ATTRIBUTE_IDENTIFIERS: dict[str, IdentifierType] = {
    "CustomerEmail": IdentifierType.EMAIL,
    "CustomerPhone": IdentifierType.PHONE,
    "CustomerVisitorId": IdentifierType.CHAT_VISITOR_ID,
    "VisitorId": IdentifierType.CHAT_VISITOR_ID,
    # A web widget that shares the site's analytics cookie passes the Segment anonymousId,
    # which the app adapter records as a device_id: the same value links chat and web.
    "AnonymousId": IdentifierType.DEVICE_ID,
    "CustomerTwitter": IdentifierType.SOCIAL_HANDLE,
    "CrmId": IdentifierType.CRM_ID,
    "CustomerCrmId": IdentifierType.CRM_ID,
}


class AdapterConfig(BaseModel):
    """Configuration of the channel adapters (`streams.adapters`)."""

    own_email_domains: list[str] = Field(
        default_factory=list,
        description="Mail from these domains is outbound; their addresses are never customers.",
    )
    own_email_addresses: list[str] = Field(
        default_factory=list,
        description="Mail from these addresses is outbound; they are never customers.",
    )
    own_social_handles: list[str] = Field(
        default_factory=list,
        description="Brand accounts: posts by these are outbound (twcs also has `inbound`).",
    )
    default_phone_region: str | None = Field(
        None,
        description=(
            "ISO 3166 region (e.g. US, GB) for phone numbers without a country code; unset: "
            "such numbers are dropped as identifiers rather than guessed."
        ),
    )
    default_tenant: str = Field(
        "default", description="Tenant of events whose channel does not name a brand."
    )
    trait_identifiers: dict[str, IdentifierType] = Field(
        default_factory=lambda: dict(DEFAULT_TRAIT_IDENTIFIERS),
        description="Segment identify traits (and context.traits) that are identifiers.",
    )
    contact_attribute_identifiers: dict[str, IdentifierType] = Field(
        default_factory=lambda: dict(DEFAULT_CONTACT_ATTRIBUTE_IDENTIFIERS),
        description="Amazon Connect contact Attributes that are customer identifiers.",
    )
    purchase_events: list[str] = Field(
        default_factory=lambda: ["Order Completed", "Purchase", "Purchased"],
        description="Segment track events that are purchases (kind `purchase`).",
    )
    login_events: list[str] = Field(
        default_factory=lambda: ["Signed In", "Logged In", "Login"],
        description="Segment track events that are log-ins (kind `login`).",
    )
    support_events: list[str] = Field(
        default_factory=lambda: [
            "Support Request",
            "Support Requested",
            "Help Requested",
            "Contact Support",
            "Support Ticket Created",
            "Complaint Submitted",
        ],
        description="Segment track events in which the customer asks for help: inbound contacts.",
    )
    error_events: list[str] = Field(
        default_factory=lambda: ["Application Error", "App Error", "Error", "App Crashed"],
        description="Segment track events reporting an app error (kind `app_error`, internal).",
    )
    max_payload_bytes: int = Field(
        1_000_000,
        ge=1024,
        description="Largest raw payload accepted (Kafka's default record limit is ~1 MiB).",
    )
    max_future_s: float = Field(
        3600.0,
        description="Refuse events timestamped further ahead than this (Kafka 4 refuses >1 h).",
    )
    earliest: datetime = Field(
        datetime(2000, 1, 1, tzinfo=UTC), description="Refuse events timestamped before this."
    )

    @field_validator("own_email_domains", "own_email_addresses", "own_social_handles")
    @classmethod
    def _fold(cls, values: list[str]) -> list[str]:
        return [v.strip().lstrip("@").lower() for v in values if v.strip()]

    def is_own_email(self, address: str) -> bool:
        """True when `address` (already lower-case) belongs to the business."""
        address = address.lower()
        if address in self.own_email_addresses:
            return True
        domain = address.rpartition("@")[2]
        return any(domain == d or domain.endswith("." + d) for d in self.own_email_domains)

    def is_own_handle(self, handle: str) -> bool:
        return handle.strip().lstrip("@").lower() in self.own_social_handles
