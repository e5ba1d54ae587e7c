"""Data sources: push sources fed by the stream workers, and the lakehouse's gold table.

All sources are `SparkSource`s because the offline store is Feast's Spark offline store: the
gold tables are Delta tables written by Spark, and `SparkSource(table_format=DeltaFormat())` is
the route Feast supports for Delta (a `FileSource` over Delta is broken on the Spark offline
store, feast-dev/feast#5084).

Each push source keeps what is pushed to it in a parquet log (`PushMode.ONLINE_AND_OFFLINE`
writes only to path sources with a parquet `file_format`), so real-time values are available
for point-in-time-correct training sets too.

Where the data lives is set when the repo is applied: `omnicx features apply` (and
`FeatureStoreClient.apply`) run `feast apply` with `OMNICX_LAKE_DIR` and
`OMNICX_FEATURE_STORE__PUSH_LOG_DIR` set from the omnicx settings; the paths are then recorded
in the registry. Run by hand, relative values and the defaults are taken from the repository
root (`.omnicx/lake`, `.omnicx/feature_store/push_log`).
"""

import os
from pathlib import Path

from feast import PushSource
from feast.infra.offline_stores.contrib.spark_offline_store.spark_source import SparkSource
from feast.table_format import DeltaFormat

from schemas.features import (
    CHANNEL_REALTIME_PUSH_SOURCE,
    CUSTOMER_DAILY_TABLE,
    CUSTOMER_REALTIME_PUSH_SOURCE,
    TIMESTAMP_FIELD,
)

_REPO_ROOT = Path(__file__).resolve().parents[2]


def _location(variable: str, default: Path) -> Path:
    value = os.environ.get(variable)
    path = Path(value).expanduser() if value else default
    return path if path.is_absolute() else (_REPO_ROOT / path).resolve()


_HOME = _location("OMNICX_HOME", _REPO_ROOT / ".omnicx")
LAKE_DIR = _location("OMNICX_LAKE_DIR", _HOME / "lake")
PUSH_LOG_DIR = _location("OMNICX_FEATURE_STORE__PUSH_LOG_DIR", _HOME / "feature_store" / "push_log")

customer_realtime_log_source = SparkSource(
    name="customer_realtime_log_source",
    path=str(PUSH_LOG_DIR / CUSTOMER_REALTIME_PUSH_SOURCE),
    file_format="parquet",
    timestamp_field=TIMESTAMP_FIELD,
    description=(
        "Every real-time customer feature row pushed by the stream workers, kept as parquet "
        "for training sets and backfills."
    ),
    tags={"team": "cx-data", "domain": "customer", "layer": "push-log"},
    owner="cx-data",
)

customer_realtime_push_source = PushSource(
    name=CUSTOMER_REALTIME_PUSH_SOURCE,
    batch_source=customer_realtime_log_source,
    description=(
        "Real-time customer features computed by the stream workers from "
        "cx.customer-events.v1, pushed on every update."
    ),
    tags={"team": "cx-data", "domain": "customer", "freshness": "realtime"},
    owner="cx-data",
)

channel_realtime_log_source = SparkSource(
    name="channel_realtime_log_source",
    path=str(PUSH_LOG_DIR / CHANNEL_REALTIME_PUSH_SOURCE),
    file_format="parquet",
    timestamp_field=TIMESTAMP_FIELD,
    description="Every real-time channel feature row pushed by the stream workers.",
    tags={"team": "cx-data", "domain": "channel", "layer": "push-log"},
    owner="cx-data",
)

channel_realtime_push_source = PushSource(
    name=CHANNEL_REALTIME_PUSH_SOURCE,
    batch_source=channel_realtime_log_source,
    description=(
        "Real-time channel response figures computed by the stream workers, pushed on every "
        "first response."
    ),
    tags={"team": "cx-data", "domain": "channel", "freshness": "realtime"},
    owner="cx-data",
)

customer_daily_source = SparkSource(
    name="customer_daily_source",
    path=str(LAKE_DIR / CUSTOMER_DAILY_TABLE),
    table_format=DeltaFormat(),
    timestamp_field=TIMESTAMP_FIELD,
    description=(
        "gold.customer_features_daily (Delta, written by the lakehouse jobs): one row per "
        "customer per day, event_timestamp = end of that day (UTC)."
    ),
    tags={"team": "cx-data", "domain": "customer", "layer": "gold"},
    owner="cx-data",
)
