"""Feature views, named `<entity>_<grain>_<topic>`; columns come from schemas/features.py so the
stream workers, the lakehouse and Feast cannot drift apart."""

from datetime import timedelta

from data_sources import (
    channel_realtime_push_source,
    customer_daily_source,
    customer_realtime_push_source,
)
from entities import channel, customer
from feast import FeatureView, Field
from feast.types import FeastType, Float64, Int64, String, UnixTimestamp

from schemas.features import (
    CHANNEL_ENTITY_KEY,
    CHANNEL_REALTIME_FEATURES,
    CHANNEL_REALTIME_VIEW,
    CUSTOMER_DAILY_FEATURES,
    CUSTOMER_DAILY_VIEW,
    CUSTOMER_ENTITY_KEY,
    CUSTOMER_REALTIME_FEATURES,
    CUSTOMER_REALTIME_VIEW,
)

_FEAST_TYPES: dict[str, FeastType] = {
    "int64": Int64,
    "float64": Float64,
    "string": String,
    "unix_timestamp": UnixTimestamp,
}


def _fields(entity_key: str, spec: dict[str, tuple[str, str]]) -> list[Field]:
    """The entity key column, then one Field per agreed feature, with its description."""
    return [Field(name=entity_key, dtype=String)] + [
        Field(name=name, dtype=_FEAST_TYPES[kind], description=text)
        for name, (kind, text) in spec.items()
    ]


customer_realtime_contacts = FeatureView(
    name=CUSTOMER_REALTIME_VIEW,
    entities=[customer],
    # The longest window the stream computes; an older row says nothing about "now".
    ttl=timedelta(days=7),
    schema=_fields(CUSTOMER_ENTITY_KEY, CUSTOMER_REALTIME_FEATURES),
    source=customer_realtime_push_source,
    online=True,
    description=(
        "A customer's contacts right now: counts over 1 h / 24 h / 7 d, open conversations, "
        "the oldest unanswered message, sentiment, and digital-to-phone fallbacks. Pushed by "
        "the stream workers on every customer event."
    ),
    tags={"team": "cx-data", "domain": "customer", "freshness": "realtime", "source": "stream"},
    owner="cx-data",
)

channel_realtime_response = FeatureView(
    name=CHANNEL_REALTIME_VIEW,
    entities=[channel],
    # One-hour windows: after two hours without an update the figure is stale.
    ttl=timedelta(hours=2),
    schema=_fields(CHANNEL_ENTITY_KEY, CHANNEL_REALTIME_FEATURES),
    source=channel_realtime_push_source,
    online=True,
    description=(
        "A channel's current first-response time (median over the last hour) and answered "
        "volume: the 'our current reply time is N minutes' banner."
    ),
    tags={"team": "cx-data", "domain": "channel", "freshness": "realtime", "source": "stream"},
    owner="cx-data",
)

customer_daily_profile = FeatureView(
    name=CUSTOMER_DAILY_VIEW,
    entities=[customer],
    # One row per customer per day; two days leave room for one late daily run.
    ttl=timedelta(days=2),
    schema=_fields(CUSTOMER_ENTITY_KEY, CUSTOMER_DAILY_FEATURES),
    source=customer_daily_source,
    online=True,
    description=(
        "A customer's longer-term profile from gold.customer_features_daily: contacts over "
        "30/90 days, SLA attainment, digital containment, lifetime value, purchases, "
        "preferred channel and sentiment. Materialised daily from the lake."
    ),
    tags={"team": "cx-data", "domain": "customer", "freshness": "daily", "source": "lakehouse"},
    owner="cx-data",
)
