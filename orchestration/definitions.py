"""Dagster definitions of the lakehouse: one asset per Delta table, the resource that holds the
lake's config and SparkSession, hourly/daily schedules, sensors on Kafka, and asset checks.

Load with `dagster asset materialize -m omnicx.dagster_defs --select '*'` from the repo
root, or through `omnicx up --with-dagster`. `omnicx.dagster_defs` builds them from omnicx
settings (OMNICX_* environment); tests build them on temp dirs with `build_definitions`.
"""

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    AssetSelection,
    ConfigurableResource,
    DailyPartitionsDefinition,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    Definitions,
    MaterializeResult,
    MetadataValue,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SensorEvaluationContext,
    SkipReason,
    asset,
    asset_check,
    define_asset_job,
    schedule,
    sensor,
)

from jobs import deltalog
from jobs.config import LakehouseConfig
from jobs.tables import (
    BRONZE_REJECTIONS_SPEC,
    GOLD_CUSTOMER_FEATURES_DAILY_SPEC,
    GOLD_CX_KPIS_DAILY_SPEC,
    SILVER_CUSTOMER_TIMELINE_SPEC,
    TABLES,
    TableSpec,
    schema_differences,
)
from schemas.topics import DLQ, ERASURES, IDENTITY, INTERACTIONS

# end_offset=1: today's partition exists too, so `omnicx.lake_dagster.materialize_lakehouse`
# (make demo, omnicx report --refresh) can build gold for the days silver holds up to today.
# The daily schedule therefore picks its partition itself (yesterday), see `daily`.
DAILY = DailyPartitionsDefinition(start_date="2017-01-01", timezone="UTC", end_offset=1)
FRESHNESS_HOURS = 26


class LakehouseResource(ConfigurableResource):  # type: ignore[misc]
    """Where the lake and Kafka are, and how to build the SparkSession.

    `dlq_alert_threshold` / `dlq_alert_window_minutes`: the check
    `recent_rejections_below_threshold` on bronze/rejections warns when more than the threshold
    of records were rejected within the window (the demo's day has a few dozen).
    """

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
    dlq_alert_threshold: int = 100
    dlq_alert_window_minutes: int = 60

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


def recent_rejection_counts(
    lakehouse: LakehouseResource, since: datetime
) -> dict[tuple[str, str], int]:
    """Rows of bronze.rejections rejected at or after `since`, by (stage, error class)."""
    from pathlib import Path

    from pyspark.sql import functions as F

    if not deltalog.is_delta_table(Path(BRONZE_REJECTIONS_SPEC.path(lakehouse.config()))):
        return {}
    rows = (
        _load(lakehouse, BRONZE_REJECTIONS_SPEC)
        # The partition column too, so Delta reads only the window's days.
        .where(F.col("rejected_date") >= F.lit(since.date()))
        .where(F.col("rejected_at") >= F.lit(since))
        .groupBy("stage", "error_class")
        .count()
        .collect()
    )
    return {(r.stage or "unknown", r.error_class or "unknown"): r["count"] for r in rows}


@asset_check(
    asset=bronze_rejections,
    # bronze/interactions writes bronze's own rejections into the same table: in a run of
    # both (bronze_silver_hourly), count once both have written.
    additional_deps=[bronze_interactions],
)
def recent_rejections_below_threshold(lakehouse: LakehouseResource) -> AssetCheckResult:
    """At most `dlq_alert_threshold` records rejected in the last `dlq_alert_window_minutes`
    (by `rejected_at`, so a backlog ingested late does not count as new); a warning, so a burst
    of rejections shows in the UI without failing the ingestion that recorded it."""
    window = lakehouse.dlq_alert_window_minutes
    since = datetime.now(UTC) - timedelta(minutes=window)
    counts = recent_rejection_counts(lakehouse, since)
    total = sum(counts.values())
    by_stage: dict[str, int] = {}
    by_reason: dict[str, int] = {}
    for (stage, reason), n in counts.items():
        by_stage[stage] = by_stage.get(stage, 0) + n
        by_reason[reason] = by_reason.get(reason, 0) + n
    threshold = lakehouse.dlq_alert_threshold
    return AssetCheckResult(
        passed=total <= threshold,
        severity=AssetCheckSeverity.WARN,
        description=f"{total} records rejected in the last {window} min (threshold {threshold})",
        metadata={
            "recent_rejections": total,
            "threshold": threshold,
            "window_minutes": window,
            "since": since.isoformat(),
            "by_stage": MetadataValue.json(dict(sorted(by_stage.items()))),
            "by_reason": MetadataValue.json(dict(sorted(by_reason.items()))),
            "by_stage_and_reason": MetadataValue.json(
                {f"{stage}/{reason}": n for (stage, reason), n in sorted(counts.items())}
            ),
        },
    )


CHECKS = [
    timeline_has_no_duplicate_event_ids,
    kpis_are_sane,
    recent_rejections_below_threshold,
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

# Schedules and sensors start RUNNING: the daemon that evaluates them runs only when the user
# asks for it (`omnicx up --with-dagster`), and then they should work without a visit to the UI.
hourly = ScheduleDefinition(
    job=ingest_job,
    cron_schedule="7 * * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
)


def previous_day(tick: datetime) -> str:
    """The partition key of the UTC day before `tick`."""
    return (tick.astimezone(UTC) - timedelta(days=1)).date().isoformat()


@schedule(
    job=gold_job,
    name="gold_daily_schedule",
    cron_schedule="30 1 * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
)
def daily(context: ScheduleEvaluationContext) -> RunRequest:
    """Daily at 01:30 UTC: gold and the Feast online store for yesterday's (complete) day.

    Not `build_schedule_from_partitioned_job`: that requests the newest partition, which with
    DAILY's end_offset=1 is today's, holding only 1.5 h of data and never rebuilt.
    """
    day = previous_day(context.scheduled_execution_time or datetime.now(UTC))
    # run_key: at most one run per day, even if a tick is evaluated twice.
    return RunRequest(run_key=day, partition_key=day)


def _lag(lakehouse: LakehouseResource, table: TableSpec, topic: str) -> int:
    """Records on `topic` that `table` has not ingested yet (no SparkSession needed)."""
    from jobs.bronze.ingest import committed_offsets
    from jobs.kafka_source import topic_offsets

    offsets = topic_offsets(lakehouse.kafka_bootstrap, topic)
    committed = committed_offsets(table.path(lakehouse.config()), topic) or {}
    return sum(
        max(0, end - committed.get(p, offsets.earliest.get(p, 0))) for p, end in offsets.end.items()
    )


@sensor(job=ingest_job, minimum_interval_seconds=60, default_status=DefaultSensorStatus.RUNNING)
def new_interactions(context: SensorEvaluationContext, lakehouse: LakehouseResource) -> Any:
    """Run bronze + silver when cx.interactions.v1 holds records bronze has not read."""
    from jobs.tables import BRONZE_INTERACTIONS_SPEC

    config = lakehouse.config()
    lag = _lag(lakehouse, BRONZE_INTERACTIONS_SPEC, config.interactions_topic)
    if lag == 0:
        return SkipReason("bronze.interactions is up to date")
    return RunRequest(run_key=f"interactions-lag-{lag}-{datetime.now(UTC):%Y%m%d%H%M}")


@sensor(job=ingest_job, minimum_interval_seconds=60, default_status=DefaultSensorStatus.RUNNING)
def dlq_growth(context: SensorEvaluationContext, lakehouse: LakehouseResource) -> Any:
    """When cx.dlq.v1 grows: log a warning with the growth and ingest it into
    bronze.rejections (the run's tag `omnicx/dlq_growth` carries the growth too), where the
    check `recent_rejections_below_threshold` warns if the recent rejections pass the threshold.

    The cursor is the sum of the topic's end offsets last seen: end offsets only grow, while
    the retained count (end - earliest) shrinks when retention deletes old records and would
    hide new ones. On the first evaluation (no cursor), the growth is what bronze.rejections
    has not ingested yet, so a new deployment does not report the topic's whole history.
    """
    from jobs.kafka_source import topic_offsets

    config = lakehouse.config()
    end = sum(topic_offsets(lakehouse.kafka_bootstrap, config.dlq_topic).end.values())
    if context.cursor is None:
        growth = _lag(lakehouse, BRONZE_REJECTIONS_SPEC, config.dlq_topic)
    else:
        growth = end - int(context.cursor)
    context.update_cursor(str(end))
    if growth <= 0:
        return SkipReason(f"{config.dlq_topic}: no new records (end offsets sum to {end})")
    context.log.warning(
        f"{config.dlq_topic} grew by {growth} record(s) (end offsets now sum to {end}); "
        "ingesting them into bronze.rejections"
    )
    return RunRequest(run_key=f"dlq-{end}", tags={"omnicx/dlq_growth": str(growth)})


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
