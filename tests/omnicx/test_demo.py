"""`omnicx demo` end to end on a small day (300 customers: the smallest seed-7 day with a
linked-identity person): a real broker, stream workers, Customer API and Feast online store,
started and stopped by the demo itself."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from feature_store.client import FeatureStoreClient
from infra.procs import free_port
from omnicx.demo import EXPECTED_SIGNALS, DemoOptions, run_demo
from omnicx.demo_lakehouse import outcome
from omnicx.settings import load_settings
from tests.conftest import free_kafka_config

pytestmark = pytest.mark.e2e


def test_demo_runs_the_platform_end_to_end(tmp_path: Path) -> None:
    kafka = free_kafka_config(tmp_path / "home" / "kafka")
    settings = load_settings(
        home=tmp_path / "home",
        kafka={"port": kafka.port, "controller_port": kafka.controller_port, "heap_mb": 384},
        api={"port": free_port()},
        streams={"web_port": free_port()},
    )
    out = io.StringIO()
    console = Console(file=out, width=120)
    run = run_demo(settings, console, options=DemoOptions(customers=300, down_after=True))
    text = out.getvalue()

    # Counts add up per channel; the simulator's malformed records, and only they, are refused.
    assert {r.channel for r in run.ingested} == {"email", "social", "app", "phone", "chat"}
    for r in run.ingested:
        assert r.read == r.accepted + r.rejected > 0, r
        if r.expected_malformed is not None:
            assert r.rejected == r.expected_malformed, r
    tweets = next(r for r in run.ingested if r.source == "real tweets")
    assert (tweets.read, tweets.rejected) == (93, 0)
    manifest_records = sum(c["records"] for c in run.manifest["channels"].values())
    assert sum(r.read for r in run.ingested if r.source == "simulated") == manifest_records
    events = sum(r.events for r in run.ingested)
    # Every accepted event reached the workers' output (first run on an empty broker).
    assert run.stream_stats["customer_events"] >= events

    # Each rule the simulated journeys exercise raised at least one signal.
    for kind in EXPECTED_SIGNALS:
        assert run.signals_by_type[kind] >= 1, (kind, run.signals_by_type)

    # The linked-identity customer is one customer across all five channels.
    timeline = run.linked["timeline"]
    channels = {e["channel"] for e in timeline["events"]}
    assert channels == {"email", "social", "phone", "chat", "app"}, channels
    assert run.linked["customer_id"].startswith("cus_")
    assert run.linked["features"]["contacts_24h"] >= 3

    # Features reached the Feast online store.
    assert run.features_pushed > 0
    with FeatureStoreClient(settings.feature_store) as client:
        online = client.online_features([run.linked["customer_id"]], service="personalisation_v1")
    assert online[0]["contacts_24h"] == run.linked["features"]["contacts_24h"]

    # The lakehouse went through Dagster: one successful run per asset (gold per range of days),
    # recorded in the stack's Dagster instance, bronze holding exactly what ingest accepted.
    lake = outcome(run)
    by_asset = {r.asset: r for r in lake.runs}
    assert set(by_asset) == {
        "bronze/interactions",
        "bronze/rejections",
        "silver/identity_graph",
        "silver/customer_timeline",
        "gold/cx_kpis_daily",
        "gold/customer_features_daily",
        "feast/online_features",
    }
    bronze = by_asset["bronze/interactions"].metadata
    assert bronze["accepted"] == events and bronze["read"] == events + bronze["rejected"]
    assert by_asset["silver/customer_timeline"].metadata["inserted"] == events
    assert all(all(r.checks.values()) for r in lake.runs), [r.checks for r in lake.runs]
    # The simulated day and the tweets' days (October 2017): two ranges of gold partitions.
    gold_runs = [r for r in lake.runs if r.asset == "gold/cx_kpis_daily"]
    assert [r.partitions[0][:4] for r in gold_runs if r.partitions] == [
        "2017",
        run.manifest["start"][:4],
    ]
    # Feast: one run over the whole span, every customer of gold loaded, checked against gold.
    feast = by_asset["feast/online_features"]
    assert feast.checks == {"online_store_serves_latest_gold": True}
    assert "Feast          customer_daily_profile" in text
    from dagster import DagsterRunStatus

    from omnicx.lake_dagster import dagster_instance

    stored = dagster_instance(settings).get_runs()
    assert {r.run_id for r in stored} == {r.run_id for r in lake.runs}
    assert all(r.status == DagsterRunStatus.SUCCESS for r in stored)

    # The KPI report: files exist and hold numbers consistent with what went in.
    tables = json.loads(lake.report.json.read_text())
    assert lake.report.html.exists() and len(lake.report.charts) >= 5
    assert all(p.stat().st_size > 1000 for p in lake.report.charts)
    daily = tables["kpis_daily"]
    # App events are mostly internal (page views, purchases): not every day has app contacts.
    channels_with_contacts = {r["channel"] for r in daily}
    assert {"email", "social", "phone", "chat"} <= channels_with_contacts
    assert channels_with_contacts <= {"email", "social", "app", "phone", "chat"}
    for r in daily:
        assert r["answered"] <= r["conversations_opened"] and r["contacts"] >= 1, r
    from pyspark.sql import SparkSession

    spark = SparkSession.getActiveSession()
    assert spark is not None
    timeline = spark.read.format("delta").load(str(settings.lake_dir / "silver/customer_timeline"))
    assert timeline.count() == events
    gold_features = spark.read.format("delta").load(
        str(settings.lake_dir / "gold/customer_features_daily")
    )
    assert feast.metadata["customers"] == gold_features.select("customer_id").distinct().count()
    inbound = timeline.where("direction = 'inbound'")
    assert sum(r["inbound_messages"] for r in daily) == inbound.count()
    # Contacts per channel = distinct (day, conversation) with an inbound event.
    for row in tables["by_channel"]:
        convs = (
            inbound.where(f"channel = '{row['channel']}'")
            .selectExpr("to_date(occurred_at) AS d", "conversation_key")
            .distinct()
            .count()
        )
        assert row["contacts"] == convs, row
    # The league holds the real tweets' brands, each answered thread counted once.
    league = {r["brand"]: r for r in tables["brand_league"]}
    assert {"AppleSupport", "Tesco", "SpotifyCares"} <= set(league), sorted(league)
    for r in league.values():
        assert 0 <= r["answered"] <= r["contacts"]
    assert "KPI report" in text and str(lake.report.html) in text and "--with-dagster" in text

    # What the user reads: the key's path (not the secret), curl lines, the stack stopped.
    key = (settings.home / "demo" / "api_key").read_text().strip()
    assert key not in text and str(settings.home / "demo" / "api_key") in text
    assert "curl -s -H" in text and "stack stopped" in text
