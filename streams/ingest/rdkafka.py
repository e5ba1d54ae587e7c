"""A librdkafka producer (confluent-kafka) behind the pipeline's `Producer` interface.

kafka-python spends ~50 us of Python per record (partitioning, the accumulator, the record
builder, a future and a lock each), which was half of the HTTP endpoint's CPU; librdkafka does
the same in C on its own threads. The records are the same: idempotent, acks=all, lz4, keys
partitioned with the Java client's murmur2 (`murmur2_random`: the partition kafka-python's
`DefaultPartitioner` and `KeyHashPartitioner` choose for a keyed record), CloudEvents and DLQ
headers unchanged.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka import Producer as _RdProducer

from streams.ingest.kafka import ProducerConfig


class DeliveryTimeout(Exception):
    """The broker did not acknowledge a record in time."""


class Delivery:
    """The acknowledgement of one record: `get()` waits for it and raises if it failed (the
    kafka-python future's interface, which `Ingestor` uses)."""

    __slots__ = ("_waiter", "done", "error")

    def __init__(self) -> None:
        self.done = False
        self.error: KafkaError | None = None
        # Made only when a thread waits, so the delivery report wakes that thread alone.
        self._waiter: threading.Event | None = None

    def __call__(self, error: KafkaError | None, _message: Any) -> None:
        # librdkafka's delivery report, served by the poller thread (or by `flush`).
        self.error = error
        self.done = True
        waiter = self._waiter
        if waiter is not None:
            waiter.set()

    def get(self, timeout: float | None = None) -> None:
        """Wait until the broker acknowledged the record (or refused it)."""
        if not self.done:
            waiter = threading.Event()
            self._waiter = waiter
            # Checked again: the report may have come between the first check and the line
            # above, before it could see the waiter.
            if not self.done and not waiter.wait(timeout) and not self.done:
                raise DeliveryTimeout(f"no acknowledgement within {timeout:.1f} s")
        if self.error is not None:
            raise KafkaException(self.error)


class RdKafkaProducer:
    """`send` / `flush` / `close` over a confluent-kafka `Producer`, with one thread serving
    delivery reports (request threads only wait, each for its own records)."""

    def __init__(self, bootstrap: str, config: ProducerConfig) -> None:
        self._producer = _RdProducer(
            {
                "bootstrap.servers": bootstrap,
                "client.id": config.client_id,
                "acks": "all",
                "enable.idempotence": True,
                "compression.type": config.compression,
                "linger.ms": config.linger_ms,
                "batch.size": config.batch_size,
                "message.max.bytes": config.max_request_size,
                "request.timeout.ms": config.request_timeout_ms,
                # The Java client's choice for keyed records (kafka-python's too).
                "partitioner": "murmur2_random",
            }
        )
        # Fail at start-up, as kafka-python does, when no broker answers.
        try:
            self._producer.list_topics(timeout=config.bootstrap_timeout_ms / 1000)
        except KafkaException as exc:
            raise ConnectionError(f"no Kafka broker answered at {bootstrap}: {exc}") from exc
        self._closing = False
        self._poller = threading.Thread(target=self._poll, name="rdkafka-delivery", daemon=True)
        self._poller.start()

    def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> Delivery:
        """Queue one record; returns its `Delivery`."""
        delivery = Delivery()
        # confluent-kafka's stubs want list[tuple[str, str | bytes | None]] (list is invariant).
        rd_headers: Any = headers
        while True:
            try:
                self._producer.produce(topic, value, key, headers=rd_headers, on_delivery=delivery)
                return delivery
            except BufferError:
                # The local queue is full: let the poller drain delivery reports first.
                time.sleep(0.005)

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every queued record was acknowledged or failed."""
        left = self._producer.flush(-1 if timeout is None else timeout)
        if left:
            raise DeliveryTimeout(f"{left} records not acknowledged within {timeout} s")

    def close(self, timeout: float | None = None) -> None:
        """Flush (best effort within `timeout`) and stop the delivery thread."""
        try:
            self._producer.flush(-1 if timeout is None else timeout)
        finally:
            self._closing = True
            self._poller.join(timeout=5)

    def _poll(self) -> None:
        while not self._closing:
            self._producer.poll(0.05)
