"""The offline side: a point-in-time-correct training set from hand-built data (no leakage),
and materialisation of the gold table into each online store.

The gold table is written with the real Spark + Delta in the layout of schemas/features.py
(`<lake>/gold/customer_features_daily`); real-time history comes from the client's push log.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from feature_store.client import FeatureStoreClient
from schemas.features import CUSTOMER_DAILY_FEATURES, CUSTOMER_DAILY_TABLE
from tests.feature_store.conftest import customer_row, utc

pytestmark = pytest.mark.integration

_SPARK_TYPES = {"int64": "BIGINT", "float64": "DOUBLE", "string": "STRING"}


def daily_row(customer_id: str, at: datetime, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "customer_id": customer_id,
        "event_timestamp": at,
        "contacts_30d": 0,
        "contacts_90d": 0,
        "answered_within_sla_ratio_90d": 1.0,
        "digital_containment_rate_90d": 0.5,
        "lifetime_value": 0.0,
        "purchases_90d": 0,
        "preferred_channel": "email",
        "avg_sentiment_90d": 0.0,
    }
    row.update(values)
    return row


def write_gold(spark: Any, lake: Path, rows: list[dict[str, Any]]) -> None:
    """Write gold.customer_features_daily as the lakehouse does: a Delta table."""
    ddl = ", ".join(
        ["customer_id STRING", "event_timestamp TIMESTAMP"]
        + [f"{name} {_SPARK_TYPES[kind]}" for name, (kind, _) in CUSTOMER_DAILY_FEATURES.items()]
    )
    columns = ["customer_id", "event_timestamp", *CUSTOMER_DAILY_FEATURES]
    frame = spark.createDataFrame([tuple(r[c] for c in columns) for r in rows], schema=ddl)
    frame.write.format("delta").mode("overwrite").save(str(lake / CUSTOMER_DAILY_TABLE))


# Daily rows: event_timestamp is the end of the day they describe.
GOLD = [
    daily_row("cus_pit_1", utc(2026, 11, 10), contacts_30d=1, lifetime_value=10.0),
    daily_row("cus_pit_1", utc(2026, 11, 11), contacts_30d=2, lifetime_value=20.0),
    daily_row("cus_pit_1", utc(2026, 11, 12), contacts_30d=3, preferred_channel="phone"),
    daily_row("cus_pit_2", utc(2026, 11, 11), contacts_30d=7),
]


@pytest.fixture(scope="module")
def gold_written(shared_lake: Path, spark: Any) -> Iterator[Path]:
    # The test data is a handful of rows: one shuffle partition saves many tiny tasks in Feast's
    # point-in-time join. The session is shared, so the setting is restored afterwards.
    before = spark.conf.get("spark.sql.shuffle.partitions")
    spark.conf.set("spark.sql.shuffle.partitions", "1")
    write_gold(spark, shared_lake, GOLD)
    yield shared_lake
    spark.conf.set("spark.sql.shuffle.partitions", before)


@pytest.fixture
def lake_written(client: FeatureStoreClient, gold_written: Path) -> FeatureStoreClient:
    assert client.config.lake_dir == gold_written
    return client


@pytest.mark.parametrize("client", ["sqlite"], indirect=True)
def test_training_set_is_point_in_time_correct(lake_written: FeatureStoreClient) -> None:
    client = lake_written
    client.push_customer_features(
        [
            customer_row("cus_pit_1", utc(2026, 11, 10, 12), contacts_24h=10),
            customer_row("cus_pit_1", utc(2026, 11, 11, 12), contacts_24h=20),
        ]
    )
    entity_df = pd.DataFrame(
        {
            "customer_id": ["cus_pit_1", "cus_pit_1", "cus_pit_1", "cus_pit_1", "cus_pit_2"],
            "event_timestamp": [
                utc(2026, 11, 11, 11, 59, 59),  # after day 11-10 closed and the first push
                utc(2026, 11, 10, 11, 59, 59),  # one second before the first push
                utc(2026, 11, 10, 12),  # exactly at the first push: it counts
                utc(2026, 11, 20),  # every value older than its view's TTL
                utc(2026, 11, 10, 23, 59, 59),  # the customer's only row is later
            ],
            "label": [1, 0, 0, 1, 0],
        }
    )
    out = client.historical_features(entity_df, service="outreach_v1")
    # Rows keep their order and their own columns.
    assert out["label"].tolist() == [1, 0, 0, 1, 0]
    assert out["customer_id"].tolist() == entity_df["customer_id"].tolist()

    def values(column: str) -> list[Any]:
        return [None if pd.isna(v) else v for v in out[column]]

    # Daily: the latest row at or before each time, within the 2-day TTL, never a later one.
    assert values("contacts_30d") == [2, 1, 1, None, None]
    assert values("lifetime_value") == [20.0, 10.0, 10.0, None, None]
    # Real-time (from the push log): 11-11 12:00 (value 20) is after the first row's time.
    assert values("contacts_24h") == [10, None, 10, None, None]


@pytest.mark.parametrize("client", ["sqlite", "redis"], indirect=True)
def test_materialize_gold_into_online_store(lake_written: FeatureStoreClient) -> None:
    client = lake_written
    client.materialize(utc(2026, 11, 1), utc(2026, 11, 11, 12))
    one, two = client.online_features(["cus_pit_1", "cus_pit_2"])
    # The latest row inside the window; 11-12 is after its end.
    assert one["contacts_30d"] == 2 and one["lifetime_value"] == 20.0
    assert one["preferred_channel"] == "email"
    assert two["contacts_30d"] == 7
    client.materialize_incremental(utc(2026, 11, 13))
    (one,) = client.online_features(["cus_pit_1"])
    assert one["contacts_30d"] == 3 and one["preferred_channel"] == "phone"
    # Feast's own online read sees the same.
    feast = client.store.get_online_features(
        features=client.store.get_feature_service("personalisation_v1"),
        entity_rows=[{"customer_id": "cus_pit_1"}],
    ).to_dict()
    assert feast["contacts_30d"] == [3] and feast["answered_within_sla_ratio_90d"] == [1.0]
