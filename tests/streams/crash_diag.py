"""Diagnostics for the crash test: where each missing or duplicated event was last seen.

When a timeline is incomplete after a crash, the question is at which hop the event stopped:
never forwarded to identity, never resolved, resolved under another customer, in a timeline
bucket that a later write replaced, ... This reads every hop's topic from the beginning and
reports, per event id, the last record that carried it (topic, partition, offset, key, and the
worker that wrote it, from the `omnicx-worker` header the workers put on internal records).
"""

from __future__ import annotations

import json
import shutil
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer
from kafka.structs import TopicPartition

from streams.workers.app import WORKER_HEADER
from streams.workers.batches import is_sources, unpack_resolved, unpack_sources
from streams.workers.config import (
    TIMELINES_TABLE,
    StreamsConfig,
    changelog_topic,
    identity_in_topic,
    resolved_topic,
)


@dataclass
class Sighting:
    topic: str
    partition: int
    offset: int
    key: str
    worker: str
    timestamp_ms: int
    note: str = ""

    def __str__(self) -> str:
        who = f" worker {self.worker}" if self.worker else ""
        note = f" ({self.note})" if self.note else ""
        at = time.strftime("%H:%M:%S", time.gmtime(self.timestamp_ms / 1000))
        at += f".{self.timestamp_ms % 1000:03d}"
        return f"{at} {self.topic}[{self.partition}]@{self.offset} key={self.key}{who}{note}"


@dataclass
class Trace:
    """Per event id and hop, every sighting (in time order); per customer, the control
    records (merge, revive, timeline heads) that decide where its events live."""

    seen: dict[str, dict[str, list[Sighting]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(list))
    )
    # timelines changelog: bucket key -> last record (offset, worker, event ids in it)
    buckets: dict[str, tuple[Sighting, set[str]]] = field(default_factory=dict)
    control: dict[str, list[Sighting]] = field(default_factory=lambda: defaultdict(list))


def read_all(bootstrap: str, topic: str) -> list[Any]:
    """Every record of `topic` (all partitions, from the beginning to the end offsets now)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not tps:
            return []
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        out: list[Any] = []
        remaining = {tp for tp in tps if end[tp] > 0}
        while remaining:
            for tp, records in consumer.poll(timeout_ms=1000, max_records=10000).items():
                out.extend(records)
                if records and records[-1].offset + 1 >= end[tp]:
                    remaining.discard(tp)
        return out
    finally:
        consumer.close()


def _worker(record: Any) -> str:
    for k, v in record.headers or ():
        if k == WORKER_HEADER:
            return str(v.decode())
    return ""


def trace(bootstrap: str, config: StreamsConfig, ids: set[str]) -> Trace:
    """Follow `ids` through every hop of the pipeline."""
    t = Trace()
    app = config.app_id

    def see(r: Any, key: str, note: str = "") -> Sighting:
        return Sighting(r.topic, r.partition, r.offset, key, _worker(r), r.timestamp, note)

    for r in read_all(bootstrap, config.interactions_topic):
        eid = json.loads(r.value)["event_id"] if r.value else None
        if eid in ids:
            t.seen[eid]["1 input"].append(see(r, (r.key or b"").decode()))
    for r in read_all(bootstrap, identity_in_topic(app)):
        if is_sources(r.value):
            inner = [(k, v) for _p, _o, k, v in unpack_sources(r.value)]
        else:
            inner = [(r.key, r.value)] if r.value else []
        for k, v in inner:
            try:
                eid = json.loads(v).get("event_id")
            except ValueError:
                continue
            if eid in ids:
                t.seen[eid]["2 identity-in"].append(see(r, (k or b"").decode()))
    for r in read_all(bootstrap, resolved_topic(app)):
        for key, msg in unpack_resolved(r.key, r.value):
            e = msg.get("e")
            eid = (e if isinstance(e, dict) else e.as_dict())["event_id"] if e else None
            if msg.get("t") == "event" and eid in ids:
                t.seen[eid]["3 resolved"].append(see(r, key))
            elif msg.get("t") in ("merge", "revive"):
                t.control[key].append(see(r, key, f"{msg['t']} {msg.get('to', '')}".strip()))
                if msg.get("to"):
                    t.control[msg["to"]].append(see(r, key, f"{msg['t']} {key} into it"))
    for r in read_all(bootstrap, config.customer_events_topic):
        eid = json.loads(r.value)["event_id"]
        if eid in ids:
            t.seen[eid]["4 customer-events"].append(see(r, (r.key or b"").decode()))
    for r in read_all(bootstrap, changelog_topic(app, TIMELINES_TABLE)):
        key = json.loads(r.key)
        value = json.loads(r.value) if r.value is not None else None
        s = see(r, key, "tombstone" if value is None else "")
        if isinstance(value, list):  # a bucket
            in_it = {e["id"] for e in value}
            t.buckets[key] = (s, in_it)
            for eid in in_it & ids:
                t.seen[eid]["5 timelines"].append(s)
        elif value is None:
            t.buckets[key] = (s, set())
        else:  # a head
            s.note = f"head to={value.get('to')} buckets={value.get('b')}"
        if value is None or isinstance(value, dict):
            t.control[key.split("#")[0]].append(s)
    for sightings in t.control.values():
        sightings.sort(key=lambda s: (s.timestamp_ms, s.offset))
    for hops in t.seen.values():
        for sightings in hops.values():
            sightings.sort(key=lambda s: (s.timestamp_ms, s.offset))
    return t


def report(
    bootstrap: str,
    config: StreamsConfig,
    got: dict[str, list[str]],
    want: dict[str, set[str]],
) -> str:
    """Lines naming, per customer, the missing, unexpected and duplicated event ids and where
    each was last seen."""
    problems: dict[str, tuple[set[str], set[str], set[str]]] = {}
    for cid, ids in want.items():
        have = got.get(cid, [])
        dup = {e for e in have if have.count(e) > 1}
        missing, extra = ids - set(have), set(have) - ids
        if missing or extra or dup:
            problems[cid] = (missing, extra, dup)
    if not problems:
        return "no missing or duplicated events"
    every = set().union(*(m | x | d for m, x, d in problems.values()))
    t = trace(bootstrap, config, every)
    try:
        offsets = committed(bootstrap, config)
    except Exception as exc:  # kafka-python 3's admin client lacks the call: keep the report
        offsets = f"unavailable ({exc!r})"
    lines = [f"committed: {offsets}"]
    for cid, (missing, extra, dup) in sorted(problems.items()):
        lines.append(
            f"{cid}: {len(want[cid])} wanted, {len(got.get(cid, []))} in the API: "
            f"{len(missing)} missing, {len(extra)} unexpected, {len(dup)} duplicated"
        )
        for s in t.control.get(cid, [])[-12:]:
            lines.append(f"  control: {s}")
        for label, group in (("missing", missing), ("unexpected", extra), ("duplicated", dup)):
            for eid in sorted(group):
                hops = t.seen.get(eid, {})
                lines.append(f"  {label} {eid}:")
                for hop in sorted(hops):
                    for s in hops[hop][-4:]:
                        lines.append(f"    {hop}: {s}")
                if hops.get("5 timelines"):
                    tl = hops["5 timelines"][-1]
                    last, in_last = t.buckets[tl.key]
                    if last.offset != tl.offset:
                        lines.append(
                            f"    bucket {tl.key} last written at {last}, "
                            f"{'with' if eid in in_last else 'WITHOUT'} it"
                        )
                    owner = tl.key.split("#", 1)[0]
                    if owner != cid:  # where the event sits: that customer's head and merges
                        for s in t.control.get(owner, [])[-6:]:
                            lines.append(f"    control of {owner}: {s}")
    return "\n".join(lines)


def committed(bootstrap: str, config: StreamsConfig) -> str:
    """The group's committed offsets on the internal topics, one line."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        offsets = admin.list_group_offsets({config.app_id: None}).get(config.app_id, {})
    finally:
        admin.close()
    return " ".join(
        f"{tp.topic.removeprefix(config.app_id + '-')}[{tp.partition}]={om.offset}"
        for tp, om in sorted(offsets.items())
        if tp.topic in (resolved_topic(config.app_id), identity_in_topic(config.app_id))
    )


def keep_logs(run_dir: Path, name: str) -> Path:
    """Copy the workers' logs out of pytest's rotating temp dirs; return where they went."""
    dest = Path("/tmp") / "omnicx-crash-logs" / name
    dest.mkdir(parents=True, exist_ok=True)
    for log in run_dir.glob("*.log"):
        shutil.copy2(log, dest / log.name)
    return dest
