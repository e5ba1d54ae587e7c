"""The librdkafka producer against the real broker: the same partitions, keys, values and
headers as kafka-python, failures surface as `DeliveryFailed`, and no broker fails at start."""

from __future__ import annotations

import base64
import os
import threading
import time
import uuid
from datetime import UTC, datetime

import pytest
from confluent_kafka import KafkaError, KafkaException
from kafka.admin import KafkaAdminClient, NewTopic

from schemas.topics import INTERACTIONS
from streams.adapters import AdapterConfig
from streams.ingest import IngestConfig, Ingestor, ProducerConfig, make_producer
from streams.ingest.pipeline import STAGE_HTTP, DeliveryFailed
from streams.ingest.rdkafka import Delivery, DeliveryTimeout, RdKafkaProducer
from tests.streams.ingest.conftest import end_offsets, read_since, topics  # noqa: F401

pytestmark = pytest.mark.integration

RDKAFKA = ProducerConfig(client="librdkafka", client_id="test-rdkafka")


def test_same_partitions_and_records_as_kafka_python(topics: str) -> None:  # noqa: F811
    keys = [f"email:user{i}@example.com".encode() for i in range(40)] + [b"phone:+34600000001"]
    start = end_offsets(topics, INTERACTIONS)
    run = uuid.uuid4().hex.encode()
    slow, fast = make_producer(topics), make_producer(topics, RDKAFKA)
    assert isinstance(fast, RdKafkaProducer)
    try:
        for key in keys:
            headers = [("ce_id", key), ("run", run)]
            slow.send(INTERACTIONS, value=b"kafka-python", key=key, headers=headers)
            fast.send(INTERACTIONS, value=b"librdkafka", key=key, headers=headers).get(30)
        slow.flush(30)
    finally:
        slow.close(10)
        fast.close(10)
    records = [
        r for r in read_since(topics, INTERACTIONS, start) if ("run", run) in list(r.headers)
    ]
    by_client: dict[bytes, dict[bytes, int]] = {b"kafka-python": {}, b"librdkafka": {}}
    for r in records:
        by_client[r.value][r.key] = r.partition
        assert dict(r.headers)["ce_id"] == r.key
    assert set(by_client[b"librdkafka"]) == set(keys)
    assert by_client[b"librdkafka"] == by_client[b"kafka-python"]
    # The keys really spread over partitions (3 by default), so the comparison means something.
    assert len(set(by_client[b"librdkafka"].values())) > 1


def test_a_record_the_broker_refuses_fails_the_batch(topics: str) -> None:  # noqa: F811
    # A topic whose records may hold 2,000 bytes: an incompressible 50 kB record is refused by
    # the broker itself (MSG_SIZE_TOO_LARGE), after the client queued it.
    topic = f"test-small-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=topics)
    try:
        admin.create_topics(
            [NewTopic(topic, 1, 1, topic_configs={"max.message.bytes": "2000"})], timeout_ms=30_000
        )
    finally:
        admin.close()
    producer = make_producer(topics, RDKAFKA)
    try:
        assert producer.send(topic, value=b"small", key=b"k").get(30) is None
        with pytest.raises(Exception, match="MSG_SIZE_TOO_LARGE|too large"):
            producer.send(topic, value=os.urandom(50_000), key=b"k").get(30)
    finally:
        producer.close(10)


def test_ingestor_reports_unacknowledged_records(topics: str) -> None:  # noqa: F811
    # The pipeline turns a failed delivery into DeliveryFailed (503 over HTTP), whichever
    # client: a 1.5 MB incompressible record passes the client's limits set here, but not the
    # broker's (1 MB).
    producer = make_producer(topics, RDKAFKA.model_copy(update={"max_request_size": 5_000_000}))
    noise = base64.b64encode(os.urandom(1_100_000))
    body = (
        b'{"messageId": "big-1", "type": "track", "event": "x", "userId": "u", '
        b'"timestamp": "2025-01-01T00:00:00Z", "properties": {"p": "' + noise + b'"}}'
    )
    config = IngestConfig(adapters=AdapterConfig(max_payload_bytes=4_000_000))
    try:
        with pytest.raises(DeliveryFailed, match="not acknowledged"):
            Ingestor(producer, config).ingest(
                "app",
                body,
                source="test",
                stage=STAGE_HTTP,
                received_at=datetime(2025, 1, 2, tzinfo=UTC),
            )
    finally:
        producer.close(10)


def test_no_broker_fails_at_start() -> None:
    config = RDKAFKA.model_copy(update={"bootstrap_timeout_ms": 1000})
    with pytest.raises(ConnectionError, match="no Kafka broker answered"):
        make_producer("127.0.0.1:1", config)


@pytest.mark.unit
def test_delivery_waits_for_its_own_report() -> None:
    acked, refused, silent = Delivery(), Delivery(), Delivery()
    threading.Timer(0.2, acked, args=(None, None)).start()
    t0 = time.monotonic()
    assert acked.get(5) is None and time.monotonic() - t0 >= 0.15
    refused(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE), None)
    with pytest.raises(KafkaException, match="MSG_SIZE_TOO_LARGE"):
        refused.get(5)
    with pytest.raises(DeliveryTimeout, match="0.1 s"):
        silent.get(0.1)
