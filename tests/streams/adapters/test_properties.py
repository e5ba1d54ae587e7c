"""Property-based: whatever bytes arrive, an adapter never crashes. It returns valid canonical
events or raises an AdapterError whose class is one of the documented ones and whose message
says why."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.events import InteractionEvent
from streams.adapters import ADAPTERS, AdapterError, get_adapter
from streams.adapters.base import split_json_records
from streams.adapters.errors import ERROR_CLASSES
from tests.streams.adapters.conftest import FIXTURES, RECEIVED_AT, business_config

pytestmark = pytest.mark.unit

CONFIG = business_config(default_phone_region="GB")
KNOWN = {cls.__name__ for cls in ERROR_CLASSES}
PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def _check(channel: str, data: bytes, context: Any = None) -> None:
    adapter = get_adapter(channel)
    try:
        adapted = adapter.adapt(data, CONFIG, received_at=RECEIVED_AT, context=context)
    except AdapterError as exc:
        assert exc.error_class in KNOWN
        assert str(exc).strip(), "a rejection must say why"
        return
    assert adapted.events, "an accepted record yields at least one event"
    assert adapted.record_id
    for event in adapted.events:
        assert InteractionEvent.from_json_bytes(event.to_json_bytes()) == event
        assert CONFIG.earliest <= event.occurred_at <= RECEIVED_AT + timedelta(hours=1)
        assert event.channel.value == channel


def _fixture_records(channel: str) -> list[bytes]:
    adapter = get_adapter(channel)
    out = []
    for path in sorted((FIXTURES / channel).glob("*")):
        if path.is_file():
            out += [r.data for r in adapter.split(path.read_bytes(), str(path))]
    return out


FIXTURE_RECORDS = {channel: _fixture_records(channel) for channel in ADAPTERS}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
    | st.sampled_from(
        [
            "2025-11-03T10:00:00Z",
            "1999-01-01T00:00:00Z",
            "2099-01-01T00:00:00Z",
            "+447700900123",
            "a@b.io",
            "VOICE",
            "INBOUND",
            "CUSTOMER",
            "AGENT",
            "MESSAGE",
            "identify",
            "track",
            "Order Completed",
            "TELEPHONE_NUMBER",
        ]
    ),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)

FORMAT_KEYS = {
    "app": [
        "type",
        "messageId",
        "userId",
        "anonymousId",
        "timestamp",
        "traits",
        "event",
        "properties",
        "context",
        "name",
    ],
    "phone": [
        "ContactId",
        "Channel",
        "InitiationMethod",
        "InitiationTimestamp",
        "DisconnectTimestamp",
        "CustomerEndpoint",
        "Queue",
        "Agent",
        "Attributes",
    ],
    "chat": ["Version", "ContactId", "Participants", "Transcript", "Attributes"],
    "social": ["data", "includes", "tweet_id", "author_id", "inbound", "created_at", "text"],
}


@st.composite
def format_shaped(draw: st.DrawFn, channel: str) -> bytes:
    """A JSON object with the format's own keys and arbitrary values, often starting from a
    real fixture record so the deeper checks are reached."""
    base: dict[str, Any] = {}
    records = [r for r in FIXTURE_RECORDS[channel] if r.lstrip()[:1] == b"{"]
    if records and draw(st.booleans()):
        try:
            base = json.loads(draw(st.sampled_from(records)))
        except ValueError:
            base = {}
    for key in draw(st.lists(st.sampled_from(FORMAT_KEYS[channel]), max_size=4)):
        if draw(st.booleans()):
            base[key] = draw(json_values)
        else:
            base.pop(key, None)
    return json.dumps(base).encode()


@st.composite
def mutated_fixture(draw: st.DrawFn, channel: str) -> bytes:
    data = draw(st.sampled_from(FIXTURE_RECORDS[channel]))
    action = draw(st.sampled_from(["truncate", "flip", "insert", "keep"]))
    if action == "truncate":
        return data[: draw(st.integers(0, len(data)))]
    if action == "flip" and data:
        i = draw(st.integers(0, len(data) - 1))
        return data[:i] + bytes([draw(st.integers(0, 255))]) + data[i + 1 :]
    if action == "insert":
        i = draw(st.integers(0, len(data)))
        return data[:i] + draw(st.binary(max_size=8)) + data[i:]
    return data


@pytest.mark.parametrize("channel", sorted(ADAPTERS))
@PROPERTY_SETTINGS
@given(data=st.binary(max_size=600))
def test_random_bytes_never_crash(channel: str, data: bytes) -> None:
    _check(channel, data)


@pytest.mark.parametrize("channel", sorted(ADAPTERS))
@PROPERTY_SETTINGS
@given(st.data())
def test_mutated_real_records_never_crash(channel: str, data: st.DataObject) -> None:
    _check(channel, data.draw(mutated_fixture(channel)))


@pytest.mark.parametrize("channel", sorted(FORMAT_KEYS))
@PROPERTY_SETTINGS
@given(st.data())
def test_format_shaped_documents_never_crash(channel: str, data: st.DataObject) -> None:
    _check(channel, data.draw(format_shaped(channel)))


@PROPERTY_SETTINGS
@given(
    headers=st.dictionaries(
        st.sampled_from(
            [
                "From",
                "To",
                "Cc",
                "Date",
                "Message-ID",
                "In-Reply-To",
                "References",
                "Subject",
                "Content-Type",
                "Content-Transfer-Encoding",
            ]
        ),
        st.text(max_size=40).map(lambda s: s.replace("\n", " ").replace("\r", " "))
        | st.sampled_from(
            [
                "Mon, 03 Nov 2025 08:01:12 +0000",
                "anna@example.com",
                "agent@acme.example",
                "<a@b>",
                "multipart/mixed; boundary=x",
                "base64",
                "=?utf-8?q?Jos=C3=A9?= <j@example.org>",
            ]
        ),
        max_size=8,
    ),
    body=st.binary(max_size=200),
)
def test_generated_emails_never_crash(headers: dict[str, str], body: bytes) -> None:
    head = "".join(f"{k}: {v}\n" for k, v in headers.items()).encode("utf-8", "surrogateescape")
    _check("email", head + b"\n" + body)


@pytest.mark.parametrize("channel", sorted(ADAPTERS))
@PROPERTY_SETTINGS
@given(data=st.binary(max_size=400))
def test_splitting_any_file_never_crashes_and_adapting_every_piece_is_safe(
    channel: str, data: bytes
) -> None:
    adapter = get_adapter(channel)
    records = adapter.split(data, "generated")
    context = adapter.build_context(records)
    for record in records:
        _check(channel, record.data, context)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.dictionaries(st.text(max_size=5), st.integers(), max_size=3), max_size=6))
def test_json_array_split_keeps_each_element_exactly(items: list[dict[str, int]]) -> None:
    text = "[\n" + ",\n".join(json.dumps(i, indent=1) for i in items) + "\n]"
    records = split_json_records(text.encode(), "f")
    assert [json.loads(r.data) for r in records] == items
    for record, item in zip(records, items, strict=True):
        assert record.data.decode() == json.dumps(item, indent=1)


def test_oversized_payload_is_refused_with_sizes() -> None:
    config = business_config(max_payload_bytes=2048)
    big = (
        b'{"type":"page","anonymousId":"a","timestamp":"2025-11-03T08:55:00Z","pad":"'
        + b"x" * 5000
        + b'"}'
    )
    for channel in ADAPTERS:
        with pytest.raises(AdapterError, match="exceeds the 2,048-byte limit") as info:
            get_adapter(channel).adapt(big, config, received_at=RECEIVED_AT)
        assert info.value.error_class == "PayloadTooLarge"


def test_unknown_channel() -> None:
    with pytest.raises(AdapterError, match="unknown channel 'fax'") as info:
        get_adapter("fax")
    assert info.value.error_class == "UnknownChannel"


def test_fixture_files_exist_for_every_channel() -> None:
    for channel in ADAPTERS:
        assert FIXTURE_RECORDS[channel], channel
        assert any(Path(FIXTURES / channel / "malformed").iterdir())
