"""gold.cx_kpis_daily and the per-brand reply-time league, from silver.customer_timeline.

Definitions (they match the stream side's real-time features, `schemas/features.py`):

- a *contact* is a conversation with an inbound event; it *starts* at its first inbound event;
- *first response* is the time from that first inbound event to the conversation's first
  outbound event at or after it; a conversation is bucketed by the day, channel and tenant of
  its start;
- a customer's contact is a *repeat* when 3+ of their contacts (any channel) start within the
  24 h ending at its start;
- a *journey* is a customer-day with a contact on the channel; it is *contained* when that
  customer has no inbound phone contact that day;
- a *fallback to phone* is a phone contact that starts within 60 min after an inbound event of
  the same customer on a digital channel (counted on that channel and tenant, on the phone
  contact's day).

For social, the tenant is the brand account, so every KPI is also per brand.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.config import LakehouseConfig
from jobs.tables import (
    GOLD_CX_KPIS_DAILY_SPEC,
    SILVER_CUSTOMER_TIMELINE_SPEC,
    conform,
    ensure_table,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

KEYS = ["day", "channel", "tenant"]
DIGITAL = ["app", "chat", "email", "social"]


def _seconds(ts: Column) -> Column:
    return F.unix_micros(ts) / F.lit(1_000_000.0)


def conversations(timeline: DataFrame) -> DataFrame:
    """One row per contact: conversation_key, channel, tenant, customer_id, started_at,
    first_response_at, first_response_s (null when unanswered), day (of started_at)."""
    inbound = timeline.where(F.col("direction") == "inbound")
    first = inbound.groupBy("conversation_key").agg(
        F.min_by(
            F.struct("occurred_at", "channel", "tenant", "customer_id"),
            F.struct("occurred_at", "event_id"),
        ).alias("f")
    )
    starts = first.select(
        "conversation_key",
        F.col("f.channel").alias("channel"),
        F.col("f.tenant").alias("tenant"),
        F.col("f.customer_id").alias("customer_id"),
        F.col("f.occurred_at").alias("started_at"),
    )
    outbound = timeline.where(F.col("direction") == "outbound").select(
        "conversation_key", F.col("occurred_at").alias("out_at")
    )
    responses = (
        starts.join(outbound, "conversation_key")
        .where(F.col("out_at") >= F.col("started_at"))
        .groupBy("conversation_key")
        .agg(F.min("out_at").alias("first_response_at"))
    )
    return (
        starts.join(responses, "conversation_key", "left")
        .withColumn(
            "first_response_s", _seconds(F.col("first_response_at")) - _seconds(F.col("started_at"))
        )
        .withColumn("day", F.to_date("started_at"))
    )


def compute_kpis(timeline: DataFrame, config: LakehouseConfig) -> DataFrame:
    """gold.cx_kpis_daily rows for every day the timeline covers."""
    sla_s = config.sla_minutes * 60.0
    convs = conversations(timeline).persist()
    inbound = timeline.where(F.col("direction") == "inbound").withColumn(
        "day", F.to_date("occurred_at")
    )

    activity = inbound.groupBy(*KEYS).agg(
        F.countDistinct("conversation_key").alias("contacts"),
        F.countDistinct("customer_id").alias("customers"),
        F.count(F.lit(1)).alias("inbound_messages"),
        F.avg("sentiment").alias("avg_sentiment"),
    )
    response = convs.groupBy(*KEYS).agg(
        F.count(F.lit(1)).alias("conversations_opened"),
        F.count("first_response_s").alias("answered"),
        F.percentile("first_response_s", 0.5).alias("first_response_p50_s"),
        F.percentile("first_response_s", 0.9).alias("first_response_p90_s"),
        F.count(F.when(F.col("first_response_s") <= sla_s, 1)).alias("answered_within_sla"),
    )

    # Repeat contacts: 3+ contacts of the customer starting within the window ending here.
    window = (
        Window.partitionBy("customer_id")
        .orderBy(F.unix_micros("started_at"))
        .rangeBetween(-config.repeat_window_hours * 3600 * 1_000_000, 0)
    )
    repeat_days = (
        convs.withColumn("recent", F.count(F.lit(1)).over(window))
        .where(F.col("recent") >= config.repeat_contacts)
        .select("customer_id", "day")
        .distinct()
        .withColumn("is_repeat", F.lit(True))
    )
    customer_days = inbound.select(*KEYS, "customer_id").distinct()
    phone_days = (
        inbound.where(F.col("channel") == "phone")
        .select("customer_id", "day")
        .distinct()
        .withColumn("has_phone", F.lit(True))
    )
    journeys = (
        customer_days.join(repeat_days, ["customer_id", "day"], "left")
        .join(phone_days, ["customer_id", "day"], "left")
        .groupBy(*KEYS)
        .agg(
            F.count(F.when(F.col("is_repeat"), 1)).alias("repeat_customers"),
            F.count(F.lit(1)).alias("journeys"),
            F.count(F.when(F.col("has_phone").isNull(), 1)).alias("contained_journeys"),
        )
    )

    phone_starts = convs.where(F.col("channel") == "phone").select(
        F.col("customer_id").alias("p_customer"),
        F.col("conversation_key").alias("p_key"),
        F.col("started_at").alias("p_start"),
        F.col("day").alias("p_day"),
    )
    window_s = config.fallback_window_minutes * 60.0
    digital = inbound.where(F.col("channel").isin(DIGITAL))
    fallbacks = (
        digital.join(
            phone_starts,
            (digital["customer_id"] == phone_starts["p_customer"])
            & (digital["occurred_at"] < phone_starts["p_start"])
            & (_seconds(phone_starts["p_start"]) - _seconds(digital["occurred_at"]) <= window_s),
        )
        .groupBy(F.col("p_day").alias("day"), "channel", "tenant")
        .agg(F.countDistinct("p_key").alias("fallback_to_phone"))
    )

    counts = [
        "contacts",
        "customers",
        "inbound_messages",
        "conversations_opened",
        "answered",
        "answered_within_sla",
        "repeat_customers",
        "journeys",
        "contained_journeys",
        "fallback_to_phone",
    ]
    rows = (
        activity.join(response, KEYS, "full")
        .join(journeys, KEYS, "full")
        .join(fallbacks, KEYS, "full")
        .fillna(0, subset=counts)
        .withColumn("contacts_per_customer", _ratio("contacts", "customers"))
        .withColumn("sla_attainment", _ratio("answered_within_sla", "conversations_opened"))
        .withColumn("repeat_contact_rate", _ratio("repeat_customers", "customers"))
        .withColumn(
            "digital_containment_rate",
            F.when(F.col("channel") != "phone", _ratio("contained_journeys", "journeys")),
        )
        .withColumn("computed_at", F.current_timestamp())
    )
    return conform(rows, GOLD_CX_KPIS_DAILY_SPEC)


def _ratio(numerator: str, denominator: str) -> Column:
    return F.when(F.col(denominator) > 0, F.col(numerator) / F.col(denominator))


def brand_league(timeline: DataFrame, channel: str = "social") -> DataFrame:
    """Reply-time league of the brand accounts (tenants) of `channel` over the whole timeline:
    brand, contacts, answered, first_response_p50_s, first_response_p90_s; fastest p50 first."""
    return (
        conversations(timeline)
        .where(F.col("channel") == channel)
        .groupBy(F.col("tenant").alias("brand"))
        .agg(
            F.count(F.lit(1)).alias("contacts"),
            F.count("first_response_s").alias("answered"),
            F.percentile("first_response_s", 0.5).alias("first_response_p50_s"),
            F.percentile("first_response_s", 0.9).alias("first_response_p90_s"),
        )
        .orderBy(F.col("first_response_p50_s").asc_nulls_last(), "brand")
    )


def _window_of(days: list[date], config: LakehouseConfig) -> tuple[date, date]:
    """The timeline span the KPIs of `days` depend on (look-back of the repeat and fallback
    rules, and conversations opened the day before that are answered later)."""
    lookback = timedelta(hours=config.repeat_window_hours, minutes=config.fallback_window_minutes)
    return min(days) - lookback - timedelta(days=1), max(days) + timedelta(days=1)


def refresh_kpis(
    spark: SparkSession, config: LakehouseConfig, days: list[date] | None = None
) -> int:
    """Recompute gold.cx_kpis_daily (all days, or only `days`, replacing those partitions);
    returns the number of rows written."""
    ensure_table(spark, config, SILVER_CUSTOMER_TIMELINE_SPEC)
    path = ensure_table(spark, config, GOLD_CX_KPIS_DAILY_SPEC)
    timeline = spark.read.format("delta").load(SILVER_CUSTOMER_TIMELINE_SPEC.path(config))
    writer_opts: dict[str, str] = {}
    if days:
        lo, hi = _window_of(days, config)
        timeline = timeline.where(F.col("event_date").between(lo, hi))
        listed = ", ".join(f"DATE'{d.isoformat()}'" for d in sorted(days))
        writer_opts["replaceWhere"] = f"day IN ({listed})"
    kpis = compute_kpis(timeline, config)
    if days:
        kpis = kpis.where(F.col("day").isin(days))
    kpis = kpis.localCheckpoint()
    writer = kpis.write.format("delta").mode("overwrite")
    for key, value in writer_opts.items():
        writer = writer.option(key, value)
    writer.save(path)
    return kpis.count()
