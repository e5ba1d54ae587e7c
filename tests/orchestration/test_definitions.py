"""Dagster: the definitions load, the schedules pick the right partitions and start running,
the whole graph materializes against the real broker and Spark on a temp lake, the sensors
read the real broker, and the checks fail on bad data."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from dagster import (
    AssetCheckSeverity,
    AssetKey,
    DagsterInstance,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    SkipReason,
    build_schedule_context,
    build_sensor_context,
    materialize,
)

from orchestration.definitions import (
    ASSETS,
    CHECKS,
    DAILY,
    LakehouseResource,
    bronze_interactions,
    bronze_rejections,
    build_definitions,
    dlq_growth,
    kpis_are_sane,
    new_interactions,
    recent_rejections_below_threshold,
    timeline_has_no_duplicate_event_ids,
)
from schemas.dlq import Rejection
from tests.lakehouse_helpers import at, event, lake_config, produce_events, produce_raw


def _resource(config, tmp_path: Path, **overrides: Any) -> LakehouseResource:  # type: ignore[no-untyped-def]
    return LakehouseResource(
        lake_dir=str(config.lake_dir),
        kafka_bootstrap=config.kafka_bootstrap,
        spark_local_dir=str(tmp_path / "spark"),
        interactions_topic=config.interactions_topic,
        dlq_topic=config.dlq_topic,
        erasures_topic=config.erasures_topic,
        identity_topic=config.identity_topic,
        **overrides,
    )


@pytest.mark.unit
def test_definitions_load(tmp_path: Path) -> None:
    defs = build_definitions(LakehouseResource(lake_dir=str(tmp_path), kafka_bootstrap="x:1"))
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert keys == {
        "bronze/interactions",
        "bronze/rejections",
        "silver/identity_graph",
        "silver/customer_timeline",
        "gold/cx_kpis_daily",
        "gold/customer_features_daily",
        "feast/online_features",
    }
    assert {s.name for s in defs.schedules} == {
        "bronze_silver_hourly_schedule",
        "gold_daily_schedule",
    }
    assert {s.name for s in defs.sensors} == {"new_interactions", "dlq_growth"}
    assert len(CHECKS) >= 2 + 6
    # The daily schedule's job refreshes gold, then the Feast online store from gold.
    daily = defs.resolve_job_def("gold_daily")
    daily_keys = {k.to_user_string() for k in daily.asset_layer.executable_asset_keys}
    assert daily_keys == {
        "gold/cx_kpis_daily",
        "gold/customer_features_daily",
        "feast/online_features",
    }
    feast = graph.get(AssetKey(["feast", "online_features"]))
    assert feast.parent_keys == {AssetKey(["gold", "customer_features_daily"])}
    assert "Feast" in (feast.description or "")
    assert {k.name for k in graph.asset_check_keys if k.asset_key == feast.key} == {
        "online_store_serves_latest_gold"
    }
    # The erase job and the Feast asset share the feature store resource.
    assert set(defs.resources) == {"lakehouse", "feature_store"}
    # The DLQ alert runs in the ingestion job, with the rejections it counts.
    hourly = defs.resolve_job_def("bronze_silver_hourly").asset_layer.asset_graph
    assert {k.to_user_string() for k in hourly.asset_check_keys} >= {
        "bronze/rejections:recent_rejections_below_threshold"
    }


@pytest.mark.unit
@pytest.mark.parametrize(
    ("tick", "partition"),
    [
        (datetime(2024, 3, 5, 1, 30, tzinfo=UTC), "2024-03-04"),
        # Across a month end in a leap year, and a tick given in another time zone.
        (datetime(2024, 3, 1, 1, 30, tzinfo=UTC), "2024-02-29"),
        (
            datetime(2024, 1, 1, 2, 30, tzinfo=UTC).astimezone(ZoneInfo("America/New_York")),
            "2023-12-31",
        ),
    ],
)
def test_daily_schedule_builds_yesterday(tmp_path: Path, tick: datetime, partition: str) -> None:
    defs = build_definitions(LakehouseResource(lake_dir=str(tmp_path), kafka_bootstrap="x:1"))
    schedule = next(s for s in defs.schedules if s.name == "gold_daily_schedule")
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("30 1 * * *", "UTC")
    context = build_schedule_context(
        scheduled_execution_time=tick, repository_def=defs.get_repository_def()
    )
    (request,) = schedule.evaluate_tick(context).run_requests or []
    assert request.partition_key == partition
    assert request.tags["dagster/partition"] == partition
    # Today's partition still exists (end_offset=1), for materialize_lakehouse's ranges.
    today = tick.astimezone(UTC).date().isoformat()
    assert DAILY.get_partition_keys(current_time=tick)[-1] == today


@pytest.mark.unit
def test_schedules_and_sensors_start_running(tmp_path: Path) -> None:
    defs = build_definitions(LakehouseResource(lake_dir=str(tmp_path), kafka_bootstrap="x:1"))
    assert {s.name: s.default_status for s in defs.schedules} == {
        "bronze_silver_hourly_schedule": DefaultScheduleStatus.RUNNING,
        "gold_daily_schedule": DefaultScheduleStatus.RUNNING,
    }
    assert {s.name: s.default_status for s in defs.sensors} == {
        "new_interactions": DefaultSensorStatus.RUNNING,
        "dlq_growth": DefaultSensorStatus.RUNNING,
    }


@pytest.mark.integration
def test_graph_materializes_and_checks_catch_bad_data(spark, bootstrap, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = lake_config(bootstrap, tmp_path / "lake", partitions=1)
    lakehouse = _resource(config, tmp_path)
    produce_events(
        bootstrap,
        config.interactions_topic,
        [
            event("m1", at(0), conversation="c"),
            event("m2", at(20), conversation="c", direction="outbound"),
        ],
    )
    with build_sensor_context(resources={"lakehouse": lakehouse}) as ctx:
        assert new_interactions(ctx).run_key.startswith("interactions-lag-2-")

    instance = DagsterInstance.ephemeral()
    result = materialize(
        ASSETS,
        resources={"lakehouse": lakehouse},
        partition_key="2024-03-04",
        instance=instance,
        selection=[a.key for a in ASSETS],
    )
    assert result.success
    # An asset given an explicit key runs as the op named after the key ("bronze__interactions").
    meta = result.asset_materializations_for_node(bronze_interactions.node_def.name)[0].metadata
    assert meta["accepted"].value == 2
    kpis = spark.read.format("delta").load(str(config.table_path("gold/cx_kpis_daily"))).collect()
    assert [(r.contacts, r.answered, r.first_response_p50_s) for r in kpis] == [(1, 1, 1200.0)]
    with build_sensor_context(resources={"lakehouse": lakehouse}) as ctx:
        assert new_interactions(ctx).skip_message == "bronze.interactions is up to date"

    assert timeline_has_no_duplicate_event_ids(lakehouse=lakehouse).passed
    # A duplicated event id slipped into silver: the blocking check fails.
    dup = spark.read.format("delta").load(str(config.table_path("silver/customer_timeline")))
    dup.limit(1).write.format("delta").mode("append").save(
        str(config.table_path("silver/customer_timeline"))
    )
    failed = timeline_has_no_duplicate_event_ids(lakehouse=lakehouse)
    assert not failed.passed
    assert failed.metadata["duplicated_event_ids"].value == 1

    # The other checks, on the same lake: everything passes as materialised ...
    assert kpis_are_sane(lakehouse=lakehouse).passed
    assert _check("gold/cx_kpis_daily", "schema_matches_declaration")(lakehouse=lakehouse).passed
    assert _check("bronze/interactions", "fresh")(lakehouse=lakehouse).passed
    # ... a KPI row with more answered than opened conversations breaks KPI sanity ...
    gold_path = str(config.table_path("gold/cx_kpis_daily"))
    bad = spark.read.format("delta").load(gold_path).limit(1)
    bad = bad.withColumn("answered", bad["conversations_opened"] + 1)
    bad.write.format("delta").mode("append").save(gold_path)
    insane = kpis_are_sane(lakehouse=lakehouse)
    assert not insane.passed and insane.metadata["insane_rows"].value == 1
    # ... a table not of its declared schema fails schema conformance, naming the columns, and
    # a table never written is neither conforming nor fresh.
    other = _resource(lake_config(bootstrap, tmp_path / "other"), tmp_path)
    spark.createDataFrame([(1,)], "x INT").write.format("delta").save(
        str(Path(other.lake_dir) / "gold/cx_kpis_daily")
    )
    schema = _check("gold/cx_kpis_daily", "schema_matches_declaration")(lakehouse=other)
    assert not schema.passed
    problems = schema.metadata["problems"].value
    assert "unexpected column x" in problems and "missing column contacts" in problems
    never = _check("bronze/interactions", "schema_matches_declaration")(lakehouse=other)
    assert not never.passed and never.metadata["problem"].value == "table does not exist"
    stale = _check("bronze/interactions", "fresh")(lakehouse=other)
    assert not stale.passed and stale.metadata["age_hours"].value == -1.0


def _check(asset: str, name: str) -> Any:
    """The check `name` of `asset` among CHECKS (the schema and freshness checks are made per
    table, so they cannot be imported by name)."""
    for check in CHECKS:
        (key,) = check.check_keys
        if key.asset_key.to_user_string() == asset and key.name == name:
            return check
    raise KeyError((asset, name))


class _Records(logging.Handler):
    """Collects what a sensor logs through `context.log`."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _evaluate_dlq_growth(
    lakehouse: LakehouseResource, cursor: str | None
) -> tuple[Any, tuple[str | None, list[str]]]:
    """dlq_growth's result, and (the cursor it left, the warnings it logged)."""
    with build_sensor_context(resources={"lakehouse": lakehouse}, cursor=cursor) as ctx:
        records = _Records()
        ctx.log.addHandler(records)
        result = dlq_growth(ctx)
        warnings = [r.getMessage() for r in records.records if r.levelno == logging.WARNING]
        return result, (ctx.cursor, warnings)


@pytest.mark.integration
def test_dlq_growth_warns_and_requests_ingestion(bootstrap, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = lake_config(bootstrap, tmp_path / "lake", partitions=1)
    lakehouse = _resource(config, tmp_path)
    # An empty DLQ on the first evaluation: nothing to do; the cursor starts at its end.
    result, (cursor, warnings) = _evaluate_dlq_growth(lakehouse, None)
    assert isinstance(result, SkipReason) and warnings == []
    assert cursor == "0"

    rejection = Rejection(stage="normalise", error_class="InvalidPayload", message="bad")
    produce_raw(bootstrap, config.dlq_topic, [b"x", b"y", b"z"], rejection.headers())
    # The DLQ grew by 3: a warning saying so, and a run of the ingestion job to ingest them.
    result, (cursor, warnings) = _evaluate_dlq_growth(lakehouse, "0")
    assert isinstance(result, RunRequest)
    assert (result.run_key, result.tags["omnicx/dlq_growth"]) == ("dlq-3", "3")
    assert cursor == "3"
    assert len(warnings) == 1 and f"{config.dlq_topic} grew by 3 record(s)" in warnings[0]
    # No growth since: skipped, no warning.
    result, (cursor, warnings) = _evaluate_dlq_growth(lakehouse, "3")
    assert isinstance(result, SkipReason) and "no new records" in (result.skip_message or "")
    assert (cursor, warnings) == ("3", [])
    # A first evaluation (a new deployment) counts what bronze.rejections has not read: here
    # all three, as nothing was ingested.
    result, (cursor, warnings) = _evaluate_dlq_growth(lakehouse, None)
    assert isinstance(result, RunRequest) and result.tags["omnicx/dlq_growth"] == "3"
    assert cursor == "3" and len(warnings) == 1


@pytest.mark.integration
def test_recent_rejections_check_warns_above_threshold(spark, bootstrap, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = lake_config(bootstrap, tmp_path / "lake", partitions=1)
    lakehouse = _resource(config, tmp_path, dlq_alert_threshold=3)
    # No table yet: no rejections, nothing to warn about.
    empty = recent_rejections_below_threshold(lakehouse=lakehouse)
    assert empty.passed and empty.metadata["recent_rejections"].value == 0

    now = datetime.now(UTC)

    def reject(stage: str, reason: str, when: datetime, n: int) -> None:
        headers = Rejection(stage, reason, "bad", rejected_at=when.isoformat()).headers()
        produce_raw(bootstrap, config.dlq_topic, [b"x"] * n, headers)

    reject("normalise", "InvalidPayload", now - timedelta(minutes=5), 2)
    reject("ingest_http", "MissingIdentity", now - timedelta(minutes=1), 1)
    # Rejected three hours ago (ingested only now): outside the hour, not counted.
    reject("normalise", "InvalidPayload", now - timedelta(hours=3), 4)
    # Materialised as materialize_lakehouse does (one asset, with every check): the check runs
    # in the run of bronze/rejections alone, and 3 recent rejections are within the threshold.
    result = materialize(
        [*ASSETS, *CHECKS],
        resources={"lakehouse": lakehouse},
        selection=[bronze_rejections.key],
        instance=DagsterInstance.ephemeral(),
    )
    assert result.success
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert evaluations["recent_rejections_below_threshold"].passed
    ok = recent_rejections_below_threshold(lakehouse=lakehouse)
    assert ok.passed and ok.metadata["recent_rejections"].value == 3

    # One more recent rejection passes the threshold: the check fails, as a warning, and says
    # where the rejections come from.
    reject("ingest_http", "MissingIdentity", now, 1)
    assert materialize(
        [bronze_rejections],
        resources={"lakehouse": lakehouse},
        instance=DagsterInstance.ephemeral(),
    ).success
    failed = recent_rejections_below_threshold(lakehouse=lakehouse)
    assert not failed.passed and failed.severity == AssetCheckSeverity.WARN
    meta = {k: v.value for k, v in failed.metadata.items()}
    assert (meta["recent_rejections"], meta["threshold"], meta["window_minutes"]) == (4, 3, 60)
    assert meta["by_stage"] == {"ingest_http": 2, "normalise": 2}
    assert meta["by_reason"] == {"InvalidPayload": 2, "MissingIdentity": 2}
    assert meta["by_stage_and_reason"] == {
        "ingest_http/MissingIdentity": 2,
        "normalise/InvalidPayload": 2,
    }
    # A wider window counts the old ones too.
    wide = _resource(config, tmp_path, dlq_alert_threshold=3, dlq_alert_window_minutes=240)
    assert (
        recent_rejections_below_threshold(lakehouse=wide).metadata["recent_rejections"].value == 8
    )
