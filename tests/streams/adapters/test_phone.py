"""Phone adapter: Amazon Connect contact trace records."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schemas.events import make_event_id
from tests.streams.adapters.conftest import FIXTURES, adapt_file

pytestmark = pytest.mark.unit

ANSWERED = "6f2b7c1e-0001-4d3a-9e51-3b1f0a7c2d10"
ABANDONED = "6f2b7c1e-0002-4d3a-9e51-3b1f0a7c2d10"
OUTBOUND = "6f2b7c1e-0003-4d3a-9e51-3b1f0a7c2d10"


def _calls() -> dict[str, list]:
    outcomes = adapt_file("phone", FIXTURES / "phone" / "ctr.jsonl")
    assert all(o.error is None for o in outcomes)
    return {o.record_id: o.events for o in outcomes}


def test_answered_call_becomes_started_and_ended() -> None:
    started, ended = _calls()[ANSWERED]
    assert (started.kind, ended.kind) == ("call_started", "call_ended")
    assert started.event_id == make_event_id("amazon_connect_ctr", ANSWERED, "call_started")
    assert ended.event_id == make_event_id("amazon_connect_ctr", ANSWERED, "call_ended")
    assert started.occurred_at == datetime(2025, 11, 3, 10, 0, tzinfo=UTC)
    assert ended.occurred_at == datetime(2025, 11, 3, 10, 9, 30, tzinfo=UTC)
    assert started.direction.value == ended.direction.value == "inbound"
    assert [i.key for i in ended.identifiers] == [
        "phone:+447700900123",
        "email:ada.lovelace@example.com",
    ]
    assert ended.agent_id == "jtaylor" and ended.conversation_id == ANSWERED
    attrs = ended.attributes
    assert (attrs["wait_s"], attrs["talk_s"], attrs["hold_s"]) == (105.0, 420.0, 30.0)
    assert attrs["duration_s"] == 570.0  # 10:00:00 -> 10:09:30
    assert attrs["abandoned"] is False and attrs["queue"] == "Deliveries"
    assert attrs["disconnect_reason"] == "CUSTOMER_DISCONNECT"


def test_caller_who_hung_up_in_queue_is_abandoned() -> None:
    started, ended = _calls()[ABANDONED]
    assert ended.agent_id is None
    assert ended.attributes["abandoned"] is True
    assert ended.attributes["wait_s"] == 400.0 and ended.attributes["talk_s"] == 0.0
    assert [i.key for i in started.identifiers] == ["phone:+14155550123"]


def test_outbound_call_without_queue() -> None:
    started, ended = _calls()[OUTBOUND]
    assert started.direction.value == "outbound"
    assert "wait_s" not in ended.attributes and ended.attributes["talk_s"] == 170.0


@pytest.mark.parametrize(
    ("line", "error_class", "message"),
    [
        (1, "InvalidField", "Channel is 'CHAT'"),
        (2, "InvalidTimestamp", "is before InitiationTimestamp"),
        (3, "MissingIdentity", "no usable CustomerEndpoint.Address"),
        (4, "InvalidField", "CTR.Queue must be an object or null, got a string"),
        (5, "MalformedPayload", "truncated JSON"),
        (6, "InvalidField", "CTR.ContactId must be a string, got a number"),
        (7, "InvalidField", "InitiationMethod 'SIDEWAYS'"),
        (8, "InvalidTimestamp", "not an ISO 8601 timestamp"),
    ],
)
def test_malformed_records(line: int, error_class: str, message: str) -> None:
    outcomes = {
        o.line: o for o in adapt_file("phone", FIXTURES / "phone" / "malformed" / "bad.jsonl")
    }
    error = outcomes[line].error
    assert error is not None and error.error_class == error_class
    assert message in str(error)
