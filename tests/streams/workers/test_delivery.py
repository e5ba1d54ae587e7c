"""Offsets are committed only after every record sent before was delivered: against the
real broker, aiokafka's flush (what faust awaits before a commit) passes over a record the
broker refused, the tracked flush raises; and the tracker's own bookkeeping. Records appended
to open batches (`OpenBatches`) keep their partition's order among records sent, land where
aiokafka's partitioner puts them, and a refused one fails the tracked flush too."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.structs import TopicPartition
from kafka import KafkaAdminClient, KafkaConsumer
from kafka.admin import NewTopic

from streams.workers.batches import cached_partitioner, partition_of
from streams.workers.delivery import (
    DeliveryFailed,
    DeliveryTracker,
    OpenBatches,
    track_deliveries,
)


def _topic(bootstrap: str) -> str:
    name = f"delivery-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(name, 1, 1)])
    finally:
        admin.close()
    return name


@pytest.mark.integration
def test_a_refused_record_fails_the_tracked_flush_where_aiokafka_flush_passes(
    bootstrap: str,
) -> None:
    class FaustLikeProducer:
        """The two methods faust's commit path uses, over a real aiokafka producer."""

        def __init__(self, producer: AIOKafkaProducer) -> None:
            self.producer = producer

        async def send(self, topic: str, value: bytes) -> asyncio.Future:  # type: ignore[type-arg]
            return await self.producer.send(topic, value)

        async def flush(self) -> None:
            await self.producer.flush()

    async def run() -> tuple[bool, BaseException | None]:
        # The worker's producer allows 8 MB requests; the broker keeps its 1 MB default.
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, max_request_size=8 * 1024 * 1024, acks="all"
        )
        await producer.start()
        try:
            faustlike = FaustLikeProducer(producer)
            topic = _topic(bootstrap)
            await producer.send_and_wait(topic, b"small")
            refused = await producer.send(topic, b"x" * 2_000_000)
            await producer.flush()  # what faust awaits before committing: no error
            plain_flush_passed = True
            tracker = track_deliveries(faustlike)
            await faustlike.send(topic, b"x" * 2_000_000)
            error: BaseException | None = None
            try:
                await faustlike.flush()
            except DeliveryFailed as exc:
                error = exc
            assert refused.done() and refused.exception() is not None
            assert tracker.pending == 0
            return plain_flush_passed, error
        finally:
            await producer.stop()

    plain_flush_passed, error = asyncio.run(run())
    assert plain_flush_passed
    assert isinstance(error, DeliveryFailed)
    assert "MessageSizeTooLarge" in str(error)


def test_tracker_waits_for_every_pending_future_and_forgets_settled_ones() -> None:
    async def run() -> list[int]:
        loop = asyncio.get_running_loop()
        tracker = DeliveryTracker()
        a, b = loop.create_future(), loop.create_future()
        tracker.track(a)
        tracker.track(b)
        seen = [tracker.pending]
        loop.call_later(0.01, a.set_result, 1)
        loop.call_later(0.02, b.set_result, 2)
        await tracker.wait()
        seen.append(tracker.pending)
        return seen

    assert asyncio.run(run()) == [2, 0]


def test_tracker_refuses_to_flush_past_a_failed_record() -> None:
    async def run() -> None:
        loop = asyncio.get_running_loop()
        tracker = DeliveryTracker()
        ok, bad = loop.create_future(), loop.create_future()
        tracker.track(ok)
        tracker.track(bad)
        ok.set_result(1)
        bad.set_exception(OSError("broker gone"))
        await tracker.wait()

    with pytest.raises(DeliveryFailed, match="broker gone"):
        asyncio.run(run())


def _topic_of(bootstrap: str, partitions: int) -> str:
    name = f"open-batches-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        admin.close()
    return name


def _read_all(bootstrap: str, topic: str, n: int) -> list[tuple[int, bytes | None, bytes | None]]:
    consumer = KafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=5000
    )
    try:
        out = []
        for record in consumer:
            out.append((record.partition, record.key, record.value))
            if len(out) == n:
                break
        return out
    finally:
        consumer.close()


@pytest.mark.integration
def test_open_batches_keep_order_with_send_and_place_keys_as_aiokafka_does(
    bootstrap: str,
) -> None:
    topic = _topic_of(bootstrap, 3)
    n = 3_000

    async def run() -> tuple[int, list[asyncio.Future]]:  # type: ignore[type-arg]
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, linger_ms=20, partitioner=cached_partitioner
        )
        await producer.start()
        try:
            batches = OpenBatches(producer, cached_partitioner)
            tracker = DeliveryTracker()
            appended = 0
            futures = []
            for i in range(n):
                key = f"k{i % 7}".encode()
                value = str(i).encode()
                partition = None if i % 2 else i % 3
                fut = batches.append(topic, partition, key, value, [("h", b"1")])
                if fut is None:
                    fut = await producer.send(topic, value, key=key, partition=partition)
                else:
                    appended += 1
                tracker.track(fut)
                futures.append(fut)
                if i % 500 == 0:
                    await asyncio.sleep(0.03)  # let batches go, so new ones open
            await tracker.wait()
            return appended, futures
        finally:
            await producer.stop()

    appended, futures = asyncio.run(run())
    assert all(f.done() and f.exception() is None for f in futures)
    # Most records went the short way (the first of each batch opens it through `send`).
    assert appended > n * 0.9
    records = _read_all(bootstrap, topic, n)
    assert len(records) == n
    for partition in range(3):
        values = [int(v) for p, _, v in records if p == partition and v is not None]
        assert values == sorted(values), "records of a partition out of order"
    for p, key, value in records:
        i = int(value or b"-1")
        expected = i % 3 if i % 2 == 0 else partition_of(key or b"", 3)
        assert p == expected, f"record {i} on partition {p}, not {expected}"


@pytest.mark.integration
def test_a_record_refused_in_an_open_batch_fails_the_tracked_flush(bootstrap: str) -> None:
    topic = _topic_of(bootstrap, 1)

    async def run() -> tuple[bool, BaseException | None]:
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            linger_ms=50,
            max_batch_size=4 * 1024 * 1024,
            max_request_size=8 * 1024 * 1024,
        )
        await producer.start()
        try:
            batches = OpenBatches(producer, cached_partitioner)
            tracker = DeliveryTracker()
            first = await producer.send(topic, b"opens the batch", partition=0)
            tracker.track(first)
            # Over the broker's 1 MB message.max.bytes, in the same (open) batch.
            fut = batches.append(topic, 0, None, b"x" * 1_500_000, None)
            went_short = fut is not None
            tracker.track(fut if fut is not None else await producer.send(topic, b"x"))
            error: BaseException | None = None
            try:
                await tracker.wait()
            except DeliveryFailed as exc:
                error = exc
            return went_short, error
        finally:
            await producer.stop()

    went_short, error = asyncio.run(run())
    assert went_short
    assert isinstance(error, DeliveryFailed)


def test_open_batches_leave_a_partition_without_an_open_batch_to_send() -> None:
    class Accumulator:
        _closed = False
        _exception = None
        _batches: dict[TopicPartition, list[object]] = {}

    class Metadata:
        def partitions_for_topic(self, topic: str) -> set[int] | None:
            return {0, 1} if topic == "known" else None

    class Producer:
        _message_accumulator = Accumulator()
        _metadata = Metadata()

    batches = OpenBatches(Producer(), cached_partitioner)
    assert batches.append("known", 0, b"k", b"v", None) is None
    assert batches.append("known", None, b"k", b"v", None) is None
    assert batches.append("unknown", None, b"k", b"v", None) is None
