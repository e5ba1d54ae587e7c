"""Offsets are committed only after every record sent before was delivered: against the
real broker, aiokafka's flush (what faust awaits before a commit) passes over a record the
broker refused, the tracked flush raises; and the tracker's own bookkeeping."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaProducer
from kafka import KafkaAdminClient
from kafka.admin import NewTopic

from streams.workers.delivery import DeliveryFailed, DeliveryTracker, track_deliveries


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
