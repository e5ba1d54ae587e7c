"""`omnicx topics apply`: creates the registry's topics with their configs, and is idempotent."""

from __future__ import annotations

import time

import pytest
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType

from omnicx.topics import apply_topics
from schemas.topics import IDENTITY, INTERACTIONS, TOPICS, topic

pytestmark = pytest.mark.integration


def _configs(bootstrap: str, name: str) -> dict[str, str]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    result = admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, name)], config_filter="all"
    )
    admin.close()
    return {k: v["value"] for k, v in result["topic"][name].items()}


def _eventually(bootstrap: str, name: str, key: str, value: str) -> None:
    """Config changes reach the broker through KRaft metadata a moment after the alter."""
    deadline = time.monotonic() + 10
    while _configs(bootstrap, name)[key] != value:
        assert time.monotonic() < deadline, f"{name} {key} never became {value}"
        time.sleep(0.2)


def test_apply_creates_every_topic_then_changes_nothing(bootstrap: str) -> None:
    first = {c.name: c for c in apply_topics(bootstrap)}
    # The session broker may have had topics applied by another test first.
    assert set(first) == {t.name for t in TOPICS}
    second = apply_topics(bootstrap)
    assert [c.action for c in second] == ["unchanged"] * len(TOPICS), second

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    described = {t["name"]: t for t in admin.describe_topics([t.name for t in TOPICS])}
    admin.close()
    for spec in TOPICS:
        assert len(described[spec.name]["partitions"]) == spec.partitions
    assert _configs(bootstrap, IDENTITY)["cleanup.policy"] == "compact"
    assert _configs(bootstrap, INTERACTIONS)["retention.ms"] == "-1"


def test_apply_repairs_drifted_config(bootstrap: str) -> None:
    apply_topics(bootstrap)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.alter_configs(
        [ConfigResource(ConfigResourceType.TOPIC, INTERACTIONS, configs={"retention.ms": "1000"})]
    )
    admin.close()
    _eventually(bootstrap, INTERACTIONS, "retention.ms", "1000")

    changes = {c.name: c for c in apply_topics(bootstrap)}
    assert changes[INTERACTIONS].action == "updated"
    assert "retention.ms: 1000 -> -1" in changes[INTERACTIONS].details
    _eventually(bootstrap, INTERACTIONS, "retention.ms", "-1")
    assert topic(INTERACTIONS).partitions == 6
