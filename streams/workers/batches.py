"""Internal records that carry many messages: one record per batch (and partition) instead of
one per event on the workers' internal hops (pure).

Every record costs faust and aiokafka the same per-message machinery on both ends (send,
produce request, fetch, stream event), whatever its size; the profile put most of the worker's
CPU there. The two internal hops of each event therefore carry batches:

- `route` -> `<app>-identity-in`: the raw input records of a batch, with their source position
  (`pack_sources`, a length-prefixed binary frame: the payloads are arbitrary bytes, junk
  included, that the identity agent validates);
- `identity` and `timeline` -> `<app>-resolved`: `(customer_id, message)` pairs grouped by the
  partition the customer's key maps to (`group_by_partition`, `pack_resolved`), so a record
  lands where a record keyed by each of its customers would have landed, and the timeline
  agent (and the table partitions it writes) sees each customer on its own partition. The
  pairs go as length-prefixed frames too: an event as its canonical JSON bytes
  (`streams.workers.records.RawEvent`), taken out again without parsing the batch.

Records are cut at `MAX_RECORD_BYTES`, well under the broker's 1 MB `message.max.bytes`.
Readers also accept the single-message records written before (rolling upgrades, old topics).
"""

from __future__ import annotations

import random
import struct
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import orjson

from streams.ingest.kafka import key_hash
from streams.workers.records import RawEvent, raw_default

MAX_RECORD_BYTES = 512 * 1024
SOURCES_MAGIC = b"\x00cxs1"  # a JSON event never starts with a NUL byte
_HEAD = struct.Struct(">iqii")  # partition, offset, key length (-1: none), value length

RESOLVED_MAGIC = b"\x00cxr1"  # nor does a JSON batch
_FRAME = struct.Struct(">HBI")  # customer_id length, kind, payload length
_EVENT, _MERGE, _REVIVE, _JSON = 0, 1, 2, 3

Source = tuple[int, int, bytes | None, bytes]
"""An input record: (partition, offset, key, value)."""


def partition_of(key: bytes, partitions: int) -> int:
    """The partition aiokafka's (and Kafka's) default partitioner picks for `key`."""
    return key_hash(key) % partitions


def cached_partitioner(key: bytes | None, all_partitions: Sequence[int], available: Any) -> int:
    """aiokafka's `DefaultPartitioner` with the keys' hashes remembered (`key_hash`; the
    worker's producer partitioner, ~4% of its main thread in a replay before; same
    partitions, by test)."""
    if key is None:
        return int(random.choice(available or all_partitions))
    return all_partitions[key_hash(bytes(key)) % len(all_partitions)]


def pack_sources(sources: Iterable[Source], limit: int = MAX_RECORD_BYTES) -> list[bytes]:
    """Input records as frames, cut into values of at most `limit` bytes (a single record
    larger than that goes alone)."""
    out: list[bytes] = []
    parts: list[bytes] = [SOURCES_MAGIC]
    size = len(SOURCES_MAGIC)
    for partition, offset, key, value in sources:
        frame = _HEAD.pack(partition, offset, -1 if key is None else len(key), len(value))
        n = len(frame) + len(key or b"") + len(value)
        if len(parts) > 1 and size + n > limit:
            out.append(b"".join(parts))
            parts, size = [SOURCES_MAGIC], len(SOURCES_MAGIC)
        parts.extend((frame, key or b"", value))
        size += n
    if len(parts) > 1:
        out.append(b"".join(parts))
    return out


def is_sources(value: bytes | None) -> bool:
    """Whether `value` is a record of `pack_sources`."""
    return value is not None and value.startswith(SOURCES_MAGIC)


def unpack_sources(value: bytes) -> list[Source]:
    """The input records of a `pack_sources` value, in order.

    Raises:
        ValueError: `value` is not a complete `pack_sources` record.
    """
    if not is_sources(value):
        raise ValueError("not a batch of input records")
    out: list[Source] = []
    view = memoryview(value)
    i, end = len(SOURCES_MAGIC), len(value)
    while i < end:
        if i + _HEAD.size > end:
            raise ValueError("truncated batch of input records")
        partition, offset, klen, vlen = _HEAD.unpack_from(view, i)
        i += _HEAD.size
        key = None
        if klen >= 0:
            key = bytes(view[i : i + klen])
            i += klen
        if i + vlen > end:
            raise ValueError("truncated batch of input records")
        out.append((partition, offset, key, bytes(view[i : i + vlen])))
        i += vlen
    return out


def group_by_partition(
    items: Iterable[tuple[str, dict[str, Any]]], partitions: int
) -> dict[int, list[tuple[str, dict[str, Any]]]]:
    """`(customer_id, message)` pairs by the partition of the customer's key, order kept."""
    out: dict[int, list[tuple[str, dict[str, Any]]]] = {}
    cache: dict[str, int] = {}
    for cid, msg in items:
        p = cache.get(cid)
        if p is None:
            p = cache[cid] = partition_of(cid.encode(), partitions)
        out.setdefault(p, []).append((cid, msg))
    return out


def pack_resolved(
    items: Iterable[tuple[str, dict[str, Any]]], limit: int = MAX_RECORD_BYTES
) -> list[bytes]:
    """`(customer_id, message)` pairs as `RESOLVED_MAGIC` + frames, values of at most about
    `limit` bytes each (a single larger message goes alone).

    A frame is (customer_id length, kind, payload length), the customer_id, the payload: an
    event carried as a `RawEvent` goes as its bytes (kind event), a merge as its survivor's
    id, a revive as nothing, any other message as its JSON (kind json)."""
    out: list[bytes] = []
    parts: list[bytes] = [RESOLVED_MAGIC]
    size = len(RESOLVED_MAGIC)
    for cid, msg in items:
        kind, payload = _resolved_payload(msg)
        cid_b = cid.encode()
        n = _FRAME.size + len(cid_b) + len(payload)
        if len(parts) > 1 and size + n > limit:
            out.append(b"".join(parts))
            parts, size = [RESOLVED_MAGIC], len(RESOLVED_MAGIC)
        parts.extend((_FRAME.pack(len(cid_b), kind, len(payload)), cid_b, payload))
        size += n
    if len(parts) > 1:
        out.append(b"".join(parts))
    return out


def _resolved_payload(msg: dict[str, Any]) -> tuple[int, bytes]:
    t = msg.get("t")
    if t == "event" and type(msg.get("e")) is RawEvent and len(msg) == 2:
        return _EVENT, msg["e"].raw
    if t == "merge" and len(msg) == 2 and isinstance(msg.get("to"), str):
        return _MERGE, msg["to"].encode()
    if t == "revive" and len(msg) == 1:
        return _REVIVE, b""
    return _JSON, orjson.dumps(msg, default=raw_default)


def unpack_resolved(key: bytes | None, value: bytes) -> Iterator[tuple[str, dict[str, Any]]]:
    """The `(customer_id, message)` pairs of a record on `<app>-resolved`: frames of
    `pack_resolved`, a JSON batch (`{"t": "batch", "m": [[cid, message], ...]}`, written
    before 2026-12-07), or a single message keyed by its customer (before that).

    Raises:
        ValueError: a `pack_resolved` value that is cut short.
    """
    if value.startswith(RESOLVED_MAGIC):
        yield from _unpack_frames(value)
        return
    msg = orjson.loads(value)
    if msg.get("t") == "batch":
        yield from msg["m"]  # [customer_id, message] pairs
    else:
        yield (key or b"").decode(), msg


def _unpack_frames(value: bytes) -> Iterator[tuple[str, dict[str, Any]]]:
    i, end = len(RESOLVED_MAGIC), len(value)
    while i < end:
        if i + _FRAME.size > end:
            raise ValueError("truncated batch of resolved messages")
        clen, kind, plen = _FRAME.unpack_from(value, i)
        i += _FRAME.size
        if i + clen + plen > end:
            raise ValueError("truncated batch of resolved messages")
        cid = value[i : i + clen].decode()
        i += clen
        payload = value[i : i + plen]
        i += plen
        if kind == _EVENT:
            yield cid, {"t": "event", "e": RawEvent(payload)}
        elif kind == _MERGE:
            yield cid, {"t": "merge", "to": payload.decode()}
        elif kind == _REVIVE:
            yield cid, {"t": "revive"}
        else:
            yield cid, orjson.loads(payload)
