"""The topic registry: every Kafka topic omnicx owns, declared once.

`omnicx topics apply` creates and updates these on the cluster. Key and value describe the
contract for producers and consumers (see docs/contract.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

CHANNELS: tuple[str, ...] = ("phone", "email", "social", "app", "chat")

DAY_MS = 24 * 60 * 60 * 1000


@dataclass(frozen=True)
class TopicSpec:
    """One topic: its name, layout and meaning.

    `replication_factor` and `min.insync.replicas` are not declared here: they follow the
    cluster (1 on the single local broker, 3 and 2 on a cluster of three or more).
    """

    name: str
    partitions: int
    key: str
    value: str
    description: str
    cleanup_policy: str = "delete"
    retention_ms: int | None = None  # None: keep forever (-1); ignored for compacted topics
    extra_config: dict[str, str] = field(default_factory=dict)

    def config(self) -> dict[str, str]:
        """Topic-level configs to set on the broker."""
        cfg = {"cleanup.policy": self.cleanup_policy}
        if self.cleanup_policy == "delete":
            cfg["retention.ms"] = str(self.retention_ms if self.retention_ms is not None else -1)
        cfg.update(self.extra_config)
        return cfg


# Partition counts: the customer-keyed topics share one count so faust tables co-partition
# with them; six leaves room for several workers on one machine.
STREAM_PARTITIONS = 6

INTERACTIONS = "cx.interactions.v1"
CUSTOMER_EVENTS = "cx.customer-events.v1"
IDENTITY = "cx.identity.v1"
SIGNALS = "cx.signals.v1"
DLQ = "cx.dlq.v1"
ERASURES = "cx.erasures.v1"


def ingest_topic(channel: str) -> str:
    """The raw topic of a channel (`cx.ingest.<channel>`)."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}; expected one of {', '.join(CHANNELS)}")
    return f"cx.ingest.{channel}"


TOPICS: tuple[TopicSpec, ...] = (
    *(
        TopicSpec(
            name=ingest_topic(channel),
            partitions=3,
            key="source record id",
            value="raw payload bytes as received",
            description=f"Raw {channel} payloads as received, kept for audit and replay.",
            retention_ms=400 * DAY_MS,
        )
        for channel in CHANNELS
    ),
    TopicSpec(
        name=INTERACTIONS,
        partitions=STREAM_PARTITIONS,
        key="primary identifier",
        value="canonical InteractionEvent JSON",
        description="Validated canonical events from every channel; the log of record.",
        retention_ms=None,
    ),
    TopicSpec(
        name=CUSTOMER_EVENTS,
        partitions=STREAM_PARTITIONS,
        key="customer_id",
        value="canonical InteractionEvent with customer_id set",
        description="Identity-resolved events, keyed by customer; what subscribers consume.",
        retention_ms=400 * DAY_MS,
    ),
    TopicSpec(
        name=IDENTITY,
        partitions=STREAM_PARTITIONS,
        key="identifier",
        value="identity link / merge records",
        description="Identifier to customer links and customer merges (latest per identifier).",
        cleanup_policy="compact",
    ),
    TopicSpec(
        name=SIGNALS,
        partitions=STREAM_PARTITIONS,
        key="customer_id",
        value="OutreachSignal JSON",
        description="Proactive outreach signals raised by the rules.",
        retention_ms=90 * DAY_MS,
    ),
    TopicSpec(
        name=DLQ,
        partitions=3,
        key="original key",
        value="original bytes",
        description=(
            "Rejected records with headers naming the stage, error class, message and the "
            "source topic/partition/offset (or file and line)."
        ),
        retention_ms=90 * DAY_MS,
    ),
    TopicSpec(
        name=ERASURES,
        partitions=1,
        key="customer_id",
        value="ErasureRequest JSON (identifier hashes only)",
        description=(
            "Right-to-be-forgotten requests: stream workers purge state, ingestion suppresses "
            "the hashed identifiers, batch jobs delete from the lake."
        ),
        cleanup_policy="compact",
    ),
)


def topic(name: str) -> TopicSpec:
    """Look up a registered topic by name."""
    for spec in TOPICS:
        if spec.name == name:
            return spec
    raise KeyError(f"{name!r} is not in the omnicx topic registry")
