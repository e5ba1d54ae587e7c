"""The Kafka producer every ingest path uses: idempotent, acks=all, compressed, batched."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

from kafka import KafkaProducer
from kafka.partitioner import DefaultPartitioner, murmur2
from pydantic import BaseModel, Field


class ProducerConfig(BaseModel):
    """How ingest produces to Kafka (kafka-python `KafkaProducer` settings)."""

    compression: Literal["lz4", "gzip", "zstd", "snappy", "none"] = Field(
        "lz4", description="Batch compression codec (lz4: cheap on CPU, good on JSON)."
    )
    linger_ms: int = Field(5, ge=0, description="Wait this long to fill a batch.")
    batch_size: int = Field(256 * 1024, ge=1024, description="Bytes per partition batch.")
    max_request_size: int = Field(
        1_048_576, ge=1024, description="Largest request; the broker's default message limit."
    )
    client_id: str = Field("omnicx-ingest", description="Kafka client id.")
    client: Literal["kafka-python", "librdkafka"] = Field(
        "kafka-python",
        description="kafka-python (the SDK's producer) or librdkafka via confluent-kafka (the "
        "HTTP endpoint's: ~10x less CPU per record; same records, keys and partitions).",
    )
    request_timeout_ms: int = Field(30_000, ge=1000, description="Per-request timeout.")
    bootstrap_timeout_ms: int = Field(
        10_000, ge=1000, description="Give up this soon when no broker answers at start-up."
    )


@lru_cache(maxsize=65_536)
def key_hash(key: bytes) -> int:
    """The default partitioner's hash of `key` (the Java client's murmur2, positive; the same
    in kafka-python and aiokafka), remembered: murmur2 is pure Python (~10 us a key) in both,
    and keys recur (customer identifiers and ids, table keys). The stream workers' producer
    partitions with it too (`streams.workers.batches.cached_partitioner`)."""
    return int(murmur2(key)) & 0x7FFFFFFF


class KeyHashPartitioner(DefaultPartitioner):
    """kafka-python's `DefaultPartitioner` (the Java client's murmur2 choice, so the same key
    lands on the same partition as from any other client), without its per-record work that a
    keyed record does not need: the set of available partitions, and murmur2 of a key already
    seen. Keyless records go to the default logic unchanged."""

    def partition(
        self,
        topic: str,
        key: Any,
        serialized_key: bytes | None,
        value: Any,
        serialized_value: bytes | None,
        cluster: Any,
    ) -> int:
        if serialized_key is None:
            return int(super().partition(topic, key, None, value, serialized_value, cluster))
        partitions = cluster.partitions_for_topic(topic)
        if partitions is None:
            raise ValueError(f"Topic {topic} not found in ClusterMetadata")
        ordered = sorted(partitions)
        return int(ordered[key_hash(bytes(serialized_key)) % len(ordered)])


def make_producer(bootstrap: str, config: ProducerConfig | None = None) -> Any:
    """An idempotent producer: acks=all, so an accepted event is on every in-sync replica, and
    idempotence, so the client's retries never duplicate a record within a partition.

    A kafka-python `KafkaProducer`, or with `config.client == "librdkafka"` a
    `streams.ingest.rdkafka.RdKafkaProducer` (the same `send` / `flush` / `close`)."""
    config = config or ProducerConfig()
    if config.client == "librdkafka":
        from streams.ingest.rdkafka import RdKafkaProducer

        return RdKafkaProducer(bootstrap, config)
    return KafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=config.client_id,
        acks="all",
        enable_idempotence=True,
        compression_type=None if config.compression == "none" else config.compression,
        linger_ms=config.linger_ms,
        batch_size=config.batch_size,
        max_request_size=config.max_request_size,
        request_timeout_ms=config.request_timeout_ms,
        bootstrap_timeout_ms=config.bootstrap_timeout_ms,
        partitioner=KeyHashPartitioner(),
    )
