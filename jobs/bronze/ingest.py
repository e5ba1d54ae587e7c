"""Entry points: Kafka topics into bronze Delta tables, exactly once across re-runs.

How a run stays exactly-once:
- The Kafka position (the next offset of every partition) is stored *in the commit that writes
  the rows*, as the commit's userMetadata. Delta commits atomically, so either the rows and the
  new position are both visible or neither is: a crash anywhere before the commit leaves the
  old position and the re-run reads the same range again; a crash after it finds the new one.
- Each write is also a Delta idempotent write (`txnAppId` = table + topic, `txnVersion` = the
  position the batch starts from, i.e. the sum of the partitions' start offsets, which only
  grows). Two runs planned from the same position (a retried run racing the original, or the
  records bronze rejects being written before the events) commit once: Delta skips the second.
- Records bronze refuses go to bronze.rejections in an idempotent write of their own, keyed by
  the same batch position and committed *before* the events: if the run dies between the two
  commits, the re-run replans the same batch, Delta skips the rejections it already has, and
  writes the events.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jobs import deltalog
from jobs.config import LakehouseConfig
from jobs.errors import TransientJobError
from jobs.kafka_source import TopicOffsets, suppressed_hashes, topic_offsets
from jobs.tables import BRONZE_INTERACTIONS_SPEC, BRONZE_REJECTIONS_SPEC, TableSpec, ensure_table

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

POSITION_TAG = "bronze"  # userMetadata["omnicx"] of a commit that records a Kafka position
REJECTS_TAG = "bronze-rejects"  # rejections bronze itself wrote for a batch


@dataclass(frozen=True)
class OffsetRange:
    """Offsets [start, end) of one partition."""

    partition: int
    start: int
    end: int

    @property
    def count(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class BatchPlan:
    """What one bronze run reads: per-partition ranges and the position after them."""

    table: str
    topic: str
    position: int  # sum of start offsets: the idempotent-write version of this batch
    ranges: tuple[OffsetRange, ...]
    end_offsets: dict[int, int]  # next offset of every partition once this batch is committed
    lost_to_retention: int = 0  # offsets deleted by the broker before bronze read them

    @property
    def records(self) -> int:
        return sum(r.count for r in self.ranges)

    def app_id(self, suffix: str = "") -> str:
        return f"omnicx:{self.table}:{self.topic}{suffix}"

    def metadata(self) -> str:
        return json.dumps(
            {
                "omnicx": POSITION_TAG,
                "source_topic": self.topic,
                "position": self.position,
                "offsets": {str(p): o for p, o in sorted(self.end_offsets.items())},
                "records": self.records,
            },
            sort_keys=True,
        )


@dataclass
class BronzeResult:
    """What a bronze run did. `read == accepted + rejected + suppressed` always."""

    table: str
    topic: str
    read: int = 0
    accepted: int = 0
    rejected: int = 0
    suppressed: int = 0
    lost_to_retention: int = 0
    position: int | None = None
    offsets: dict[int, int] = field(default_factory=dict)
    committed: bool = False

    def as_metadata(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "read": self.read,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "suppressed": self.suppressed,
            "lost_to_retention": self.lost_to_retention,
            "offsets": json.dumps({str(k): v for k, v in sorted(self.offsets.items())}),
        }


def committed_offsets(table_path: str, topic: str) -> dict[int, int] | None:
    """The position the table has committed for `topic`, from its commit log (None: never)."""
    from pathlib import Path

    found = deltalog.find_user_metadata(
        Path(table_path),
        lambda m: m.get("omnicx") == POSITION_TAG and m.get("source_topic") == topic,
    )
    if found is None:
        return None
    return {int(p): int(o) for p, o in found[1]["offsets"].items()}


def _fallback_offsets(spark: SparkSession, table_path: str, topic: str) -> dict[int, int]:
    """Position derived from the rows (max offset + 1) for a table whose position records are
    gone (e.g. an old table whose log was cleaned up)."""
    from pyspark.sql import functions as F

    topic_col = "record_topic" if table_path.endswith("rejections") else "kafka_topic"
    rows = (
        spark.read.format("delta")
        .load(table_path)
        .where(F.col(topic_col) == topic)
        .groupBy("kafka_partition")
        .agg(F.max("kafka_offset").alias("last"))
        .collect()
    )
    return {int(r["kafka_partition"]): int(r["last"]) + 1 for r in rows}


def plan_batch(
    committed: dict[int, int],
    offsets: TopicOffsets,
    table: str,
    max_per_partition: int | None = None,
) -> BatchPlan | None:
    """The next batch after position `committed` given the topic's current offsets, or None
    when nothing new waits. Pure: no I/O."""
    ranges = []
    lost = 0
    ends: dict[int, int] = {}
    position = 0
    for partition in sorted(offsets.end):
        earliest = offsets.earliest.get(partition, 0)
        start = committed.get(partition, earliest)
        if start < earliest:
            lost += earliest - start
            start = earliest
        position += start
        end = offsets.end[partition]
        if max_per_partition is not None:
            end = min(end, start + max_per_partition)
        ends[partition] = max(start, end)
        if end > start:
            ranges.append(OffsetRange(partition, start, end))
    # Partitions the table knows but the topic no longer reports keep their position.
    for partition, offset in committed.items():
        ends.setdefault(partition, offset)
    if not ranges:
        return None
    return BatchPlan(table, offsets.topic, position, tuple(ranges), ends, lost)


def read_batch(spark: SparkSession, bootstrap: str, plan: BatchPlan) -> DataFrame:
    """The plan's Kafka records as a DataFrame (Spark's Kafka source, batch mode)."""
    starting = {plan.topic: {str(r.partition): r.start for r in plan.ranges}}
    ending = {plan.topic: {str(r.partition): r.end for r in plan.ranges}}
    return (
        spark.read.format("kafka")
        .option("kafka.bootstrap.servers", bootstrap)
        .option("assign", json.dumps({plan.topic: [r.partition for r in plan.ranges]}))
        .option("startingOffsets", json.dumps(starting))
        .option("endingOffsets", json.dumps(ending))
        .option("includeHeaders", "true")
        .load()
    )


def _plan(
    spark: SparkSession, config: LakehouseConfig, spec: TableSpec, topic: str
) -> BatchPlan | None:
    path = ensure_table(spark, config, spec)
    committed = committed_offsets(path, topic)
    if committed is None:
        committed = _fallback_offsets(spark, path, topic)
    offsets = topic_offsets(config.kafka_bootstrap, topic)
    return plan_batch(committed, offsets, spec.name, config.max_offsets_per_partition)


def _append(df: DataFrame, path: str, app_id: str, version: int, metadata: str) -> None:
    (
        df.write.format("delta")
        .mode("append")
        .option("txnAppId", app_id)
        .option("txnVersion", str(version))
        .option("userMetadata", metadata)
        .save(path)
    )


def plan_interactions(spark: SparkSession, config: LakehouseConfig) -> BatchPlan | None:
    """The next batch of cx.interactions.v1 for bronze.interactions (None: up to date)."""
    return _plan(spark, config, BRONZE_INTERACTIONS_SPEC, config.interactions_topic)


class InteractionsBatch:
    """One planned batch of cx.interactions.v1, written in two idempotent steps.

    `ingest_interactions` runs both; tests run them separately to stand in for a crash between
    the two commits.
    """

    def __init__(self, spark: SparkSession, config: LakehouseConfig, plan: BatchPlan) -> None:
        from jobs.bronze.parse import classify_interactions

        self.spark = spark
        self.config = config
        self.plan = plan
        ensure_table(spark, config, BRONZE_REJECTIONS_SPEC)
        suppressed = suppressed_hashes(config.kafka_bootstrap, config.erasures_topic)
        records = read_batch(spark, config.kafka_bootstrap, plan)
        # Read Kafka once: both writes and the counts use this cached classification.
        self.classified = classify_interactions(records, suppressed).persist()

    def counts(self) -> dict[str, int]:
        rows = self.classified.groupBy("status").count().collect()
        return {r["status"]: int(r["count"]) for r in rows}

    def write_rejections(self) -> None:
        from jobs.bronze.parse import rejected_events

        metadata = json.dumps(
            {"omnicx": REJECTS_TAG, "source_topic": self.plan.topic, "position": self.plan.position}
        )
        _append(
            rejected_events(self.classified),
            BRONZE_REJECTIONS_SPEC.path(self.config),
            self.plan.app_id(":rejects"),
            self.plan.position,
            metadata,
        )

    def write_events(self) -> None:
        from jobs.bronze.parse import accepted_events

        _append(
            accepted_events(self.classified).repartition("event_date"),
            BRONZE_INTERACTIONS_SPEC.path(self.config),
            self.plan.app_id(),
            self.plan.position,
            self.plan.metadata(),
        )

    def close(self) -> None:
        self.classified.unpersist()


def ingest_interactions(
    spark: SparkSession,
    config: LakehouseConfig,
    progress: Callable[[str], None] | None = None,
) -> BronzeResult:
    """Append the next batch of cx.interactions.v1 to bronze.interactions (and what bronze
    refuses to bronze.rejections). Returns the counts; a run with nothing new reads 0."""
    result = BronzeResult(BRONZE_INTERACTIONS_SPEC.name, config.interactions_topic)
    plan = plan_interactions(spark, config)
    if plan is None:
        result.offsets = (
            committed_offsets(BRONZE_INTERACTIONS_SPEC.path(config), config.interactions_topic)
            or {}
        )
        return result
    if progress:
        progress(f"reading {plan.records} records of {plan.topic}")
    batch = InteractionsBatch(spark, config, plan)
    try:
        counts = batch.counts()
        _check_complete(plan, sum(counts.values()))
        if counts.get("rejected", 0):
            batch.write_rejections()
        batch.write_events()
    finally:
        batch.close()
    result.read = sum(counts.values())
    result.accepted = counts.get("accepted", 0)
    result.rejected = counts.get("rejected", 0)
    result.suppressed = counts.get("suppressed", 0)
    result.lost_to_retention = plan.lost_to_retention
    result.position = plan.position
    result.offsets = plan.end_offsets
    result.committed = True
    return result


def ingest_rejections(
    spark: SparkSession,
    config: LakehouseConfig,
    progress: Callable[[str], None] | None = None,
) -> BronzeResult:
    """Append the next batch of cx.dlq.v1 (original bytes and reason headers) to
    bronze.rejections."""
    from jobs.bronze.parse import dlq_rejections

    result = BronzeResult(BRONZE_REJECTIONS_SPEC.name, config.dlq_topic)
    plan = _plan(spark, config, BRONZE_REJECTIONS_SPEC, config.dlq_topic)
    if plan is None:
        result.offsets = (
            committed_offsets(BRONZE_REJECTIONS_SPEC.path(config), config.dlq_topic) or {}
        )
        return result
    if progress:
        progress(f"reading {plan.records} records of {plan.topic}")
    rows = dlq_rejections(read_batch(spark, config.kafka_bootstrap, plan)).persist()
    try:
        count = rows.count()
        _check_complete(plan, count)
        _append(
            rows,
            BRONZE_REJECTIONS_SPEC.path(config),
            plan.app_id(),
            plan.position,
            plan.metadata(),
        )
    finally:
        rows.unpersist()
    result.read = result.rejected = count
    result.lost_to_retention = plan.lost_to_retention
    result.position = plan.position
    result.offsets = plan.end_offsets
    result.committed = True
    return result


def _check_complete(plan: BatchPlan, read: int) -> None:
    """Refuse to commit a position past records that were not read.

    Compacted or transactional topics can have offset gaps, so fewer records than offsets is
    legitimate there; more than planned never is.
    """
    if read > plan.records:
        raise TransientJobError(
            f"read {read} records from {plan.topic} but planned at most {plan.records}"
        )
