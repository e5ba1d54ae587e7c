"""The faust app: identity resolution and the unified timeline.

Flow (docs/streams.md has the picture):

1. `route` (cx.interactions.v1, 6 partitions): validate; reject to cx.dlq.v1; forward the raw
   bytes to `<app>-identity-in`, a **single-partition** internal topic. Identity is a global
   property (an event on partition 2 can merge customers first seen on partitions 0 and 5), so
   one worker at a time owns the whole identity graph; the other workers share everything
   else. This is the pragmatic choice for one machine; the graph is changelog-backed, so the
   owner can move on a rebalance or crash.
2. `identity` (`<app>-identity-in`): resolve the event's identifiers in the identity graph
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

import json
import logging
from collections.abc import Iterator, MutableMapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faust
from pydantic import ValidationError

from schemas import topics as T
from schemas.cloudevents import interaction_headers, signal_headers
from schemas.dlq import Rejection
from schemas.events import InteractionEvent
from streams.features.channel import ChannelResponseState, apply_response
from streams.features.state import CustomerState
from streams.identity import IdentityGraph
from streams.identity.messages import updates_for
from streams.rules.config import RulesConfig
from streams.rules.engine import pending_deadline, step, tick
from streams.timeline import entry_for, insert
from streams.workers.config import (
    CHANNELS_TABLE,
    CUSTOMERS_TABLE,
    IDENTITY_COMPONENTS_TABLE,
    IDENTITY_NODES_TABLE,
    TIMELINES_TABLE,
    StreamsConfig,
    first_responses_topic,
    identity_in_topic,
    resolved_topic,
    ticks_topic,
)
from streams.workers.erasure import register_erasure
from streams.workers.records import (
    customer_record,
    first_response_from_json,
    first_response_json,
)

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


def build_app(
    config: StreamsConfig,
    bootstrap: str,
    worker: int = 1,
    rules: RulesConfig | None = None,
) -> faust.App:
    """The faust app for worker number `worker` (1-based; decides the web port and data dir)."""
    rules = rules or RulesConfig()
    datadir = Path(config.data_dir) / f"worker-{worker}"
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
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
        stream_wait_empty=False,
        producer_linger=0.02,
    )
    retention_s = config.timeline_retention_days * 86400.0

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
    customer_events = app.topic(config.customer_events_topic, key_type=bytes, value_type=bytes)
    identity_updates = app.topic(config.identity_topic, key_type=bytes, value_type=bytes)
    dlq = app.topic(config.dlq_topic, key_type=bytes, value_type=bytes)
    signals_out = app.topic(config.signals_topic, key_type=bytes, value_type=bytes)
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
    timelines = app.Table(TIMELINES_TABLE, partitions=T.STREAM_PARTITIONS, **table_kw)
    customers = app.Table(CUSTOMERS_TABLE, partitions=T.STREAM_PARTITIONS, **table_kw)
    channels = app.Table(CHANNELS_TABLE, partitions=T.STREAM_PARTITIONS, **table_kw)
    # Customers with an unanswered public post: customer_id -> wall-clock deadline (epoch s).
    # In memory only: rebuilt from the customers table after a restart (see `tick_pending`).
    deadlines: dict[str, float] = {}
    deadlines_loaded = [False]

    async def run_rules(cid: str, ev: InteractionEvent) -> None:
        """Features and rules for one event of customer `cid` (idempotent by event_id: a
        repeated event changes nothing and re-sends the signals it raised, same ids)."""
        record = customers.get(cid)
        state = CustomerState.from_dict(record["state"]) if record else CustomerState(cid)
        update, raised = step(state, ev, rules)
        for sig in raised:
            await signals_out.send(
                key=cid.encode(), value=sig.to_json_bytes(), headers=signal_headers(sig)
            )
        for fr in update.first_responses:
            await first_responses.send(
                key=fr.channel.encode(), value=_envelope(first_response_json(fr))
            )
        if update.changed or raised:
            customers[cid] = customer_record(
                record, state.to_dict(), update.features, raised, config.signals_kept
            )
        due = pending_deadline(state, rules)
        if due is None:
            deadlines.pop(cid, None)
        else:
            deadlines[cid] = due.timestamp()

    @app.agent(interactions)
    async def route(stream: Any) -> None:
        async for event in stream.events():
            value: bytes | None = event.value
            message = event.message
            try:
                if value is None:
                    raise ValueError("empty record (tombstone) on cx.interactions.v1")
                InteractionEvent.from_json_bytes(value)
            except (ValidationError, ValueError) as exc:
                rejection = Rejection(
                    stage="identity",
                    error_class=type(exc).__name__,
                    message=str(exc).splitlines()[0][:500],
                    source_topic=message.topic,
                    source_partition=message.partition,
                    source_offset=message.offset,
                    rejected_at=datetime.now(UTC).isoformat(),
                )
                await dlq.send(key=event.key, value=value or b"", headers=rejection.headers())
                continue
            await identity_in.send(key=event.key, value=value, headers=message.headers)

    @app.agent(identity_in)
    async def identity(stream: Any) -> None:
        async for raw in stream:
            ev = InteractionEvent.from_json_bytes(raw)
            node_view, comp_view = Overlay(nodes), Overlay(components)
            graph = IdentityGraph(node_view, comp_view)
            res = graph.resolve([i.key for i in ev.identifiers], ev.occurred_at)
            pending = []
            for upd in updates_for(res, ev.event_id, ev.occurred_at):
                pending.append(
                    await identity_updates.send(key=upd.key.encode(), value=upd.to_json_bytes())
                )
            for cid in res.revived:
                # Tombstone: an id merged away earlier lives again.
                pending.append(await identity_updates.send(key=cid.encode(), value=None))
                pending.append(
                    await resolved.send(key=cid.encode(), value=_envelope({"t": "revive"}))
                )
            for old, new in res.merges:
                pending.append(
                    await resolved.send(
                        key=old.encode(), value=_envelope({"t": "merge", "to": new})
                    )
                )
            if res.merges:
                # Merges must reach the broker before the graph records them (see module doc).
                for fut in pending:
                    await fut
            node_view.commit()
            comp_view.commit()
            out = ev.model_copy(update={"customer_id": res.customer_id})
            await resolved.send(
                key=res.customer_id.encode(),
                value=_envelope({"t": "event", "e": out.model_dump(mode="json")}),
            )

    @app.agent(resolved)
    async def timeline(stream: Any) -> None:
        async for event in stream.events():
            cid = event.key.decode()
            msg = json.loads(event.value)
            state = timelines.get(cid) or {"events": [], "to": None}
            kind = msg["t"]
            if kind == "revive":
                if state["to"] is not None:
                    timelines[cid] = {"events": state["events"], "to": None}
            elif kind == "merge":
                to = msg["to"]
                if to == cid:
                    continue
                futures = [
                    await resolved.send(key=to.encode(), value=_envelope(_moved(entry["e"], to)))
                    for entry in state["events"]
                ]
                for fut in futures:
                    await fut
                timelines[cid] = {"events": [], "to": to}
            elif state["to"] is not None:
                # Already merged away: the event follows its customer.
                to = state["to"]
                await resolved.send(key=to.encode(), value=_envelope(_moved(msg["e"], to)))
            else:
                ev = InteractionEvent.model_validate(msg["e"])
                entries, new = insert(state["events"], entry_for(ev), retention_s)
                if new:
                    # Publish before recording: a crash in between repeats the publication
                    # (at-least-once) instead of losing it.
                    await customer_events.send(
                        key=cid.encode(), value=ev.to_json_bytes(), headers=interaction_headers(ev)
                    )
                # Features and rules run on repeats too: they are idempotent by event_id and
                # re-send a repeated event's signals in case the first sending was lost.
                await run_rules(cid, ev)
                if new:
                    timelines[cid] = {"events": entries, "to": None}

    @app.agent(first_responses)
    async def channel_response(stream: Any) -> None:
        async for raw in stream:
            fr = first_response_from_json(json.loads(raw))
            record = channels.get(fr.channel)
            state = (
                ChannelResponseState.from_dict(record)
                if record
                else ChannelResponseState(fr.channel)
            )
            if apply_response(state, fr):
                channels[fr.channel] = state.to_dict()

    @app.agent(ticks)
    async def clock(stream: Any) -> None:
        async for event in stream.events():
            cid = event.key.decode()
            now = datetime.fromtimestamp(json.loads(event.value)["now"], UTC)
            record = customers.get(cid)
            if not record:
                continue
            state = CustomerState.from_dict(record["state"])
            raised = tick(state, now, rules)
            for sig in raised:
                await signals_out.send(
                    key=cid.encode(), value=sig.to_json_bytes(), headers=signal_headers(sig)
                )
            customers[cid] = customer_record(
                record, state.to_dict(), record["features"], raised, config.signals_kept
            )

    @app.timer(interval=config.tick_interval_s)
    async def tick_pending() -> None:
        """Wall-clock time advances the clock rules for customers with pending posts."""
        if not deadlines_loaded[0]:
            # After a restart: find pending customers in the state this worker holds.
            for cid, record in list(customers.items()):
                due = pending_deadline(CustomerState.from_dict(record["state"]), rules)
                if due is not None:
                    deadlines[cid] = due.timestamp()
            deadlines_loaded[0] = True
        now = datetime.now(UTC).timestamp()
        for cid, deadline in list(deadlines.items()):
            if deadline <= now:
                deadlines.pop(cid, None)
                await ticks.send(key=cid.encode(), value=_envelope({"now": now}))

    register_erasure(app, config, nodes, components, timelines, customers)  # cx.erasures.v1
    return app


def _envelope(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode("utf-8")


def _moved(event_json: dict[str, Any], to: str) -> dict[str, Any]:
    return {"t": "event", "e": {**event_json, "customer_id": to}}
