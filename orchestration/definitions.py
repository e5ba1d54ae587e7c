"""Dagster definitions of the lakehouse: one asset per Delta table, the resource that holds the
lake's config and SparkSession, hourly/daily schedules, sensors on Kafka, and asset checks.

Load with `dagster asset materialize -m omnicx.dagster_defs --select '*'` from the repo
root, or through `omnicx up --with-dagster`. `omnicx.dagster_defs` builds them from omnicx
settings (OMNICX_* environment); tests build them on temp dirs with `build_definitions`.
"""

import json
from datetime import UTC, date, datetime
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    AssetSelection,
    ConfigurableResource,
    DailyPartitionsDefinition,
    Definitions,
    MaterializeResult,
    RunRequest,
    ScheduleDefinition,
    SensorEvaluationContext,
    SkipReason,
    asset,
    asset_check,
    build_schedule_from_partitioned_job,
    define_asset_job,
    sensor,
)

from jobs import deltalog
from jobs.config import LakehouseConfig
from jobs.tables import (
    GOLD_CUSTOMER_FEATURES_DAILY_SPEC,
    GOLD_CX_KPIS_DAILY_SPEC,
    SILVER_CUSTOMER_TIMELINE_SPEC,
    TABLES,
    TableSpec,
    schema_differences,
)
from schemas.topics import DLQ, ERASURES, IDENTITY, INTERACTIONS

DAILY = DailyPartitionsDefinition(start_date="2017-01-01", timezone="UTC", end_offset=1)
FRESHNESS_HOURS = 26


class LakehouseResource(ConfigurableResource):  # type: ignore[misc]
    """Where the lake and Kafka are, and how to build the SparkSession."""

    lake_dir: str
    kafka_bootstrap: str
    spark_master: str = "local[2]"
    spark_driver_memory: str = "2g"
    spark_local_dir: str | None = None
    spark_shuffle_partitions: int = 4
    spark_conf: dict[str, str] = {}
    sla_minutes: int = 60
    interactions_topic: str = INTERACTIONS
    dlq_topic: str = DLQ
    erasures_topic: str = ERASURES
    identity_topic: str = IDENTITY

    def config(self) -> LakehouseConfig:
        """The jobs' typed config."""
        from pathlib import Path

        return LakehouseConfig(
            lake_dir=Path(self.lake_dir),
            kafka_bootstrap=self.kafka_bootstrap,
            sla_minutes=self.sla_minutes,
            interactions_topic=self.interactions_topic,
            dlq_topic=self.dlq_topic,
            erasures_topic=self.erasures_topic,
            identity_topic=self.identity_topic,
        )

    def spark(self) -> Any:
        """The process's SparkSession (created on first use)."""
        from pathlib import Path

        from infra.spark import SparkConfig, build_spark_session

        return build_spark_session(
            SparkConfig(
                master=self.spark_master,
                driver_memory=self.spark_driver_memory,
                local_dir=Path(self.spark_local_dir) if self.spark_local_dir else None,
                shuffle_partitions=self.spark_shuffle_partitions,
                # Progress is shown by Dagster and omnicx, not by Spark's console bar.
                extra_conf={"spark.ui.showConsoleProgress": "false", **self.spark_conf},
            )
        )


def _key(spec: TableSpec) -> AssetKey:
    return AssetKey(spec.name.split("/"))


@asset(key=["bronze", "interactions"], group_name="bronze")
def bronze_interactions(lakehouse: LakehouseResource) -> MaterializeResult:
    """cx.interactions.v1 appended to bronze.interactions, exactly once per offset."""
    from jobs.bronze.ingest import ingest_interactions

    result = ingest_interactions(lakehouse.spark(), lakehouse.config())
    return MaterializeResult(metadata=result.as_metadata())


@asset(key=["bronze", "rejections"], group_name="bronze")
def bronze_rejections(lakehouse: LakehouseResource) -> MaterializeResult:
    """cx.dlq.v1 appended to bronze.rejections (bronze's own rejections arrive with
    bronze.interactions)."""
    from jobs.bronze.ingest import ingest_rejections

    result = ingest_rejections(lakehouse.spark(), lakehouse.config())
    return MaterializeResult(metadata=result.as_metadata())


@asset(key=["silver", "identity_graph"], deps=[bronze_interactions], group_name="silver")
def silver_identity_graph(lakehouse: LakehouseResource) -> MaterializeResult:
    """Connected components over identifiers, named by the anchor rule."""
    from jobs.silver.identity import refresh_identity_graph

    count = refresh_identity_graph(lakehouse.spark(), lakehouse.config())
    return MaterializeResult(metadata={"identifiers": count})


@asset(
    key=["silver", "customer_timeline"],
    deps=[bronze_interactions, silver_identity_graph],
    group_name="silver",
)
def silver_customer_timeline(lakehouse: LakehouseResource) -> MaterializeResult:
    """Every event once, with customer and conversation (MERGE by event_id)."""
    from jobs.silver.timeline import refresh_timeline

    metrics = refresh_timeline(lakehouse.spark(), lakehouse.config())
    return MaterializeResult(metadata=dict(metrics))


def _partition_days(context: AssetExecutionContext) -> list[date] | None:
    if not context.has_partition_key:
        return None
    keys = context.partition_keys
    return [date.fromisoformat(k) for k in keys]


@asset(
    key=["gold", "cx_kpis_daily"],
    deps=[silver_customer_timeline],
    partitions_def=DAILY,
    group_name="gold",
)
def gold_cx_kpis_daily(
    context: AssetExecutionContext, lakehouse: LakehouseResource
) -> MaterializeResult:
    """KPIs per day x channel x tenant for the partition's day."""
    from jobs.gold.kpis import refresh_kpis

    rows = refresh_kpis(lakehouse.spark(), lakehouse.config(), _partition_days(context))
    return MaterializeResult(metadata={"rows": rows})


@asset(
    key=["gold", "customer_features_daily"],
    deps=[silver_customer_timeline],
    partitions_def=DAILY,
    group_name="gold",
)
def gold_customer_features_daily(
    context: AssetExecutionContext, lakehouse: LakehouseResource
) -> MaterializeResult:
    """Batch customer features (Feast's customer_daily_profile) for the partition's day."""
    from jobs.gold.features import refresh_features

    rows = refresh_features(lakehouse.spark(), lakehouse.config(), _partition_days(context))
    return MaterializeResult(metadata={"rows": rows})


ASSETS = [
    bronze_interactions,
    bronze_rejections,
    silver_identity_graph,
    silver_customer_timeline,
    gold_cx_kpis_daily,
    gold_customer_features_daily,
]


# --- checks ------------------------------------------------------------------------------


def _load(lakehouse: LakehouseResource, spec: TableSpec) -> Any:
    return lakehouse.spark().read.format("delta").load(spec.path(lakehouse.config()))


@asset_check(asset=silver_customer_timeline, blocking=True)
def timeline_has_no_duplicate_event_ids(lakehouse: LakehouseResource) -> AssetCheckResult:
    """Each event_id appears once in silver.customer_timeline."""
    from pyspark.sql import functions as F

    dups = (
        _load(lakehouse, SILVER_CUSTOMER_TIMELINE_SPEC)
        .groupBy("event_id")
        .count()
        .where(F.col("count") > 1)
        .count()
    )
    return AssetCheckResult(passed=dups == 0, metadata={"duplicated_event_ids": dups})


def _schema_check(spec: TableSpec) -> Any:
    @asset_check(asset=_key(spec), name="schema_matches_declaration")
    def check(lakehouse: LakehouseResource) -> AssetCheckResult:
        path = spec.path(lakehouse.config())
        from pathlib import Path

        if not deltalog.is_delta_table(Path(path)):
            return AssetCheckResult(passed=False, metadata={"problem": "table does not exist"})
        problems = schema_differences(_load(lakehouse, spec).schema, spec)
        return AssetCheckResult(passed=not problems, metadata={"problems": json.dumps(problems)})

    return check


def _freshness_check(spec: TableSpec) -> Any:
    @asset_check(asset=_key(spec), name="fresh")
    def check(lakehouse: LakehouseResource) -> AssetCheckResult:
        from pathlib import Path

        last = deltalog.last_commit_time(Path(spec.path(lakehouse.config())))
        age_h = None if last is None else (datetime.now(UTC) - last).total_seconds() / 3600
        return AssetCheckResult(
            passed=age_h is not None and age_h <= FRESHNESS_HOURS,
            severity=AssetCheckSeverity.WARN,
            metadata={"age_hours": age_h if age_h is not None else -1.0},
        )

    return check


@asset_check(asset=gold_cx_kpis_daily)
def kpis_are_sane(lakehouse: LakehouseResource) -> AssetCheckResult:
    """Rates lie in [0, 1], p50 <= p90, answered <= opened, no negative response time."""
    kpis = _load(lakehouse, GOLD_CX_KPIS_DAILY_SPEC)
    bad = kpis.where(
        "sla_attainment NOT BETWEEN 0 AND 1 OR repeat_contact_rate NOT BETWEEN 0 AND 1"
        " OR digital_containment_rate NOT BETWEEN 0 AND 1"
        " OR first_response_p50_s > first_response_p90_s OR first_response_p50_s < 0"
        " OR answered > conversations_opened OR contacts < 0"
    ).count()
    return AssetCheckResult(passed=bad == 0, metadata={"insane_rows": bad})


CHECKS = [
    timeline_has_no_duplicate_event_ids,
    kpis_are_sane,
    *(_schema_check(spec) for spec in TABLES),
    *(
        _freshness_check(spec)
        for spec in TABLES
        if spec not in (GOLD_CX_KPIS_DAILY_SPEC, GOLD_CUSTOMER_FEATURES_DAILY_SPEC)
    ),
]

# --- jobs, schedules, sensors ------------------------------------------------------------

ingest_job = define_asset_job(
    "bronze_silver_hourly", selection=AssetSelection.groups("bronze", "silver")
)
# Partitioned like the gold assets it selects (Dagster infers it); the Feast online store
# (orchestration/feast.py, group "feast") is refreshed in the same run, after gold.
gold_job = define_asset_job("gold_daily", selection=AssetSelection.groups("gold", "feast"))

hourly = ScheduleDefinition(job=ingest_job, cron_schedule="7 * * * *", execution_timezone="UTC")


# Daily at 01:30 UTC: yesterday's partition (the partitioned job picks the key).
daily = build_schedule_from_partitioned_job(gold_job, hour_of_day=1, minute_of_hour=30)


def _lag(lakehouse: LakehouseResource, table: TableSpec, topic: str) -> int:
    """Records on `topic` that `table` has not ingested yet (no SparkSession needed)."""
    from jobs.bronze.ingest import committed_offsets
    from jobs.kafka_source import topic_offsets

    offsets = topic_offsets(lakehouse.kafka_bootstrap, topic)
    committed = committed_offsets(table.path(lakehouse.config()), topic) or {}
    return sum(
        max(0, end - committed.get(p, offsets.earliest.get(p, 0))) for p, end in offsets.end.items()
    )


@sensor(job=ingest_job, minimum_interval_seconds=60)
def new_interactions(context: SensorEvaluationContext, lakehouse: LakehouseResource) -> Any:
    """Run bronze + silver when cx.interactions.v1 holds records bronze has not read."""
    from jobs.tables import BRONZE_INTERACTIONS_SPEC

    config = lakehouse.config()
    lag = _lag(lakehouse, BRONZE_INTERACTIONS_SPEC, config.interactions_topic)
    if lag == 0:
        return SkipReason("bronze.interactions is up to date")
    return RunRequest(run_key=f"interactions-lag-{lag}-{datetime.now(UTC):%Y%m%d%H%M}")


@sensor(job=ingest_job, minimum_interval_seconds=60)
def dlq_growth(context: SensorEvaluationContext, lakehouse: LakehouseResource) -> Any:
    """Ingest cx.dlq.v1 into bronze.rejections when it grows; the cursor keeps the last size
    seen and the run's tags carry the growth, so rejections are visible in Dagster."""
    from jobs.kafka_source import topic_offsets

    config = lakehouse.config()
    size = topic_offsets(lakehouse.kafka_bootstrap, config.dlq_topic).total
    last = int(context.cursor or 0)
    if size <= last:
        return SkipReason(f"cx.dlq.v1 holds {size} records, no growth")
    context.update_cursor(str(size))
    return RunRequest(run_key=f"dlq-{size}", tags={"omnicx/dlq_growth": str(size - last)})


def build_definitions(lakehouse: LakehouseResource, feature_store: Any = None) -> Definitions:
    """The Definitions for a given lake/Kafka (tests pass temp dirs; the CLI passes settings);
    `feature_store` is an `orchestration.feast.FeatureStoreResource` (default: its defaults),
    used by the Feast materialisation asset and the erase job."""
    from orchestration.erase import erase_customer_job
    from orchestration.feast import FEAST_ASSETS, FEAST_CHECKS, FeatureStoreResource

    return Definitions(
        assets=[*ASSETS, *FEAST_ASSETS],
        asset_checks=[*CHECKS, *FEAST_CHECKS],
        jobs=[ingest_job, gold_job, erase_customer_job],
        schedules=[hourly, daily],
        sensors=[new_interactions, dlq_growth],
        resources={
            "lakehouse": lakehouse,
            "feature_store": feature_store or FeatureStoreResource(),
        },
    )
