"""Kafka throughput through kafka-python and aiokafka against the local broker, and the
broker's cold-start time.

Messages are 300-byte JSON documents, keyed, produced with acks=all and idempotence (what the
omnicx SDK uses), consumed from the beginning by a fresh consumer.

Size: OMNICX_BENCH_KAFKA_MESSAGES (default 100,000).
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from pathlib import Path

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

from bench.common import local_broker, ratio, report

N = int(os.environ.get("OMNICX_BENCH_KAFKA_MESSAGES", "100000"))
PARTITIONS = 3


def _payloads(n: int) -> list[tuple[bytes, bytes]]:
    out = []
    for i in range(n):
        doc = {
            "event_id": f"evt-{i:012d}",
            "channel": "chat",
            "customer": f"c-{i % 5000}",
            "text": "",
        }
        raw = json.dumps(doc)
        doc["text"] = "x" * (300 - len(raw))
        value = json.dumps(doc).encode()
        assert len(value) == 300
        out.append((f"c-{i % 5000}".encode(), value))
    return out


def _create(bootstrap: str, topic: str) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics(
        {topic: {"num_partitions": PARTITIONS, "replication_factor": 1}}, wait_for_metadata=True
    )
    admin.close()


def kafka_python_produce(bootstrap: str, topic: str, msgs: list[tuple[bytes, bytes]]) -> float:
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        batch_size=128 * 1024,
    )
    t0 = time.perf_counter()
    for key, value in msgs:
        producer.send(topic, key=key, value=value)
    producer.flush()
    elapsed = time.perf_counter() - t0
    producer.close()
    return len(msgs) / elapsed


def kafka_python_consume(bootstrap: str, topic: str, n: int) -> float:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=5000,
        fetch_max_bytes=16 * 1024 * 1024,
    )
    count = 0
    t0 = time.perf_counter()
    while count < n:
        for records in consumer.poll(timeout_ms=1000).values():
            count += len(records)
    elapsed = time.perf_counter() - t0
    consumer.close()
    return count / elapsed


async def _aiokafka_produce(bootstrap: str, topic: str, msgs: list[tuple[bytes, bytes]]) -> float:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=128 * 1024,
    )
    await producer.start()
    t0 = time.perf_counter()
    futures = []
    for key, value in msgs:
        futures.append(await producer.send(topic, key=key, value=value))
    await producer.flush()
    await asyncio.gather(*futures)
    elapsed = time.perf_counter() - t0
    await producer.stop()
    return len(msgs) / elapsed


async def _aiokafka_consume(bootstrap: str, topic: str, n: int) -> float:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    count = 0
    t0 = time.perf_counter()
    while count < n:
        batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
        count += sum(len(r) for r in batch.values())
    elapsed = time.perf_counter() - t0
    await consumer.stop()
    return count / elapsed


def main() -> None:
    msgs = _payloads(N)
    with tempfile.TemporaryDirectory() as tmp, local_broker(Path(tmp) / "kafka") as (kafka, cold):
        report("kafka_broker_cold_start_s", cold, "s")
        bootstrap = kafka.bootstrap
        _create(bootstrap, "bench-kp")
        _create(bootstrap, "bench-aio")
        kp_prod = kafka_python_produce(bootstrap, "bench-kp", msgs)
        report("kafka_produce_msgs_per_s.kafka_python", kp_prod, "msgs/s")
        aio_prod = asyncio.run(_aiokafka_produce(bootstrap, "bench-aio", msgs))
        report("kafka_produce_msgs_per_s.aiokafka", aio_prod, "msgs/s")
        ratio("kafka_produce_aiokafka_vs_kafka_python", aio_prod, kp_prod, "kafka-python")
        kp_cons = kafka_python_consume(bootstrap, "bench-kp", N)
        report("kafka_consume_msgs_per_s.kafka_python", kp_cons, "msgs/s")
        aio_cons = asyncio.run(_aiokafka_consume(bootstrap, "bench-aio", N))
        report("kafka_consume_msgs_per_s.aiokafka", aio_cons, "msgs/s")
        ratio("kafka_consume_aiokafka_vs_kafka_python", aio_cons, kp_cons, "kafka-python")


if __name__ == "__main__":
    main()
