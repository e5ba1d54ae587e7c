"""The workers' batched internal records (`streams.workers.batches`): lossless round trips,
cutting at the size limit, and the partition each customer lands on."""

from __future__ import annotations

import orjson
import pytest
from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

from streams.workers.batches import (
    RESOLVED_MAGIC,
    SOURCES_MAGIC,
    cached_partitioner,
    group_by_partition,
    is_sources,
    pack_resolved,
    pack_sources,
    partition_of,
    unpack_resolved,
    unpack_sources,
)
from streams.workers.records import RawEvent

pytestmark = pytest.mark.unit

sources = st.lists(
    st.tuples(
        st.integers(0, 5),
        st.integers(0, 2**40),
        st.one_of(st.none(), st.binary(max_size=20)),
        st.binary(max_size=300),
    ),
    max_size=40,
)


@given(sources, st.integers(64, 2000))
def test_sources_round_trip_in_order_within_the_limit(items: list, limit: int) -> None:
    values = pack_sources(items, limit=limit)
    assert [s for v in values for s in unpack_sources(v)] == items
    for v in values:
        assert is_sources(v)
        # Over the limit only when a single record is bigger than the limit on its own.
        assert len(v) <= limit or len(unpack_sources(v)) == 1


def test_sources_keep_junk_and_missing_keys() -> None:
    items = [(0, 7, None, b"\xff\x00not json"), (5, 2**33, b"", b"")]
    (value,) = pack_sources(items)
    assert value.startswith(SOURCES_MAGIC)
    assert unpack_sources(value) == items
    assert pack_sources([]) == []


def test_truncated_sources_are_refused() -> None:
    (value,) = pack_sources([(1, 2, b"key", b'{"a": 1}')])
    with pytest.raises(ValueError, match="truncated"):
        unpack_sources(value[:-3])
    with pytest.raises(ValueError):
        unpack_sources(b'{"event_id": "x"}')
    assert not is_sources(b'{"event_id": "x"}')
    assert not is_sources(None)


def test_partition_is_the_default_partitioners() -> None:
    # A batch record must land where records keyed by its customers would (the erasure
    # agent's records are keyed by customer_id and sent through the default partitioner).
    parts = list(range(6))
    for i in range(200):
        key = f"cus_{i:020d}".encode()
        assert partition_of(key, 6) == DefaultPartitioner()(key, parts, parts)


def test_the_workers_partitioner_is_the_default_one() -> None:
    for n in (1, 6, 12):
        parts = list(range(n))
        for i in range(300):
            key = f"email:someone{i}@example.com".encode()
            expected = DefaultPartitioner()(key, parts, parts)
            assert cached_partitioner(key, parts, parts) == expected
            assert cached_partitioner(key, parts, parts) == expected  # remembered, same answer
            assert cached_partitioner(bytearray(key), parts, parts) == expected
    assert cached_partitioner(None, [0, 1, 2], [2]) == 2  # keyless: an available partition
    assert cached_partitioner(None, [0, 1, 2], []) in {0, 1, 2}


def test_resolved_pairs_grouped_by_partition_in_order() -> None:
    pairs = [(f"cus_{i % 7}", {"t": "event", "n": i}) for i in range(50)]
    grouped = group_by_partition(pairs, 6)
    assert sorted(m["n"] for g in grouped.values() for _, m in g) == list(range(50))
    for part, group in grouped.items():
        assert all(partition_of(cid.encode(), 6) == part for cid, _ in group)
        # Order within a partition is the arrival order.
        assert [m["n"] for _, m in group] == sorted(m["n"] for _, m in group)


def test_resolved_round_trip_and_cut() -> None:
    pairs = [(f"cus_{i}", {"t": "event", "e": {"text": "x" * 100, "i": i}}) for i in range(30)]
    values = pack_resolved(pairs, limit=1000)
    assert len(values) > 1
    assert all(len(v) <= 1000 + 64 for v in values)
    back = [(cid, msg) for v in values for cid, msg in unpack_resolved(None, v)]
    assert back == [(cid, msg) for cid, msg in pairs]


def test_resolved_reads_the_single_message_format() -> None:
    value = orjson.dumps({"t": "merge", "to": "cus_b"})
    assert list(unpack_resolved(b"cus_a", value)) == [("cus_a", {"t": "merge", "to": "cus_b"})]


def test_resolved_frames_carry_raw_events_merges_revives_and_other_messages() -> None:
    raw = RawEvent(b'{"event_id":"e1","customer_id":"cus_a","text":"caf\xc3\xa9 \\"q\\""}')
    pairs = [
        ("cus_a", {"t": "event", "e": raw}),
        ("cus_b", {"t": "merge", "to": "cus_a"}),
        ("cus_b", {"t": "revive"}),
        ("cus_c", {"t": "event", "e": {"event_id": "e2", "customer_id": "cus_c"}}),
        ("cus_\u00e9", {"t": "merge", "to": "cus_\u00fc"}),
    ]
    (value,) = pack_resolved(pairs)
    assert value.startswith(RESOLVED_MAGIC)
    back = list(unpack_resolved(None, value))
    assert back == pairs
    assert back[0][1]["e"].raw == raw.raw  # the event's bytes, as they were
    with pytest.raises(ValueError, match="truncated"):
        list(unpack_resolved(None, value[:-3]))


def test_resolved_frames_are_cut_at_the_limit() -> None:
    event = RawEvent(b'{"x":"' + b"y" * 200 + b'"}')
    pairs = [(f"cus_{i}", {"t": "event", "e": event}) for i in range(40)]
    values = pack_resolved(pairs, limit=1000)
    assert len(values) > 5
    assert all(len(v) <= 1000 for v in values)
    assert [p for v in values for p in unpack_resolved(None, v)] == pairs


def test_resolved_reads_the_json_batches_written_before_frames() -> None:
    pairs = [["cus_a", {"t": "event", "e": {"event_id": "e1"}}], ["cus_b", {"t": "revive"}]]
    value = orjson.dumps({"t": "batch", "m": pairs})
    assert [list(p) for p in unpack_resolved(None, value)] == pairs
