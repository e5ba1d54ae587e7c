"""A real Apache Kafka broker (KRaft) run from Maven-resolved jars, single node or a cluster."""

from infra.kafka.broker import KafkaConfig, LocalKafka, NodeStatus

__all__ = ["KafkaConfig", "LocalKafka", "NodeStatus"]
