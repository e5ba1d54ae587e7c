"""What an erasure removes from the stream workers' identity graph (pure planning)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schemas.erasure import ErasureRequest
from schemas.identity import customer_id_for, identifier_hash
from streams.identity import IdentityGraph
from streams.workers.erasure import plan_identity_erasure

pytestmark = pytest.mark.unit

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
ANN_MAIL, ANN_PHONE, ANN_HANDLE = "email:ann@example.com", "phone:+14155550100", "social:@ann"
BOB = "email:bob@example.com"


def _graph() -> IdentityGraph:
    """Ann known by three identifiers, merged once; Bob apart."""
    graph = IdentityGraph()
    graph.resolve([ANN_PHONE], T0 + timedelta(minutes=5))  # first customer: anchored on phone
    graph.resolve([ANN_MAIL], T0)  # a second customer, anchored earlier
    graph.resolve([ANN_MAIL, ANN_PHONE, ANN_HANDLE], T0 + timedelta(minutes=9))  # merge
    graph.resolve([BOB], T0)
    return graph


def _request(customer_id: str, *keys: str) -> ErasureRequest:
    return ErasureRequest(
        customer_id=customer_id,
        identifier_hashes=[identifier_hash(k) for k in keys],
        requested_at=T0,
    )


def test_customer_id_finds_the_component_and_its_old_ids() -> None:
    graph = _graph()
    ann = graph.lookup(ANN_MAIL)
    assert ann == customer_id_for(ANN_MAIL)  # earliest first-seen identifier anchors
    plan = plan_identity_erasure(_request(ann), graph.nodes.items(), graph.components.items())
    assert plan.identifier_keys == sorted([ANN_MAIL, ANN_PHONE, ANN_HANDLE])
    assert len(plan.component_keys) == 1
    # The phone-anchored customer merged into Ann: its id's redirects and merge record go too.
    assert customer_id_for(ANN_PHONE) in plan.customer_ids
    assert plan.customer_ids == sorted(customer_id_for(k) for k in plan.identifier_keys)
    assert customer_id_for(BOB) not in plan.customer_ids


def test_identifier_hash_finds_the_component_when_the_lake_named_another_id() -> None:
    graph = _graph()
    # The lake saw only the phone: it calls Ann by the phone's id, which the stream merged away.
    plan = plan_identity_erasure(
        _request(customer_id_for(ANN_PHONE), ANN_PHONE),
        graph.nodes.items(),
        graph.components.items(),
    )
    assert plan.identifier_keys == sorted([ANN_MAIL, ANN_PHONE, ANN_HANDLE])
    assert graph.lookup(ANN_MAIL) in plan.customer_ids


def test_unknown_customer_plans_only_its_own_id() -> None:
    graph = _graph()
    plan = plan_identity_erasure(
        _request("cus_nobody"), graph.nodes.items(), graph.components.items()
    )
    assert (plan.component_keys, plan.identifier_keys, plan.customer_ids) == (
        [],
        [],
        ["cus_nobody"],
    )
