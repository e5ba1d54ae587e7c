"""The Kafka producer every ingest path uses: idempotent, acks=all, compressed, batched."""

from __future__ import annotations

from typing import Literal

from kafka import KafkaProducer
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
    request_timeout_ms: int = Field(30_000, ge=1000, description="Per-request timeout.")
    bootstrap_timeout_ms: int = Field(
        10_000, ge=1000, description="Give up this soon when no broker answers at start-up."
    )


def make_producer(bootstrap: str, config: ProducerConfig | None = None) -> KafkaProducer:
    """An idempotent producer: acks=all, so an accepted event is on every in-sync replica, and
    idempotence, so the client's retries never duplicate a record within a partition."""
    config = config or ProducerConfig()
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
    )
