"""Pure helpers of the workers: the identity overlay (state written only on commit) and the
customer record's signal list (replaced by id, newest kept)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest

from bench.streams_data import journeys
from schemas.cloudevents import interaction_headers
from schemas.signals import OutreachSignal
from streams.identity import IdentityGraph
from streams.workers.app import Overlay, _json
from streams.workers.records import (
    RawEvent,
    customer_record,
    event_from_resolved,
    features_json,
    moved_event,
    raw_default,
    resolved_event,
)

pytestmark = pytest.mark.unit

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_overlay_writes_nothing_until_commit() -> None:
    nodes: dict = {}
    comps: dict = {}
    IdentityGraph(nodes, comps).resolve(["email:a@x.com"], T0)
    before = (dict(nodes), dict(comps))
    nv, cv = Overlay(nodes), Overlay(comps)
    res = IdentityGraph(nv, cv).resolve(["email:a@x.com", "phone:+14155550100"], T0)
    assert (nodes, comps) == before  # a crash here leaves the graph as it was
    assert nv.get("phone:+14155550100") is not None
    nv.commit()
    cv.commit()
    assert IdentityGraph(nodes, comps).lookup("phone:+14155550100") == res.customer_id


def test_overlay_deletes_on_commit() -> None:
    base = {"a": 1, "b": 2}
    view = Overlay(base)
    del view["a"]
    assert view.get("a") is None and base["a"] == 1
    with pytest.raises(KeyError):
        view["a"]
    view.commit()
    assert base == {"b": 2}


def sig(n: int, minutes: int) -> OutreachSignal:
    return OutreachSignal(
        signal_id=f"s{n}",
        customer_id="cus_1",
        type="repeat_contact",
        severity="high",
        reason="3 contacts in 24 h",
        evidence=["e1"],
        recommended_action="call back",
        raised_at=T0 + timedelta(minutes=minutes),
        expires_at=T0 + timedelta(days=1),
    )


def test_customer_record_keeps_newest_signals_once() -> None:
    rec = customer_record(None, {"v": 1}, {"last_contact_at": T0}, [sig(1, 5), sig(2, 1)], 2)
    assert [s["signal_id"] for s in rec["signals"]] == ["s2", "s1"]
    assert rec["features"] == {"last_contact_at": "2026-01-01T00:00:00+00:00"}
    again = customer_record(rec, {"v": 1}, {}, [sig(1, 5), sig(3, 9)], 2)
    # s1 raised again replaces its copy; only the 2 newest stay.
    assert [s["signal_id"] for s in again["signals"]] == ["s1", "s3"]
    assert features_json({"x": 1.5, "y": None}) == {"x": 1.5, "y": None}


def test_event_from_resolved_is_the_event_the_identity_agent_dumped() -> None:
    # Every channel of the synthetic journeys, resolved, plus an offset other than UTC and
    # optional fields present: the event rebuilt from its message equals the one dumped.
    events = journeys(300, 12, seed=5, tag="rec")
    events.append(
        events[0].model_copy(
            update={
                "occurred_at": datetime(2026, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=2))),
                "agent_id": "agent-7",
                "in_reply_to": "x",
                "attributes": {"a": [1, 2.5, None], "f": 1e-7, "big": 12345678901234567890},
                "text": 'caf\u00e9 \U0001f600 "quoted" \u2028 \\ end',
            }
        )
    )
    for ev in events:
        resolved = ev.model_copy(update={"customer_id": "cus_x"})
        # What the message carries between the agents: the dump, through JSON.
        data = orjson.loads(orjson.dumps(resolved.model_dump(mode="json")))
        got = event_from_resolved(data)
        assert got == resolved
        assert got.to_json_bytes() == resolved.to_json_bytes()
        assert got.occurred_at.timestamp() == resolved.occurred_at.timestamp()
        assert [i.key for i in got.identifiers] == [i.key for i in resolved.identifiers]
        assert interaction_headers(got) == interaction_headers(resolved)


def test_table_values_encode_as_with_non_string_keys() -> None:
    # `_json` tries orjson without OPT_NON_STR_KEYS first (about twice as fast on a bucket):
    # the same bytes for string keys, and other keys still encode, as the option writes them.
    events = journeys(40, 2, seed=7, tag="json")
    bucket = [
        {"ts": e.occurred_at.timestamp(), "id": e.event_id, "e": e.model_dump(mode="json")}
        for e in events[:16]
    ]
    for value in (bucket, {"to": None, "b": [3, 4]}, "cus_1#4", {"nested": {"k": [1.5, None]}}):
        assert _json(value) == orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    assert _json({1: "a", "b": {2.5: True}}) == b'{"1":"a","b":{"2.5":true}}'


def test_a_raw_event_is_published_validated_moved_and_stored_as_the_dict_was() -> None:
    # What the identity agent sends (the event's bytes, customer_id set) gives the timeline
    # agent the same model and published bytes as the dump it replaced, and a bucket holding
    # it encodes to the same JSON as one holding the dict.
    events = journeys(200, 8, seed=11, tag="raw")
    events.append(
        events[0].model_copy(
            update={"attributes": {"a": [1, 2.5, None], "f": 1e-7}, "text": "caf\u00e9 \u2028"}
        )
    )
    for ev in events:
        resolved = ev.model_copy(update={"customer_id": "cus_x"})
        dumped = orjson.loads(orjson.dumps(resolved.model_dump(mode="json")))
        raw = RawEvent(resolved.to_json_bytes())
        got, published = resolved_event(raw)
        old, old_published = resolved_event(dumped)
        assert got == old == resolved
        assert published == old_published
        entry = {"ts": got.occurred_at.timestamp(), "id": got.event_id}
        assert _json([{**entry, "e": raw}]) == _json([{**entry, "e": dumped}])
        assert orjson.loads(_json([{**entry, "e": raw}]))[0]["e"] == dumped
        moved, moved_old = moved_event(raw, "cus_y"), moved_event(dumped, "cus_y")
        assert moved == moved_old
        assert resolved_event(moved)[0] == resolved.model_copy(update={"customer_id": "cus_y"})
    with pytest.raises(TypeError):
        raw_default(object())
