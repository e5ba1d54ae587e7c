"""Bronze: parsing with an explicit schema, rejections with reasons, exactly-once ingestion
from the real broker across re-runs, interrupted runs and racing runs."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from jobs import deltalog
from jobs.bronze.ingest import (
    InteractionsBatch,
    committed_offsets,
    ingest_interactions,
    ingest_rejections,
    plan_batch,
    plan_interactions,
)
from jobs.bronze.parse import classify_interactions
from jobs.kafka_source import TopicOffsets
from schemas.dlq import Rejection
from schemas.erasure import ErasureRequest
from schemas.identity import identifier_hash
from tests.lakehouse_helpers import at, event, lake_config, produce_events, produce_raw, producer


def _records(spark, values):  # type: ignore[no-untyped-def]
    """A DataFrame shaped like Spark's Kafka source output."""
    rows = [
        (b"k", v, "cx.interactions.v1", 0, i, datetime(2024, 1, 1, tzinfo=UTC), [])
        for i, v in enumerate(values)
    ]
    return spark.createDataFrame(
        rows,
        "key binary, value binary, topic string, partition int, offset long, timestamp timestamp,"
        " headers array<struct<key:string,value:binary>>",
    )


@pytest.mark.integration
def test_classify_accepts_valid_events_and_names_each_rejection(spark) -> None:  # type: ignore[no-untyped-def]
    good = event("r1", at(), text="hello", attributes={"nested": {"a": [1, 2]}, "n": 3})
    doc = json.loads(good.to_json_bytes())
    bad_channel = {**doc, "channel": "fax"}
    no_ids = {**doc, "identifiers": []}
    bad_time = {**doc, "occurred_at": "yesterday"}
    bad_id_type = {**doc, "identifiers": [{"type": "passport", "value": "x"}]}
    suppressed = event("r2", at(), ids=[("email", "gone@example.com")])
    values = [
        good.to_json_bytes(),
        b"{not json",
        json.dumps(bad_channel).encode(),
        json.dumps(no_ids).encode(),
        json.dumps(bad_time).encode(),
        json.dumps(bad_id_type).encode(),
        b"\xff\xfe{}",
        None,
        suppressed.to_json_bytes(),
    ]
    out = (
        classify_interactions(_records(spark, values), {identifier_hash("email:gone@example.com")})
        .orderBy("kafka_offset")
        .collect()
    )
    assert [(r.status, r.error_class, r.reason) for r in out] == [
        ("accepted", None, None),
        ("rejected", "MalformedJson", "value is not a JSON document"),
        ("rejected", "InvalidEvent", "unknown channel: fax"),
        ("rejected", "InvalidEvent", "no identifiers"),
        ("rejected", "InvalidEvent", "missing or unparseable occurred_at"),
        ("rejected", "InvalidEvent", "identifier with unknown type or empty value"),
        ("rejected", "InvalidEncoding", "value is not valid UTF-8"),
        ("rejected", "EmptyRecord", "record has no value"),
        ("suppressed", None, None),
    ]
    first = out[0]
    assert first.occurred_ts == datetime(2024, 3, 4, 9, 0)  # UTC session time zone
    assert first.e.attributes == {"nested": '{"a":[1,2]}', "n": "3"}
    assert first.e.identifiers[0].value == "ann@example.com"


@pytest.mark.unit
def test_plan_batch_resumes_from_the_committed_position_and_caps_each_partition() -> None:
    offsets = TopicOffsets("t", earliest={0: 0, 1: 5, 2: 0}, end={0: 10, 1: 20, 2: 3})
    plan = plan_batch({0: 4, 1: 2}, offsets, "bronze/interactions", max_per_partition=5)
    assert plan is not None
    assert [(r.partition, r.start, r.end) for r in plan.ranges] == [
        (0, 4, 9),
        (1, 5, 10),
        (2, 0, 3),
    ]
    assert plan.lost_to_retention == 3  # partition 1 was committed at 2, retention begins at 5
    assert plan.position == 4 + 5 + 0
    assert plan.end_offsets == {0: 9, 1: 10, 2: 3}
    assert plan_batch({0: 10, 1: 20, 2: 3}, offsets, "bronze/interactions") is None


def _bronze(spark, config):  # type: ignore[no-untyped-def]
    return spark.read.format("delta").load(str(config.table_path("bronze/interactions")))


def _rejections(spark, config):  # type: ignore[no-untyped-def]
    return spark.read.format("delta").load(str(config.table_path("bronze/rejections")))


@pytest.mark.integration
def test_ingest_is_exactly_once_across_reruns(spark, bootstrap, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = lake_config(bootstrap, tmp_path / "lake", partitions=3)
    events = [event(f"r{i}", at(i), ids=[("email", f"c{i % 4}@example.com")]) for i in range(12)]
    produce_events(bootstrap, config.interactions_topic, events)
    produce_raw(bootstrap, config.interactions_topic, [b"garbage", b'{"event_id": "x"}'])

    first = ingest_interactions(spark, config)
    assert (first.read, first.accepted, first.rejected, first.suppressed) == (14, 12, 2, 0)
    assert first.read == first.accepted + first.rejected + first.suppressed
    bronze = _bronze(spark, config)
    assert sorted(r.event_id for r in bronze.select("event_id").collect()) == sorted(
        e.event_id for e in events
    )
    reasons = sorted(r.error_message for r in _rejections(spark, config).collect())
    assert reasons == ["missing or unparseable occurred_at", "value is not a JSON document"]

    again = ingest_interactions(spark, config)
    assert (again.read, again.committed) == (0, False)
    assert _bronze(spark, config).count() == 12
    assert _rejections(spark, config).count() == 2

    # New records after the re-run are picked up, and only they.
    produce_events(bootstrap, config.interactions_topic, [event("late", at(100))])
    third = ingest_interactions(spark, config)
    assert (third.read, third.accepted) == (1, 1)
    assert _bronze(spark, config).count() == 13
    table = config.table_path("bronze/interactions")
    assert committed_offsets(str(table), config.interactions_topic) == third.offsets
    assert sum(third.offsets.values()) == 15


@pytest.mark.integration
def test_interrupted_run_resumes_without_loss_or_duplicates(
    spark, bootstrap, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    config = lake_config(bootstrap, tmp_path / "lake", partitions=2)
    produce_events(bootstrap, config.interactions_topic, [event(f"r{i}", at(i)) for i in range(6)])
    produce_raw(bootstrap, config.interactions_topic, [b"not an event"])

    # The run dies after committing the rejections and before committing the events.
    plan = plan_interactions(spark, config)
    assert plan is not None and plan.records == 7
    crashed = InteractionsBatch(spark, config, plan)
    crashed.write_rejections()
    crashed.close()
    assert _rejections(spark, config).count() == 1
    assert _bronze(spark, config).count() == 0  # created, empty: the events never committed

    resumed = ingest_interactions(spark, config)
    assert (resumed.read, resumed.accepted, resumed.rejected) == (7, 6, 1)
    assert _bronze(spark, config).count() == 6
    assert _rejections(spark, config).count() == 1  # Delta skipped the repeated write

    # A second run planned before the first committed (a retried run racing the original)
    # commits nothing: both carry the same idempotent-write version.
    produce_events(bootstrap, config.interactions_topic, [event("x1", at(50)), event("x2", at(51))])
    plan_a = plan_interactions(spark, config)
    plan_b = plan_interactions(spark, config)
    assert plan_a == plan_b
    for plan in (plan_a, plan_b):
        batch = InteractionsBatch(spark, config, plan)
        batch.write_events()
        batch.close()
    assert _bronze(spark, config).count() == 8
    versions = deltalog.commit_versions(config.table_path("bronze/interactions"))
    assert ingest_interactions(spark, config).read == 0
    assert deltalog.commit_versions(config.table_path("bronze/interactions")) == versions


@pytest.mark.integration
def test_small_batches_cover_the_topic_exactly(spark, bootstrap, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = lake_config(bootstrap, tmp_path / "lake", partitions=2, max_offsets_per_partition=2)
    events = [event(f"r{i}", at(i), ids=[("phone", f"+4420794600{i:02d}")]) for i in range(9)]
    produce_events(bootstrap, config.interactions_topic, events)
    runs = []
    while (result := ingest_interactions(spark, config)).read:
        runs.append(result.read)
    assert sum(runs) == 9 and max(runs) <= 4 and len(runs) >= 3
    ids = [r.event_id for r in _bronze(spark, config).select("event_id").collect()]
    assert sorted(ids) == sorted(e.event_id for e in events)


@pytest.mark.integration
def test_dlq_and_suppressed_identifiers(spark, bootstrap, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = lake_config(bootstrap, tmp_path / "lake", partitions=1)
    rejection = Rejection(
        stage="normalise",
        error_class="InvalidPayload",
        message="truncated JSON",
        channel="chat",
        source_topic="cx.ingest.chat",
        source_partition=2,
        source_offset=41,
        rejected_at="2024-03-04T10:00:00+00:00",
    )
    produce_raw(bootstrap, config.dlq_topic, [b'{"trunc', b"\xff\x00"], rejection.headers())
    dlq = ingest_rejections(spark, config)
    assert (dlq.read, dlq.rejected) == (2, 2)
    rows = _rejections(spark, config).orderBy("kafka_offset").collect()
    assert [bytes(r.raw_value) for r in rows] == [b'{"trunc', b"\xff\x00"]
    assert {
        (r.stage, r.error_class, r.error_message, r.channel, r.source_topic, r.source_offset)
        for r in rows
    } == {("normalise", "InvalidPayload", "truncated JSON", "chat", "cx.ingest.chat", 41)}
    assert rows[0].rejected_at == datetime(2024, 3, 4, 10, 0)
    assert ingest_rejections(spark, config).read == 0

    erased = ErasureRequest(
        customer_id="cus_x",
        identifier_hashes=[identifier_hash("email:gone@example.com")],
        requested_at=datetime.now(UTC),
    )
    prod = producer(bootstrap)
    prod.send(config.erasures_topic, key=b"cus_x", value=erased.to_json_bytes())
    prod.flush()
    prod.close()
    produce_events(
        bootstrap,
        config.interactions_topic,
        [
            event("keep", at(1)),
            event("drop", at(2), ids=[("phone", "+442079460000"), ("email", "gone@example.com")]),
        ],
    )
    result = ingest_interactions(spark, config)
    assert (result.read, result.accepted, result.suppressed) == (2, 1, 1)
    assert [r.source_record_id for r in _bronze(spark, config).collect()] == ["keep"]
