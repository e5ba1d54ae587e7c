"""Typed configuration of the stream workers."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from schemas import topics as T

TIMELINES_TABLE = "timelines"
IDENTITY_NODES_TABLE = "identity-nodes"
IDENTITY_COMPONENTS_TABLE = "identity-components"
IDENTITY_JOURNAL_TABLE = "identity-journal"  # a batch's graph writes (streams.workers.journal)
CUSTOMERS_TABLE = "customers"  # feature state, current features, recent signals
CHANNELS_TABLE = "channels"  # reply-time state per channel


def changelog_topic(app_id: str, table: str) -> str:
    """The changelog topic faust keeps for `table` (read by the Customer API)."""
    return f"{app_id}-{table}-changelog"


def identity_in_topic(app_id: str) -> str:
    """The single-partition topic the identity agent consumes."""
    return f"{app_id}-identity-in"


def first_responses_topic(app_id: str) -> str:
    """First responses, re-keyed by channel for the channel reply-time state."""
    return f"{app_id}-first-responses"


def ticks_topic(app_id: str) -> str:
    """Wall-clock ticks for customers with an unanswered public post, keyed by customer_id."""
    return f"{app_id}-ticks"


def resolved_topic(app_id: str) -> str:
    """Resolved events and merge instructions, keyed by customer_id."""
    return f"{app_id}-resolved"


class StreamsConfig(BaseModel):
    """How the faust stream workers run."""

    app_id: str = Field(
        "omnicx-streams",
        description="faust app id: the consumer group, and the prefix of internal topics.",
    )
    workers: int = Field(1, ge=1, description="Worker processes `omnicx up` starts.")
    web_port: int = Field(
        18066, description="faust web port of worker 1 (worker N uses web_port + N - 1)."
    )
    web_host: str = Field("127.0.0.1", description="Interface of the faust web server.")
    data_dir: Path = Field(Path(".omnicx/streams"), description="faust data directories.")
    timeline_retention_days: float = Field(
        400.0, gt=0, description="Keep timeline events this many days back from the newest."
    )
    default_phone_region: str | None = Field(
        None, description="Region for phone numbers without a country code (e.g. US)."
    )
    commit_interval_s: float = Field(
        1.0, gt=0, description="How often consumed offsets are committed."
    )
    batch_max: int = Field(
        1000, ge=1, description="Records an agent takes at once (state written once per batch)."
    )
    batch_within_s: float = Field(
        0.05, gt=0, description="How long an agent waits to fill a batch before processing it."
    )
    direct_input: bool = Field(
        True,
        description=(
            "Hand cx.interactions.v1 to the router a fetch at a time, past faust's per-record "
            "stream machinery (streams.workers.faust_fixes.consume_directly)."
        ),
    )
    open_batches: bool = Field(
        True,
        description=(
            "Append the records the worker sends straight to the producer's open batch of "
            "their partition, one delivery future per batch (streams.workers.delivery."
            "OpenBatches); false sends every record through aiokafka's send."
        ),
    )
    log_level: str = Field("info", description="faust worker log level.")
    topic_replication_factor: int = Field(
        1,
        ge=1,
        description=(
            "Replication of the workers' internal topics (changelogs, repartitions). "
            "`omnicx up` sets it to the local cluster's replication (3 on the 3-broker mode)."
        ),
    )
    tick_interval_s: float = Field(
        15.0, gt=0, description="How often customers with unanswered public posts are checked."
    )
    tick_rate_per_s: float = Field(
        200.0,
        gt=0,
        description=(
            "At most this many wall-clock ticks a second (a burst of due customers is spread "
            "out, streams.workers.pacing)."
        ),
    )
    signals_kept: int = Field(50, ge=1, description="Recent signals kept per customer.")
    decoded_states_kept: int = Field(
        100_000,
        ge=0,
        description=(
            "Customers whose feature state the timeline agent keeps decoded between batches "
            "(streams.workers.states; 0: decode at every batch)."
        ),
    )
    # The registry's topics; overridable so tests and benchmarks can run isolated pipelines
    # on one broker.
    interactions_topic: str = Field(T.INTERACTIONS, description="Input: canonical events.")
    customer_events_topic: str = Field(T.CUSTOMER_EVENTS, description="Output: resolved events.")
    identity_topic: str = Field(T.IDENTITY, description="Output: identity links and merges.")
    signals_topic: str = Field(T.SIGNALS, description="Output: outreach signals.")
    dlq_topic: str = Field(T.DLQ, description="Output: rejected records.")

    def web_port_of(self, worker: int) -> int:
        """The web port of worker number `worker` (1-based)."""
        return self.web_port + worker - 1


def worker_argv(
    python: str, config: StreamsConfig, bootstrap: str, worker: int, rules_json: str = "{}"
) -> list[str]:
    """The command line of stream worker number `worker` (see `streams.workers.__main__`);
    `rules_json` is a `streams.rules.config.RulesConfig` as JSON."""
    return [
        python,
        # Unbuffered: faust logs to stdout, which is block-buffered into a log file, so a
        # killed worker lost its last seconds of log (the part that explains the kill).
        "-u",
        "-m",
        "streams.workers",
        "--bootstrap",
        bootstrap,
        "--worker",
        str(worker),
        "--config",
        config.model_dump_json(),
        "--rules",
        rules_json,
    ]
