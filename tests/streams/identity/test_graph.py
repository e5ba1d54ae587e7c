"""Identity graph: hand-checked cases, and properties (any arrival order gives the same
customers with the same ids; merges are transitive; ids match a brute-force reference)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.identity import customer_id_for
from streams.identity import IdentityGraph
from streams.identity.messages import updates_for

pytestmark = pytest.mark.unit

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_new_identifiers_form_a_customer_named_by_the_earliest_anchor() -> None:
    g = IdentityGraph()
    r = g.resolve(["email:a@x.com", "app_user_id:u1"], at(5))
    # Same first-seen time: the anchor is the smaller key.
    assert r.customer_id == customer_id_for("app_user_id:u1")
    assert sorted(r.links) == sorted(
        [("app_user_id:u1", r.customer_id), ("email:a@x.com", r.customer_id)]
    )
    assert r.merges == []
    # Seen again: same customer, nothing new to publish.
    again = g.resolve(["email:a@x.com"], at(9))
    assert again.customer_id == r.customer_id and again.links == [] and again.merges == []


def test_linking_two_customers_merges_into_the_earlier_anchor() -> None:
    g = IdentityGraph()
    phone = g.resolve(["phone:+14155550100"], at(10)).customer_id
    chat = g.resolve(["chat_visitor_id:v9"], at(3)).customer_id
    merged = g.resolve(["phone:+14155550100", "chat_visitor_id:v9"], at(20))
    assert merged.customer_id == chat == customer_id_for("chat_visitor_id:v9")
    assert merged.merges == [(phone, chat)]
    assert merged.links == [("phone:+14155550100", chat)]
    assert g.lookup("phone:+14155550100") == chat
    updates = updates_for(merged, "e1", at(20))
    assert [(u.kind, u.key, u.customer_id) for u in updates] == [
        ("merge", phone, chat),
        ("link", "phone:+14155550100", chat),
    ]


def test_a_late_event_that_moves_the_anchor_renames_the_customer() -> None:
    g = IdentityGraph()
    first = g.resolve(["email:b@x.com", "crm_id:c1"], at(60)).customer_id
    assert first == customer_id_for("crm_id:c1")
    # A late event shows email:b@x.com was seen an hour earlier: it becomes the anchor.
    late = g.resolve(["email:b@x.com"], at(0))
    assert late.customer_id == customer_id_for("email:b@x.com")
    assert late.merges == [(first, late.customer_id)]
    assert sorted(late.links) == [
        ("crm_id:c1", late.customer_id),
        ("email:b@x.com", late.customer_id),
    ]


class _CountingMap(dict):  # type: ignore[type-arg]
    """A dict that counts assignments (a faust table writes its changelog on each)."""

    writes = 0

    def __setitem__(self, key: str, value: object) -> None:
        self.writes += 1
        super().__setitem__(key, value)


def test_an_event_that_changes_nothing_writes_nothing() -> None:
    nodes, comps = _CountingMap(), _CountingMap()
    g = IdentityGraph(nodes, comps)
    first = g.resolve(["email:c@x.com", "crm_id:c2"], at(30)).customer_id
    assert (nodes.writes, comps.writes) == (2, 1)
    # The same customer's known identifiers, later: no write at all.
    again = g.resolve(["crm_id:c2", "email:c@x.com"], at(45))
    assert again.customer_id == first and again.links == [] and again.merges == []
    assert (nodes.writes, comps.writes) == (2, 1)
    # Again at its first-seen time: not earlier, so nothing to write either.
    g.resolve(["email:c@x.com"], at(30))
    assert (nodes.writes, comps.writes) == (2, 1)
    # Earlier, for the anchor itself: its node's time and the component's anchor time move.
    g.resolve(["crm_id:c2"], at(20))
    assert nodes.writes == 3 and comps.writes == 2
    assert comps[nodes["crm_id:c2"]["c"]]["at"] == at(20).timestamp()
    # Earlier still, for the other identifier: the anchor moves, the customer is renamed.
    late = g.resolve(["email:c@x.com"], at(0))
    assert late.customer_id == customer_id_for("email:c@x.com") != first
    assert comps.writes == 3


def test_empty_identifiers_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one identifier"):
        IdentityGraph().resolve([], at(0))


POOL = [f"{t}:{i}" for t in ("email", "phone", "app_user_id", "device_id") for i in range(4)]
events_st = st.lists(
    st.tuples(st.lists(st.sampled_from(POOL), min_size=1, max_size=3), st.integers(0, 50)),
    min_size=1,
    max_size=25,
)


def reference(events: list[tuple[list[str], int]]) -> dict[str, str]:
    """Brute force: connected components by repeated set merging, anchor by definition."""
    groups: list[set[str]] = []
    first_seen: dict[str, int] = {}
    for keys, minute in events:
        for k in keys:
            first_seen[k] = min(first_seen.get(k, minute), minute)
        joined = set(keys)
        rest = []
        for grp in groups:
            if grp & joined:
                joined |= grp
            else:
                rest.append(grp)
        groups = [*rest, joined]
    out = {}
    for grp in groups:
        anchor = min(grp, key=lambda k: (first_seen[k], k))
        for k in grp:
            out[k] = customer_id_for(anchor)
    return out


def run(events: list[tuple[list[str], int]]) -> tuple[IdentityGraph, dict[str, str]]:
    g = IdentityGraph()
    for keys, minute in events:
        g.resolve(keys, at(minute))
    return g, g.assignment()


@settings(max_examples=200, deadline=None)
@given(events=events_st, data=st.data())
def test_any_arrival_order_gives_the_same_customers(events, data) -> None:  # type: ignore[no-untyped-def]
    shuffled = data.draw(st.permutations(events))
    _, a = run(events)
    _, b = run(shuffled)
    assert a == b == reference(events)


@settings(max_examples=200, deadline=None)
@given(events=events_st)
def test_merges_are_transitive_and_updates_replay_to_the_final_state(events) -> None:  # type: ignore[no-untyped-def]
    g = IdentityGraph()
    latest_link: dict[str, str] = {}
    merged_into: dict[str, str] = {}
    for keys, minute in events:
        res = g.resolve(keys, at(minute))
        for upd in updates_for(res, "e", at(minute)):
            if upd.kind == "link":
                latest_link[upd.key] = upd.customer_id
            else:
                merged_into[upd.key] = upd.customer_id
        for cid in res.revived:
            merged_into.pop(cid, None)
        # Every identifier of this event now resolves to the event's customer.
        assert {g.lookup(k) for k in keys} == {res.customer_id}
    final = g.assignment()
    # The compacted topic (latest link per identifier) equals the graph.
    assert latest_link == final
    # Following merge records from any id ever issued ends at a live customer.
    live = set(final.values())
    for old in merged_into:
        cid = old
        for _ in range(len(merged_into) + 1):
            if cid not in merged_into:
                break
            cid = merged_into[cid]
        assert cid in live
    # Transitivity: identifiers sharing an event, chained, share a customer.
    for keys, _ in events:
        assert len({final[k] for k in keys}) == 1
