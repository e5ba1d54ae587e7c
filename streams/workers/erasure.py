"""Right to be forgotten in the stream state: the workers act on cx.erasures.v1.

An `ErasureRequest` (customer_id and identifier hashes) removes, from the workers' tables:

- the identity links: every identifier of the customer's component in `identity-nodes`, and
  the component in `identity-components` (a tombstone on cx.identity.v1 for each identifier
  and for each customer id the component ever had, so the compacted topic forgets the links
  and merge records too);
- the customer's timeline (`timelines`: its buckets, then its head), and the redirects
  left by earlier merges;
- the feature state, current features and recent signals, which hold the rules' cooldowns
  (`customers`).

Deleting a faust table key writes a tombstone to the table's compacted changelog, so the
Customer API (which follows the changelogs) answers 404 for the customer afterwards, and a
worker recovering from the changelog does not bring the customer back.

Why three hops: the identity tables live on one partition (`<app>-identity-in` is
single-partition), while timelines and features are partitioned by customer_id like
`<app>-resolved`. A faust table writes its changelog to the partition of the message being
processed, so each table must be changed from an agent on a topic partitioned like the table:
`<app>-erase-identity` (one partition) finds and removes the identity records, then
`<app>-erase-state` (keyed by customer_id, partitioned like `<app>-resolved`) removes the
per-customer state on the worker that owns it.

Which customers: the request's customer_id, the customer of every component holding one of
the request's identifier hashes (the stream's grouping may differ from the lake's), and the
ids the component had before merges (each was `customer_id_for` of a member, its anchor then).

Events of the customer still in flight inside the pipeline when the request arrives can
re-create state; ingestion refuses new ones (the suppression list), so an erasure repeated
after the pipeline drained removes those too.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import faust
from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError
from pydantic import ValidationError

from schemas import topics as T
from schemas.erasure import ErasureRequest
from schemas.identity import customer_id_for, identifier_hash
from streams.timeline import erase_keys
from streams.workers.config import StreamsConfig

log = logging.getLogger(__name__)

_KEEP = {"cleanup.policy": "delete", "retention.ms": str(7 * T.DAY_MS)}


def erase_identity_topic(app_id: str) -> str:
    """The single-partition topic the identity part of an erasure runs on."""
    return f"{app_id}-erase-identity"


def erase_state_topic(app_id: str) -> str:
    """Per-customer erasure instructions, keyed by customer_id (partitioned like resolved)."""
    return f"{app_id}-erase-state"


@dataclass
class IdentityErasure:
    """What an erasure removes from the identity graph (pure result of `plan_identity_erasure`).

    Attributes:
        component_keys: keys of `identity-components` to delete.
        identifier_keys: keys of `identity-nodes` to delete (and tombstone on cx.identity.v1).
        customer_ids: every customer id whose per-customer state and merge records go.
    """

    component_keys: list[str] = field(default_factory=list)
    identifier_keys: list[str] = field(default_factory=list)
    customer_ids: list[str] = field(default_factory=list)


def plan_identity_erasure(
    request: ErasureRequest,
    nodes: Iterable[tuple[str, Mapping[str, Any]]],
    components: Iterable[tuple[str, Mapping[str, Any]]],
) -> IdentityErasure:
    """Decide what to delete for `request` from the identity graph's two maps (as items).

    Scans both maps once: erasures are rare, and neither map is indexed by customer_id or by
    identifier hash.
    """
    wanted = set(request.identifier_hashes)
    comps = dict(components)
    hit = {key for key, comp in comps.items() if comp.get("cid") == request.customer_id}
    if wanted:
        hit |= {
            str(node["c"]) for key, node in nodes if identifier_hash(key) in wanted and "c" in node
        }
    members = sorted({m for key in hit if key in comps for m in comps[key]["m"]})
    customers = {request.customer_id}
    customers |= {str(comps[key]["cid"]) for key in hit if key in comps}
    # Ids this component had before merges: each was customer_id_for(its anchor), a member.
    customers |= {customer_id_for(m) for m in members}
    return IdentityErasure(sorted(hit), members, sorted(customers))


def ensure_erasure_topics(bootstrap: str, config: StreamsConfig, erasures_topic: str) -> None:
    """Create the erasure topics before faust starts (see `streams.workers.topics`: a topic
    missing at the first assignment leaves its partitions unassigned until a rebalance)."""
    spec = T.topic(T.ERASURES)
    wanted = {
        erasures_topic: (spec.partitions, spec.config()),
        erase_identity_topic(config.app_id): (1, _KEEP),
        erase_state_topic(config.app_id): (T.STREAM_PARTITIONS, _KEEP),
    }
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id=f"{config.app_id}-erasure")
    try:
        rf = min(3, len(admin.describe_cluster()["brokers"]))
        existing = set(admin.list_topics())
        new = [
            NewTopic(name, parts, rf, topic_configs=cfg)
            for name, (parts, cfg) in wanted.items()
            if name not in existing
        ]
        if new:
            try:
                admin.create_topics(new)
            except TopicAlreadyExistsError:
                pass  # another worker started at the same moment
    finally:
        admin.close()


def register_erasure(
    app: faust.App,
    config: StreamsConfig,
    nodes: MutableMapping[str, Any],
    components: MutableMapping[str, Any],
    timelines: MutableMapping[str, Any],
    customers: MutableMapping[str, Any],
    erasures_topic: str = T.ERASURES,
    forget: Callable[[str], None] | None = None,
) -> None:
    """Add the erasure agents to the worker app (one line in `streams.workers.app`), creating
    their topics first. `forget(customer_id)` drops what the worker keeps of an erased
    customer outside its tables (the decoded feature states, `streams.workers.states`)."""
    bootstrap = ",".join(f"{url.host}:{url.port}" for url in app.conf.broker)
    ensure_erasure_topics(bootstrap, config, erasures_topic)
    erasures = app.topic(erasures_topic, key_type=bytes, value_type=bytes)
    identity_step = app.topic(
        erase_identity_topic(config.app_id),
        partitions=1,
        internal=True,
        key_type=bytes,
        value_type=bytes,
    )
    state_step = app.topic(
        erase_state_topic(config.app_id),
        partitions=T.STREAM_PARTITIONS,
        internal=True,
        key_type=bytes,
        value_type=bytes,
    )
    identity_updates = app.topic(config.identity_topic, key_type=bytes, value_type=bytes)

    @app.agent(erasures)
    async def receive_erasure(stream: Any) -> None:
        async for event in stream.events():
            if event.value is None:
                continue  # a withdrawn request: nothing to delete
            try:
                request = ErasureRequest.from_json_bytes(event.value)
            except (ValidationError, ValueError) as exc:
                log.warning("skipping an unreadable erasure request: %s", exc)
                continue
            await identity_step.send(
                key=request.customer_id.encode(), value=request.to_json_bytes()
            )

    @app.agent(identity_step)
    async def erase_identity_links(stream: Any) -> None:
        async for raw in stream:
            request = ErasureRequest.from_json_bytes(raw)
            plan = plan_identity_erasure(request, nodes.items(), components.items())
            pending = []
            for key in plan.identifier_keys:
                pending.append(await identity_updates.send(key=key.encode(), value=None))
            for cid in plan.customer_ids:
                # Merge records are keyed by the merged-away customer id.
                pending.append(await identity_updates.send(key=cid.encode(), value=None))
                pending.append(
                    await state_step.send(
                        key=cid.encode(), value=json.dumps({"reason": request.reason}).encode()
                    )
                )
            # The instructions must be on the broker before the graph forgets who to erase.
            for fut in pending:
                await fut
            for key in plan.identifier_keys:
                if key in nodes:
                    del nodes[key]
            for key in plan.component_keys:
                if key in components:
                    del components[key]
            log.info(
                "erased identity of %s: %d identifiers, %d customer ids",
                request.customer_id,
                len(plan.identifier_keys),
                len(plan.customer_ids),
            )

    @app.agent(state_step)
    async def erase_customer_state(stream: Any) -> None:
        async for event in stream.events():
            cid = event.key.decode()
            # The timeline's buckets, then its head (`erase_keys`: crash-safe order); the
            # scan finds a bucket whose head a crash kept from being written (erasures are rare).
            for key in erase_keys(cid, timelines.get(cid), list(timelines.keys())):
                if key in timelines:
                    del timelines[key]
            if cid in customers:
                del customers[cid]
            if forget is not None:
                forget(cid)
