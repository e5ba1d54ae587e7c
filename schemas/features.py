"""Names and types of the real-time features: the agreement between the stream workers that
compute them and the Feast repo that stores and serves them.

Feast push sources carry these columns plus the entity key and `event_timestamp`.
"""

from __future__ import annotations

CUSTOMER_REALTIME_PUSH_SOURCE = "customer_realtime_push_source"
CHANNEL_REALTIME_PUSH_SOURCE = "channel_realtime_push_source"
CUSTOMER_REALTIME_VIEW = "customer_realtime_contacts"
CHANNEL_REALTIME_VIEW = "channel_realtime_response"

# feature -> (type, description). Types: int64 | float64 | string | unix_timestamp.
CUSTOMER_REALTIME_FEATURES: dict[str, tuple[str, str]] = {
    "contacts_1h": ("int64", "distinct conversations with an inbound event in the last hour"),
    "contacts_24h": ("int64", "distinct conversations with an inbound event in the last 24 h"),
    "contacts_7d": ("int64", "distinct conversations with an inbound event in the last 7 days"),
    "channels_24h": ("int64", "distinct channels with an inbound event in the last 24 h"),
    "last_contact_at": ("unix_timestamp", "time of the latest inbound event"),
    "last_channel": ("string", "channel of the latest inbound event"),
    "open_conversations": ("int64", "conversations whose latest inbound has no outbound answer"),
    "oldest_unanswered_s": ("float64", "age in seconds of the oldest unanswered inbound"),
    "first_response_s_last": (
        "float64",
        "seconds from a conversation's first inbound to its first outbound, latest conversation",
    ),
    "sentiment_last": ("float64", "VADER compound of the latest inbound text"),
    "sentiment_avg_24h": ("float64", "mean VADER compound of inbound text in the last 24 h"),
    "digital_to_phone_24h": (
        "int64",
        "phone contacts in the last 24 h that followed a digital contact within 60 min",
    ),
}

CHANNEL_REALTIME_FEATURES: dict[str, tuple[str, str]] = {
    "first_response_s_p50_1h": (
        "float64",
        "median first-response seconds of conversations answered in the last hour",
    ),
    "answered_1h": ("int64", "conversations first answered in the last hour"),
}

CUSTOMER_ENTITY_KEY = "customer_id"
CHANNEL_ENTITY_KEY = "channel"
TIMESTAMP_FIELD = "event_timestamp"

# The batch side: gold.customer_features_daily (Delta, written by jobs/, read by Feast's batch
# feature view). One row per customer per day; `event_timestamp` is the end of that day (UTC),
# and each value covers the window ending then.
CUSTOMER_DAILY_TABLE = "gold/customer_features_daily"
CUSTOMER_DAILY_VIEW = "customer_daily_profile"
CUSTOMER_DAILY_FEATURES: dict[str, tuple[str, str]] = {
    "contacts_30d": ("int64", "distinct inbound conversations in the last 30 days"),
    "contacts_90d": ("int64", "distinct inbound conversations in the last 90 days"),
    "answered_within_sla_ratio_90d": (
        "float64",
        "share of inbound conversations first answered within the SLA, last 90 days",
    ),
    "digital_containment_rate_90d": (
        "float64",
        "share of journeys (contact days) resolved without a phone contact, last 90 days",
    ),
    "lifetime_value": ("float64", "sum of app purchase revenue to date"),
    "purchases_90d": ("int64", "app purchase events in the last 90 days"),
    "preferred_channel": ("string", "channel with most inbound contacts in the last 90 days"),
    "avg_sentiment_90d": ("float64", "mean VADER compound of inbound text, last 90 days"),
}
