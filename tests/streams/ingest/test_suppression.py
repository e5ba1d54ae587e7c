"""The suppression list: erased identifiers (by hash) are refused; it is read from
cx.erasures.v1 once (omnicx ingest) or followed (HTTP ingest)."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from kafka import KafkaProducer

from omnicx.topics import apply_topics
from schemas import topics as T
from schemas.erasure import ErasureRequest
from schemas.events import Identifier
from schemas.identity import identifier_hash
from streams.ingest.suppression import SuppressionFollower, SuppressionList

ADA = Identifier(type="email", value="Ada.Lovelace@Example.com")
BOB = Identifier(type="email", value="bob@example.com")


def _request(customer: str, *keys: str) -> ErasureRequest:
    return ErasureRequest(
        customer_id=customer,
        identifier_hashes=[identifier_hash(k) for k in keys],
        requested_at=datetime(2026, 11, 23, tzinfo=UTC),
    )


@pytest.mark.unit
def test_list_matches_normalised_identifiers_by_hash() -> None:
    # The identifier normalises to lower case; the request holds the hash of its key.
    assert ADA.key == "email:ada.lovelace@example.com"
    suppressed = SuppressionList([_request("cus_ada", "email:ada.lovelace@example.com")])
    assert suppressed(ADA)
    assert not suppressed(BOB)
    assert (len(suppressed), suppressed.customers) == (1, 1)


@pytest.mark.unit
def test_tombstone_withdraws_and_garbage_is_skipped() -> None:
    suppressed = SuppressionList()
    suppressed.apply(b"cus_ada", _request("cus_ada", ADA.key).to_json_bytes())
    suppressed.apply(b"cus_bob", _request("cus_bob", BOB.key).to_json_bytes())
    suppressed.apply(b"x", b"not json")
    assert suppressed(ADA) and suppressed(BOB)
    suppressed.apply(b"cus_ada", None)
    assert not suppressed(ADA) and suppressed(BOB)
    assert suppressed.customers == 1


@pytest.fixture()
def erasures(bootstrap: str) -> str:
    """A private copy of cx.erasures.v1."""
    name = f"{T.ERASURES}.test-{uuid.uuid4().hex[:8]}"
    apply_topics(bootstrap, [replace(T.topic(T.ERASURES), name=name)])
    return name


@pytest.mark.integration
def test_load_and_follow_read_the_real_topic(bootstrap: str, erasures: str) -> None:
    assert len(SuppressionList.load(bootstrap, "cx.erasures.v1.never-created")) == 0
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    producer.send(erasures, key=b"cus_ada", value=_request("cus_ada", ADA.key).to_json_bytes())
    producer.flush()

    assert SuppressionList.load(bootstrap, erasures)(ADA)

    follower = SuppressionFollower(bootstrap, erasures, poll_s=0.1)
    follower.start()
    try:
        assert follower.wait_caught_up(30)
        assert follower(ADA) and not follower(BOB)
        # A request published while following is picked up without a restart.
        producer.send(erasures, key=b"cus_bob", value=_request("cus_bob", BOB.key).to_json_bytes())
        producer.flush()
        deadline = time.monotonic() + 20
        while not follower(BOB) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert follower(BOB)
    finally:
        follower.stop()
        producer.close()
