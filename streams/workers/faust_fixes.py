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
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

from faust.tables.recovery import Recovery
from faust.transport.consumer import Consumer

log = logging.getLogger(__name__)

_applied = [False]
# faust's own versions, kept for the regression tests (tests/streams/workers/test_faust_fixes.py).
ORIGINAL_ON_RECOVERY_COMPLETED = Recovery.on_recovery_completed
ORIGINAL_ADD_GAP = Consumer._add_gap


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


def apply() -> None:
    """Install the corrections (idempotent; the worker calls it before building its app)."""
    if _applied[0]:
        return
    cast(Any, Recovery).on_recovery_completed = _on_recovery_completed
    cast(Any, Consumer)._add_gap = _add_gap
    _applied[0] = True
