"""Feast through Dagster: the whole graph, then `feast/online_features`, materialised with the
real broker, Spark + Delta, Dagster and a real Feast SQLite online store; the check reads the
online store back and catches a missing customer and a stale value."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterInstance, materialize

from feature_store.client import FeatureStoreClient
from omnicx.lake_dagster import materialize_lakehouse
from orchestration.definitions import ASSETS, CHECKS, LakehouseResource
from orchestration.feast import (
    FEAST_ASSETS,
    FEAST_CHECKS,
    FeatureStoreResource,
    feast_online_features,
    materialise_window,
    online_store_serves_latest_gold,
    same_value,
)
from tests.lakehouse_helpers import at, event, lake_config, produce_events


@pytest.mark.unit
def test_window_runs_from_the_first_day_to_now_or_the_newest_row() -> None:
    before = datetime.now(UTC)
    start, end = materialise_window([date(2024, 3, 5), date(2024, 3, 4)], None)
    assert start == datetime(2024, 3, 4, tzinfo=UTC)
    assert before <= end <= datetime.now(UTC)
    # Gold's newest row is later than now (today's partition ends at midnight): up to it.
    future = datetime.now() + timedelta(days=1)  # naive, as Spark returns it (UTC session)
    _, end = materialise_window([date(2024, 3, 4)], future)
    assert end == future.replace(tzinfo=UTC)
    # No partition: the whole table.
    assert materialise_window(None, None)[0] == datetime(1970, 1, 1, tzinfo=UTC)


@pytest.mark.unit
def test_same_value() -> None:
    assert same_value(None, None) and same_value(2, 2) and same_value("email", "email")
    assert same_value(0.1 + 0.2, 0.3) and not same_value(0.3, 0.31)
    assert not same_value(None, 0.0) and not same_value(0, None) and not same_value(2, 3)


def _resources(spark: Any, bootstrap: str, tmp_path: Path) -> tuple[Any, LakehouseResource, Any]:
    config = lake_config(bootstrap, tmp_path / "lake", partitions=1)
    lakehouse = LakehouseResource(
        lake_dir=str(config.lake_dir),
        kafka_bootstrap=config.kafka_bootstrap,
        spark_local_dir=str(tmp_path / "spark"),
        interactions_topic=config.interactions_topic,
        dlq_topic=config.dlq_topic,
        erasures_topic=config.erasures_topic,
        identity_topic=config.identity_topic,
    )
    return config, lakehouse, FeatureStoreResource(data_dir=str(tmp_path / "fs"))


@pytest.mark.integration
@pytest.mark.timeout(1800)  # the whole graph, run by run, with checks: slow on a loaded machine
def test_feast_materialisation_through_dagster(spark, bootstrap, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config, lakehouse, feature_store = _resources(spark, bootstrap, tmp_path)
    ann = (("email", "ann@example.com"),)
    bob = (("email", "bob@example.com"),)
    produce_events(
        bootstrap,
        config.interactions_topic,
        [
            # Ann: an email answered in 10 min on 03-04, a chat answered in 2 min on 03-05.
            event("a1", at(0), ids=ann, conversation="a1"),
            event("a2", at(10), ids=ann, conversation="a1", direction="outbound"),
            event("a3", at(0, day=1), ids=ann, conversation="a3", channel="chat"),
            event(
                "a4", at(2, day=1), ids=ann, conversation="a3", channel="chat", direction="outbound"
            ),
            # Bob: one unanswered email on 03-04 only.
            event("b1", at(30), ids=bob, conversation="b1"),
        ],
    )
    runs = materialize_lakehouse(
        lakehouse, DagsterInstance.ephemeral(), feature_store=feature_store
    )
    by_asset = {r.asset: r for r in runs}
    # One Feast run, after gold, over the whole span of days.
    assert [r.asset for r in runs][-1] == "feast/online_features"
    feast_run = by_asset["feast/online_features"]
    assert feast_run.partitions == ("2024-03-04", "2024-03-05")
    assert feast_run.metadata["customers"] == 2
    assert feast_run.metadata["window_start"] == "2024-03-04T00:00:00+00:00"
    assert feast_run.metadata["applied_repo"] is True
    # The check ran with the asset and found the latest day's customer (Ann) right.
    assert feast_run.checks == {"online_store_serves_latest_gold": True}
    # The lakehouse's own checks run with their assets too.
    assert by_asset["silver/customer_timeline"].checks["timeline_has_no_duplicate_event_ids"]

    gold_path = str(config.table_path("gold/customer_features_daily"))
    gold = {
        (r.customer_id, r.event_timestamp.date()): r
        for r in spark.read.format("delta").load(gold_path).collect()
    }
    ann_id = next(c for c, d in gold if d == date(2024, 3, 5))
    bob_id = next(c for c, _ in gold if c != ann_id)
    fs_config = feature_store.config(config.lake_dir)
    with FeatureStoreClient(fs_config) as client:
        online = {
            r["customer_id"]: r
            for r in client.online_features([ann_id, bob_id], service="customer_daily_profile")
        }
    # Each customer's newest gold row: Ann as of 03-05 (two contacts, both within the SLA),
    # Bob as of 03-04 (one contact, unanswered).
    assert online[ann_id]["contacts_30d"] == 2
    assert online[ann_id]["answered_within_sla_ratio_90d"] == 1.0
    assert online[bob_id]["contacts_30d"] == 1
    assert online[bob_id]["answered_within_sla_ratio_90d"] == 0.0

    check = online_store_serves_latest_gold(lakehouse=lakehouse, feature_store=feature_store)
    assert check.passed and check.metadata["checked"].value == 1

    # A stale online value: gold's latest row changes after materialisation.
    spark.sql(f"UPDATE delta.`{gold_path}` SET contacts_30d = 5 WHERE customer_id = '{ann_id}'")
    stale = online_store_serves_latest_gold(lakehouse=lakehouse, feature_store=feature_store)
    assert not stale.passed
    assert (stale.metadata["missing"].value, stale.metadata["different"].value) == (0, 1)
    assert stale.metadata["examples"].value == ann_id

    # Materialising the asset again (one day's partition) repairs it, through Dagster.
    result = materialize(
        [*ASSETS, *FEAST_ASSETS, *CHECKS, *FEAST_CHECKS],
        selection=[feast_online_features.key],
        partition_key="2024-03-05",
        resources={"lakehouse": lakehouse, "feature_store": feature_store},
        instance=DagsterInstance.ephemeral(),
    )
    assert result.success
    meta = result.asset_materializations_for_node(feast_online_features.node_def.name)[0].metadata
    assert meta["customers"].value == 1 and meta["applied_repo"].value is False
    assert [e.passed for e in result.get_asset_check_evaluations()] == [True]
    with FeatureStoreClient(fs_config) as client:
        assert (
            client.online_features([ann_id], service="customer_daily_profile")[0]["contacts_30d"]
            == 5
        )
        # A customer missing from the online store (e.g. wiped by hand) fails the check.
        client.delete_customers([ann_id])
    gone = online_store_serves_latest_gold(lakehouse=lakehouse, feature_store=feature_store)
    assert not gone.passed and gone.metadata["missing"].value == 1
