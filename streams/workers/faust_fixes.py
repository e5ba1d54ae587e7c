"""Corrections to faust-streaming 0.15.3 (the installed version) that the crash test needs.

**Streams resumed before they are seeked** (`Recovery.on_recovery_completed`). After every
rebalance, once the tables are restored, faust 0.15.3 resumes the stream partitions first and
only then seeks them to their committed offsets (`consumer.perform_seek()`, a round trip to the
broker: 0.1-0.7 s under load), and after that resumes the flow, which empties every agent's
input queue (`flow_control.resume()` clears the queues it manages). The fetcher is running at
that point (table recovery started it and left the flow on), so:

1. records fetched between the resume and the seek are handed to the agents' queues, and the
   consumer's read offset moves past them;
2. the seek sets the read offset back to the committed offset; a record of a batch fetched
   before the seek that is handed over after it now looks like a jump ahead, and faust marks
   the offsets in between as acknowledged (a "gap", meant for offsets that hold no record);
3. the queue clear drops whatever the agents had not taken yet, and when the fetcher reads
   the partition again from the committed offset, every record below the read offset is
   dropped as already read.

The dropped records are never processed, and the gap lets their offsets be committed: events
lost with no error. faust-streaming upstream seeks first and resumes after (nothing can be
fetched before the seek). `apply()` restores that order.

**A gap includes the record that revealed it** (`Consumer._add_gap`): the interval added is
[first missing, current] inclusive, so the current record counts as acknowledged before it was
processed. Offsets in this pipeline are contiguous (no transactions, no compaction of consumed
topics), so a gap is a symptom of the race above; the correction keeps the interval to the
missing offsets and logs a warning, which makes any remaining jump visible in the worker log.

**A jump is re-read, not skipped** (`Consumer._drain_messages`). faust hands a record whose
offset lies more than one past the partition's read offset to the agents and counts the
offsets in between as done. With the seek order above the crash test still saw such a jump
once (`<app>-resolved[1]: offsets 2..2 skipped (a record at 3 follows)`, 1.6 s after "Worker
ready", with the worker made faster by GC tuning): some other path hands over records of a
fetch made before a seek (for one, faust's buffer-full flow control puts a partition back in
the fetch set without looking at whether a rebalance paused it). Whatever the path, the records
in between exist (offsets here are contiguous), so the drain loop now seeks the partition back
to the first missing offset and drops the record that revealed the jump, and the rest of that
fetch for the partition; they are all fetched again, in order. Only when the same jump comes
back in `REWINDS_BEFORE_GAP` successive fetches (offsets that really hold no record: a
transaction marker, a compacted or deleted range) is it taken as a gap, as faust does.

**The first offsets of a partition were never checked** (2026-12-03). faust's read offset
means two things: the drain loop stores the offset it last handed over, every seek (and the
seek to the committed offsets after a rebalance) stores the offset to read next. Its jump
check (`gap > 1 and r_offset`) therefore misses (a) a record skipped right after a seek (the
committed offset C is "read", so C+1 is one past it: no jump) and (b) offset 1 skipped after
offset 0 (a read offset of 0 is falsy). Found while chasing a crash-test loss of
`<app>-resolved` offsets 1-2; that loss turned out to be the start position below, and no run
has been shown to hit these two, but faust's loop loses the records in both (tests). Here the
read offset always means the next offset to read (the drain loop stores `offset + 1`), so any
record past it is a jump.

**A partition without a committed offset starts at its beginning.** aiokafka's
`seek_to_committed` does not move a partition that has no committed offset, and the crash test
saw the worker that took over after the kill start three `<app>-resolved` partitions at their
end: the killed worker's first commit never reached the broker, and the records it had written
there (offsets 0-2: merges, and events of several customers) were never processed, with
nothing logged. `consumer_auto_offset_reset="earliest"` is what the app asks for; after the
seek to the committed offsets, the partitions without one are sought to their earliest offset
(looked up, then an explicit seek: aiokafka's `seek_to_beginning` leaves the position unset
for a moment, and faust's livelock detector crashed a worker reading it then).

**A commit may pass an offset that was never acknowledged** (`Consumer._new_offset`): faust
refuses to commit when the lowest acknowledged offset is more than one past the committed
offset (`min(acked) - committed > 1`), but the committed offset is already the next offset to
read, so one unacknowledged record right after it was committed over. `_new_offset` here
refuses from one past: with the drain loop above no record is skipped, and should one be, the
commit waits (a repeat after a restart) instead of losing it. A held commit is logged, once
per partition and committed offset (`commit of ... held at`): one that lasts is a record never
handed over, and the group's lag on that partition stays until the worker restarts.

**Not a correction, a shortcut: records handed over by the list** (`consume_directly`). Every
record faust hands to an agent goes through the conductor, the topic's queue, the stream's
iterator, an `Event`, sensor calls and four tasks of `wait_first`: in a replay about a third of
the worker's main thread went to that for the one record per event of `cx.interactions.v1`.
A topic given to `consume_directly(app, topic, handler)` is handed over in lists instead: the
drain loop keeps the fetch's records of that topic (with every check above: read offset, jumps,
commits), calls `await handler(messages)` once per fetch and then acknowledges them, so the
commit covers them only after the handler has sent what they produce (and the commit waits for
the producer's deliveries, `streams.workers.delivery`). They count as unacknowledged while the
handler runs, so a rebalance (`stream_wait_empty`) waits for it; a fetch that ends with the
flow stopped (a rebalance began) is dropped unacknowledged, as faust drops a record whose
hand-over the flow stop interrupts, and read again from the committed offset.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

from aiokafka.structs import TopicPartition
from faust.tables.recovery import Recovery
from faust.transport.consumer import CONSUMER_FETCHING, Consumer
from faust.utils.functional import consecutive_numbers
from mode import Service

log = logging.getLogger(__name__)

_applied = [False]
# faust's own versions, kept for the regression tests (tests/streams/workers/test_faust_fixes.py).
ORIGINAL_ON_RECOVERY_COMPLETED = Recovery.on_recovery_completed
ORIGINAL_ADD_GAP = Consumer._add_gap
ORIGINAL_DRAIN_MESSAGES = Consumer._drain_messages
ORIGINAL_NEW_OFFSET = Consumer._new_offset
# A jump seen again from the same read offset in this many successive fetches is a real gap.
REWINDS_BEFORE_GAP = 3

DirectHandler = Callable[[list[Any]], Awaitable[None]]


def consume_directly(app: Any, topic: str, handler: DirectHandler) -> None:
    """Hand `topic`'s records (faust `Message`s: topic, partition, offset, key, value, raw) to
    `handler` one fetch at a time instead of to the agent subscribed to it (which must exist:
    it makes the app subscribe to the topic). Call before the worker starts."""
    cast(dict[str, DirectHandler], app.__dict__.setdefault("_omnicx_direct", {}))[topic] = handler


async def _hand_over(
    self: Any, direct: dict[str, DirectHandler], held: dict[str, list[Any]]
) -> None:
    """Give each directly consumed topic's records of one fetch to its handler, then
    acknowledge them; or drop them, unacknowledged, when the flow stopped (`consume_directly`)."""
    unacked = self._unacked_messages
    for topic, messages in held.items():
        if not self.flow_active:
            for message in messages:
                unacked.discard(message)
            continue
        await direct[topic](messages)
        for message in messages:
            self.ack(message)
    held.clear()


async def _on_recovery_completed(self: Any, generation_id: int = 0) -> None:
    """faust 0.15.3's `Recovery.on_recovery_completed`, with the stream partitions seeked to
    their committed offsets *before* they are resumed (as upstream does)."""
    consumer = self.app.consumer
    self.log.info("Restore complete!")
    await self.app.on_rebalance_complete.send()
    self._set_recovery_ended()
    callback_coros = [
        asyncio.ensure_future(
            table.on_recovery_completed(
                self.actives_for_table[table], self.standbys_for_table[table]
            )
        )
        for table in self.tables.values()
    ]
    if callback_coros:
        await asyncio.wait(callback_coros)
    assignment = consumer.assignment()
    if self.app.consumer_generation_id != generation_id:
        self.log.warning(
            f"Recovery rebalancing again app id {self.app.consumer_generation_id} "
            f"param {generation_id}"
        )
        return
    if assignment:
        # Seek while the stream partitions are still paused: nothing is fetched from them
        # before they stand at their committed offsets.
        self.log.info("Seek stream partitions to committed offsets.")
        await self._wait(consumer.perform_seek(), timeout=self.app.conf.broker_request_timeout)
        # aiokafka's seek_to_committed leaves a partition without a committed offset where
        # its position happens to be: the crash test saw the worker that took over start three
        # such partitions at their end (offsets 0-2, written by the killed worker, never
        # processed). The app says `consumer_auto_offset_reset="earliest"`: hold it to that.
        fresh = [
            TopicPartition(tp.topic, tp.partition)
            for tp in assignment
            if not self._is_changelog_tp(tp) and consumer._committed_offset.get(tp) is None
        ]
        if fresh:
            self.log.info(
                "Seek %d stream partitions without a commit to their beginning.", len(fresh)
            )
            # To the explicit earliest offsets, not `seek_to_beginning`: that one leaves the
            # position unset until the fetcher looks the offset up, and faust's livelock
            # detector reading the position in that window crashed the worker (aiokafka's
            # `assert self._position is not None`, the scale-out test, 2026-12-03).
            earliest: dict[Any, int] = {}

            async def look_up() -> None:  # (`Recovery._wait` returns no result)
                earliest.update(await consumer._thread.earliest_offsets(*fresh))

            await self._wait(look_up(), timeout=self.app.conf.broker_request_timeout)
            for tp in fresh:
                await consumer.seek(tp, earliest[tp])  # (also sets faust's read offset)
    self.completed.set()
    consumer.resume_partitions({tp for tp in assignment if not self._is_changelog_tp(tp)})
    # No await between the resume and the queue clear below: nothing fetched yet is dropped.
    self.app.flow_control.resume()
    consumer.resume_flow()
    await self.app._fetcher.maybe_start()
    self.tables.on_actives_ready()
    if not self.app.assignor.assigned_standbys():
        self.tables.on_standbys_ready()
    self.app.on_rebalance_end()
    self.log.info("Worker ready")


async def _add_gap(self: Any, tp: Any, offset_from: int, offset_to: int) -> None:
    """Offsets `offset_from` .. `offset_to - 1` hold no record: count them as acknowledged.

    `offset_to` is the record that revealed the gap; it is acknowledged when processed. The
    committed offset is the next one to read, so offsets below it are done and it is not.
    """
    log.warning(
        "offset jump on %s[%s]: offsets %d..%d skipped (a record at %d follows)",
        tp.topic,
        tp.partition,
        offset_from,
        offset_to - 1,
        offset_to,
    )
    committed = self._committed_offset[tp]
    gap_for_tp = self._gap[tp]
    if committed is not None:
        offset_from = max(offset_from, committed)
    if offset_from < offset_to:  # intervaltree intervals exclude their end
        gap_for_tp.addi(offset_from, offset_to)
        await asyncio.sleep(0)
        gap_for_tp.merge_overlaps()


def _new_offset(self: Any, tp: Any) -> int | None:
    """faust 0.15.3's `Consumer._new_offset` (the offset to commit for `tp`: one past the
    acknowledged offsets that follow the committed one without a hole), refusing a hole right
    after the committed offset too (faust let one unacknowledged offset through)."""
    acked = self._acked[tp]
    if not acked:
        return None
    max_offset = max(acked)
    gap_for_tp = self._gap[tp]
    if gap_for_tp:
        # Offsets that hold no record count as acknowledged (faust's, unchanged).
        candidates = sorted(gap_for_tp.overlap(0, max_offset), key=lambda x: x.begin)
        if candidates:
            stuff_to_add: list[int] = []
            for entry in candidates:
                stuff_to_add.extend(range(entry.begin, entry.end))
            new_max_offset = max(stuff_to_add[-1], max_offset + 1)
            acked.extend(stuff_to_add)
            gap_for_tp.chop(0, new_max_offset)
    acked.sort()
    committed_offset = self._committed_offset[tp]
    # The committed offset is the next one to read: it must itself be acknowledged.
    if committed_offset is not None and min(acked) > committed_offset:
        held = cast(dict[Any, int], self.__dict__.setdefault("_omnicx_held", {}))
        if held.get(tp) != committed_offset:  # once per partition and committed offset
            held[tp] = committed_offset
            log.warning(
                "commit of %s[%s] held at %d: that offset is not acknowledged yet (the lowest "
                "acknowledged is %d)",
                tp.topic,
                tp.partition,
                committed_offset,
                min(acked),
            )
        return None
    batch = next(consecutive_numbers(acked))
    acked[: len(batch)] = []
    self._acked_index[tp].difference_update(batch)
    return int(batch[-1]) + 1


@dataclass
class _Jump:
    """A jump being re-read on one partition: from which expected offset, in how many
    fetches."""

    expected: int
    fetches: int = 1
    in_this_fetch: bool = True


async def _rewind(self: Any, tp: Any, expected: int, offset: int, jumps: dict[Any, _Jump]) -> bool:
    """A record at `offset` came while the partition's next offset to read is `expected`: seek
    back to `expected` and say True (drop this record, it is fetched again), or say False when
    this jump has come back in `REWINDS_BEFORE_GAP` fetches (the offsets hold no record)."""
    jump = jumps.get(tp)
    if jump is not None and jump.expected == expected:
        if jump.in_this_fetch:  # the rest of a fetch already rewound: seeked once is enough
            return True
        jump.fetches += 1
        jump.in_this_fetch = True
        if jump.fetches >= REWINDS_BEFORE_GAP:
            del jumps[tp]
            return False
    else:
        jumps[tp] = _Jump(expected)
        log.warning(
            "offset jump on %s[%s]: offsets %d..%d not handed over (a record at %d came); "
            "reading again from %d",
            tp.topic,
            tp.partition,
            expected,
            offset - 1,
            offset,
            expected,
        )
    try:
        await self._seek(tp, expected)
    except Exception as exc:  # not assigned any more: its new owner reads from the commit
        log.warning("could not seek %s[%s] back to %d: %r", tp.topic, tp.partition, expected, exc)
    return True


async def _drain_messages(self: Any, fetcher: Any) -> None:
    """faust 0.15.3's `Consumer._drain_messages`, with the read offset meaning the next offset
    to read (as after a seek) and a jump past it re-read (`_rewind`) instead of counted as a
    gap, and the directly consumed topics handed over by the fetch (`consume_directly`).
    Otherwise line for line faust's."""
    callback = self.callback
    getmany = self.getmany
    consumer_should_stop = cast(Service, self)._stopped.is_set
    fetcher_should_stop = cast(Service, fetcher)._stopped.is_set

    get_read_offset = self._read_offset.__getitem__
    set_read_offset = self._read_offset.__setitem__
    flag_consumer_fetching = CONSUMER_FETCHING
    set_flag = self.diag.set_flag
    unset_flag = self.diag.unset_flag
    commit_every = self._commit_every
    acks_enabled_for = self.app.topics.acks_enabled_for
    jumps: dict[Any, _Jump] = {}
    direct = cast(dict[str, DirectHandler], self.app.__dict__.get("_omnicx_direct", {}))
    held: dict[str, list[Any]] = {}  # this fetch's records of the directly consumed topics
    track = self._unacked_messages.add

    yield_every = 100
    num_since_yield = 0
    sleep = asyncio.sleep

    try:
        while not (consumer_should_stop() or fetcher_should_stop()):
            set_flag(flag_consumer_fetching)
            ait = cast(Any, getmany(timeout=1.0))
            for jump in jumps.values():
                jump.in_this_fetch = False

            await self.sleep(0)
            if not self.should_stop:
                async for tp, message in ait:
                    num_since_yield += 1
                    if num_since_yield > yield_every:
                        await sleep(0)
                        num_since_yield = 0

                    offset = message.offset
                    expected = get_read_offset(tp)  # the next offset to read; None: unknown
                    if expected is None or offset >= expected:
                        if expected is not None and offset > expected:
                            if acks_enabled_for(message.topic):
                                if await _rewind(self, tp, expected, offset, jumps):
                                    continue
                                await self._add_gap(tp, expected, offset)
                        if commit_every is not None:
                            if self._n_acked >= commit_every:
                                self._n_acked = 0
                                await self.commit()
                        if message.topic in direct:
                            held.setdefault(message.topic, []).append(message)
                            track(message)
                        else:
                            await self.wait_first(callback(message), self.suspend_flow.wait())
                        set_read_offset(tp, offset + 1)
                    else:
                        self.log.dev(
                            "DROPPED MESSAGE ROFF %r: k=%r v=%r",
                            offset,
                            message.key,
                            message.value,
                        )
                if held:
                    await _hand_over(self, direct, held)
                unset_flag(flag_consumer_fetching)

    except self.consumer_stopped_errors:
        if self.transport.app.should_stop:
            self.log.info("Broker stopped consumer, shutting down...")
            return
        raise
    except asyncio.CancelledError:
        if self.transport.app.should_stop:
            self.log.info("Consumer shutting down for user cancel.")
            return
        raise
    except Exception as exc:
        self.log.exception("Drain messages raised: %r", exc)
        raise
    finally:
        unset_flag(flag_consumer_fetching)


def apply() -> None:
    """Install the corrections (idempotent; the worker calls it before building its app)."""
    if _applied[0]:
        return
    cast(Any, Recovery).on_recovery_completed = _on_recovery_completed
    cast(Any, Consumer)._add_gap = _add_gap
    cast(Any, Consumer)._drain_messages = _drain_messages
    cast(Any, Consumer)._new_offset = _new_offset
    _applied[0] = True
