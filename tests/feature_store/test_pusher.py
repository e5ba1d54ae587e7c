"""The feature pusher: workers' feature changelogs → Feast online store, on a real broker and
real Feast stores (SQLite and Redis)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic

from feature_store.client import FeatureStoreClient
from infra.kafka import LocalKafka
from streams.features.channel import ChannelResponseState, apply_response
from streams.features.customer import process
from streams.features.pusher import Batch, FeaturePusher, channel_row, customer_row, lag, push_batch
from streams.features.state import CustomerState
from streams.workers.config import CHANNELS_TABLE, CUSTOMERS_TABLE, StreamsConfig
from streams.workers.records import customer_record
from tests.streams.features.factory import T0, ev

pytestmark = pytest.mark.integration


def customer_value(customer_id: str, events: list[Any]) -> tuple[dict[str, Any], Any]:
    """A `customers` table value as the workers write it, from real events; and the first
    responses the events produced."""
    state = CustomerState(customer_id)
    firsts = []
    features: dict[str, Any] = {}
    for event in events:
        update = process(state, event.model_copy(update={"customer_id": customer_id}))
        features = update.features
        firsts.extend(update.first_responses)
    return customer_record(None, state.to_dict(), features, [], keep=5), firsts


def test_rows_from_changelog_values() -> None:
    value, firsts = customer_value(
        "c-rows",
        [
            ev("e1", 0, conv="k1", text="my order is late"),
            ev("e2", 7, direction="outbound", conv="k1"),
        ],
    )
    row = customer_row("c-rows", value)
    assert row is not None
    assert row["customer_id"] == "c-rows"
    assert row["event_timestamp"] == T0.replace(minute=7)
    assert row["contacts_24h"] == 1 and row["first_response_s_last"] == 420.0
    state = ChannelResponseState("chat")
    for fr in firsts:
        apply_response(state, fr)
    crow = channel_row(state.to_dict())
    assert crow is not None
    assert (crow["channel"], crow["first_response_s_p50_1h"], crow["answered_1h"]) == (
        "chat",
        420.0,
        1,
    )
    assert crow["event_timestamp"] == T0.replace(minute=7)
    assert channel_row(ChannelResponseState("email").to_dict()) is None


def test_batch_keeps_the_newest_value_per_key() -> None:
    batch = Batch()
    batch.add(CUSTOMERS_TABLE, b'"a"', b'{"n": 1}')
    batch.add(CUSTOMERS_TABLE, b'"a"', b'{"n": 2}')
    batch.add(CUSTOMERS_TABLE, b'"b"', b'{"n": 1}')
    batch.add(CUSTOMERS_TABLE, b'"b"', None)
    batch.add(CHANNELS_TABLE, b'"chat"', b'{"n": 3}')
    batch.add(CUSTOMERS_TABLE, None, b'{"n": 9}')
    assert batch.customers == {"a": {"n": 2}, "b": None}
    assert batch.channels == {"chat": {"n": 3}}
    assert len(batch) == 3


def test_push_batch_pushes_and_erases(client: FeatureStoreClient) -> None:
    cid = f"c-{uuid.uuid4().hex[:8]}"
    value, _ = customer_value(cid, [ev("p1", 0, conv="k"), ev("p2", 30, channel="phone")])
    batch = Batch(customers={cid: value})
    counts = push_batch(client, batch)
    assert (counts.customers, counts.erased) == (1, 0)
    [online] = client.online_features([cid])
    assert online["contacts_24h"] == 2 and online["last_channel"] == "phone"
    counts = push_batch(client, Batch(customers={cid: None}))
    assert counts.erased == 1
    [online] = client.online_features([cid])
    assert online["contacts_24h"] is None


def test_pusher_follows_the_changelogs(kafka: LocalKafka, client: FeatureStoreClient) -> None:
    streams = StreamsConfig(app_id=f"pusher-{uuid.uuid4().hex[:8]}")
    customers_topic = f"{streams.app_id}-{CUSTOMERS_TABLE}-changelog"
    channels_topic = f"{streams.app_id}-{CHANNELS_TABLE}-changelog"
    admin = KafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    admin.create_topics([NewTopic(t, 2, 1) for t in (customers_topic, channels_topic)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all")
    ids = [f"c-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    first, _ = customer_value(ids[0], [ev("f1", 0)])
    later, firsts = customer_value(
        ids[0], [ev("f1", 0, conv="x"), ev("f2", 5, direction="outbound", conv="x")]
    )
    for cid, value in [(ids[0], first), (ids[0], later), (ids[1], first), (ids[2], first)]:
        producer.send(
            customers_topic, key=json.dumps(cid).encode(), value=json.dumps(value).encode()
        )
    chat = ChannelResponseState("chat")
    for fr in firsts:
        apply_response(chat, fr)
    # A channel name of this test only: other tests read the real channels' rows.
    channel_name = f"chat-{streams.app_id}"
    chat_value = {**chat.to_dict(), "channel": channel_name}
    producer.send(
        channels_topic, key=json.dumps(channel_name).encode(), value=json.dumps(chat_value).encode()
    )
    producer.send(customers_topic, key=json.dumps(ids[2]).encode(), value=None)  # erased
    producer.flush()
    producer.close()

    pusher = FeaturePusher(kafka.bootstrap, streams, client.config)
    try:
        pushed = 0
        for _ in range(40):
            pusher.step(timeout_ms=500)
            pushed = pusher.totals.customers
            if lag(kafka.bootstrap, streams) == 0:
                break
        assert lag(kafka.bootstrap, streams) == 0
        assert pushed >= 2
    finally:
        pusher.close()
    online = client.online_features(ids, service="outreach_v1")
    assert online[0]["first_response_s_last"] == 300.0  # the newer value won
    assert online[1]["contacts_24h"] == 1
    assert online[2]["contacts_24h"] is None  # the tombstone left nothing behind
    [channel] = client.channel_features([channel_name])
    assert (channel["first_response_s_p50_1h"], channel["answered_1h"]) == (300.0, 1)
