"""The workers' internal topics, created before faust starts.

faust creates its internal topics itself, but concurrently with joining the consumer group:
when the group's first assignment runs before a topic exists, faust logs "Ignoring missing
topic" and that partition stays unassigned until the next rebalance (a worker that never
resolves identities). Creating them first removes the race.
"""

from __future__ import annotations

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from schemas import topics as T
from streams.workers.config import (
    CHANNELS_TABLE,
    CUSTOMERS_TABLE,
    IDENTITY_COMPONENTS_TABLE,
    IDENTITY_JOURNAL_TABLE,
    IDENTITY_NODES_TABLE,
    TIMELINES_TABLE,
    StreamsConfig,
    changelog_topic,
    first_responses_topic,
    identity_in_topic,
    resolved_topic,
    ticks_topic,
)


def internal_topics(config: StreamsConfig) -> dict[str, tuple[int, dict[str, str]]]:
    """name -> (partitions, topic configs) of every internal topic of the app."""
    app, parts = config.app_id, T.STREAM_PARTITIONS
    compact = {"cleanup.policy": "compact"}
    keep = {"cleanup.policy": "delete", "retention.ms": str(7 * T.DAY_MS)}
    return {
        identity_in_topic(app): (1, keep),
        resolved_topic(app): (parts, keep),
        first_responses_topic(app): (parts, keep),
        ticks_topic(app): (parts, {"cleanup.policy": "delete", "retention.ms": str(T.DAY_MS)}),
        changelog_topic(app, IDENTITY_NODES_TABLE): (1, compact),
        changelog_topic(app, IDENTITY_COMPONENTS_TABLE): (1, compact),
        changelog_topic(app, IDENTITY_JOURNAL_TABLE): (1, compact),
        changelog_topic(app, TIMELINES_TABLE): (parts, compact),
        changelog_topic(app, CUSTOMERS_TABLE): (parts, compact),
        changelog_topic(app, CHANNELS_TABLE): (parts, compact),
    }


def ensure_internal_topics(bootstrap: str, config: StreamsConfig) -> list[str]:
    """Create the missing internal topics; return the names created."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id=f"{config.app_id}-setup")
    try:
        brokers = len(admin.describe_cluster()["brokers"])
        rf = min(3, brokers)
        existing = set(admin.list_topics())
        wanted = [
            NewTopic(name, parts, rf, topic_configs=cfg)
            for name, (parts, cfg) in internal_topics(config).items()
            if name not in existing
        ]
        if wanted:
            try:
                admin.create_topics(wanted)
            except TopicAlreadyExistsError:
                pass  # another worker started at the same moment
        return [t.name for t in wanted]
    finally:
        admin.close()
