"""The scale-out shape end to end: the whole demo on the 3-broker loopback cluster
(replication 3, min ISR 2), two stream workers sharing the partitions, and Redis as the Feast
online store, the lakehouse read from that cluster through Dagster, and the Dagster UI the demo
leaves running — all real, started and stopped by the test."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest
import redis
from kafka import KafkaAdminClient
from rich.console import Console

from feature_store.client import FeatureStoreClient
from infra.procs import free_port
from omnicx.demo import EXPECTED_SIGNALS, DemoOptions, run_demo, worker_log_tails
from omnicx.demo_lakehouse import outcome
from omnicx.settings import load_settings
from omnicx.stack import LocalStack
from schemas.topics import CUSTOMER_EVENTS, INTERACTIONS
from streams.workers.config import TIMELINES_TABLE, changelog_topic
from tests.conftest import free_kafka_config

pytestmark = pytest.mark.e2e


def test_demo_on_three_brokers_two_workers_and_redis(tmp_path: Path) -> None:
    home = tmp_path / "home"
    kafka = free_kafka_config(home / "kafka", nodes=3)
    settings = load_settings(
        home=home,
        kafka={
            "port": kafka.port,
            "controller_port": kafka.controller_port,
            "nodes": 3,
            "heap_mb": 320,
        },
        api={"port": free_port()},
        dagster_port=free_port(),
        streams={"web_port": free_port(), "workers": 2},
        online_store="redis",
        redis={"port": free_port()},
    )
    assert settings.streams.topic_replication_factor == 3
    out = io.StringIO()
    console = Console(file=out, width=120)
    try:
        run = run_demo(settings, console, options=DemoOptions(customers=300, streams_timeout_s=420))
        admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap)
        try:
            # Every topic the pipeline uses, ours and faust's, is on all three brokers.
            changelog = changelog_topic(settings.streams.app_id, TIMELINES_TABLE)
            metas = admin.describe_topics([INTERACTIONS, CUSTOMER_EVENTS, changelog])
            for meta in metas:
                assert meta["error_code"] == 0, meta
                assert meta["partitions"], meta
                for partition in meta["partitions"]:
                    assert len(partition["replica_nodes"]) == 3, (meta["topic"], partition)
            # Both workers are in the consumer group and each holds some of the partitions.
            group = admin.describe_groups([settings.streams.app_id])[settings.streams.app_id]
            assert group["error"] is None and group["group_state"] == "Stable", group
            assert len(group["members"]) == 2, (group["members"], worker_log_tails(settings, 40))
            for member in group["members"]:
                assert _assigned_partitions(member["member_assignment"]) > 0, member
        finally:
            admin.close()
        text = out.getvalue()

        # The same outcome as on one broker and one worker (tests/omnicx/test_demo.py).
        for r in run.ingested:
            assert r.read == r.accepted + r.rejected > 0, r
            if r.expected_malformed is not None:
                assert r.rejected == r.expected_malformed, r
        events = sum(r.events for r in run.ingested)
        assert run.stream_stats["customer_events"] >= events
        for kind in EXPECTED_SIGNALS:
            assert run.signals_by_type[kind] >= 1, (kind, run.signals_by_type)
        timeline = run.linked["timeline"]
        assert len({e["channel"] for e in timeline["events"]}) >= 3
        assert len({e["event_id"] for e in timeline["events"]}) == len(timeline["events"])

        # Features reached the Redis online store.
        assert run.features_pushed > 0
        assert settings.feature_store.online_store == "redis"
        with FeatureStoreClient(settings.feature_store) as client:
            online = client.online_features(
                [run.linked["customer_id"]], service="personalisation_v1"
            )
        assert online[0]["contacts_24h"] == run.linked["features"]["contacts_24h"]
        # ... and really from Redis: the keys are there, and no SQLite online store was made.
        redis_client = redis.Redis(host=settings.redis.host, port=settings.redis.port)
        try:
            assert redis_client.dbsize() > 0
        finally:
            redis_client.close()
        assert not settings.feature_store.sqlite_path.exists()
        assert "curl -s -H" in text

        # Bronze read every accepted record from the 3-broker cluster, and gold was built.
        lake = outcome(run)
        bronze = next(r for r in lake.runs if r.asset == "bronze/interactions").metadata
        assert bronze["accepted"] == events and bronze["read"] == events + bronze["rejected"]
        assert all(all(r.checks.values()) for r in lake.runs), [r.checks for r in lake.runs]
        assert lake.report.html.exists() and lake.report.charts

        # The Dagster UI the demo left running serves the asset graph and the demo's runs.
        url = f"http://127.0.0.1:{settings.dagster_port}"
        assert f"Dagster UI     {url}" in text
        query = (
            "{ assetNodes { assetKey { path } } "
            "runsOrError { ... on Runs { results { status } } } }"
        )
        answer = httpx.post(f"{url}/graphql", json={"query": query}, timeout=60).json()
        keys = {"/".join(n["assetKey"]["path"]) for n in answer["data"]["assetNodes"]}
        assert {"bronze/interactions", "silver/customer_timeline", "gold/cx_kpis_daily"} <= keys
        statuses = [r["status"] for r in answer["data"]["runsOrError"]["results"]]
        assert len(statuses) == len(lake.runs) and set(statuses) == {"SUCCESS"}, statuses
    finally:
        LocalStack(settings, with_dagster=True).down()


def _assigned_partitions(assignment: object) -> int:
    """How many partitions a decoded consumer-protocol assignment holds."""
    assert isinstance(assignment, dict), f"undecoded assignment: {assignment!r}"
    return sum(len(t["partitions"]) for t in assignment["assigned_partitions"])
