"""gold.customer_features_daily: batch customer features for Feast (columns from
`schemas.features.CUSTOMER_DAILY_FEATURES`).

One row per customer per day on which the customer has any event; `event_timestamp` is the last
microsecond of that day (UTC) and each value covers the window ending then. Feast's point-in-time
join takes the newest row at or before the requested time. Purchases are `kind = purchase`
events; their revenue is the `revenue` attribute (a number; anything else counts as 0).
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from jobs.config import LakehouseConfig
from jobs.gold.kpis import conversations
from jobs.tables import (
    GOLD_CUSTOMER_FEATURES_DAILY_SPEC,
    SILVER_CUSTOMER_TIMELINE_SPEC,
    conform,
    ensure_table,
)
from schemas.features import CUSTOMER_ENTITY_KEY, TIMESTAMP_FIELD

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def _in_window(fact_day: str, days: int) -> F.Column:
    """fact_day in (day - days, day]."""
    return (F.col(fact_day) <= F.col("day")) & (F.col(fact_day) > F.date_sub(F.col("day"), days))


def compute_features(timeline: DataFrame, config: LakehouseConfig) -> DataFrame:
    """gold.customer_features_daily rows."""
    sla_s = config.sla_minutes * 60.0
    timeline = timeline.where(F.col("customer_id").isNotNull()).withColumn(
        "fday", F.to_date("occurred_at")
    )
    base = timeline.select("customer_id", F.col("fday").alias("day")).distinct()

    convs = (
        conversations(timeline)
        .where(F.col("customer_id").isNotNull())
        .select(
            "customer_id",
            F.col("day").alias("fday"),
            "channel",
            F.coalesce(F.col("first_response_s") <= sla_s, F.lit(False)).alias("in_sla"),
        )
    )
    contacts = (
        base.join(convs, "customer_id")
        .where(_in_window("fday", 90))
        .groupBy("customer_id", "day")
        .agg(
            F.count(F.when(_in_window("fday", 30), 1)).alias("contacts_30d"),
            F.count(F.lit(1)).alias("contacts_90d"),
            F.avg(F.col("in_sla").cast("double")).alias("answered_within_sla_ratio_90d"),
        )
    )
    by_channel = (
        base.join(convs, "customer_id")
        .where(_in_window("fday", 90))
        .groupBy("customer_id", "day", "channel")
        .agg(F.count(F.lit(1)).alias("n"))
    )
    preferred = (
        by_channel.withColumn(
            "rank",
            F.row_number().over(
                Window.partitionBy("customer_id", "day").orderBy(F.desc("n"), "channel")
            ),
        )
        .where("rank = 1")
        .select("customer_id", "day", F.col("channel").alias("preferred_channel"))
    )

    inbound = timeline.where(F.col("direction") == "inbound")
    contact_days = inbound.groupBy("customer_id", "fday").agg(
        F.max((F.col("channel") == "phone").cast("int")).alias("phone")
    )
    containment = (
        base.join(contact_days, "customer_id")
        .where(_in_window("fday", 90))
        .groupBy("customer_id", "day")
        .agg((1.0 - F.avg("phone")).alias("digital_containment_rate_90d"))
    )
    sentiment = (
        base.join(inbound.select("customer_id", "fday", "sentiment"), "customer_id")
        .where(_in_window("fday", 90))
        .groupBy("customer_id", "day")
        .agg(F.avg("sentiment").alias("avg_sentiment_90d"))
    )

    revenue = F.coalesce(F.col("attributes")["revenue"].try_cast("double"), F.lit(0.0))
    purchases = timeline.where(F.col("kind") == "purchase").select(
        "customer_id", "fday", revenue.alias("revenue")
    )
    purchase_features = (
        base.join(purchases, "customer_id")
        .where(F.col("fday") <= F.col("day"))
        .groupBy("customer_id", "day")
        .agg(
            F.sum("revenue").alias("lifetime_value"),
            F.count(F.when(_in_window("fday", 90), 1)).alias("purchases_90d"),
        )
    )

    rows = (
        base.join(contacts, ["customer_id", "day"], "left")
        .join(preferred, ["customer_id", "day"], "left")
        .join(containment, ["customer_id", "day"], "left")
        .join(sentiment, ["customer_id", "day"], "left")
        .join(purchase_features, ["customer_id", "day"], "left")
        .fillna(0, subset=["contacts_30d", "contacts_90d", "purchases_90d"])
        .fillna(0.0, subset=["lifetime_value"])
        .withColumnRenamed("customer_id", CUSTOMER_ENTITY_KEY)
        .withColumn(
            TIMESTAMP_FIELD,
            F.timestamp_micros(F.unix_micros(F.to_timestamp(F.date_add("day", 1))) - 1),
        )
    )
    return conform(rows, GOLD_CUSTOMER_FEATURES_DAILY_SPEC)


def refresh_features(
    spark: SparkSession, config: LakehouseConfig, days: list[date] | None = None
) -> int:
    """Recompute gold.customer_features_daily (all days, or the rows of `days`); returns the
    number of rows written."""
    ensure_table(spark, config, SILVER_CUSTOMER_TIMELINE_SPEC)
    path = ensure_table(spark, config, GOLD_CUSTOMER_FEATURES_DAILY_SPEC)
    timeline = spark.read.format("delta").load(SILVER_CUSTOMER_TIMELINE_SPEC.path(config))
    features = compute_features(timeline, config)
    if days:
        features = features.where(F.to_date(TIMESTAMP_FIELD).isin(days))
    features = features.localCheckpoint()
    writer = features.write.format("delta").mode("overwrite")
    if days:
        listed = ", ".join(f"DATE'{d.isoformat()}'" for d in sorted(days))
        writer = writer.option("replaceWhere", f"to_date({TIMESTAMP_FIELD}) IN ({listed})")
    writer.save(path)
    return features.count()
