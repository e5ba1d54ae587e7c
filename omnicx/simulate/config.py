"""Typed configuration of the traffic simulator (`omnicx simulate`)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.events import Channel

ALL_CHANNELS: tuple[Channel, ...] = (
    Channel.EMAIL,
    Channel.SOCIAL,
    Channel.APP,
    Channel.PHONE,
    Channel.CHAT,
)


class Scale(StrEnum):
    """Presets: how many customers and days, when not given explicitly."""

    TINY = "tiny"  # tests: a few hundred customers, one day
    DEMO = "demo"  # `make demo`: a few thousand customers, one day, about a minute end to end
    BENCH = "bench"  # benchmarks: about a million events
    LARGE = "large"  # soak tests: millions of events over a week


# customers, days, app events per customer per day
SCALE_PRESETS: dict[Scale, tuple[int, int, float]] = {
    Scale.TINY: (300, 1, 4.0),
    Scale.DEMO: (3_000, 1, 4.0),
    Scale.BENCH: (150_000, 1, 5.0),
    Scale.LARGE: (400_000, 7, 5.0),
}


class JourneyMix(BaseModel):
    """Share of customers who live through each scripted journey (the rest only browse the app
    and now and then contact support). Shares are per customer over the whole period."""

    model_config = ConfigDict(extra="forbid")

    app_chat_phone: float = Field(
        0.02, ge=0, le=1, description="Fails at checkout in the app, chats, then phones."
    )
    unanswered_public_post: float = Field(
        0.02, ge=0, le=1, description="Public complaint on Twitter that nobody answers for hours."
    )
    polite_email: float = Field(
        0.03, ge=0, le=1, description="A polite email answered within minutes."
    )
    fragmented_identity: float = Field(
        0.01,
        ge=0,
        le=1,
        description=(
            "Known by a different identifier on each channel until one app login links them."
        ),
    )
    repeat_contact: float = Field(
        0.015, ge=0, le=1, description="Three or more contacts about one problem within a day."
    )
    positive_feedback: float = Field(
        0.02, ge=0, le=1, description="Praise on Twitter or by email, thanked by the brand."
    )

    @model_validator(mode="after")
    def _at_most_everyone(self) -> JourneyMix:
        if sum(self.model_dump().values()) > 1:
            raise ValueError("journey shares add up to more than 1")
        return self


class OutageConfig(BaseModel):
    """Service outages: a window in which the affected brand's customers flood every channel."""

    model_config = ConfigDict(extra="forbid")

    per_day: int = Field(1, ge=0, le=4, description="Outages per simulated day (one brand each).")
    min_minutes: int = Field(40, ge=5, description="Shortest outage.")
    max_minutes: int = Field(90, ge=5, description="Longest outage.")
    affected_share: float = Field(
        0.12, ge=0, le=1, description="Share of the brand's customers who contact support."
    )


class BrandSpec(BaseModel):
    """One business (brand) whose customers are simulated: its own addresses and handle tell
    the ingest adapters which messages are outbound."""

    model_config = ConfigDict(extra="forbid")

    slug: str = Field(pattern=r"^[a-z][a-z0-9-]{1,30}$", description="Tenant id and file name.")
    name: str = Field(min_length=1, description="Company name, e.g. 'Northwind Traders'.")
    twitter_handle: str = Field(
        pattern=r"^@?[A-Za-z0-9_]{1,15}$", description="The support account on Twitter."
    )
    email_domain: str = Field(
        pattern=r"^[a-z0-9.-]+\.[a-z]{2,}$", description="Mail domain of the business."
    )
    support_address: str | None = Field(
        None, description="Address customers write to; default support@<email_domain>."
    )

    @field_validator("twitter_handle")
    @classmethod
    def _strip_at(cls, value: str) -> str:
        return value.lstrip("@")

    @classmethod
    def parse(cls, text: str) -> BrandSpec:
        """`slug,Name,Handle,domain[,support address]`, as the CLI's --brand takes it."""
        parts = [p.strip() for p in text.split(",")]
        if len(parts) not in (4, 5):
            raise ValueError(f"--brand wants slug,Name,Handle,domain[,address]; got {text!r}")
        keys = ("slug", "name", "twitter_handle", "email_domain", "support_address")
        return cls.model_validate(dict(zip(keys, parts, strict=False)))


class SimulateConfig(BaseModel):
    """Everything `omnicx simulate` can be told. The same config and seed give byte-identical
    output as long as the window ends in the past (see `window`)."""

    model_config = ConfigDict(extra="forbid")

    customers: int = Field(3_000, ge=1, description="Simulated people.")
    days: int = Field(1, ge=1, le=366, description="Length of the simulated period in days.")
    seed: int = Field(7, description="Random seed; the same seed and options give the same files.")
    start: date | None = Field(
        None,
        description=(
            "First simulated day (UTC). Default: `days` days before today, so the period ends at "
            "midnight UTC today and the demo's day looks current."
        ),
    )
    out: Path = Field(Path(".omnicx/simulated"), description="Output directory.")
    malformed_min: int = Field(
        3, ge=0, description="At least this many malformed records per channel (when possible)."
    )
    malformed_rate: float = Field(
        0.003,
        ge=0,
        le=0.5,
        description="Share of background records per file written malformed on purpose.",
    )
    channels: tuple[Channel, ...] = Field(ALL_CHANNELS, description="Channels to write.")
    brands: int = Field(
        2, ge=1, le=8, description="Brand accounts (companies); each is its own tenant."
    )
    brand_specs: list[BrandSpec] = Field(
        default_factory=list,
        description=(
            "The businesses' own names, addresses and handles; when given, they replace the "
            "built-in fictional brands (and `brands` is their number)."
        ),
    )
    app_events_per_customer_day: float = Field(
        4.0, ge=0, le=200, description="Mean Segment events per customer per day (browsing)."
    )
    support_contact_rate: float = Field(
        0.04,
        ge=0,
        le=1,
        description="Chance per customer per day of an ordinary contact with support.",
    )
    journeys: JourneyMix = Field(default_factory=lambda: JourneyMix())
    outages: OutageConfig = Field(default_factory=lambda: OutageConfig())
    twitter_v2: bool = Field(
        True,
        description=(
            "Also write social/tweets_v2.jsonl: the same tweets as Twitter API v2 JSON lines."
        ),
    )
    email_format: Literal["mbox", "eml"] = Field(
        "mbox", description="One mbox file per brand, or one .eml file per message."
    )
    manifest_people_limit: int = Field(
        5_000,
        ge=0,
        description=(
            "Up to this many customers the manifest lists every person; above it, summaries "
            "plus a sample of people per journey and signal."
        ),
    )
    spill_records: int = Field(
        100_000,
        ge=1_000,
        description=(
            "Records held in memory before a sorted run is spilled to disk; bounds memory at "
            "any scale (files are merged in time order at the end)."
        ),
    )

    @field_validator("channels", mode="before")
    @classmethod
    def _parse_channels(cls, value: object) -> object:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, list | tuple) and not value:
            raise ValueError("at least one channel")
        return value

    @field_validator("channels")
    @classmethod
    def _order_channels(cls, value: tuple[Channel, ...]) -> tuple[Channel, ...]:
        return tuple(c for c in ALL_CHANNELS if c in set(value))

    @model_validator(mode="after")
    def _brands_from_specs(self) -> SimulateConfig:
        if self.brand_specs:
            self.brands = len(self.brand_specs)
        return self

    def window(self, now: datetime | None = None) -> tuple[datetime, datetime]:
        """The simulated period [start, end) in UTC. The end is clipped to `now` so that no
        record is timestamped in the future (Kafka rejects records more than an hour ahead);
        output is reproducible only when the period lies wholly in the past."""
        now = now or datetime.now(UTC)
        first = self.start or (now.date() - timedelta(days=self.days))
        start = datetime(first.year, first.month, first.day, tzinfo=UTC)
        end = min(start + timedelta(days=self.days), now.replace(microsecond=0))
        if end <= start:
            raise ValueError(f"the simulated period starts in the future ({start.isoformat()})")
        return start, end

    @classmethod
    def for_scale(cls, scale: Scale | str, **overrides: object) -> SimulateConfig:
        """A config from a scale preset; explicit keyword values win over the preset's."""
        customers, days, rate = SCALE_PRESETS[Scale(scale)]
        values: dict[str, object] = {
            "customers": customers,
            "days": days,
            "app_events_per_customer_day": rate,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(values)
