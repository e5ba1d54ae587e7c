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
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

log = logging.getLogger(__name__)


class DeliveryFailed(RuntimeError):
    """A record sent before a commit was not acknowledged by the broker."""


class DeliveryTracker:
    """The delivery futures of records sent and not yet acknowledged."""

    def __init__(self) -> None:
        self._pending: set[asyncio.Future[Any]] = set()
        self._failed: BaseException | None = None

    def track(self, fut: Awaitable[Any]) -> None:
        """Remember `fut` (an aiokafka delivery future) until it resolves."""
        if not isinstance(fut, asyncio.Future):
            return  # already a result (e.g. a transactional send that was awaited)
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
