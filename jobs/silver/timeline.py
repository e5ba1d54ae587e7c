"""silver.customer_timeline: every event once, with its customer and its conversation.

Each run computes the timeline the current bronze and identity graph imply and MERGEs it into
the table by event_id: new events are inserted, rows whose customer or conversation position
changed (an identity merge, a late event earlier in a conversation) are updated, unchanged rows
are left alone, and rows whose event is gone from bronze (erased) are deleted. Re-running with
no new input changes nothing. Sentiment (VADER, inbound text only) is computed once per event:
rows already in the table keep theirs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.config import LakehouseConfig
from jobs.silver.identity import identifier_key
from jobs.tables import (
    BRONZE_INTERACTIONS_SPEC,
    SILVER_CUSTOMER_TIMELINE_SPEC,
    SILVER_IDENTITY_GRAPH_SPEC,
    conform,
    ensure_table,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# Columns whose change makes MERGE rewrite a row (the rest derive from the immutable event).
_TRACKED = ("customer_id", "conversation_seq")


def dedup_events(bronze: DataFrame) -> DataFrame:
    """One row per event_id: the first received (ingested_at, then Kafka position)."""
    order = Window.partitionBy("event_id").orderBy(
        "ingested_at", "kafka_topic", "kafka_partition", "kafka_offset"
    )
    return bronze.withColumn("_n", F.row_number().over(order)).where("_n = 1").drop("_n")


def conversation_key() -> Column:
    """channel:conversation_id, or channel:event_id for a standalone event."""
    return F.concat(
        F.col("channel"), F.lit(":"), F.coalesce(F.col("conversation_id"), F.col("event_id"))
    )


@F.pandas_udf(T.DoubleType())  # type: ignore[call-overload]
def vader_compound(texts: pd.Series) -> pd.Series:
    """VADER compound score of each text (null text: null)."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    return texts.map(
        lambda t: analyzer.polarity_scores(t)["compound"] if isinstance(t, str) and t else None
    )


def build_timeline(events: DataFrame, graph: DataFrame) -> DataFrame:
    """Timeline rows (without sentiment) from deduplicated bronze events and the identity
    graph: customer from the event's first identifier, conversation key and position."""
    customers = graph.select(F.col("identifier_key").alias("primary_identifier_key"), "customer_id")
    seq = Window.partitionBy("conversation_key").orderBy("occurred_at", "event_id")
    return (
        events.drop("customer_id")
        .withColumn("primary_identifier_key", identifier_key(F.element_at("identifiers", 1)))
        .join(customers, "primary_identifier_key", "left")
        .withColumn("conversation_key", conversation_key())
        .withColumn("conversation_seq", F.row_number().over(seq))
    )


def with_sentiment(rows: DataFrame, known: DataFrame | None) -> DataFrame:
    """Add `sentiment`: from `known` (event_id, sentiment) where present, else VADER on inbound
    text. The UDF sees only the rows that need it (Spark would evaluate a UDF under a CASE for
    every row)."""
    if known is None:
        fresh, kept = rows, None
    else:
        fresh = rows.join(known.select("event_id"), "event_id", "left_anti")
        kept = rows.join(known.select("event_id", "sentiment"), "event_id")
    inbound_text = fresh.where((F.col("direction") == "inbound") & F.col("text").isNotNull())
    scored = inbound_text.withColumn("sentiment", vader_compound("text")).unionByName(
        fresh.where(~((F.col("direction") == "inbound") & F.col("text").isNotNull())).withColumn(
            "sentiment", F.lit(None).cast("double")
        )
    )
    return scored if kept is None else scored.unionByName(kept)


def timeline_rows(rows: DataFrame) -> DataFrame:
    return conform(
        rows.withColumn("silver_updated_at", F.current_timestamp()),
        SILVER_CUSTOMER_TIMELINE_SPEC,
    )


def refresh_timeline(spark: SparkSession, config: LakehouseConfig) -> dict[str, int]:
    """MERGE the timeline implied by bronze + identity graph into silver.customer_timeline.

    Returns the MERGE metrics (inserted, updated, deleted rows) and the table's row count.
    """
    from delta.tables import DeltaTable

    ensure_table(spark, config, BRONZE_INTERACTIONS_SPEC)
    ensure_table(spark, config, SILVER_IDENTITY_GRAPH_SPEC)
    path = ensure_table(spark, config, SILVER_CUSTOMER_TIMELINE_SPEC)
    bronze = spark.read.format("delta").load(BRONZE_INTERACTIONS_SPEC.path(config))
    graph = spark.read.format("delta").load(SILVER_IDENTITY_GRAPH_SPEC.path(config))
    current = spark.read.format("delta").load(path)
    wanted = build_timeline(dedup_events(bronze), graph)
    source = timeline_rows(with_sentiment(wanted, current)).localCheckpoint()

    table = DeltaTable.forPath(spark, path)
    before = table.history(1).collect()[0]["version"]
    changed = " OR ".join(f"NOT (t.{c} <=> s.{c})" for c in _TRACKED)
    (
        table.alias("t")
        .merge(source.alias("s"), "t.event_id = s.event_id")
        .whenMatchedUpdate(
            condition=changed,
            set={c: f"s.{c}" for c in (*_TRACKED, "silver_updated_at")},
        )
        .whenNotMatchedInsertAll()
        .whenNotMatchedBySourceDelete()
        .execute()
    )
    # A MERGE that changes nothing commits nothing: then there are no metrics to read.
    metrics = _last_operation_metrics(spark, path, before)
    metrics["rows"] = spark.read.format("delta").load(path).count()
    return metrics


def _last_operation_metrics(spark: SparkSession, path: str, before: int) -> dict[str, int]:
    from delta.tables import DeltaTable

    row = DeltaTable.forPath(spark, path).history(1).collect()[0]
    m = (row["operationMetrics"] or {}) if row["version"] > before else {}
    return {
        "inserted": int(m.get("numTargetRowsInserted", 0)),
        "updated": int(m.get("numTargetRowsUpdated", 0)),
        "deleted": int(m.get("numTargetRowsDeleted", 0)),
    }
