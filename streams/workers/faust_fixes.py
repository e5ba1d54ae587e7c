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
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, cast

from faust.tables.recovery import Recovery
from faust.transport.consumer import CONSUMER_FETCHING, Consumer
from mode import Service

log = logging.getLogger(__name__)

_applied = [False]
# faust's own versions, kept for the regression tests (tests/streams/workers/test_faust_fixes.py).
ORIGINAL_ON_RECOVERY_COMPLETED = Recovery.on_recovery_completed
ORIGINAL_ADD_GAP = Consumer._add_gap
ORIGINAL_DRAIN_MESSAGES = Consumer._drain_messages
# A jump seen again from the same read offset in this many successive fetches is a real gap.
REWINDS_BEFORE_GAP = 3


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

    `offset_to` is the record that revealed the gap; it is acknowledged when processed.
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
        offset_from = max(offset_from, committed + 1)
    if offset_from < offset_to:  # intervaltree intervals exclude their end
        gap_for_tp.addi(offset_from, offset_to)
        await asyncio.sleep(0)
        gap_for_tp.merge_overlaps()


@dataclass
class _Jump:
    """A jump being re-read on one partition: from which read offset, in how many fetches."""

    r_offset: int
    fetches: int = 1
    in_this_fetch: bool = True


async def _rewind(self: Any, tp: Any, r_offset: int, offset: int, jumps: dict[Any, _Jump]) -> bool:
    """A record at `offset` came while the partition's read offset is `r_offset`: seek back
    to `r_offset + 1` and say True (drop this record, it is fetched again), or say False when
    this jump has come back in `REWINDS_BEFORE_GAP` fetches (the offsets hold no record)."""
    jump = jumps.get(tp)
    if jump is not None and jump.r_offset == r_offset:
        if jump.in_this_fetch:  # the rest of a fetch already rewound: seeked once is enough
            return True
        jump.fetches += 1
        jump.in_this_fetch = True
        if jump.fetches >= REWINDS_BEFORE_GAP:
            del jumps[tp]
            return False
    else:
        jumps[tp] = _Jump(r_offset)
        log.warning(
            "offset jump on %s[%s]: offsets %d..%d not handed over (a record at %d came); "
            "reading again from %d",
            tp.topic,
            tp.partition,
            r_offset + 1,
            offset - 1,
            offset,
            r_offset + 1,
        )
    try:
        await self._seek(tp, r_offset + 1)
    except Exception as exc:  # not assigned any more: its new owner reads from the commit
        log.warning(
            "could not seek %s[%s] back to %d: %r", tp.topic, tp.partition, r_offset + 1, exc
        )
    return True


async def _drain_messages(self: Any, fetcher: Any) -> None:
    """faust 0.15.3's `Consumer._drain_messages`, with a jump in offsets re-read (`_rewind`)
    instead of counted as a gap. Otherwise line for line faust's."""
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
                    r_offset = get_read_offset(tp)
                    if r_offset is None or offset >= r_offset:
                        gap = offset - (r_offset or 0)
                        if gap > 1 and r_offset:
                            if acks_enabled_for(message.topic):
                                if await _rewind(self, tp, r_offset, offset, jumps):
                                    continue
                                await self._add_gap(tp, r_offset + 1, offset)
                        if commit_every is not None:
                            if self._n_acked >= commit_every:
                                self._n_acked = 0
                                await self.commit()
                        await self.wait_first(callback(message), self.suspend_flow.wait())
                        set_read_offset(tp, offset)
                    else:
                        self.log.dev(
                            "DROPPED MESSAGE ROFF %r: k=%r v=%r",
                            offset,
                            message.key,
                            message.value,
                        )
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
    _applied[0] = True
