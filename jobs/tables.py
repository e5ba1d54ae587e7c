"""The lake's tables: name, schema, partitioning and properties, declared once.

Tables are created with their declared schema before the first write, so every writer and the
schema-conformance checks agree on one definition. Column statistics (kept in the Delta log for
data skipping) are collected only for non-personal columns: the log outlives erased rows, so it
must never hold identifiers or text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pyspark.sql import types as T

from jobs.config import LakehouseConfig
from schemas.features import (
    CUSTOMER_DAILY_FEATURES,
    CUSTOMER_DAILY_TABLE,
    CUSTOMER_ENTITY_KEY,
    TIMESTAMP_FIELD,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

BRONZE_INTERACTIONS = "bronze/interactions"
BRONZE_REJECTIONS = "bronze/rejections"
SILVER_IDENTITY_GRAPH = "silver/identity_graph"
SILVER_CUSTOMER_TIMELINE = "silver/customer_timeline"
GOLD_CX_KPIS_DAILY = "gold/cx_kpis_daily"
GOLD_CUSTOMER_FEATURES_DAILY = CUSTOMER_DAILY_TABLE

# Bronze must keep its commit files: they hold the Kafka position records (see jobs.deltalog).
_KEEP_LOG = {"delta.logRetentionDuration": "interval 3650 days"}
# Deletion vectors make MERGE/DELETE cheap; erasure purges them with REORG ... APPLY (PURGE).
_DELETION_VECTORS = {"delta.enableDeletionVectors": "true"}

IDENTIFIER = T.StructType(
    [T.StructField("type", T.StringType()), T.StructField("value", T.StringType())]
)


def _col(name: str, dtype: T.DataType, comment: str) -> T.StructField:
    return T.StructField(name, dtype, True, {"comment": comment})


@dataclass(frozen=True)
class TableSpec:
    """One lake table."""

    name: str
    description: str
    schema: T.StructType
    partition_by: tuple[str, ...] = ()
    stats_columns: tuple[str, ...] = ()
    properties: dict[str, str] = field(default_factory=dict)

    def path(self, config: LakehouseConfig) -> str:
        return str(config.table_path(self.name))

    def table_properties(self) -> dict[str, str]:
        props = dict(self.properties)
        if self.stats_columns:
            props["delta.dataSkippingStatsColumns"] = ",".join(self.stats_columns)
        return props


_EVENT_COLUMNS = [
    _col("event_id", T.StringType(), "stable id derived from the source record"),
    _col("occurred_at", T.TimestampType(), "when it happened (UTC)"),
    _col("ingested_at", T.TimestampType(), "when omnicx received it"),
    _col("channel", T.StringType(), "phone | email | social | app | chat"),
    _col("direction", T.StringType(), "inbound | outbound | internal"),
    _col("kind", T.StringType(), "message, reply, call_started, ... (open set)"),
    _col("conversation_id", T.StringType(), "thread, call or chat contact"),
    _col("in_reply_to", T.StringType(), "event_id this one answers"),
]

BRONZE_INTERACTIONS_SPEC = TableSpec(
    name=BRONZE_INTERACTIONS,
    description="Every canonical event read from cx.interactions.v1, once per Kafka offset.",
    schema=T.StructType(
        [
            *_EVENT_COLUMNS,
            _col("identifiers", T.ArrayType(IDENTIFIER), "how the customer is known"),
            _col("customer_id", T.StringType(), "as carried by the event (usually null)"),
            _col("tenant", T.StringType(), "business unit or brand (brand account for social)"),
            _col("agent_id", T.StringType(), "agent or brand account"),
            _col("text", T.StringType(), "message body or transcript line"),
            _col("attributes", T.MapType(T.StringType(), T.StringType()), "channel specifics"),
            _col("source_system", T.StringType(), "source system"),
            _col("source_record_id", T.StringType(), "record id in the source system"),
            _col("schema_version", T.IntegerType(), "event schema version"),
            _col("raw_value", T.StringType(), "the Kafka record value as received"),
            _col("kafka_topic", T.StringType(), "source topic"),
            _col("kafka_partition", T.IntegerType(), "source partition"),
            _col("kafka_offset", T.LongType(), "source offset"),
            _col("kafka_timestamp", T.TimestampType(), "Kafka record timestamp"),
            _col("kafka_key", T.StringType(), "Kafka record key (primary identifier)"),
            _col("bronze_ingested_at", T.TimestampType(), "when this run wrote the row"),
            _col("event_date", T.DateType(), "UTC date of occurred_at (partition)"),
        ]
    ),
    partition_by=("event_date",),
    stats_columns=("occurred_at", "kafka_partition", "kafka_offset"),
    properties={**_KEEP_LOG, **_DELETION_VECTORS},
)

BRONZE_REJECTIONS_SPEC = TableSpec(
    name=BRONZE_REJECTIONS,
    description=(
        "Records refused on the way in: the DLQ topic (with its reason headers) and events "
        "bronze could not parse, each with its original bytes and a reason."
    ),
    schema=T.StructType(
        [
            _col("record_topic", T.StringType(), "topic the record was read from"),
            _col("kafka_partition", T.IntegerType(), "its partition"),
            _col("kafka_offset", T.LongType(), "its offset"),
            _col("kafka_timestamp", T.TimestampType(), "Kafka record timestamp"),
            _col("kafka_key", T.StringType(), "Kafka record key"),
            _col("raw_value", T.BinaryType(), "original bytes"),
            _col("stage", T.StringType(), "where it was refused (dlq_stage; bronze here)"),
            _col("error_class", T.StringType(), "error class"),
            _col("error_message", T.StringType(), "human-readable reason"),
            _col("channel", T.StringType(), "channel, if known"),
            _col("source_topic", T.StringType(), "original topic, if any"),
            _col("source_partition", T.IntegerType(), "original partition"),
            _col("source_offset", T.LongType(), "original offset"),
            _col("source_file", T.StringType(), "original file (omnicx ingest)"),
            _col("source_line", T.IntegerType(), "original line"),
            _col("rejected_at", T.TimestampType(), "when it was refused"),
            _col("bronze_ingested_at", T.TimestampType(), "when this run wrote the row"),
            _col("rejected_date", T.DateType(), "UTC date of rejected_at (partition)"),
        ]
    ),
    partition_by=("rejected_date",),
    stats_columns=("kafka_partition", "kafka_offset", "rejected_at"),
    properties=dict(_KEEP_LOG),
)

SILVER_IDENTITY_GRAPH_SPEC = TableSpec(
    name=SILVER_IDENTITY_GRAPH,
    description=(
        "One row per identifier with the customer it belongs to: connected components over "
        "identifiers seen together, named by the anchor rule of schemas/identity.py."
    ),
    schema=T.StructType(
        [
            _col("identifier_key", T.StringType(), "type:value"),
            _col("identifier_type", T.StringType(), "email, phone, social_handle, ..."),
            _col("identifier_value", T.StringType(), "normalised value"),
            _col("customer_id", T.StringType(), "cus_ + sha256(anchor_key)[:20]"),
            _col("anchor_key", T.StringType(), "the component's earliest-seen identifier"),
            _col("first_seen_at", T.TimestampType(), "earliest occurred_at carrying it"),
            _col("last_seen_at", T.TimestampType(), "latest occurred_at carrying it"),
            _col("event_count", T.LongType(), "events carrying it"),
            _col("updated_at", T.TimestampType(), "when this row last changed"),
        ]
    ),
    stats_columns=("first_seen_at", "last_seen_at"),
)

SILVER_CUSTOMER_TIMELINE_SPEC = TableSpec(
    name=SILVER_CUSTOMER_TIMELINE,
    description=(
        "Every event once (deduplicated by event_id), labelled with its customer, grouped into "
        "conversations and ordered within them, with VADER sentiment on inbound text."
    ),
    schema=T.StructType(
        [
            _col("event_id", T.StringType(), "stable id derived from the source record"),
            _col("customer_id", T.StringType(), "resolved by silver.identity_graph"),
            _col("occurred_at", T.TimestampType(), "when it happened (UTC)"),
            _col("channel", T.StringType(), "phone | email | social | app | chat"),
            _col("direction", T.StringType(), "inbound | outbound | internal"),
            _col("kind", T.StringType(), "message, reply, call_started, ..."),
            _col("tenant", T.StringType(), "business unit or brand (brand account for social)"),
            _col("conversation_id", T.StringType(), "as carried by the event"),
            _col(
                "conversation_key",
                T.StringType(),
                "channel:conversation_id, or channel:event_id for a standalone event",
            ),
            _col("conversation_seq", T.IntegerType(), "1-based position in its conversation"),
            _col("in_reply_to", T.StringType(), "event_id this one answers"),
            _col("agent_id", T.StringType(), "agent or brand account"),
            _col("text", T.StringType(), "message body or transcript line"),
            _col("sentiment", T.DoubleType(), "VADER compound of inbound text, else null"),
            _col("primary_identifier_key", T.StringType(), "the event's first identifier"),
            _col("identifiers", T.ArrayType(IDENTIFIER), "how the customer is known"),
            _col("attributes", T.MapType(T.StringType(), T.StringType()), "channel specifics"),
            _col("source_system", T.StringType(), "source system"),
            _col("source_record_id", T.StringType(), "record id in the source system"),
            _col("ingested_at", T.TimestampType(), "when omnicx received it"),
            _col("silver_updated_at", T.TimestampType(), "when this row last changed"),
            _col("event_date", T.DateType(), "UTC date of occurred_at (partition)"),
        ]
    ),
    partition_by=("event_date",),
    stats_columns=("occurred_at",),
    properties=dict(_DELETION_VECTORS),
)

GOLD_CX_KPIS_DAILY_SPEC = TableSpec(
    name=GOLD_CX_KPIS_DAILY,
    description=(
        "Customer-experience KPIs per day x channel x tenant (tenant = brand account for social)."
    ),
    schema=T.StructType(
        [
            _col("channel", T.StringType(), "channel"),
            _col("tenant", T.StringType(), "business unit or brand account"),
            _col("contacts", T.LongType(), "distinct conversations with an inbound event"),
            _col("customers", T.LongType(), "distinct customers with a contact"),
            _col("contacts_per_customer", T.DoubleType(), "contacts / customers"),
            _col(
                "conversations_opened",
                T.LongType(),
                "conversations whose first inbound event falls in the bucket",
            ),
            _col("answered", T.LongType(), "of those, with an outbound reply"),
            _col("first_response_p50_s", T.DoubleType(), "median first-response seconds"),
            _col("first_response_p90_s", T.DoubleType(), "90th percentile first-response seconds"),
            _col("answered_within_sla", T.LongType(), "first response within the SLA"),
            _col("sla_attainment", T.DoubleType(), "answered_within_sla / conversations_opened"),
            _col(
                "repeat_customers",
                T.LongType(),
                "customers with 3+ contacts (any channel) within 24 h of one of their contacts",
            ),
            _col("repeat_contact_rate", T.DoubleType(), "repeat_customers / customers"),
            _col("journeys", T.LongType(), "customer-days with a contact on this channel"),
            _col("contained_journeys", T.LongType(), "of those, with no inbound phone contact"),
            _col(
                "digital_containment_rate",
                T.DoubleType(),
                "contained_journeys / journeys (null for phone)",
            ),
            _col(
                "fallback_to_phone",
                T.LongType(),
                "phone contacts within 60 min after an inbound contact on this channel",
            ),
            _col("inbound_messages", T.LongType(), "inbound events"),
            _col("avg_sentiment", T.DoubleType(), "mean VADER compound of inbound text"),
            _col("computed_at", T.TimestampType(), "when the row was computed"),
            _col("day", T.DateType(), "UTC day (partition)"),
        ]
    ),
    partition_by=("day",),
)

_FEATURE_TYPES: dict[str, T.DataType] = {
    "int64": T.LongType(),
    "float64": T.DoubleType(),
    "string": T.StringType(),
    "unix_timestamp": T.TimestampType(),
}

GOLD_CUSTOMER_FEATURES_DAILY_SPEC = TableSpec(
    name=GOLD_CUSTOMER_FEATURES_DAILY,
    description=(
        "Batch customer features, one row per customer per day (event_timestamp = end of the "
        "day, UTC), read by Feast's customer_daily_profile view."
    ),
    schema=T.StructType(
        [
            _col(CUSTOMER_ENTITY_KEY, T.StringType(), "the customer"),
            _col(TIMESTAMP_FIELD, T.TimestampType(), "end of the day the values hold for"),
            *(
                _col(name, _FEATURE_TYPES[kind], description)
                for name, (kind, description) in CUSTOMER_DAILY_FEATURES.items()
            ),
        ]
    ),
    stats_columns=(TIMESTAMP_FIELD,),
)

TABLES: tuple[TableSpec, ...] = (
    BRONZE_INTERACTIONS_SPEC,
    BRONZE_REJECTIONS_SPEC,
    SILVER_IDENTITY_GRAPH_SPEC,
    SILVER_CUSTOMER_TIMELINE_SPEC,
    GOLD_CX_KPIS_DAILY_SPEC,
    GOLD_CUSTOMER_FEATURES_DAILY_SPEC,
)


def table_spec(name: str) -> TableSpec:
    for spec in TABLES:
        if spec.name == name:
            return spec
    raise KeyError(f"{name!r} is not a lake table")


# Delta rebuilds a table's state from its log with this many tasks (default 50). The lake's
# tables are read and written by many small batches: 50 tasks per snapshot cost tens of seconds
# on a two-core machine for a few kilobytes of log.
SNAPSHOT_PARTITIONS = "2"


def tune_session(spark: SparkSession) -> None:
    """Session settings the lake jobs rely on (idempotent; runtime SQL confs only)."""
    spark.conf.set("spark.databricks.delta.snapshotPartitions", SNAPSHOT_PARTITIONS)


def ensure_table(spark: SparkSession, config: LakehouseConfig, spec: TableSpec) -> str:
    """Create the table with its declared schema if it does not exist; return its path."""
    from delta.tables import DeltaTable

    tune_session(spark)
    path = spec.path(config)
    builder = DeltaTable.createIfNotExists(spark).location(path).comment(spec.description)
    builder = builder.addColumns(spec.schema)
    if spec.partition_by:
        builder = builder.partitionedBy(*spec.partition_by)
    for key, value in spec.table_properties().items():
        builder = builder.property(key, value)
    builder.execute()
    return path


def conform(df: DataFrame, spec: TableSpec) -> DataFrame:
    """`df` with exactly the table's columns, in order and cast to the declared types."""
    from pyspark.sql import functions as F

    return df.select(*(F.col(f.name).cast(f.dataType).alias(f.name) for f in spec.schema.fields))


def schema_differences(actual: T.StructType, spec: TableSpec) -> list[str]:
    """Human-readable differences between a table's schema and its declaration (names and
    types; comments and nullability are not compared)."""
    have = {f.name: f.dataType for f in actual.fields}
    want = {f.name: f.dataType for f in spec.schema.fields}
    problems = [f"missing column {name}" for name in want if name not in have]
    problems += [f"unexpected column {name}" for name in have if name not in want]
    problems += [
        f"column {name} is {have[name].simpleString()}, expected {dtype.simpleString()}"
        for name, dtype in want.items()
        if name in have and _strip(have[name]) != _strip(dtype)
    ]
    return problems


def _strip(dtype: T.DataType) -> str:
    """Type without nullability/metadata, for comparison."""
    return dtype.simpleString()
