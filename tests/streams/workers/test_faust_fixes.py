"""The corrections to faust 0.15.3 (`streams.workers.faust_fixes`): after a rebalance the
stream partitions are seeked before they resume, and the queue clear follows the resume with
nothing fetched in between; a gap of offsets does not count the record that revealed it.

faust's own versions run through the same checks and fail them: that is the loss the crash
test found (docs/streams.md, "What a crash must not break")."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from types import SimpleNamespace
from typing import Any, cast

import pytest
from faust.types import TP
from intervaltree import IntervalTree

from streams.workers import faust_fixes

pytestmark = pytest.mark.unit

STREAM, CHANGELOG = TP("resolved", 0), TP("timelines-changelog", 0)


def _recovery(calls: list[tuple[str, int]], committed: dict | None = None) -> SimpleNamespace:
    """A Recovery's collaborators, recording each call with the number of event-loop turns
    taken so far (the fetcher can only hand records over while the loop turns)."""
    turns = [0]

    async def turn() -> None:
        turns[0] += 1
        await asyncio.sleep(0)

    def record(name: str) -> Any:
        def call(*_args: Any, **_kwargs: Any) -> None:
            calls.append((name, turns[0]))

        return call

    async def perform_seek() -> None:
        calls.append(("seek starts", turns[0]))
        await turn()  # a round trip to the broker
        calls.append(("seek done", turns[0]))

    async def wait(coro: Any, timeout: Any = None) -> None:
        await coro

    async def nothing(*_args: Any, **_kwargs: Any) -> None:
        await turn()

    async def earliest_offsets(*tps: Any) -> dict[Any, int]:
        await turn()  # a round trip to the broker
        return {tp: 4 for tp in tps}

    async def seek(tp: Any, offset: int) -> None:
        # Sets the position at once (aiokafka's `seek_to_beginning` leaves it unset until the
        # fetcher resolves it, and faust's livelock detector then trips over the None).
        calls.append((f"seek {tp.topic}[{tp.partition}] to {offset}", turns[0]))

    consumer = SimpleNamespace(
        assignment=lambda: {STREAM, CHANGELOG},
        resume_partitions=record("resume partitions"),
        perform_seek=perform_seek,
        resume_flow=record("resume flow"),
        _committed_offset=defaultdict(lambda: None, committed or {}),
        seek=seek,
        _thread=SimpleNamespace(earliest_offsets=earliest_offsets),
    )
    app = SimpleNamespace(
        consumer=consumer,
        consumer_generation_id=3,
        on_rebalance_complete=SimpleNamespace(send=nothing),
        conf=SimpleNamespace(broker_request_timeout=30),
        flow_control=SimpleNamespace(resume=record("clear queues")),
        _fetcher=SimpleNamespace(maybe_start=nothing),
        assignor=SimpleNamespace(assigned_standbys=lambda: set()),
        on_rebalance_end=lambda: None,
    )

    class Tables(dict):  # type: ignore[type-arg]
        def on_actives_ready(self) -> None: ...

        def on_standbys_ready(self) -> None: ...

    quiet = lambda *_a: None  # noqa: E731
    return SimpleNamespace(
        app=app,
        log=SimpleNamespace(info=quiet, warning=quiet, dev=quiet),
        tables=Tables(),
        actives_for_table={},
        standbys_for_table={},
        completed=SimpleNamespace(set=lambda: None),
        _set_recovery_ended=lambda: None,
        _wait=wait,
        _is_changelog_tp=lambda tp: tp == CHANGELOG,
    )


def _order(fn: Any, committed: dict | None = None) -> list[tuple[str, int]]:
    calls: list[tuple[str, int]] = []
    asyncio.run(fn(_recovery(calls, committed), 3))
    return calls


def _safe(calls: list[tuple[str, int]]) -> bool:
    """Seeked before resumed, and no loop turn between the resume and the queue clear."""
    at = {name: (i, turn) for i, (name, turn) in enumerate(calls)}
    return (
        at["seek done"][0] < at["resume partitions"][0]
        and at["resume partitions"][1] == at["clear queues"][1]
    )


def test_streams_are_seeked_before_they_resume() -> None:
    calls = _order(faust_fixes._on_recovery_completed, committed={STREAM: 7})
    assert [name for name, _ in calls] == [
        "seek starts",
        "seek done",
        "resume partitions",
        "clear queues",
        "resume flow",
    ]
    assert _safe(calls)


def test_a_stream_partition_without_a_commit_starts_at_its_beginning() -> None:
    # The changelog partition is recovery's business; the stream one has no committed offset.
    calls = _order(faust_fixes._on_recovery_completed)
    names = [name for name, _ in calls]
    assert names[:3] == ["seek starts", "seek done", "seek resolved[0] to 4"]
    assert names.index("seek resolved[0] to 4") < names.index("resume partitions")


def test_faust_0_15_3_resumes_before_it_seeks() -> None:
    calls = _order(faust_fixes.ORIGINAL_ON_RECOVERY_COMPLETED)
    names = [name for name, _ in calls]
    # Resumed while the seek is still in flight: records fetched then reach the agents'
    # queues, and the clear after the seek drops them.
    assert names.index("resume partitions") < names.index("seek done")
    assert not _safe(calls)


def _consumer() -> SimpleNamespace:
    return SimpleNamespace(
        _committed_offset=defaultdict(lambda: None), _gap=defaultdict(IntervalTree)
    )


class _TP(tuple):  # type: ignore[type-arg]
    topic = "resolved"
    partition = 0


def _gap_offsets(add_gap: Any, committed: int | None) -> set[int]:
    consumer = _consumer()
    tp = _TP(("resolved", 0))
    consumer._committed_offset[tp] = committed
    # The consumer read offset 4, then received offset 9: 5..8 hold no record.
    asyncio.run(add_gap(consumer, tp, 5, 9))
    return {o for iv in consumer._gap[tp] for o in range(iv.begin, iv.end)}


def test_a_gap_is_the_missing_offsets_only() -> None:
    assert _gap_offsets(faust_fixes._add_gap, None) == {5, 6, 7, 8}
    # The committed offset is the next to read: below it done, from it on not.
    assert _gap_offsets(faust_fixes._add_gap, 6) == {6, 7, 8}
    assert _gap_offsets(faust_fixes._add_gap, 9) == set()


def test_faust_0_15_3_counts_the_revealing_record_as_acknowledged() -> None:
    assert 9 in _gap_offsets(faust_fixes.ORIGINAL_ADD_GAP, None)


class _Message:
    """A record as the drain loop sees it (hashable by identity, as faust's are)."""

    def __init__(self, offset: int) -> None:
        self.offset, self.topic, self.key, self.value = offset, "resolved", None, None


class _Log:
    """One partition of a topic as the drain loop sees it through faust's `getmany`: a fetch
    hands over the records from the consumer's position, `_seek` moves the position. `stale`
    is one fetch made before a seek (or a list of such fetches): records past the read offset,
    the ones before them not handed over (what the crash test saw). `read` is the consumer's
    read offset at the start, as the drain loop under test stores it."""

    def __init__(
        self,
        offsets: list[int],
        stale: list[int] | list[list[int]],
        read: int | None,
        direct: bool = False,
    ):
        scripted = stale if stale and isinstance(stale[0], list) else [stale]
        self.offsets, self.scripted = offsets, cast(list[list[int]], scripted)
        self.position = self.scripted[-1][-1] + 1
        self.fetches = 0
        self.delivered: list[int] = []
        self.gaps: list[tuple[int, int]] = []
        self.seeks: list[int] = []
        self.tp = _TP(("resolved", 0))
        self.handed: list[list[int]] = []  # the lists a direct handler got, in order
        self.acked: list[int] = []
        self.unacked: set[Any] = set()
        stopped = SimpleNamespace(is_set=lambda: self.fetches >= 8)
        self.consumer = SimpleNamespace(
            callback=self._deliver,
            getmany=self._getmany,
            _stopped=stopped,
            _read_offset=defaultdict(lambda: None, {self.tp: read}),
            diag=SimpleNamespace(set_flag=lambda _f: None, unset_flag=lambda _f: None),
            _commit_every=None,
            app=SimpleNamespace(topics=SimpleNamespace(acks_enabled_for=lambda _t: True)),
            _unacked_messages=self.unacked,
            ack=self._ack,
            flow_active=True,
            sleep=self._sleep,
            should_stop=False,
            wait_first=self._wait_first,
            suspend_flow=SimpleNamespace(wait=self._never),
            _seek=self._seek,
            _add_gap=self._add_gap,
            consumer_stopped_errors=(),
            log=SimpleNamespace(dev=lambda *_a: None, info=lambda *_a: None),
        )
        self.fetcher = SimpleNamespace(_stopped=SimpleNamespace(is_set=lambda: False))
        if direct:
            faust_fixes.consume_directly(self.consumer.app, "resolved", self._handle)

    async def _handle(self, messages: list[Any]) -> None:
        assert all(m in self.unacked for m in messages)  # pending while the handler runs
        self.handed.append([m.offset for m in messages])
        self.delivered.extend(m.offset for m in messages)

    def _ack(self, message: Any) -> None:
        self.unacked.discard(message)
        self.acked.append(message.offset)

    async def _getmany(self, timeout: float) -> Any:
        self.fetches += 1
        if self.fetches <= len(self.scripted):
            batch = self.scripted[self.fetches - 1]
        else:
            batch = [o for o in self.offsets if o >= self.position]
            self.position = (batch[-1] + 1) if batch else self.position
        for offset in batch:
            yield self.tp, _Message(offset)

    async def _deliver(self, message: Any) -> None:
        self.delivered.append(message.offset)

    async def _wait_first(self, coro: Any, other: Any) -> None:
        other.close()  # the flow is never suspended here
        await coro

    async def _never(self) -> None:
        await asyncio.Event().wait()

    async def _sleep(self, _s: float) -> None:
        await asyncio.sleep(0)

    async def _seek(self, _tp: Any, offset: int) -> None:
        self.seeks.append(offset)
        self.position = offset

    async def _add_gap(self, _tp: Any, offset_from: int, offset_to: int) -> None:
        self.gaps.append((offset_from, offset_to))

    def drain(self, drain_messages: Any) -> _Log:
        asyncio.run(drain_messages(self.consumer, self.fetcher))
        return self


def test_a_jump_in_offsets_is_read_again() -> None:
    # Offsets 0 and 1 were processed (the next to read is 2); a fetch from before a seek hands
    # over 3, 4, 5 and not 2.
    log = _Log(list(range(10)), stale=[3, 4, 5], read=2).drain(faust_fixes._drain_messages)
    assert log.delivered == [2, 3, 4, 5, 6, 7, 8, 9]
    assert log.seeks and set(log.seeks) == {2}
    assert log.gaps == []


def test_faust_0_15_3_skips_the_jump() -> None:
    # faust's drain loop stores the offset it last handed over: 1.
    log = _Log(list(range(10)), stale=[3, 4, 5], read=1).drain(faust_fixes.ORIGINAL_DRAIN_MESSAGES)
    assert 2 not in log.delivered  # never processed, and counted as done:
    assert log.gaps == [(2, 3)]


def test_offsets_that_hold_no_record_become_a_gap_after_the_rewinds() -> None:
    # 2..4 really hold no record (say a deleted range): every fetch from 2 starts at 5.
    log = _Log([0, 1, 5, 6, 7], stale=[5, 6], read=2).drain(faust_fixes._drain_messages)
    assert log.delivered == [5, 6, 7]
    assert log.gaps == [(2, 5)]
    assert len(log.seeks) >= faust_fixes.REWINDS_BEFORE_GAP - 1


def test_offset_1_skipped_after_offset_0_is_read_again() -> None:
    # The crash test, killed 5 s into a replay on a fast machine: a fresh worker took
    # resolved[0]@0, then @2 on; faust's check (`gap > 1 and r_offset`) reads a read offset of
    # 0 as "unknown", so @1 was never processed, and committed.
    fetches = [[0], [2, 3]]
    log = _Log(list(range(6)), stale=fetches, read=None).drain(faust_fixes._drain_messages)
    assert log.delivered == [0, 1, 2, 3, 4, 5]
    assert log.seeks == [1] and log.gaps == []
    faust = _Log(list(range(6)), stale=fetches, read=None)
    assert 1 not in faust.drain(faust_fixes.ORIGINAL_DRAIN_MESSAGES).delivered


def test_a_record_skipped_right_after_a_seek_is_read_again() -> None:
    # A seek (to the committed offsets, after a rebalance) stores the next offset to read, 5;
    # faust's drain loop takes that for the last one read, and 6 for no jump.
    log = _Log(list(range(10)), stale=[6, 7], read=5).drain(faust_fixes._drain_messages)
    assert log.delivered == [5, 6, 7, 8, 9]
    faust = _Log(list(range(10)), stale=[6, 7], read=5)
    assert 5 not in faust.drain(faust_fixes.ORIGINAL_DRAIN_MESSAGES).delivered


def test_a_direct_topic_is_handed_over_a_fetch_at_a_time_then_acknowledged() -> None:
    log = _Log(list(range(10)), stale=[[0, 1, 2], [3, 4]], read=None, direct=True)
    log.drain(faust_fixes._drain_messages)
    assert log.handed == [[0, 1, 2], [3, 4], [5, 6, 7, 8, 9]]
    assert log.acked == list(range(10)) and not log.unacked


def test_a_direct_topic_jump_is_read_again() -> None:
    log = _Log(list(range(10)), stale=[3, 4, 5], read=2, direct=True)
    log.drain(faust_fixes._drain_messages)
    assert log.delivered == [2, 3, 4, 5, 6, 7, 8, 9] and log.gaps == []


def test_a_direct_fetch_that_ends_with_the_flow_stopped_is_dropped_unacknowledged() -> None:
    log = _Log(list(range(10)), stale=[[0, 1, 2]], read=None, direct=True)
    real_getmany = log._getmany

    async def getmany_then_stop(timeout: float) -> Any:
        async for item in real_getmany(timeout):
            yield item
        log.consumer.flow_active = False  # a rebalance began during this fetch

    log.consumer.getmany = getmany_then_stop
    log.drain(faust_fixes._drain_messages)
    assert log.handed == [] and log.acked == []
    assert not log.unacked  # not waited for by the rebalance: read again from the commit


def _committing(committed: int | None, acked: list[int]) -> tuple[SimpleNamespace, Any]:
    """A consumer's commit bookkeeping for one partition, and the partition."""
    tp = _TP(("resolved", 0))
    consumer = SimpleNamespace(
        _acked=defaultdict(list, {tp: list(acked)}),
        _acked_index=defaultdict(set, {tp: set(acked)}),
        _gap=defaultdict(IntervalTree),
        _committed_offset=defaultdict(lambda: None, {tp: committed}),
    )
    return consumer, tp


def _commit_offset(new_offset: Any, committed: int | None, acked: list[int]) -> int | None:
    return cast(int | None, new_offset(*_committing(committed, acked)))


def test_no_commit_passes_an_offset_that_was_not_acknowledged() -> None:
    # Committed 5 means 5 is the next to read: 6 and 7 acknowledged, 5 not.
    assert _commit_offset(faust_fixes._new_offset, 5, [6, 7]) is None
    assert _commit_offset(faust_fixes.ORIGINAL_NEW_OFFSET, 5, [6, 7]) == 8  # faust's: past 5
    assert _commit_offset(faust_fixes._new_offset, 5, [5, 6, 7]) == 8
    assert _commit_offset(faust_fixes._new_offset, 5, [5, 6, 9]) == 7
    assert _commit_offset(faust_fixes._new_offset, None, [0, 1]) == 2


def test_a_held_commit_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    consumer, tp = _committing(5, [6, 7])
    with caplog.at_level("WARNING", logger=faust_fixes.__name__):
        assert faust_fixes._new_offset(consumer, tp) is None
        assert faust_fixes._new_offset(consumer, tp) is None
    held = [r.getMessage() for r in caplog.records if "held at" in r.getMessage()]
    assert held == [
        "commit of resolved[0] held at 5: that offset is not acknowledged yet (the "
        "lowest acknowledged is 6)"
    ]
