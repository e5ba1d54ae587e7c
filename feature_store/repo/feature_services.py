"""Feature services: the versioned sets of features a consumer asks for by name."""

from feast import FeatureService
from features import customer_daily_profile, customer_realtime_contacts

personalisation_v1 = FeatureService(
    name="personalisation_v1",
    features=[
        customer_realtime_contacts[
            [
                "contacts_24h",
                "channels_24h",
                "last_contact_at",
                "last_channel",
                "open_conversations",
                "oldest_unanswered_s",
                "sentiment_last",
                "digital_to_phone_24h",
            ]
        ],
        customer_daily_profile[
            [
                "preferred_channel",
                "lifetime_value",
                "contacts_30d",
                "answered_within_sla_ratio_90d",
            ]
        ],
    ],
    description=(
        "What a channel app needs to greet and route a customer: are they contacting us "
        "repeatedly or across channels right now, is something unanswered, how do they feel, "
        "which channel do they prefer and how valuable are they."
    ),
    tags={"team": "cx-data", "consumer": "channel-apps", "latency": "online"},
    owner="cx-data",
)

outreach_v1 = FeatureService(
    name="outreach_v1",
    features=[customer_realtime_contacts, customer_daily_profile],
    description=(
        "What a proactive-outreach model needs: every real-time contact feature and the whole "
        "daily profile, for training (point-in-time) and for scoring (online)."
    ),
    tags={"team": "cx-data", "consumer": "outreach-model", "latency": "online-and-training"},
    owner="cx-data",
)
