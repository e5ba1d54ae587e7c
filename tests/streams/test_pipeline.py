"""Through the real broker: a customer's app, chat, phone and email contacts (each with its own
identifiers) are linked by an app `identify` and read back from the Customer API as one
timeline; identity lookups agree; a rejected record goes to the DLQ."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from kafka import KafkaConsumer, KafkaProducer

from schemas.dlq import STAGE
from schemas.identity import customer_id_for
from streams.api import ApiConfig, ApiKeyStore, create_app
from streams.api.customers import customer_api, state_view_for
from tests.streams.conftest import Workers, make_event

pytestmark = pytest.mark.integration

EMAIL = {"type": "email", "value": "Dana.Smith@Example.com"}
PHONE = {"type": "phone", "value": "+1 (415) 555-0142"}
CHAT = {"type": "chat_visitor_id", "value": "v-77"}
APP = {"type": "app_user_id", "value": "u-1001"}
DEVICE = {"type": "device_id", "value": "dev-9"}

JOURNEY = [
    make_event("j-chat-1", 0, "chat", [CHAT], conversation="chat-1", text="my order is late"),
    make_event("j-chat-2", 2, "chat", [CHAT], "outbound", conversation="chat-1", text="sorry!"),
    make_event("j-app-1", 5, "app", [DEVICE], "internal", kind="screen_view"),
    make_event("j-phone-1", 30, "phone", [PHONE], kind="call_started", conversation="call-1"),
    make_event(
        "j-email-1",
        60,
        "email",
        [EMAIL],
        conversation="mail-1",
        text="This is terrible. Worst service ever, I am furious and disgusted.",
    ),
    # The app identify links the app user, device, e-mail, phone and chat visitor.
    make_event("j-app-2", 90, "app", [APP, DEVICE, EMAIL, PHONE, CHAT], "internal", "identify"),
    # Late: happened before the identify, arrives after it.
    make_event("j-email-0", 45, "email", [EMAIL], "outbound", conversation="mail-0"),
]


@pytest.fixture(scope="module")
def running(workers: Workers) -> Workers:
    workers.start(1)
    return workers


@pytest.fixture(scope="module")
def api(running: Workers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    keys = tmp_path_factory.mktemp("api") / "keys.json"
    store = ApiKeyStore(Path(keys))
    view = state_view_for(running.bootstrap, running.config)
    app = create_app(ApiConfig(keys_file=keys), [customer_api(view)])
    with TestClient(app) as client:
        yield (
            client,
            store.create(["read:timeline", "read:identity", "read:features", "read:signals"]),
            view,
        )


def produce(bootstrap: str, topic: str, events: list, extra: list | None = None) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    for ev in events:
        producer.send(topic, key=ev.primary_identifier.key.encode(), value=ev.to_json_bytes())
    for key, value in extra or []:
        producer.send(topic, key=key, value=value)
    producer.flush()
    producer.close()


def wait_for(check, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"condition not met within {timeout}s; last: {last!r}")


def test_multichannel_journey_reads_back_as_one_timeline(running: Workers, api: tuple) -> None:
    client, key, view = api
    auth = {"Authorization": f"Bearer {key}"}
    produce(running.bootstrap, running.config.interactions_topic, JOURNEY[:5])
    # Before the identify, the phone and the e-mail are separate customers.
    phone_cid = customer_id_for("phone:+14155550142")
    wait_for(
        lambda: client.get(f"/v1/customers/{phone_cid}/timeline", headers=auth).status_code == 200
    )
    produce(running.bootstrap, running.config.interactions_topic, JOURNEY[5:])

    # The anchor is the identifier seen first: the chat visitor at minute 0.
    cid = customer_id_for("chat_visitor_id:v-77")

    def full() -> dict | None:
        r = client.get(f"/v1/customers/{cid}/timeline", headers=auth)
        return r.json() if r.status_code == 200 and r.json()["total_events"] == 7 else None

    body = wait_for(full)
    assert body["customer_id"] == cid
    ids = [e["event_id"] for e in body["events"]]
    # Newest first by event time; the late e-mail sits at minute 45.
    assert ids == [
        "j-app-2",
        "j-email-1",
        "j-email-0",
        "j-phone-1",
        "j-app-1",
        "j-chat-2",
        "j-chat-1",
    ]
    assert {e["channel"] for e in body["events"]} == {"app", "chat", "phone", "email"}
    assert all(e["customer_id"] == cid for e in body["events"])
    chat = next(c for c in body["conversations"] if c["conversation_id"] == "chat-1")
    assert chat["event_ids"] == ["j-chat-2", "j-chat-1"] and chat["inbound"] == 1
    # The phone customer was merged: its old id serves the survivor's timeline.
    old = client.get(f"/v1/customers/{phone_cid}/timeline", headers=auth).json()
    assert old["customer_id"] == cid and old["total_events"] == 7
    # Filters.
    phone_only = client.get(f"/v1/customers/{cid}/timeline?channel=phone", headers=auth).json()
    assert [e["event_id"] for e in phone_only["events"]] == ["j-phone-1"]
    assert (
        len(client.get(f"/v1/customers/{cid}/timeline?limit=2", headers=auth).json()["events"]) == 2
    )

    # Every identifier, written any way a channel writes it, resolves to the one customer.
    for path in (
        "email/dana.smith@example.com",
        "email/DANA.SMITH@EXAMPLE.COM",
        "phone/+14155550142",
        "chat_visitor_id/v-77",
        "app_user_id/u-1001",
        "device_id/dev-9",
    ):
        got = wait_for(lambda p=path: client.get(f"/v1/identities/{p}", headers=auth))
        assert got.status_code == 200, path
        assert got.json()["customer_id"] == cid, path
    assert client.get("/v1/identities/email/nobody@example.com", headers=auth).status_code == 404
    assert client.get("/v1/identities/phone/abc", headers=auth).status_code == 422
    assert client.get("/v1/customers/cus_nope/timeline", headers=auth).status_code == 404


def test_replayed_events_are_not_duplicated_and_bad_records_go_to_the_dlq(
    running: Workers, api: tuple
) -> None:
    client, key, _ = api
    auth = {"Authorization": f"Bearer {key}"}
    produce(
        running.bootstrap,
        running.config.interactions_topic,
        JOURNEY,
        extra=[(b"junk", b"{not json")],
    )
    consumer = KafkaConsumer(
        running.config.dlq_topic,
        bootstrap_servers=running.bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=30000,
    )
    rejected = next(iter(consumer))
    consumer.close()
    assert rejected.key == b"junk" and rejected.value == b"{not json"
    assert dict(rejected.headers)[STAGE] == b"identity"
    # The DLQ record comes after the replayed journey on its partition's agent; give the
    # timeline agent a moment, then check nothing doubled.
    cid = customer_id_for("chat_visitor_id:v-77")
    time.sleep(2)
    body = client.get(f"/v1/customers/{cid}/timeline?limit=1000", headers=auth).json()
    ids = [e["event_id"] for e in body["events"]]
    assert sorted(ids) == sorted(ev.event_id for ev in JOURNEY)


def test_features_signals_and_reply_time_follow_the_merged_customer(
    running: Workers, api: tuple
) -> None:
    """Hand-checked from JOURNEY (as of the latest event, minute 90): contacts are the
    conversations chat-1, call-1 and mail-1 (3 in 24 h, on 3 channels); chat-1 was answered
    after 2 min (120 s), call-1 and mail-1 are open; the e-mail is the latest inbound."""
    client, key, _ = api
    auth = {"Authorization": f"Bearer {key}"}
    cid = customer_id_for("chat_visitor_id:v-77")

    def features() -> dict | None:
        r = client.get(f"/v1/customers/{cid}/features?as_of=last_event", headers=auth)
        body = r.json() if r.status_code == 200 else None
        return body if body and body["features"]["contacts_24h"] == 3 else None

    f = wait_for(features)["features"]
    assert f["contacts_1h"] == 1  # window (30, 90]: call-1 at 30 is out, mail-1 at 60 in
    assert f["contacts_7d"] == 3 and f["channels_24h"] == 3
    assert f["last_channel"] == "email"
    assert f["last_contact_at"].startswith("2026-05-04T10:00:00")
    assert f["open_conversations"] == 2
    assert f["first_response_s_last"] == 120.0
    assert f["digital_to_phone_24h"] == 1
    assert f["sentiment_last"] < -0.5

    def signals() -> list | None:
        r = client.get(f"/v1/customers/{cid}/signals?as_of=last_event", headers=auth)
        got = r.json()["signals"] if r.status_code == 200 else []
        return got if len(got) >= 3 else None

    sigs = wait_for(signals)
    by_type = {s["type"]: s for s in sigs}
    assert set(by_type) == {"repeat_contact", "channel_fallback", "negative_sentiment"}
    assert set(by_type["channel_fallback"]["evidence"]) == {"j-chat-1", "j-phone-1"}
    assert "j-email-1" in by_type["negative_sentiment"]["evidence"]
    assert all(s["customer_id"] == cid for s in sigs)
    consumer = KafkaConsumer(
        running.config.signals_topic,
        bootstrap_servers=running.bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=5000,
    )
    published = {json.loads(m.value)["signal_id"] for m in consumer}
    consumer.close()
    assert {s["signal_id"] for s in sigs} <= published

    chat = client.get("/v1/channels/chat/response-time?as_of=last_event", headers=auth).json()
    assert chat == {
        "channel": "chat",
        "as_of": "last_event",
        "first_response_s_p50_1h": 120.0,
        "answered_1h": 1,
    }
    denied = client.get(f"/v1/customers/{cid}/features")
    assert denied.status_code == 401


def test_a_public_post_left_unanswered_is_signalled_by_the_wall_clock(
    running: Workers, api: tuple
) -> None:
    """A public social post two hours old, then nothing: no later event moves its customer's
    event time past the reply deadline, so only the worker's wall-clock tick (the timer every
    `tick_interval_s` and the `clock` agent) can raise `unanswered_public_post`."""
    client, key, _ = api
    auth = {"Authorization": f"Bearer {key}"}
    handle = {"type": "social_handle", "value": "@Quiet_Poster"}
    post = make_event(
        "tick-post-1",
        0,
        "social",
        [handle],
        conversation="tweet-tick-1",
        text="still waiting for my refund",
        start=datetime.now(UTC) - timedelta(hours=2),
    )
    produce(running.bootstrap, running.config.interactions_topic, [post])
    cid = customer_id_for("social_handle:quiet_poster")

    def signalled() -> list | None:
        r = client.get(f"/v1/customers/{cid}/signals", headers=auth)
        got = r.json()["signals"] if r.status_code == 200 else []
        return [s for s in got if s["type"] == "unanswered_public_post"] or None

    # Raised at the deadline, an hour after the customer's only event: past its event time.
    (sig,) = wait_for(signalled, timeout=3 * running.config.tick_interval_s + 30)
    assert sig["evidence"] == ["tick-post-1"]
    assert sig["raised_at"].startswith((post.occurred_at + timedelta(hours=1)).isoformat()[:16])
