"""The thin client against a real applied repo, on SQLite and on real Redis."""

from __future__ import annotations

from datetime import timedelta

import pytest

from feature_store.client import FeatureStoreClient
from feature_store.errors import FeatureStoreInputError
from tests.feature_store.conftest import customer_row, utc

pytestmark = pytest.mark.integration

T0 = utc(2026, 11, 20, 10, 0, 0)


def test_push_then_read(client: FeatureStoreClient) -> None:
    result = client.push_customer_features(
        [
            customer_row("cus_read_a", T0, contacts_24h=4, last_channel="phone"),
            customer_row("cus_read_b", T0, contacts_24h=7, sentiment_last=None),
        ]
    )
    assert (result.received, result.written, result.stale) == (2, 2, 0)
    a, missing, b = client.online_features(["cus_read_a", "cus_read_none", "cus_read_b"])
    assert a["customer_id"] == "cus_read_a" and a["contacts_24h"] == 4
    assert a["last_channel"] == "phone" and a["last_contact_at"] == T0
    assert a["oldest_unanswered_s"] == 30.0 and a["sentiment_last"] == 0.25
    # Daily features were never materialised: present as None, like Feast returns them.
    assert a["contacts_30d"] is None and a["preferred_channel"] is None
    assert missing["customer_id"] == "cus_read_none" and missing["contacts_24h"] is None
    assert b["contacts_24h"] == 7 and b["sentiment_last"] is None
    # personalisation_v1 is a subset: contacts_1h is not part of it, outreach_v1 has it.
    assert "contacts_1h" not in a
    (full,) = client.online_features(["cus_read_a"], service="outreach_v1")
    assert full["contacts_1h"] == 1 and full["sentiment_avg_24h"] == 0.1


def test_reads_agree_with_feast(client: FeatureStoreClient) -> None:
    """Our direct read and Feast's own get_online_features see the same values."""
    client.push_customer_features([customer_row("cus_agree", T0, contacts_7d=11)])
    ours = client.online_features(["cus_agree"], service="outreach_v1")[0]
    feast = client.store.get_online_features(
        features=client.store.get_feature_service("outreach_v1"),
        entity_rows=[{"customer_id": "cus_agree"}],
    ).to_dict()
    assert {k: v[0] for k, v in feast.items()} == ours


def test_older_event_never_overwrites_newer(client: FeatureStoreClient) -> None:
    client.push_customer_features([customer_row("cus_order", T0, contacts_24h=5)])
    older = client.push_customer_features(
        [customer_row("cus_order", T0 - timedelta(microseconds=1), contacts_24h=99)]
    )
    assert (older.written, older.stale) == (0, 1)
    assert client.online_features(["cus_order"])[0]["contacts_24h"] == 5
    newer = client.push_customer_features(
        [customer_row("cus_order", T0 + timedelta(milliseconds=1), contacts_24h=6)]
    )
    assert (newer.written, newer.stale) == (1, 0)
    # Within one batch too: the newest wins whatever the order.
    client.push_customer_features(
        [
            customer_row("cus_order", T0 + timedelta(seconds=9), contacts_24h=9),
            customer_row("cus_order", T0 + timedelta(seconds=8), contacts_24h=8),
        ]
    )
    assert client.online_features(["cus_order"])[0]["contacts_24h"] == 9


def test_channel_features(client: FeatureStoreClient) -> None:
    row = {
        "channel": "email",
        "event_timestamp": T0,
        "first_response_s_p50_1h": 42.5,
        "answered_1h": 3,
    }
    assert client.push_channel_features([row]).written == 1
    (email, chat) = client.channel_features(["email", "chat"])
    assert email == {"channel": "email", "first_response_s_p50_1h": 42.5, "answered_1h": 3}
    assert chat == {"channel": "chat", "first_response_s_p50_1h": None, "answered_1h": None}


def test_erase_customer(client: FeatureStoreClient) -> None:
    client.push_customer_features(
        [customer_row("cus_erase", T0), customer_row("cus_keep", T0, contacts_24h=3)]
    )
    client.flush()
    assert client.delete_customers(["cus_erase", "cus_never"]) == 1
    gone, kept = client.online_features(["cus_erase", "cus_keep"], service="outreach_v1")
    assert all(v is None for k, v in gone.items() if k != "customer_id")
    assert kept["contacts_24h"] == 3
    # Feast's own read agrees that nothing is left.
    feast = client.store.get_online_features(
        features=["customer_realtime_contacts:contacts_24h"],
        entity_rows=[{"customer_id": "cus_erase"}],
    ).to_dict()
    assert feast["contacts_24h"] == [None]
    # And the push log (offline copy) no longer has the customer.
    import pyarrow.dataset as ds

    log = ds.dataset(client.config.push_logs / "customer_realtime_push_source").to_table()
    ids = set(log["customer_id"].to_pylist())
    assert "cus_erase" not in ids and "cus_keep" in ids


def test_bad_rows_rejected_whole_batch(client: FeatureStoreClient) -> None:
    good = customer_row("cus_bad_a", T0)
    bad = customer_row("cus_bad_b", T0, contacts_24h="many")
    with pytest.raises(FeatureStoreInputError, match="row 1 contacts_24h: expected an integer"):
        client.push_customer_features([good, bad])
    missing = customer_row("cus_bad_c", T0)
    del missing["contacts_1h"]
    with pytest.raises(FeatureStoreInputError, match=r"missing \['contacts_1h'\]"):
        client.push_customer_features([missing])
    assert client.online_features(["cus_bad_a"])[0]["contacts_24h"] is None
    with pytest.raises(FeatureStoreInputError, match="unknown feature service 'nope_v1'"):
        client.online_features(["cus_bad_a"], service="nope_v1")
