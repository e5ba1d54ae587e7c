"""The single-node broker from Maven jars: it answers, carries keyed messages with headers
through kafka-python and aiokafka (including consumer groups, which faust relies on), and
keeps its data across a restart."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

from infra.kafka import LocalKafka
from tests.conftest import free_kafka_config

pytestmark = pytest.mark.integration


def _create_topic(bootstrap: str, partitions: int = 1) -> str:
    name = f"test-{uuid.uuid4().hex[:10]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics(
        {name: {"num_partitions": partitions, "replication_factor": 1}}, wait_for_metadata=True
    )
    admin.close()
    return name


def _consume_all(bootstrap: str, topic: str, expected: int, group: str | None = None) -> list:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=15000,
    )
    records = []
    for record in consumer:
        records.append(record)
        if len(records) >= expected:
            break
    consumer.close()
    return records


def test_broker_answers_metadata_request(kafka: LocalKafka) -> None:
    admin = KafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    cluster = admin.describe_cluster()
    admin.close()
    assert [b["broker_id"] for b in cluster["brokers"]] == [1], cluster
    assert kafka.is_up()
    [node] = kafka.status()
    assert node.up and node.pid is not None


def test_kafka_python_round_trip_with_key_and_headers(bootstrap: str) -> None:
    topic = _create_topic(bootstrap)
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    producer.send(
        topic,
        key=b"customer-1",
        value=b'{"hello": "world"}',
        headers=[("ce_id", b"evt-1"), ("ce_type", b"test")],
    ).get(timeout=10)
    producer.close()
    [record] = _consume_all(bootstrap, topic, 1)
    assert record.key == b"customer-1"
    assert record.value == b'{"hello": "world"}'
    assert dict(record.headers) == {"ce_id": b"evt-1", "ce_type": b"test"}


def test_aiokafka_round_trip_and_consumer_group(bootstrap: str) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    topic = _create_topic(bootstrap, partitions=3)

    async def scenario() -> tuple[list, dict]:
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, acks="all", enable_idempotence=True
        )
        await producer.start()
        for i in range(30):
            await producer.send_and_wait(
                topic,
                key=f"k{i}".encode(),
                value=f"v{i}".encode(),
                headers=[("seq", str(i).encode())],
            )
        await producer.stop()
        group = f"g-{uuid.uuid4().hex[:6]}"
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            group_id=group,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        got = []
        try:
            async with asyncio.timeout(30):
                while len(got) < 30:
                    batch = await consumer.getmany(timeout_ms=1000)
                    for records in batch.values():
                        got.extend(records)
            await consumer.commit()
            committed = {tp.partition: await consumer.committed(tp) for tp in consumer.assignment()}
        finally:
            await consumer.stop()
        return got, committed

    got, committed = asyncio.run(scenario())
    assert sorted(r.key for r in got) == sorted(f"k{i}".encode() for i in range(30))
    assert all(dict(r.headers)["seq"] == r.value[1:] for r in got)
    # The group coordinator really stored offsets for every partition of the topic.
    assert sum(committed.values()) == 30 and set(committed) == {0, 1, 2}


def test_restart_keeps_data(tmp_path: Path) -> None:
    broker = LocalKafka(free_kafka_config(tmp_path / "kafka"))
    broker.start()
    try:
        topic = _create_topic(broker.bootstrap)
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
        producer.send(topic, key=b"k", value=b"before restart").get(timeout=10)
        producer.close()
        assert broker.stop() == [1]
        assert not broker.process(1).is_running()
        broker.start()
        [record] = _consume_all(broker.bootstrap, topic, 1)
        assert record.value == b"before restart"
    finally:
        broker.stop()
