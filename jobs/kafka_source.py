"""What the batch jobs ask Kafka directly (kafka-python): partition offsets, and the erasure
requests that make up the suppression list. Records themselves are read by Spark."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from jobs.errors import TopicMissing, TransientJobError
from schemas.erasure import ErasureRequest


@dataclass(frozen=True)
class TopicOffsets:
    """Earliest and end (next) offsets of every partition of a topic."""

    topic: str
    earliest: dict[int, int]
    end: dict[int, int]

    @property
    def total(self) -> int:
        """Records currently retained (end - earliest, summed)."""
        return sum(self.end[p] - self.earliest.get(p, 0) for p in self.end)


@contextmanager
def _consumer(bootstrap: str) -> Iterator[KafkaConsumer]:
    try:
        consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            client_id="omnicx-lakehouse",
            request_timeout_ms=20000,
            bootstrap_timeout_ms=10000,
        )
    except KafkaError as exc:
        raise TransientJobError(
            f"Kafka at {bootstrap} does not answer ({exc.__class__.__name__}); start it with "
            "'omnicx up' or set OMNICX_KAFKA_BOOTSTRAP"
        ) from exc
    try:
        yield consumer
    finally:
        consumer.close()


def topic_offsets(bootstrap: str, topic: str) -> TopicOffsets:
    """Earliest and end offsets of `topic`.

    Raises:
        TopicMissing: the topic does not exist.
        TransientJobError: Kafka does not answer.
    """
    with _consumer(bootstrap) as consumer:
        try:
            partitions = consumer.partitions_for_topic(topic)
            if not partitions:
                # Metadata for a topic can lag its creation by a moment; ask once more.
                consumer.topics()
                partitions = consumer.partitions_for_topic(topic)
            if not partitions:
                raise TopicMissing(
                    f"topic {topic} does not exist on {bootstrap}: run 'omnicx topics apply'"
                )
            tps = [TopicPartition(topic, p) for p in sorted(partitions)]
            earliest = consumer.beginning_offsets(tps)
            end = consumer.end_offsets(tps)
        except KafkaError as exc:
            raise TransientJobError(f"reading offsets of {topic} failed: {exc}") from exc
    return TopicOffsets(
        topic,
        {tp.partition: int(o) for tp, o in earliest.items()},
        {tp.partition: int(o) for tp, o in end.items()},
    )


def read_erasure_requests(bootstrap: str, topic: str) -> list[ErasureRequest]:
    """Every erasure request retained on `topic` (a compacted topic: the latest per customer).

    A missing topic means nobody was ever erased. Unparseable records are skipped: the erasure
    topic is written only by `omnicx erase`, and an unreadable request cannot suppress anything.
    """
    try:
        offsets = topic_offsets(bootstrap, topic)
    except TopicMissing:
        return []
    if offsets.total == 0:
        return []
    requests: dict[str, ErasureRequest] = {}
    with _consumer(bootstrap) as consumer:
        tps = [TopicPartition(topic, p) for p in offsets.end]
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, offsets.earliest[tp.partition])
        remaining = {tp for tp in tps if offsets.end[tp.partition] > offsets.earliest[tp.partition]}
        idle = 0
        while remaining and idle < 20:
            batch = consumer.poll(timeout_ms=500)
            idle = 0 if batch else idle + 1
            for tp, records in batch.items():
                for record in records:
                    if record.value is None:
                        requests.pop(record.key.decode() if record.key else "", None)
                        continue
                    try:
                        request = ErasureRequest.from_json_bytes(record.value)
                    except ValueError:
                        continue
                    requests[request.customer_id] = request
                if consumer.position(tp) >= offsets.end[tp.partition]:
                    remaining.discard(tp)
        if remaining:
            raise TransientJobError(f"could not read {topic} to its end (stuck at {remaining})")
    return list(requests.values())


def suppressed_hashes(bootstrap: str, topic: str) -> set[str]:
    """Identifier hashes of every erased customer: events carrying one are not ingested."""
    return {
        h for request in read_erasure_requests(bootstrap, topic) for h in request.identifier_hashes
    }
