"""E-mail adapter against real RFC 5322 fixtures: multipart MIME with attachments and
non-ASCII names, an mbox thread, an HTML-only body, and malformed messages."""

from __future__ import annotations

import mailbox
from datetime import UTC, datetime, timedelta, timezone

import pytest

from schemas.events import make_event_id
from streams.adapters import email
from tests.streams.adapters.conftest import FIXTURES, RECEIVED_AT, adapt_file, business_config

pytestmark = pytest.mark.unit


def test_multipart_message_with_attachments_and_non_ascii_names() -> None:
    [outcome] = adapt_file("email", FIXTURES / "email" / "multipart_attachment.eml")
    [event] = outcome.events
    assert outcome.record_id == "20251014091233.4711@mail.example.org"
    assert event.event_id == make_event_id("rfc5322", "20251014091233.4711@mail.example.org")
    assert event.direction.value == "inbound" and event.kind == "message"
    assert [i.key for i in event.identifiers] == ["email:jose.muller@example.org"]
    assert event.occurred_at == datetime(
        2025, 10, 14, 9, 12, 33, tzinfo=timezone(timedelta(hours=2))
    )
    assert event.occurred_at.utcoffset() == timedelta(hours=2)
    assert event.text is not None
    assert event.text.startswith("Hello Acme,\n\nmy order #1042 arrived with a cracked lid 😞.")
    assert "<p>" not in event.text  # the text/plain alternative, not the HTML
    attrs = event.attributes
    assert attrs["subject"] == "Order #1042 arrived broken 😞"
    assert attrs["from_name"] == "José Müller"
    assert attrs["cc"] == ["zoe@example.net"]
    assert attrs["mailbox"] == "support@acme.example"
    assert attrs["body_format"] == "plain"
    # Sizes are of the decoded bytes: 34-byte PDF header + 4 x 256 bytes; 4 + 2044 bytes.
    assert attrs["attachments"] == [
        {"name": "Reçu_été.pdf", "content_type": "application/pdf", "size": 1058},
        {"name": "lid photo.jpg", "content_type": "image/jpeg", "size": 2048},
    ]
    assert event.conversation_id == outcome.record_id and event.in_reply_to is None


def test_mbox_thread_follows_message_ids_to_the_root() -> None:
    outcomes = adapt_file("email", FIXTURES / "email" / "thread.mbox")
    events = [o.events[0] for o in outcomes]
    assert [o.line for o in outcomes] == [2, 14, 29, 42]  # first header line of each message
    assert [e.direction.value for e in events] == ["inbound", "outbound", "inbound", "inbound"]
    assert [e.kind for e in events] == ["message", "reply", "reply", "reply"]
    # The fourth has only In-Reply-To (no References): the batch context finds the root.
    assert {e.conversation_id for e in events} == {"m1.2210@example.com"}
    assert events[1].in_reply_to == events[0].event_id
    assert events[2].in_reply_to == events[1].event_id
    assert events[3].in_reply_to == events[2].event_id
    # The agent's reply: from an own domain, so its customer is the recipient.
    assert events[1].agent_id == "agent.bob@acme.example"
    assert [i.key for i in events[1].identifiers] == ["email:anna@example.com"]
    assert events[1].text is not None and ">From our side" in events[1].text
    assert all(e.identifiers[0].key == "email:anna@example.com" for e in events)


def test_mbox_split_agrees_with_the_stdlib_mailbox() -> None:
    path = FIXTURES / "email" / "thread.mbox"
    ours = email.split_mbox(path.read_bytes(), str(path))
    theirs = [m.as_bytes() for m in mailbox.mbox(str(path))]
    assert len(ours) == len(theirs) == 4
    for record, message in zip(ours, theirs, strict=True):
        assert record.data.rstrip(b"\n") == message.rstrip(b"\n")


def test_without_the_batch_the_reply_points_at_its_parent() -> None:
    data = (FIXTURES / "email" / "thread.mbox").read_bytes()
    fourth = email.split_mbox(data, "thread.mbox")[3]
    adapted = email.adapt(fourth.data, business_config(), received_at=RECEIVED_AT)
    assert adapted.events[0].conversation_id == "m3.2210@example.com"


def test_html_only_body_is_stripped_to_text() -> None:
    [outcome] = adapt_file("email", FIXTURES / "email" / "html_only.eml")
    event = outcome.events[0]
    # &nbsp; folds to a plain space
    assert event.text == "My app login fails & the reset link is expired.\nOrder 3301"
    assert event.attributes["subject"] == "こんにちは"
    assert event.attributes["body_format"] == "html"
    assert event.occurred_at.astimezone(UTC) == datetime(2025, 11, 4, 16, 30, tzinfo=UTC)


def test_without_own_addresses_everything_is_inbound() -> None:
    outcomes = adapt_file(
        "email", FIXTURES / "email" / "thread.mbox", business_config(own_email_domains=[])
    )
    assert [o.events[0].direction.value for o in outcomes] == ["inbound"] * 4
    assert outcomes[1].events[0].identifiers[0].key == "email:agent.bob@acme.example"


@pytest.mark.parametrize(
    ("name", "error_class", "message"),
    [
        ("no_from.eml", "MissingIdentity", "no From address"),
        ("bad_date.eml", "InvalidTimestamp", "not an RFC 5322 date"),
        ("before_2000.eml", "InvalidTimestamp", "before 2000-01-01"),
        ("future.eml", "InvalidTimestamp", "in the future"),
        ("outbound_no_customer.eml", "MissingIdentity", "no recipient outside the business"),
        ("not_an_email.eml", "MalformedPayload", "not an RFC 5322 message"),
    ],
)
def test_malformed_messages_are_refused_with_a_reason(
    name: str, error_class: str, message: str
) -> None:
    [outcome] = adapt_file("email", FIXTURES / "email" / "malformed" / name)
    assert outcome.error is not None and not outcome.events
    assert outcome.error.error_class == error_class
    assert message in str(outcome.error)


def test_json_batch_of_raw_messages() -> None:
    import json

    raw = (FIXTURES / "email" / "html_only.eml").read_text()
    body = json.dumps([raw, raw.replace("html-only-1", "html-only-2")]).encode()
    records = email.split(body, "http", "application/json")
    assert [r.line for r in records] == [1, 1]
    ids = [
        email.adapt(r.data, business_config(), received_at=RECEIVED_AT).record_id for r in records
    ]
    assert ids == ["html-only-1@example.jp", "html-only-2@example.jp"]
