"""Chat adapter: Amazon Connect chat transcripts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schemas.events import make_event_id
from tests.streams.adapters.conftest import FIXTURES, adapt_file

pytestmark = pytest.mark.unit

CONTACT = "9c1d0f4e-0001-4b8e-8c1a-5d2e3f4a5b60"


def test_transcript_with_customer_agent_and_system_messages() -> None:
    outcomes = adapt_file("chat", FIXTURES / "chat" / "transcripts.jsonl")
    assert all(o.error is None for o in outcomes)
    events = outcomes[0].events
    # Four MESSAGE items; the three EVENT items (joins, chat ended) are not messages.
    assert [e.attributes["participant_role"] for e in events] == [
        "SYSTEM",
        "CUSTOMER",
        "AGENT",
        "CUSTOMER",
    ]
    assert [e.direction.value for e in events] == ["outbound", "inbound", "outbound", "inbound"]
    assert {e.conversation_id for e in events} == {CONTACT}
    assert {e.kind for e in events} == {"chat_message"}
    assert [e.event_id for e in events] == [
        make_event_id("amazon_connect_chat", CONTACT, f"m-{n}") for n in (1, 2, 3, 4)
    ]
    assert [i.key for i in events[0].identifiers] == [
        "email:ada.lovelace@example.com",
        "phone:+447700900123",
        "chat_visitor_id:p-cust-01",
    ]
    assert events[1].text == "Hi, my parcel is still missing 😟"
    assert events[1].occurred_at == datetime(2025, 11, 3, 13, 0, 5, 500000, tzinfo=UTC)
    assert events[2].agent_id == "Jordan" and events[0].agent_id is None
    # The agent answers the customer's message; the customer's thanks answers the agent.
    assert events[2].in_reply_to == events[1].event_id
    assert events[3].in_reply_to == events[2].event_id
    assert events[1].in_reply_to == events[0].event_id  # the system greeting came first


def test_transcript_with_only_a_participant_id() -> None:
    outcomes = adapt_file("chat", FIXTURES / "chat" / "transcripts.jsonl")
    [event] = outcomes[1].events
    assert [i.key for i in event.identifiers] == ["chat_visitor_id:p-cust-02"]


@pytest.mark.parametrize(
    ("line", "error_class", "message"),
    [
        (1, "UnsupportedMessage", "no MESSAGE items"),
        (2, "InvalidField", "ParticipantRole 'GHOST'"),
        (3, "InvalidField", "transcript.ContactId is required"),
        (4, "InvalidField", "Transcript must be an array, got a string"),
        (5, "MissingIdentity", "no CUSTOMER participant"),
        (6, "InvalidTimestamp", "in the future"),
        (7, "MalformedPayload", "truncated JSON"),
    ],
)
def test_malformed_transcripts(line: int, error_class: str, message: str) -> None:
    outcomes = {
        o.line: o for o in adapt_file("chat", FIXTURES / "chat" / "malformed" / "bad.jsonl")
    }
    error = outcomes[line].error
    assert error is not None and error.error_class == error_class
    assert message in str(error)
