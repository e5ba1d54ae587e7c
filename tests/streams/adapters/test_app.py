"""App adapter: Segment Spec identify / track / page / screen messages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schemas.events import make_event_id
from schemas.identifiers import IdentifierType
from streams.adapters import app
from tests.streams.adapters.conftest import FIXTURES, RECEIVED_AT, adapt_file, business_config

pytestmark = pytest.mark.unit


def _events() -> dict[str, object]:
    outcomes = adapt_file("app", FIXTURES / "app" / "segment.jsonl")
    assert all(o.error is None for o in outcomes)
    return {o.record_id: o.events[0] for o in outcomes}


def test_identify_carries_several_identifiers() -> None:
    event = _events()["seg-identify-0001"]
    assert [i.key for i in event.identifiers] == [
        "app_user_id:u-7781",
        "device_id:anon-3f2a",
        "email:ada.lovelace@example.com",
        "phone:+442079460958",
        "social_handle:cust_ada",
    ]
    assert event.kind == "identify" and event.direction.value == "internal"
    assert event.event_id == make_event_id("segment", "seg-identify-0001")
    assert event.attributes["traits"] == {"name": "Ada Lovelace", "plan": "premium"}
    assert event.attributes["app_version"] == "4.2.1"


def test_track_kinds_and_directions() -> None:
    events = _events()
    purchase = events["seg-track-0002"]
    assert (purchase.kind, purchase.direction.value) == ("purchase", "internal")
    assert purchase.attributes["revenue"] == 59.9 and purchase.attributes["currency"] == "GBP"
    assert purchase.attributes["order_id"] == "7781"
    help_request = events["seg-track-0005"]
    assert (help_request.kind, help_request.direction.value) == ("case_opened", "inbound")
    assert help_request.text == "The tracking page says delivered but I have nothing."
    assert help_request.conversation_id == "T-5521"
    assert events["seg-track-0006"].kind == "login"
    crash = events["seg-track-0007"]
    assert (crash.kind, crash.direction.value, crash.text) == (
        "app_error",
        "internal",
        "Payment sheet crashed",
    )
    # context.traits identify the anonymous visitor too; the offset is kept.
    assert [i.key for i in crash.identifiers] == ["device_id:anon-77c1", "email:guest@example.org"]
    assert crash.occurred_at.astimezone(UTC) == datetime(2025, 11, 3, 8, 7, tzinfo=UTC)


def test_page_and_screen() -> None:
    events = _events()
    page = events["seg-page-0003"]
    assert page.kind == "page_view" and page.attributes["path"] == "/orders/7781"
    assert [i.key for i in page.identifiers] == ["device_id:anon-77c1"]
    screen = events["seg-screen-0004"]
    assert screen.kind == "screen_view" and screen.attributes["name"] == "Order detail"


def test_trait_map_is_configurable() -> None:
    config = business_config(
        trait_identifiers={"email": IdentifierType.EMAIL, "loyalty_no": IdentifierType.CRM_ID}
    )
    doc = (
        b'{"type":"identify","messageId":"m-1","userId":"u-1","timestamp":"2025-11-03T08:55:00Z",'
        b'"traits":{"email":"a@b.io","twitter":"@nobody","loyalty_no":"L-99"}}'
    )
    event = app.adapt(doc, config, received_at=RECEIVED_AT).events[0]
    assert [i.key for i in event.identifiers] == [
        "app_user_id:u-1",
        "email:a@b.io",
        "crm_id:L-99",
    ]
    assert event.attributes["traits"] == {"twitter": "@nobody"}


def test_a_bad_trait_is_dropped_not_fatal() -> None:
    doc = (
        b'{"type":"identify","messageId":"m-2","userId":"u-2","timestamp":"2025-11-03T08:55:00Z",'
        b'"traits":{"phone":"(415) 555-0123","email":"not-an-address"}}'
    )
    event = app.adapt(doc, business_config(), received_at=RECEIVED_AT).events[0]
    assert [i.key for i in event.identifiers] == ["app_user_id:u-2"]
    assert len(event.attributes["unusable_identifiers"]) == 2
    with_region = app.adapt(
        doc, business_config(default_phone_region="US"), received_at=RECEIVED_AT
    ).events[0]
    assert "phone:+14155550123" in [i.key for i in with_region.identifiers]


def test_message_without_message_id_gets_a_stable_content_id() -> None:
    doc = b'{"type":"page","anonymousId":"a-1","timestamp":"2025-11-03T08:55:00Z","name":"Home"}'
    first = app.adapt(doc, business_config(), received_at=RECEIVED_AT)
    again = app.adapt(doc, business_config(), received_at=RECEIVED_AT)
    assert first.record_id.startswith("sha256:") and first.record_id == again.record_id
    assert first.events[0].event_id == again.events[0].event_id


def test_batch_envelope_is_opened() -> None:
    body = (
        b'{"batch":[{"type":"page","anonymousId":"a","timestamp":"2025-11-03T08:55:00Z"},'
        b'{"type":"screen","anonymousId":"b","timestamp":"2025-11-03T08:56:00Z"}],'
        b'"sentAt":"2025-11-03T08:57:00Z"}'
    )
    assert len(app.split(body, "http", "application/json")) == 2


@pytest.mark.parametrize(
    ("line", "error_class", "message"),
    [
        (1, "MalformedPayload", "truncated JSON"),
        (2, "InvalidField", "message.userId must be a string, got an object"),
        (3, "MissingIdentity", "no userId, anonymousId or identifying trait"),
        (4, "InvalidTimestamp", "not an ISO 8601 timestamp"),
        (5, "InvalidTimestamp", "before 2000-01-01"),
        (6, "InvalidTimestamp", "in the future"),
        (7, "UnsupportedMessage", "'alias' messages are not ingested"),
        (8, "InvalidField", "properties.revenue must be a finite number"),
        (9, "InvalidTimestamp", "none of timestamp"),
        (10, "InvalidField", "must be a JSON object, got an array"),
        (11, "InvalidField", "'launch' is not one of"),
        (12, "InvalidEncoding", "invalid UTF-8"),
    ],
)
def test_malformed_messages(line: int, error_class: str, message: str) -> None:
    outcomes = {o.line: o for o in adapt_file("app", FIXTURES / "app" / "malformed" / "bad.jsonl")}
    assert len(outcomes) == 12
    error = outcomes[line].error
    assert error is not None and error.error_class == error_class
    assert message in str(error)
