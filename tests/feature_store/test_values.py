"""Pure conversions and row validation of the client (no services)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from feature_store.client import CHANNEL_REALTIME, CUSTOMER_REALTIME
from feature_store.errors import FeatureStoreInputError
from feature_store.online import entity_key_bytes
from feature_store.values import (
    clean_rows,
    clean_value,
    epoch_ns,
    from_proto,
    rows_to_arrow,
    to_proto,
    to_utc_datetime,
)
from tests.feature_store.conftest import customer_row

pytestmark = pytest.mark.unit


def test_times_normalise_to_utc() -> None:
    expected = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    assert to_utc_datetime("2026-11-23T10:00:00Z", "t") == expected
    assert to_utc_datetime("2026-11-23T11:00:00+01:00", "t") == expected
    assert to_utc_datetime(datetime(2026, 11, 23, 10, 0), "t") == expected  # naive = UTC
    plus2 = datetime(2026, 11, 23, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    assert to_utc_datetime(plus2, "t") == expected
    # 2026-11-23 is day 20780 after 1970-01-01 (20454 to 2026-01-01, +326): 10:00 = +36000 s
    assert to_utc_datetime(20780 * 86400 + 36000, "t") == expected
    with pytest.raises(FeatureStoreInputError, match="not an ISO-8601"):
        to_utc_datetime("yesterday", "t")
    with pytest.raises(FeatureStoreInputError, match="expected a datetime"):
        to_utc_datetime(float("nan"), "t")


def test_epoch_ns_is_exact() -> None:
    t = datetime(1970, 1, 2, 0, 0, 1, 5, tzinfo=UTC)
    assert epoch_ns(t) == (86_400 + 1) * 1_000_000_000 + 5_000


def test_clean_value_types() -> None:
    assert clean_value("int64", 3.0, "x") == 3 and clean_value("float64", 2, "x") == 2.0
    assert clean_value("float64", float("nan"), "x") is None
    assert clean_value("string", None, "x") is None
    for kind, bad in [("int64", 2.5), ("int64", True), ("int64", "3"), ("float64", "1.0")]:
        with pytest.raises(FeatureStoreInputError):
            clean_value(kind, bad, "x")
    with pytest.raises(FeatureStoreInputError, match="expected a string"):
        clean_value("string", 5, "x")


def test_proto_round_trip() -> None:
    at = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)
    for kind, value in [("int64", 7), ("float64", 0.5), ("string", "chat"), ("unix_timestamp", at)]:
        assert from_proto(to_proto(kind, value).SerializeToString()) == value
    assert from_proto(to_proto("int64", None).SerializeToString()) is None
    assert from_proto(None) is None


def test_clean_rows_and_arrow() -> None:
    at = datetime(2026, 11, 23, 10, tzinfo=UTC)
    (row,) = clean_rows(CUSTOMER_REALTIME, [customer_row("cus_1", at.isoformat(), contacts_1h=4)])
    assert row.entity_id == "cus_1" and row.event_time == at
    assert row.values[list(CUSTOMER_REALTIME.features).index("contacts_1h")] == 4
    table = rows_to_arrow(CUSTOMER_REALTIME, [row])
    assert table.column_names[:2] == ["customer_id", "event_timestamp"]
    assert table.num_rows == 1 and table["contacts_1h"].to_pylist() == [4]
    with pytest.raises(FeatureStoreInputError, match="'customer_id' must be a non-empty string"):
        clean_rows(CUSTOMER_REALTIME, [customer_row("", at)])
    with pytest.raises(FeatureStoreInputError, match="'event_timestamp' is missing"):
        clean_rows(CHANNEL_REALTIME, [{"channel": "chat"}])
    with pytest.raises(FeatureStoreInputError, match=r"unknown \['extra'\]"):
        clean_rows(CUSTOMER_REALTIME, [customer_row("cus_1", at, extra=1)])


def test_entity_key_matches_feast() -> None:
    from feast.infra.key_encoding_utils import serialize_entity_key
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value

    key = EntityKey(join_keys=["customer_id"], entity_values=[Value(string_val="cus_1")])
    assert entity_key_bytes("customer_id", "cus_1") == serialize_entity_key(
        key, entity_key_serialization_version=3
    )


def test_importing_the_client_keeps_prometheus_in_process() -> None:
    """Feast switches prometheus_client to shared-file values on import; ours must not leak
    that into the rest of the process (the Customer API's /metrics)."""
    import subprocess
    import sys

    code = (
        "import os\n"
        "import feature_store.client\n"
        "from prometheus_client import CollectorRegistry, Counter, generate_latest\n"
        "assert 'PROMETHEUS_MULTIPROCESS_DIR' not in os.environ\n"
        "for _ in range(2):\n"
        "    r = CollectorRegistry()\n"
        "    Counter('x_total', 'x', registry=r).inc()\n"
        "    assert b'x_total 1.0' in generate_latest(r), generate_latest(r)\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("PROMETHEUS")}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
