"""Pure transforms from Kafka records (as Spark's Kafka source reads them) to bronze rows.

Input columns: key, value (binary), topic, partition, offset, timestamp, headers
(array<struct<key string, value binary>>). Every record ends up in exactly one of three places:
bronze.interactions (a valid canonical event), bronze.rejections (with a reason), or nowhere
because an erasure request suppresses one of its identifiers (counted, never stored).
"""

from __future__ import annotations

from collections.abc import Collection

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.tables import (
    BRONZE_INTERACTIONS_SPEC,
    BRONZE_REJECTIONS_SPEC,
    IDENTIFIER,
    conform,
)
from schemas import dlq
from schemas.events import Channel, Direction
from schemas.identifiers import IdentifierType

ACCEPTED = "accepted"
REJECTED = "rejected"
SUPPRESSED = "suppressed"
BRONZE_STAGE = "bronze"

# The InteractionEvent JSON (schemas/events.py). Timestamps are read as strings and parsed
# separately, so a bad one becomes a reason instead of a silent null.
EVENT_JSON_SCHEMA = T.StructType(
    [
        T.StructField("event_id", T.StringType()),
        T.StructField("occurred_at", T.StringType()),
        T.StructField("ingested_at", T.StringType()),
        T.StructField("channel", T.StringType()),
        T.StructField("direction", T.StringType()),
        T.StructField("kind", T.StringType()),
        T.StructField("conversation_id", T.StringType()),
        T.StructField("in_reply_to", T.StringType()),
        T.StructField("identifiers", T.ArrayType(IDENTIFIER)),
        T.StructField("customer_id", T.StringType()),
        T.StructField("tenant", T.StringType()),
        T.StructField("agent_id", T.StringType()),
        T.StructField("text", T.StringType()),
        # Nested attribute values arrive as their JSON text.
        T.StructField("attributes", T.MapType(T.StringType(), T.StringType())),
        T.StructField(
            "source",
            T.StructType(
                [
                    T.StructField("system", T.StringType()),
                    T.StructField("record_id", T.StringType()),
                ]
            ),
        ),
        T.StructField("schema_version", T.IntegerType()),
    ]
)

_CHANNELS = [c.value for c in Channel]
_DIRECTIONS = [d.value for d in Direction]
_IDENTIFIER_TYPES = [t.value for t in IdentifierType]


def header(name: str) -> Column:
    """The (last) value of Kafka header `name` as a string, or null."""
    matches = F.filter(F.col("headers"), lambda h: h["key"] == F.lit(name))
    return F.when(F.size(matches) > 0, F.element_at(matches, -1)["value"].cast("string"))


def identifier_hashes(identifiers: Column) -> Column:
    """sha256 of each `type:value` key, as `schemas.identity.identifier_hash`."""
    return F.transform(
        identifiers, lambda i: F.sha2(F.concat(i["type"], F.lit(":"), i["value"]), 256)
    )


def _blank(column: Column) -> Column:
    return column.isNull() | (F.trim(column) == "")


def classify_interactions(records: DataFrame, suppressed: Collection[str] = ()) -> DataFrame:
    """Parse cx.interactions.v1 records and say what becomes of each.

    Returns the parsed event columns plus `status` (accepted | rejected | suppressed),
    `error_class` and `reason` (null unless rejected), and the Kafka coordinates.
    """
    text = F.col("value").try_cast("string")
    parsed = records.select(
        F.col("key").cast("string").alias("kafka_key"),
        F.col("value").alias("value_bytes"),
        text.alias("raw_value"),
        F.col("topic").alias("kafka_topic"),
        F.col("partition").cast("int").alias("kafka_partition"),
        F.col("offset").alias("kafka_offset"),
        F.col("timestamp").alias("kafka_timestamp"),
        F.from_json(text, EVENT_JSON_SCHEMA).alias("e"),
    )
    # Each step is its own projection over named columns, and every check is evaluated once
    # (the index of the first failing check picks class and reason): nesting the checks as
    # CASE chains that reference one another made Spark's code generation take minutes.
    e = F.col("e")
    parsed = parsed.select(
        "*",
        F.try_to_timestamp(e["occurred_at"]).alias("occurred_ts"),
        F.try_to_timestamp(e["ingested_at"]).alias("ingested_ts"),
    )
    text = F.col("raw_value")
    bad_identifier = F.exists(
        e["identifiers"],
        lambda i: (
            i.isNull()
            | i["type"].isNull()
            | ~i["type"].isin(_IDENTIFIER_TYPES)
            | _blank(i["value"])
        ),
    )
    checks: list[tuple[Column, str, str]] = [
        (F.col("value_bytes").isNull(), "EmptyRecord", "record has no value"),
        (~F.expr("is_valid_utf8(value_bytes)"), "InvalidEncoding", "value is not valid UTF-8"),
        (F.get_json_object(text, "$").isNull(), "MalformedJson", "value is not a JSON document"),
        (_blank(e["event_id"]), "InvalidEvent", "missing event_id"),
        (F.col("occurred_ts").isNull(), "InvalidEvent", "missing or unparseable occurred_at"),
        (F.col("ingested_ts").isNull(), "InvalidEvent", "missing or unparseable ingested_at"),
        (
            ~F.coalesce(e["channel"].isin(_CHANNELS), F.lit(False)),
            "InvalidEvent",
            "unknown channel",
        ),
        (
            ~F.coalesce(e["direction"].isin(_DIRECTIONS), F.lit(False)),
            "InvalidEvent",
            "unknown direction",
        ),
        (_blank(e["kind"]), "InvalidEvent", "missing kind"),
        (F.coalesce(F.size(e["identifiers"]), F.lit(0)) <= 0, "InvalidEvent", "no identifiers"),
        (bad_identifier, "InvalidEvent", "identifier with unknown type or empty value"),
        (
            e["source"].isNull() | _blank(e["source"]["system"]) | _blank(e["source"]["record_id"]),
            "InvalidEvent",
            "missing source system or record id",
        ),
        (
            F.coalesce(e["schema_version"], F.lit(1)) != 1,
            "InvalidEvent",
            "unsupported schema_version",
        ),
    ]
    failed = F.coalesce(
        *(
            F.when(F.coalesce(cond, F.lit(False)), F.lit(i + 1))
            for i, (cond, _, _) in enumerate(checks)
        )
    )
    parsed = parsed.select("*", failed.alias("_failed"))
    classes = F.array(*(F.lit(klass) for _, klass, _ in checks))
    messages = F.array(*(F.lit(message) for _, _, message in checks))
    index = F.col("_failed")
    channel_check = 1 + [m for _, _, m in checks].index("unknown channel")
    direction_check = 1 + [m for _, _, m in checks].index("unknown direction")
    # Bad values are named in the reason so a reader of bronze.rejections can act on it.
    reason = (
        F.when(
            index == channel_check,
            F.concat(F.lit("unknown channel: "), F.coalesce(e["channel"], F.lit("null"))),
        )
        .when(
            index == direction_check,
            F.concat(F.lit("unknown direction: "), F.coalesce(e["direction"], F.lit("null"))),
        )
        .otherwise(F.element_at(messages, index))
    )
    hashes = identifier_hashes(e["identifiers"])
    is_suppressed = (
        F.arrays_overlap(hashes, F.array(*(F.lit(h) for h in sorted(suppressed))))
        if suppressed
        else F.lit(False)
    )
    status = (
        F.when(index.isNotNull(), F.lit(REJECTED))
        .when(F.coalesce(is_suppressed, F.lit(False)), F.lit(SUPPRESSED))
        .otherwise(F.lit(ACCEPTED))
    )
    return parsed.select(
        *(c for c in parsed.columns if c != "_failed"),
        status.alias("status"),
        F.when(index.isNotNull(), F.element_at(classes, index)).alias("error_class"),
        F.when(index.isNotNull(), reason).alias("reason"),
    )


def accepted_events(classified: DataFrame, ingested_at: Column | None = None) -> DataFrame:
    """bronze.interactions rows of the accepted records."""
    e = F.col("e")
    now = ingested_at if ingested_at is not None else F.current_timestamp()
    rows = classified.where(F.col("status") == ACCEPTED).select(
        e["event_id"].alias("event_id"),
        F.col("occurred_ts").alias("occurred_at"),
        F.col("ingested_ts").alias("ingested_at"),
        e["channel"].alias("channel"),
        e["direction"].alias("direction"),
        e["kind"].alias("kind"),
        e["conversation_id"].alias("conversation_id"),
        e["in_reply_to"].alias("in_reply_to"),
        e["identifiers"].alias("identifiers"),
        e["customer_id"].alias("customer_id"),
        F.coalesce(e["tenant"], F.lit("default")).alias("tenant"),
        e["agent_id"].alias("agent_id"),
        e["text"].alias("text"),
        e["attributes"].alias("attributes"),
        e["source"]["system"].alias("source_system"),
        e["source"]["record_id"].alias("source_record_id"),
        F.coalesce(e["schema_version"], F.lit(1)).alias("schema_version"),
        "raw_value",
        "kafka_topic",
        "kafka_partition",
        "kafka_offset",
        "kafka_timestamp",
        "kafka_key",
        now.alias("bronze_ingested_at"),
        F.to_date(F.col("occurred_ts")).alias("event_date"),
    )
    return conform(rows, BRONZE_INTERACTIONS_SPEC)


def rejected_events(classified: DataFrame, rejected_at: Column | None = None) -> DataFrame:
    """bronze.rejections rows of the records bronze itself refused (stage `bronze`)."""
    now = rejected_at if rejected_at is not None else F.current_timestamp()
    e = F.col("e")
    rows = classified.where(F.col("status") == REJECTED).select(
        F.col("kafka_topic").alias("record_topic"),
        "kafka_partition",
        "kafka_offset",
        "kafka_timestamp",
        "kafka_key",
        F.col("value_bytes").alias("raw_value"),
        F.lit(BRONZE_STAGE).alias("stage"),
        "error_class",
        F.col("reason").alias("error_message"),
        F.when(e["channel"].isin(_CHANNELS), e["channel"]).alias("channel"),
        F.col("kafka_topic").alias("source_topic"),
        F.col("kafka_partition").alias("source_partition"),
        F.col("kafka_offset").alias("source_offset"),
        F.lit(None).cast("string").alias("source_file"),
        F.lit(None).cast("int").alias("source_line"),
        now.alias("rejected_at"),
        now.alias("bronze_ingested_at"),
        F.to_date(now).alias("rejected_date"),
    )
    return conform(rows, BRONZE_REJECTIONS_SPEC)


def dlq_rejections(records: DataFrame, ingested_at: Column | None = None) -> DataFrame:
    """bronze.rejections rows of cx.dlq.v1 records: original bytes plus the reason headers."""
    now = ingested_at if ingested_at is not None else F.current_timestamp()
    rejected = F.coalesce(F.try_to_timestamp(header(dlq.REJECTED_AT)), F.col("timestamp"))
    rows = records.select(
        F.col("topic").alias("record_topic"),
        F.col("partition").cast("int").alias("kafka_partition"),
        F.col("offset").alias("kafka_offset"),
        F.col("timestamp").alias("kafka_timestamp"),
        F.col("key").cast("string").alias("kafka_key"),
        F.col("value").alias("raw_value"),
        header(dlq.STAGE).alias("stage"),
        header(dlq.ERROR_CLASS).alias("error_class"),
        header(dlq.ERROR_MESSAGE).alias("error_message"),
        header(dlq.CHANNEL).alias("channel"),
        header(dlq.SOURCE_TOPIC).alias("source_topic"),
        header(dlq.SOURCE_PARTITION).try_cast("int").alias("source_partition"),
        header(dlq.SOURCE_OFFSET).try_cast("long").alias("source_offset"),
        header(dlq.SOURCE_FILE).alias("source_file"),
        header(dlq.SOURCE_LINE).try_cast("int").alias("source_line"),
        rejected.alias("rejected_at"),
        now.alias("bronze_ingested_at"),
        F.to_date(rejected).alias("rejected_date"),
    )
    return conform(rows, BRONZE_REJECTIONS_SPEC)
