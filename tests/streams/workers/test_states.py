"""The decoded feature states the timeline agent keeps between batches."""

from __future__ import annotations

import pytest

from streams.features.state import CustomerState, apply
from streams.workers.states import DecodedStates
from tests.streams.features.factory import ev

pytestmark = pytest.mark.unit


def _written(state: CustomerState) -> dict:
    return {"state": state.to_dict(), "features": {}, "signals": []}


def test_a_kept_state_comes_back_only_with_the_record_it_was_written_as() -> None:
    states = DecodedStates(10)
    state = states.take("c1", None)  # a new customer
    assert state.customer_id == "c1" and state.clock is None
    apply(state, ev("e1", 0, "chat", "inbound", conv="k1", text="hello"))
    record = _written(state)
    states.keep("c1", record, state)
    assert states.take("c1", record) is state  # the table still holds that record
    states.keep("c1", record, state)
    # Another writer stored an equal record, as a new object: decoded afresh, equal.
    other = _written(state)
    again = states.take("c1", other)
    assert again is not state and again == state
    assert (states.hits, states.misses) == (1, 2)


def test_a_taken_state_is_gone_until_kept_again() -> None:
    # A batch that fails (or writes nothing) does not keep the state it changed: the next
    # batch decodes the record the table holds, not the half-changed state.
    states = DecodedStates(10)
    state = states.take("c1", None)
    apply(state, ev("e1", 0, "chat", "inbound", conv="k1"))
    record = _written(state)
    states.keep("c1", record, state)
    taken = states.take("c1", record)
    apply(taken, ev("e2", 5, "chat", "inbound", conv="k1"))  # the batch then fails
    fresh = states.take("c1", record)
    assert fresh is not taken
    assert [r.event_id for r in fresh.inbound] == ["e1"]
    assert [r.event_id for r in taken.inbound] == ["e1", "e2"]


def test_a_written_record_does_not_change_with_the_state_kept_after_it() -> None:
    states = DecodedStates(10)
    state = states.take("c1", None)
    apply(state, ev("e1", 0, "chat", "inbound", conv="k1"))
    apply(state, ev("e2", 1, "chat", "outbound", conv="k1"))
    record = _written(state)
    before = CustomerState.from_dict(record["state"]).to_dict()
    states.keep("c1", record, state)
    taken = states.take("c1", record)
    apply(taken, ev("e3", 2, "chat", "outbound", conv="k1"))
    apply(taken, ev("e4", 3, "chat", "inbound", conv="k1"))
    assert CustomerState.from_dict(record["state"]).to_dict() == before


def test_the_least_recently_kept_go_first() -> None:
    states = DecodedStates(2)
    records = {}
    for cid in ("a", "b", "c"):
        state = states.take(cid, None)
        records[cid] = _written(state)
        states.keep(cid, records[cid], state)
    assert len(states) == 2
    states.take("a", records["a"])
    assert states.misses == 4  # "a" was dropped
    assert DecodedStates(0).size == 0
    none = DecodedStates(0)
    s = none.take("x", None)
    none.keep("x", _written(s), s)
    assert len(none) == 0


def test_a_forgotten_customer_leaves_nothing_kept() -> None:
    # An erasure drops the kept state at once, not at the next batch or eviction.
    states = DecodedStates(10)
    state = states.take("c1", None)
    record = _written(state)
    states.keep("c1", record, state)
    states.forget("c1")
    states.forget("never-seen")
    assert len(states) == 0
    assert states.take("c1", record) is not state
