"""Offsets are committed only after every record sent before the commit was delivered.

faust commits consumed offsets right after `producer.flush()`. aiokafka's flush waits for the
batches sent so far, but it does not fail when one of them failed: a record the broker refused
(a timeline day over the broker's 1 MB `message.max.bytes`, a send that ran out of retries)
is logged, and the input offsets that produced it are committed anyway: the record is lost
with no second chance.

`DeliveryTracker` keeps the delivery future of every record the worker's producer sends
(faust's own table writes included: they go through the same `send`) and makes `flush()`
wait for all of them and raise if one failed, so the commit that would skip it does not
happen; the worker stops and its successor processes the input again.

`OpenBatches` appends a record straight to the producer's open batch for its partition and
hands back that batch's delivery future: aiokafka's `send` builds a coroutine, a future, a
metadata tuple and a done callback for every record, which was most of the cost of the ~3
records a stream worker sends per input event.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

from aiokafka.structs import TopicPartition

log = logging.getLogger(__name__)


class DeliveryFailed(RuntimeError):
    """A record sent before a commit was not acknowledged by the broker."""


class DeliveryTracker:
    """The delivery futures of records sent and not yet acknowledged."""

    def __init__(self) -> None:
        self._pending: set[asyncio.Future[Any]] = set()
        self._failed: BaseException | None = None

    def track(self, fut: Awaitable[Any]) -> None:
        """Remember `fut` (an aiokafka delivery future) until it resolves; tracking a future
        already tracked (a batch's, shared by its records) changes nothing."""
        if not isinstance(fut, asyncio.Future):
            return  # already a result (e.g. a transactional send that was awaited)
        if fut in self._pending:
            return
        if fut.done():
            self._settle(fut)
            return
        self._pending.add(fut)
        fut.add_done_callback(self._settle)

    def _settle(self, fut: asyncio.Future[Any]) -> None:
        self._pending.discard(fut)
        if fut.cancelled():
            self._failed = self._failed or DeliveryFailed("a record's delivery was cancelled")
        elif fut.exception() is not None:
            self._failed = self._failed or fut.exception()

    @property
    def pending(self) -> int:
        """Records sent and not yet acknowledged."""
        return len(self._pending)

    async def wait(self) -> None:
        """Wait until every record sent before this call is acknowledged.

        Raises:
            DeliveryFailed: a record tracked so far failed to deliver (the offsets of its input
                must not be committed; the worker stops and its successor re-processes).
        """
        if self._pending:
            await asyncio.wait(set(self._pending))
        if self._failed is not None:
            raise DeliveryFailed(f"a record was not delivered: {self._failed!r}") from (
                self._failed if isinstance(self._failed, Exception) else None
            )


def track_deliveries(producer: Any) -> DeliveryTracker:
    """Make a faust producer's `flush()` (what faust awaits before committing offsets) wait for
    every record sent through it, including those aiokafka already has in flight."""
    tracker = DeliveryTracker()
    # Instance attributes: faust looks `send` and `flush` up on the producer at each call
    # (`send_and_wait` and the send_soon buffer go through `send` too).
    send, flush = producer.send, producer.flush

    async def tracked_send(*args: Any, **kwargs: Any) -> Any:
        fut = await send(*args, **kwargs)
        tracker.track(fut)
        return fut

    async def flush_all() -> None:
        await flush()
        await tracker.wait()

    producer.send = tracked_send
    producer.flush = flush_all
    return tracker


class OpenBatches:
    """Appends records to the producer's open batch of their partition, past `send`.

    `append` is a plain call: when aiokafka's accumulator holds an open batch for the record's
    topic and partition, the record goes into that batch's builder (the C record builder, as
    `send` would put it there) and the batch's delivery future comes back, shared by every
    record of the batch. Otherwise (no batch open for the partition, the batch is full, the
    producer is closing or failed, the topic's metadata is not known yet) it returns None and
    the caller sends the record the usual way, which opens the next batch or waits for room,
    as aiokafka does. Records of a partition keep their order: both ways append to the
    partition's newest batch.

    The future is a shield over the batch's own (cancelling a waiter cannot cancel the batch)
    and resolves when the broker acknowledged the batch, or fails with the batch's error.
    """

    def __init__(self, producer: Any, partitioner: Any) -> None:
        """`producer`: a started `aiokafka.AIOKafkaProducer` without transactions;
        `partitioner`: its partitioner (records without a partition are placed by it)."""
        self._producer = producer
        self._acc = producer._message_accumulator
        self._partitioner = partitioner
        self._tps: dict[tuple[str, int], TopicPartition] = {}
        self._partitions: dict[str, list[int]] = {}

    def append(
        self,
        topic: str,
        partition: int | None,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]] | None,
    ) -> asyncio.Future[Any] | None:
        """The delivery future of the batch the record went into, or None (send it)."""
        acc = self._acc
        if acc._closed or acc._exception is not None:
            return None
        if partition is None:
            partitions = self._partitions.get(topic)
            if partitions is None:
                known = self._producer._metadata.partitions_for_topic(topic)
                if not known:
                    return None
                partitions = self._partitions[topic] = sorted(known)
            partition = self._partitioner(key, partitions, partitions)
        tp = self._tps.get((topic, partition))
        if tp is None:
            tp = self._tps[(topic, partition)] = TopicPartition(topic, partition)
        batches = acc._batches.get(tp)
        if not batches:
            return None
        batch = batches[-1]
        added = batch._builder.append(timestamp=None, key=key, value=value, headers=headers or [])
        if added is None:
            return None  # full (the builder closed itself): `send` waits for the next one
        shield: asyncio.Future[Any] | None = getattr(batch, "_omnicx_shield", None)
        if shield is None:
            shield = batch._omnicx_shield = asyncio.shield(batch.future)
        return shield
