"""Create and update the registry's topics on a cluster, idempotently.

Replication follows the cluster: factor min(3, brokers) and min.insync.replicas 2 from three
brokers up, so the same registry serves the single local broker and a production cluster.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType
from kafka.errors import KafkaError

from omnicx.errors import OmnicxError
from schemas.topics import TOPICS, TopicSpec


@dataclass
class TopicChange:
    """What `apply_topics` did to one topic."""

    name: str
    action: str  # created | updated | unchanged
    details: list[str] = field(default_factory=list)


def admin_client(bootstrap: str, client_id: str = "omnicx-admin") -> KafkaAdminClient:
    """A kafka-python admin client, or an OmnicxError that says the cluster does not answer."""
    try:
        return KafkaAdminClient(
            bootstrap_servers=bootstrap,
            client_id=client_id,
            request_timeout_ms=15000,
            bootstrap_timeout_ms=10000,
        )
    except KafkaError as exc:
        raise OmnicxError(
            f"Kafka at {bootstrap} does not answer ({exc.__class__.__name__}): start it with "
            "'omnicx up' or point OMNICX_KAFKA_BOOTSTRAP at a running cluster"
        ) from exc


def apply_topics(bootstrap: str, specs: Iterable[TopicSpec] = TOPICS) -> list[TopicChange]:
    """Make the cluster's topics match `specs`: create missing ones, set drifted configs, add
    partitions where the registry asks for more. Never deletes or shrinks anything."""
    specs = list(specs)
    admin = admin_client(bootstrap)
    try:
        brokers = len(admin.describe_cluster()["brokers"])
        rf = min(3, brokers)
        min_isr = "2" if rf >= 3 else "1"
        existing = {
            t["name"]: t
            for t in admin.describe_topics([s.name for s in specs])
            if t.get("error_code", 0) == 0
        }
        changes: list[TopicChange] = []
        to_create = {}
        for spec in specs:
            wanted = {**spec.config(), "min.insync.replicas": min_isr}
            if spec.name not in existing:
                to_create[spec.name] = {
                    "num_partitions": spec.partitions,
                    "replication_factor": rf,
                    "configs": wanted,
                }
                changes.append(
                    TopicChange(
                        spec.name, "created", [f"{spec.partitions} partitions, replication {rf}"]
                    )
                )
                continue
            change = TopicChange(spec.name, "unchanged")
            have_partitions = len(existing[spec.name]["partitions"])
            if have_partitions < spec.partitions:
                admin.create_partitions({spec.name: spec.partitions})
                change.details.append(f"partitions {have_partitions} -> {spec.partitions}")
            elif have_partitions > spec.partitions:
                change.details.append(
                    f"has {have_partitions} partitions, registry says {spec.partitions}; "
                    "Kafka cannot shrink a topic, left as is"
                )
            current = _topic_configs(admin, spec.name, wanted.keys())
            drift = {k: v for k, v in wanted.items() if current.get(k) != v}
            if drift:
                resource = ConfigResource(ConfigResourceType.TOPIC, spec.name, configs=drift)
                admin.alter_configs([resource])
                change.details.extend(f"{k}: {current.get(k)} -> {v}" for k, v in drift.items())
            if change.details and (drift or have_partitions < spec.partitions):
                change.action = "updated"
            changes.append(change)
        if to_create:
            admin.create_topics(to_create, wait_for_metadata=True)
        return changes
    except KafkaError as exc:
        raise OmnicxError(f"applying topics at {bootstrap} failed: {exc}") from exc
    finally:
        admin.close()


def _topic_configs(admin: KafkaAdminClient, name: str, keys: Iterable[str]) -> dict[str, str]:
    resource = ConfigResource(ConfigResourceType.TOPIC, name, configs={k: None for k in keys})
    result = admin.describe_configs([resource], config_filter="all")
    return {key: data["value"] for key, data in result["topic"][name].items()}
