"""The identity graph's journal (`streams.workers.journal`): whatever part of a batch's graph
writes a kill lets through, the worker that takes over applies the journal and replays the
batch over the graph a clean run had."""

from __future__ import annotations

import copy
import itertools
from typing import Any

import orjson
import pytest

from streams.identity import IdentityGraph
from streams.workers import journal as J
from streams.workers.app import Overlay, graph_write_phases
from tests.streams.workers.test_graph_writes import SECOND, clean, run, start

pytestmark = pytest.mark.unit


def batch_writes(nodes: dict, comps: dict) -> list[tuple[str, str, Any]]:
    node_view, comp_view = run(SECOND, copy.deepcopy(nodes), copy.deepcopy(comps))
    return [
        (t, k, None if v is Overlay._DELETED else v)
        for phase in graph_write_phases(node_view.writes, comp_view.writes)
        for t, k, v in phase
    ]


def apply(writes: list[tuple[str, str, Any]], nodes: dict, comps: dict) -> None:
    for table, key, value in writes:
        target = nodes if table == "nodes" else comps
        if value is None:
            target.pop(key, None)
        else:
            target[key] = value


def test_any_cut_of_the_graph_writes_is_finished_from_the_journal() -> None:
    want = clean()
    nodes, comps = start()
    writes = batch_writes(nodes, comps)
    by_table = {t: [w for w in writes if w[0] == t] for t in ("nodes", "components")}
    journal = dict(J.journal_records(writes))
    torn = 0
    # Each topic delivers some prefix of its records (no order between the two topics).
    for i, j in itertools.product(
        range(len(by_table["nodes"]) + 1), range(len(by_table["components"]) + 1)
    ):
        n, c = copy.deepcopy(nodes), copy.deepcopy(comps)
        apply(by_table["nodes"][:i] + by_table["components"][:j], n, c)
        if IdentityGraph(n, c).assignment() != want.assignment():
            torn += 1
        cut = J.pending_writes(journal)
        assert cut is not None
        apply(cut, n, c)  # the worker taking over, before it resolves anything
        replay_nodes, replay_comps = run(SECOND, n, c)  # the batch, not committed: again
        replay_nodes.commit()
        replay_comps.commit()
        assert IdentityGraph(n, c).assignment() == want.assignment()
        assert n == {k: v for k, v in want.nodes.items()}
        assert c == want.components
    assert torn > 0  # without the journal, some of these cuts were another graph


def test_no_head_means_nothing_to_finish() -> None:
    nodes, comps = start()
    records = J.journal_records(batch_writes(nodes, comps))
    chunks_only = dict(records[:-1])  # killed before the head was delivered
    assert J.pending_writes(chunks_only) is None
    assert J.pending_writes({}) is None


def test_large_batches_are_chunked_under_the_bound_and_read_back_whole() -> None:
    writes = [
        ("nodes", f"email:user{i}@example.com", {"c": f"k{i % 7}", "t": i}) for i in range(20_000)
    ]
    records = J.journal_records(writes)
    assert len(records) > 3
    assert records[-1] == (J.HEAD, {"n": len(records) - 1})
    assert all(len(orjson.dumps(v)) <= J.CHUNK_BYTES + 2 for _k, v in records[:-1])
    assert J.pending_writes(dict(records)) == writes
    # Cleared head first: a head never names a deleted chunk.
    assert J.cleared(len(records) - 1)[0] == J.HEAD
    assert set(J.cleared(len(records) - 1)) == {k for k, _ in records}
