"""The faust app: identity resolution and the unified timeline.

Flow (docs/streams.md has the picture):

1. `route` (cx.interactions.v1, 6 partitions): reject tombstones to cx.dlq.v1; forward the raw
   bytes to `<app>-identity-in`, a **single-partition** internal topic. Identity is a global
   property (an event on partition 2 can merge customers first seen on partitions 0 and 5), so
   one worker at a time owns the whole identity graph; the other workers share everything
   else. This is the pragmatic choice for one machine; the graph is changelog-backed, so the
   owner can move on a rebalance or crash.
2. `identity` (`<app>-identity-in`): parse and validate (rejects to cx.dlq.v1 with the source
   position `route` passed on); resolve the event's identifiers in the identity graph
   (two faust tables); publish links and merges on cx.identity.v1; send the event, and any
   merge/revive instructions, to `<app>-resolved` keyed by customer_id.
3. `timeline` (`<app>-resolved`, 6 partitions, keyed by customer_id): insert into the
   customer's timeline (faust table `timelines`, idempotent by event_id); a new event is
   published on cx.customer-events.v1 keyed by customer_id. A merge moves the merged
   customer's events to the survivor (re-sent through `<app>-resolved`) and leaves a redirect,
   so events still in flight for the old id follow too.

Delivery is at-least-once; every update is idempotent (identity: resolving an event twice
changes nothing; timeline: by event_id). Where a state change and a message must not be
separated by a crash (merges), the message is acknowledged by the broker before the state is
written, so a crash in between repeats the message rather than losing it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, MutableMapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faust
import orjson
from pydantic import ValidationError

from schemas import topics as T
from schemas.cloudevents import interaction_headers, signal_headers
from schemas.dlq import Rejection
from schemas.events import InteractionEvent
from streams.features.channel import ChannelResponseState, apply_response
from streams.features.customer import customer_features
from streams.features.state import CustomerState, FirstResponse
from streams.identity import IdentityGraph
from streams.identity.messages import updates_for
from streams.rules.config import RulesConfig
from streams.rules.engine import pending_deadline, step, tick
from streams.timeline import BucketedTimeline
from streams.workers.batches import (
    Source,
    cached_partitioner,
    group_by_partition,
    is_sources,
    pack_resolved,
    pack_sources,
    unpack_resolved,
    unpack_sources,
)
from streams.workers.config import (
    CHANNELS_TABLE,
    CUSTOMERS_TABLE,
    IDENTITY_COMPONENTS_TABLE,
    IDENTITY_JOURNAL_TABLE,
    IDENTITY_NODES_TABLE,
    TIMELINES_TABLE,
    StreamsConfig,
    first_responses_topic,
    identity_in_topic,
    resolved_topic,
    ticks_topic,
)
from streams.workers.delivery import DeliveryTracker, OpenBatches, track_deliveries
from streams.workers.erasure import register_erasure
from streams.workers.faust_fixes import apply as apply_faust_fixes
from streams.workers.faust_fixes import consume_directly
from streams.workers.journal import cleared, journal_records, pending_writes
from streams.workers.pacing import paced
from streams.workers.records import (
    RawEvent,
    customer_record,
    first_response_from_json,
    first_response_json,
    moved_event,
    raw_default,
    resolved_event,
)
from streams.workers.states import DecodedStates

log = logging.getLogger(__name__)


class Overlay(MutableMapping[str, Any]):
    """Writes buffered over a base mapping, applied by `commit()`: lets the identity agent
    compute a resolution, get its merge messages acknowledged, and only then change state."""

    _DELETED = object()

    def __init__(self, base: MutableMapping[str, Any]) -> None:
        self.base = base
        self.writes: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        if key in self.writes:
            value = self.writes[key]
            if value is self._DELETED:
                raise KeyError(key)
            return value
        return self.base[key]

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __setitem__(self, key: str, value: Any) -> None:
        self.writes[key] = value

    def __delitem__(self, key: str) -> None:
        self.writes[key] = self._DELETED

    def __iter__(self) -> Iterator[str]:
        raise NotImplementedError("the identity graph never iterates its maps in the worker")

    def __len__(self) -> int:
        raise NotImplementedError("the identity graph never sizes its maps in the worker")

    def commit(self) -> None:
        for key, value in self.writes.items():
            if value is self._DELETED:
                self.base.pop(key, None)
            else:
                self.base[key] = value
        self.writes.clear()


class WorkerApp(faust.App):
    """A faust app whose producer's `flush()` (awaited before every offset commit) waits for
    every record sent, in flight ones included (`streams.workers.delivery`)."""

    deliveries: DeliveryTracker | None = None

    def _new_producer(self) -> Any:
        producer = super()._new_producer()
        self.deliveries = track_deliveries(producer)
        return producer


def build_app(
    config: StreamsConfig,
    bootstrap: str,
    worker: int = 1,
    rules: RulesConfig | None = None,
) -> faust.App:
    """The faust app for worker number `worker` (1-based; decides the web port and data dir)."""
    apply_faust_fixes()  # streams seeked before they resume after a rebalance (see module)
    rules = rules or RulesConfig()
    active_rules: RulesConfig = rules  # (named for the nested class: mypy's narrowing)
    datadir = Path(config.data_dir) / f"worker-{worker}"
    datadir.mkdir(parents=True, exist_ok=True)
    app = WorkerApp(
        config.app_id,
        broker=f"kafka://{bootstrap}",
        store="memory://",
        # at-least-once, not exactly_once: faust's transactional mode has open duplicate/loss
        # bugs; every update below is idempotent instead.
        processing_guarantee="at_least_once",
        topic_partitions=T.STREAM_PARTITIONS,
        topic_replication_factor=config.topic_replication_factor,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=config.commit_interval_s,
        web_enabled=True,
        web_host=config.web_host,
        web_port=config.web_port_of(worker),
        web_bind=config.web_host,
        datadir=str(datadir),
        key_serializer="raw",
        value_serializer="raw",
        # On a rebalance, finish the batch in hand (its writes flushed, its offsets
        # committed) before giving partitions up: otherwise the old owner can still write a
        # customer's timeline after the new owner restored it, and overwrite newer records.
        stream_wait_empty=True,
        # Fewer, larger produce requests: per-request overhead dominated before batching.
        producer_linger=0.02,
        producer_max_batch_size=1024 * 1024,
        producer_max_request_size=8 * 1024 * 1024,
        producer_partitioner=cached_partitioner,
        # A standby replica only helps when another worker can take over.
        table_standby_replicas=1 if config.workers > 1 else 0,
    )
    retention_s = config.timeline_retention_days * 86400.0
    # Names this worker on the records it writes to internal topics and changelogs, so a
    # crash test can tell who wrote what.
    origin = [(WORKER_HEADER, f"{worker}/{os.getpid()}".encode())]

    open_batches: list[OpenBatches] = []

    async def send(
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partition: int | None = None,
        headers: Any = None,
    ) -> Any:
        """Send one record through the app's producer (the tracked one, `WorkerApp`); returns
        its delivery future. faust's `Topic.send` builds a FutureMessage, a PendingMessage and
        sensor calls around the same producer call: a third of the worker's time per record.
        A record that fits the producer's open batch of its partition goes straight into it
        (`streams.workers.delivery.OpenBatches`; the future is then the batch's)."""
        if config.open_batches:
            if not open_batches:
                # faust's aiokafka Producer (typed as the ProducerT protocol) holds the
                # aiokafka producer behind `_ensure_producer()`.
                transport_producer: Any = app.producer
                open_batches.append(
                    OpenBatches(transport_producer._ensure_producer(), cached_partitioner)
                )
            fut = open_batches[0].append(topic, partition, key, value, headers)
            if fut is not None:
                assert app.deliveries is not None
                app.deliveries.track(fut)
                return fut
        return await app.producer.send(topic, key, value, partition, None, headers)

    interactions = app.topic(config.interactions_topic, key_type=bytes, value_type=bytes)
    identity_in = app.topic(
        identity_in_topic(config.app_id),
        partitions=1,
        internal=True,
        key_type=bytes,
        value_type=bytes,
    )
    resolved = app.topic(
        resolved_topic(config.app_id),
        partitions=T.STREAM_PARTITIONS,
        internal=True,
        key_type=bytes,
        value_type=bytes,
    )
    dlq = app.topic(config.dlq_topic, key_type=bytes, value_type=bytes)
    first_responses = app.topic(
        first_responses_topic(config.app_id),
        partitions=T.STREAM_PARTITIONS,
        internal=True,
        key_type=bytes,
        value_type=bytes,
    )
    ticks = app.topic(
        ticks_topic(config.app_id),
        partitions=T.STREAM_PARTITIONS,
        internal=True,
        key_type=bytes,
        value_type=bytes,
    )

    # Tables: keys and values are JSON in the changelog (faust's default for untyped tables);
    # the Customer API reads those changelogs (streams/api/state.py).
    table_kw: dict[str, Any] = {}
    nodes = app.Table(IDENTITY_NODES_TABLE, partitions=1, **table_kw)
    components = app.Table(IDENTITY_COMPONENTS_TABLE, partitions=1, **table_kw)
    journal = app.Table(IDENTITY_JOURNAL_TABLE, partitions=1, **table_kw)
    timelines = app.Table(TIMELINES_TABLE, partitions=T.STREAM_PARTITIONS, **table_kw)
    customers = app.Table(CUSTOMERS_TABLE, partitions=T.STREAM_PARTITIONS, **table_kw)
    channels = app.Table(CHANNELS_TABLE, partitions=T.STREAM_PARTITIONS, **table_kw)
    # Customers with an unanswered public post: customer_id -> wall-clock deadline (epoch s).
    # In memory only: rebuilt from the customers table after a restart (see `tick_pending`).
    deadlines: dict[str, float] = {}
    # Feature states kept decoded between batches, while the table holds what they wrote.
    states = DecodedStates(config.decoded_states_kept)
    deadlines_loaded = [False]

    async def reject(
        key: bytes | None,
        value: bytes | None,
        exc: Exception,
        partition: int,
        offset: int,
        stage: str = "identity",
        source_topic: str = config.interactions_topic,
    ) -> None:
        rejection = Rejection(
            stage=stage,
            error_class=type(exc).__name__,
            message=(str(exc).splitlines() or [repr(exc)])[0][:500],
            source_topic=source_topic,
            source_partition=partition,
            source_offset=offset,
            rejected_at=datetime.now(UTC).isoformat(),
        )
        await dlq.send(key=key, value=value or b"", headers=rejection.headers())

    async def route_batch(records: list[Any]) -> None:
        """Forward input records (faust messages or events: partition, offset, key, raw value)
        to `<app>-identity-in` with their source position, one record per batch
        (`streams.workers.batches`); the identity agent parses (once) and rejects what does
        not validate. Tombstones go to the DLQ here."""
        sources: list[Source] = []
        for record in records:
            if record.value is None:
                await reject(
                    record.key,
                    None,
                    ValueError("empty record (tombstone) on cx.interactions.v1"),
                    record.partition,
                    record.offset,
                )
                continue
            sources.append((record.partition, record.offset, record.key, record.value))
        for start in range(0, len(sources), config.batch_max):
            for value in pack_sources(sources[start : start + config.batch_max]):
                await send(identity_in.get_topic_name(), None, value, 0, origin)

    @app.agent(interactions)
    async def route(stream: Any) -> None:
        # With `direct_input` (the default) the drain loop hands this topic's records to
        # `route_batch` itself, a fetch at a time, and this stream gets none
        # (`streams.workers.faust_fixes.consume_directly`); the agent still subscribes the app.
        async for batch in stream.take_events(config.batch_max, within=config.batch_within_s):
            await route_batch([event.message for event in batch])

    if config.direct_input:
        consume_directly(app, config.interactions_topic, route_batch)

    @app.agent(identity_in)
    async def identity(stream: Any) -> None:
        try:
            await identity_batches(stream)
        except Exception as exc:
            _stop_unacknowledged(exc)

    graph_tables = {"nodes": nodes, "components": components}

    async def identity_batches(stream: Any) -> None:
        async for batch in stream.take_events(config.batch_max, within=config.batch_within_s):
            cut = pending_writes(journal)
            if cut is not None:
                # A batch's graph writes cut by a crash: finish them before resolving anything.
                log.warning("identity graph: applying a cut batch's journal (%d writes)", len(cut))
                part0 = batch[-1].message.partition
                await _write_graph(send, graph_tables, journal, cut, part0, origin)
            # One overlay per batch: the graph's changelog gets one write per changed key per
            # batch, after the batch's merge messages are acknowledged.
            node_view, comp_view = Overlay(nodes), Overlay(components)
            graph = IdentityGraph(node_view, comp_view)
            pending = []
            merged = False
            # (customer_id, message) for `<app>-resolved`, sent as one record per partition.
            out_msgs: list[tuple[str, dict[str, Any]]] = []
            for partition, offset, key, value in _sources_of(batch):
                try:
                    ev = InteractionEvent.from_json_bytes(value)
                except (ValidationError, ValueError) as exc:
                    await reject(key, value, exc, partition, offset)
                    continue
                res = graph.resolve([i.key for i in ev.identifiers], ev.occurred_at)
                for upd in updates_for(res, ev.event_id, ev.occurred_at):
                    pending.append(
                        await send(config.identity_topic, upd.key.encode(), upd.to_json_bytes())
                    )
                for cid in res.revived:
                    # Tombstone: an id merged away earlier lives again.
                    pending.append(await send(config.identity_topic, cid.encode(), None))
                    out_msgs.append((cid, {"t": "revive"}))
                for old, new in res.merges:
                    merged = True
                    out_msgs.append((old, {"t": "merge", "to": new}))
                # Serialised once, here: the timeline agent validates these bytes, publishes
                # them and keeps them in the timeline (`streams.workers.records.RawEvent`).
                ev.customer_id = res.customer_id
                raw = RawEvent(ev.to_json_bytes())
                out_msgs.append((res.customer_id, {"t": "event", "e": raw}))
            pending.extend(await send_resolved(out_msgs))
            if merged:
                # Merges must reach the broker before the graph records them (see module doc).
                for fut in pending:
                    await fut
            part = batch[-1].message.partition
            # Two changelog topics: all or nothing through the journal (`_write_graph`).
            writes = [
                (table, key, None if value is Overlay._DELETED else value)
                for phase in graph_write_phases(node_view.writes, comp_view.writes)
                for table, key, value in phase
            ]
            node_view.writes.clear()
            comp_view.writes.clear()
            if writes:
                await _write_graph(send, graph_tables, journal, writes, part, origin)

    async def send_resolved(items: list[tuple[str, dict[str, Any]]]) -> list[Any]:
        """Send `(customer_id, message)` pairs to `<app>-resolved`, one record per partition
        (`streams.workers.batches`); returns the delivery futures."""
        futs = []
        for partition, pairs in group_by_partition(items, T.STREAM_PARTITIONS).items():
            for value in pack_resolved(pairs):
                futs.append(await send(resolved.get_topic_name(), None, value, partition, origin))
        return futs

    @app.agent(resolved)
    async def timeline(stream: Any) -> None:
        async for batch in stream.take_events(config.batch_max, within=config.batch_within_s):
            # Per customer (a customer's messages share a partition), in arrival order: the
            # customer's timeline and feature state are read once and written once per batch.
            groups: dict[str, list[tuple[Any, dict[str, Any]]]] = {}
            for event in batch:
                for cid, msg in unpack_resolved(event.key, event.value):
                    groups.setdefault(cid, []).append((event, msg))
            acks: list[Any] = []
            forward: list[tuple[str, dict[str, Any]]] = []
            responses: list[FirstResponse] = []
            writes: list[Any] = []
            for cid, items in groups.items():
                try:
                    writes.append(await timeline_group(cid, items, forward, responses))
                except Exception as exc:
                    # Raising would make faust acknowledge the whole batch (take_events acks
                    # in a `finally`), silently: the customer's records go to the DLQ instead,
                    # and the other customers of the batch are written.
                    log.exception("timeline: customer %s failed; %d records", cid, len(items))
                    for event, msg in items:
                        await reject(
                            cid.encode(),
                            orjson.dumps(msg, default=raw_default),
                            exc,
                            event.message.partition,
                            event.message.offset,
                            stage="timeline",
                            source_topic=event.message.topic,
                        )
            try:
                # First responses: one record per channel and batch (the channel agent reads
                # lists), not acknowledged before the writes: nothing here depends on them.
                by_channel: dict[str, list[dict[str, Any]]] = {}
                for fr in responses:
                    by_channel.setdefault(fr.channel, []).append(first_response_json(fr))
                for channel, frs in by_channel.items():
                    await send(responses_name, channel.encode(), _envelope_list(frs))
                acks.extend(await send_resolved(forward))
                # Moves (merges) are acknowledged before they are recorded.
                for fut in acks:
                    await fut
                for write in writes:
                    await write()
            except Exception as exc:
                _stop_unacknowledged(exc)

    async def timeline_group(
        cid: str,
        items: list[tuple[Any, dict[str, Any]]],
        forward: list[tuple[str, Any]],
        responses: list[FirstResponse],
    ) -> Any:
        """Apply one customer's messages of a batch; returns the write to do once the batch's
        forwarded messages (`forward`, extended on success, as `responses`, the first
        responses) are acknowledged."""
        # The tables' stores themselves (`_put` writes them): faust's Mapping interface runs
        # a sensor per read.
        tl = BucketedTimeline(cid, timelines.data.get(cid), timelines.data.get)
        rules_run = RulesRun(cid)
        moved: list[tuple[str, dict[str, Any]]] = []
        for _event, msg in items:
            kind = msg["t"]
            if kind == "revive":
                tl.revive()
            elif kind == "merge":
                to = msg["to"]
                if to == cid:
                    continue
                moved.extend((to, _moved(entry["e"], to)) for entry in tl.move_to(to))
            elif tl.head["to"] is not None:
                # Already merged away: the event follows its customer.
                to = tl.head["to"]
                moved.append((to, _moved(msg["e"], to)))
            else:
                # Written by the identity agent from the event it validated; built again
                # from its bytes (the cheapest way, pydantic's validator), which are what is
                # published and kept.
                ev, raw = resolved_event(msg["e"])
                entry = {"ts": ev.occurred_at.timestamp(), "id": ev.event_id, "e": msg["e"]}
                if tl.insert(entry, retention_s):
                    # Publish before recording: a crash in between repeats the publication
                    # (at-least-once) instead of losing it.
                    await send(
                        config.customer_events_topic,
                        cid.encode(),
                        raw,
                        headers=interaction_headers(ev),
                    )
                # Features and rules run on repeats too: they are idempotent by event_id and
                # re-send a repeated event's signals in case the first sending was lost.
                await rules_run.step(ev)
        forward.extend(moved)
        responses.extend(rules_run.responses)
        # Changelog partition: the customer's own (a customer's messages share a partition).
        part = items[0][0].message.partition

        async def write() -> None:
            await rules_run.finish(part)
            # New buckets, the head, then tombstones (`BucketedTimeline.records`): tombstones
            # before the head left, after a kill during a merge, a head naming deleted buckets.
            for key, value in tl.records():
                if value is None:
                    await _delete(send, timelines, part, key, origin)
                else:
                    await _put(send, timelines, part, key, value, origin)

        return write

    class RulesRun:
        """Features and rules for a customer's events in one batch: the state is decoded
        once, and the record written once (idempotent by event_id: a repeated event changes
        nothing and re-sends the signals it raised, same ids)."""

        def __init__(self, cid: str) -> None:
            self.cid = cid
            self.record: dict[str, Any] | None = None
            self.state: CustomerState | None = None
            self.raised: list[Any] = []
            self.dirty = False  # an event changed the state or raised: write the record
            self.responses: list[FirstResponse] = []

        async def step(self, ev: InteractionEvent) -> None:
            cid = self.cid
            if self.state is None:
                self.record = customers.data.get(cid) or None
                self.state = states.take(cid, self.record)
            # Features once per batch (in `finish`), not per event: only the last are kept.
            update, raised = step(self.state, ev, active_rules, with_features=False)
            for sig in raised:
                await send(
                    config.signals_topic,
                    cid.encode(),
                    sig.to_json_bytes(),
                    headers=signal_headers(sig),
                )
            self.responses.extend(update.first_responses)
            if update.changed or raised:
                self.dirty = True
                self.raised.extend(raised)

        async def finish(self, partition: int) -> None:
            if self.state is None:
                return
            if self.dirty:
                # The features after the batch's last event: the events that changed nothing
                # after it (duplicates) leave the features as they were.
                record = customer_record(
                    self.record,
                    self.state.to_dict(),
                    customer_features(self.state),
                    self.raised,
                    config.signals_kept,
                )
                await _put(send, customers, partition, self.cid, record, origin)
                states.keep(self.cid, record, self.state)
            due = pending_deadline(self.state, active_rules)
            if due is None:
                deadlines.pop(self.cid, None)
            else:
                deadlines[self.cid] = due.timestamp()

    responses_name = first_responses.get_topic_name()

    @app.agent(first_responses)
    async def channel_response(stream: Any) -> None:
        try:
            await channel_batches(stream)
        except Exception as exc:
            _stop_unacknowledged(exc)

    async def channel_batches(stream: Any) -> None:
        # A record holds a list of first responses of one channel (or one, written before);
        # each channel's state is read once and written once per batch.
        async for batch in stream.take_events(config.batch_max, within=config.batch_within_s):
            states: dict[str, tuple[ChannelResponseState, int]] = {}
            changed: set[str] = set()
            for event in batch:
                data = orjson.loads(event.value)
                for item in data if isinstance(data, list) else [data]:
                    fr = first_response_from_json(item)
                    if fr.channel not in states:
                        record = channels.get(fr.channel)
                        state = (
                            ChannelResponseState.from_dict(record)
                            if record
                            else ChannelResponseState(fr.channel)
                        )
                        states[fr.channel] = (state, event.message.partition)
                    if apply_response(states[fr.channel][0], fr):
                        changed.add(fr.channel)
            for channel in changed:
                state, part = states[channel]
                await _put(send, channels, part, channel, state.to_dict(), origin)

    @app.agent(ticks)
    async def clock(stream: Any) -> None:
        async for event in stream.events():
            cid = event.key.decode()
            now = datetime.fromtimestamp(orjson.loads(event.value)["now"], UTC)
            record = customers.data.get(cid)  # the store, as the timeline agent reads it
            if not record:
                continue
            state = states.take(cid, record)
            raised = tick(state, now, rules)
            for sig in raised:
                await send(
                    config.signals_topic,
                    cid.encode(),
                    sig.to_json_bytes(),
                    headers=signal_headers(sig),
                )
            new = customer_record(
                record, state.to_dict(), record["features"], raised, config.signals_kept
            )
            # The tick's partition is the customer's (both keyed by customer_id), as faust's
            # `customers[cid] = ...` would choose; sent like the timeline agent's writes.
            await _put(send, customers, event.message.partition, cid, new, origin)
            states.keep(cid, new, state)

    @app.timer(interval=config.tick_interval_s)
    async def tick_pending() -> None:
        """Wall-clock time advances the clock rules for customers with pending posts."""
        if not deadlines_loaded[0]:
            # After a restart: find pending customers in the state this worker holds (paced
            # like the ticks: every customer is decoded once).
            held = list(customers.data.items())
            async for cid, record in paced(held, config.tick_rate_per_s * 5, chunk=100):
                due = pending_deadline(CustomerState.from_dict(record["state"]), rules)
                if due is not None:
                    deadlines[cid] = due.timestamp()
            deadlines_loaded[0] = True
        now = datetime.now(UTC).timestamp()
        due_now = [cid for cid, deadline in deadlines.items() if deadline <= now]
        # Spread over time: after a replay hundreds are due at once, and the clock agent's
        # burst held up the live pipeline (streams.workers.pacing).
        async for cid in paced(due_now, config.tick_rate_per_s):
            if deadlines.get(cid, now + 1) <= now:
                deadlines.pop(cid, None)
                await ticks.send(key=cid.encode(), value=_envelope({"now": now}))

    register_erasure(  # cx.erasures.v1
        app, config, nodes, components, timelines, customers, forget=states.forget
    )
    return app


def _stop_unacknowledged(exc: BaseException) -> None:
    """Stop the worker at once, without acknowledging the batch in hand.

    An exception escaping an agent that takes batches makes faust acknowledge the whole batch
    (`take_events` acks in a `finally`) and restart the agent: its records would be committed
    unprocessed, i.e. lost. Exiting instead leaves the offsets uncommitted, so the worker that
    takes over (or this one, restarted) processes the batch again.
    """
    log.critical("stopping without committing the batch in hand: %r", exc, exc_info=exc)
    logging.shutdown()
    os._exit(70)


_SOURCE_HEADER = "omnicx-source"
WORKER_HEADER = "omnicx-worker"
"""Header naming the worker that wrote an internal or changelog record (crash diagnostics)."""


def _sources_of(batch: Any) -> Iterator[Source]:
    """The input records carried by a batch of `<app>-identity-in` records: batches of
    `route` (`streams.workers.batches`), or single records with a source header (before)."""
    for event in batch:
        if is_sources(event.value):
            yield from unpack_sources(event.value)
        else:
            partition, offset = _source_of(event.message.headers)
            yield partition, offset, event.key, event.value


def _source_of(headers: Any) -> tuple[int, int]:
    """(partition, offset) on the interactions topic, from the header `route` adds."""
    pairs = headers.items() if isinstance(headers, dict) else (headers or [])
    for key, value in pairs:
        if key == _SOURCE_HEADER:
            partition, offset = value.decode().split(":")
            return int(partition), int(offset)
    return -1, -1


async def _put(
    send: Any, table: Any, partition: int, key: str, value: Any, headers: list[tuple[str, bytes]]
) -> Any:
    """`table[key] = value`, with the changelog record sent straight to the producer; returns
    the record's delivery future.

    faust's `__setitem__` queues the changelog record in a buffer drained one record at a
    time, and stops consuming to flush it whenever it holds more than 100 records; a batch
    writes hundreds of keys at once. The record and the store are the same as faust's own
    (recovery reads it back unchanged); `partition` is the source record's partition, as
    faust would choose (tables are co-partitioned with the agent's topic).
    """
    table.data[key] = value
    return await send(
        table.changelog_topic.get_topic_name(), _json(key), _json(value), partition, headers
    )


async def _delete(
    send: Any, table: Any, partition: int, key: str, headers: list[tuple[str, bytes]]
) -> Any:
    """`del table[key]` (a tombstone in the changelog), sent as `_put` sends (None when the
    key was not there)."""
    if key not in table.data:
        return None
    del table.data[key]
    return await send(table.changelog_topic.get_topic_name(), _json(key), None, partition, headers)


def graph_write_phases(
    node_writes: dict[str, Any], comp_writes: dict[str, Any]
) -> list[list[tuple[str, str, Any]]]:
    """The identity graph's writes of one batch as (table, key, value) phases, value
    `Overlay._DELETED` for a deletion: components written, then nodes, then components
    deleted.

    The graph lives in two changelog topics, so a worker killed while writing can leave any
    part of each topic's records delivered. The journal (`_write_graph`,
    `streams.workers.journal`) makes the worker that takes over finish the batch's writes
    before it resolves anything. Until then, and for other readers of the changelogs
    (`omnicx erase`), this order keeps the likeliest cuts readable: a node pointing at a
    component that is not there yet is rarer when components go first.
    """
    deleted = Overlay._DELETED
    phases = [
        [("components", k, v) for k, v in comp_writes.items() if v is not deleted],
        [("nodes", k, v) for k, v in node_writes.items()],
        [("components", k, v) for k, v in comp_writes.items() if v is deleted],
    ]
    return [phase for phase in phases if phase]


async def _write_graph(
    send: Any,
    tables: dict[str, Any],
    journal: Any,
    writes: list[tuple[str, str, Any]],
    partition: int,
    headers: list[tuple[str, bytes]],
) -> None:
    """A batch's graph writes, all or nothing (`streams.workers.journal`): the journal, then
    (once it is delivered) the writes, then (once those are) the journal's deletion. `writes`
    in `graph_write_phases` order (value None: a deletion)."""
    records = journal_records(writes)
    futs = [await _put(send, journal, partition, k, v, headers) for k, v in records]
    await futs[-1]  # the head; one partition: a delivered head means delivered chunks
    sent = []
    for table, key, value in writes:
        if value is None:
            sent.append(await _delete(send, tables[table], partition, key, headers))
        else:
            sent.append(await _put(send, tables[table], partition, key, value, headers))
    for fut in sent:
        if fut is not None:
            await fut
    for key in cleared(len(records) - 1):
        await _delete(send, journal, partition, key, headers)


def _json(obj: Any) -> bytes:
    """A table key or value as faust's `json` codec writes it (compact JSON; the memory store
    needs no `_on_changelog_sent` bookkeeping, which only records offsets for RocksDB).

    orjson's `OPT_NON_STR_KEYS` nearly doubled the time of a timeline bucket (16.5 against
    8.6 us for 16 events), and every key the tables write is a string; the option is only the
    fallback for a value that has another key (the same bytes for string keys)."""
    try:
        return orjson.dumps(obj, default=raw_default)
    except TypeError:
        return orjson.dumps(obj, default=raw_default, option=orjson.OPT_NON_STR_KEYS)


def _envelope_list(items: list[dict[str, Any]]) -> bytes:
    return orjson.dumps(items)


def _envelope(obj: dict[str, Any]) -> bytes:
    return orjson.dumps(obj)


def _moved(event: RawEvent | dict[str, Any], to: str) -> dict[str, Any]:
    return {"t": "event", "e": moved_event(event, to)}
