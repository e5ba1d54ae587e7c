"""The 3-broker scale-out shape on loopback: replication 3, min ISR 2, and a message that
survives the loss of the leader of its partition."""

from __future__ import annotations

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

from infra.kafka import LocalKafka
from omnicx.topics import apply_topics
from schemas.topics import INTERACTIONS
from tests.conftest import free_kafka_config

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    kafka = LocalKafka(free_kafka_config(tmp_path_factory.mktemp("cluster"), nodes=3))
    kafka.start()
    yield kafka
    kafka.stop()


def test_three_brokers_and_registry_topics_are_replicated(cluster: LocalKafka) -> None:
    admin = KafkaAdminClient(bootstrap_servers=cluster.bootstrap)
    assert sorted(b["broker_id"] for b in admin.describe_cluster()["brokers"]) == [1, 2, 3]
    apply_topics(cluster.bootstrap)
    [meta] = admin.describe_topics([INTERACTIONS])
    admin.close()
    assert all(len(p["replica_nodes"]) == 3 for p in meta["partitions"])


def test_message_survives_stop_of_its_leader(cluster: LocalKafka) -> None:
    topic = "reliability-rf3"
    admin = KafkaAdminClient(bootstrap_servers=cluster.bootstrap)
    admin.create_topics(
        {
            topic: {
                "num_partitions": 1,
                "replication_factor": 3,
                "configs": {"min.insync.replicas": "2"},
            }
        },
        wait_for_metadata=True,
    )
    producer = KafkaProducer(
        bootstrap_servers=cluster.bootstrap, acks="all", enable_idempotence=True
    )
    producer.send(topic, key=b"c-1", value=b"survives").get(timeout=30)
    [meta] = admin.describe_topics([topic])
    leader = meta["partitions"][0]["leader_id"]
    assert len(meta["partitions"][0]["isr_nodes"]) == 3
    admin.close()

    assert cluster.stop_node(leader)
    try:
        # acks=all still succeeds with two of three replicas in sync (min ISR 2).
        producer.send(topic, key=b"c-2", value=b"after failover").get(timeout=60)
        producer.close()
        alive = ",".join(
            f"127.0.0.1:{cluster.client_port(n)}" for n in cluster.node_ids() if n != leader
        )
        consumer = KafkaConsumer(
            topic, bootstrap_servers=alive, auto_offset_reset="earliest", consumer_timeout_ms=30000
        )
        values = []
        for record in consumer:
            values.append(record.value)
            if len(values) == 2:
                break
        consumer.close()
        assert values == [b"survives", b"after failover"]
    finally:
        cluster.start_node(leader)
