"""Dagster: the definitions load, the whole graph materializes against the real broker and
Spark on a temp lake, and a check fails on bad data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dagster import AssetKey, DagsterInstance, build_sensor_context, materialize

from orchestration.definitions import (
    ASSETS,
    CHECKS,
    LakehouseResource,
    bronze_interactions,
    build_definitions,
    kpis_are_sane,
    new_interactions,
    timeline_has_no_duplicate_event_ids,
)
from tests.lakehouse_helpers import at, event, lake_config, produce_events


def _resource(config, tmp_path: Path) -> LakehouseResource:  # type: ignore[no-untyped-def]
    return LakehouseResource(
        lake_dir=str(config.lake_dir),
        kafka_bootstrap=config.kafka_bootstrap,
        spark_local_dir=str(tmp_path / "spark"),
        interactions_topic=config.interactions_topic,
        dlq_topic=config.dlq_topic,
        erasures_topic=config.erasures_topic,
        identity_topic=config.identity_topic,
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
