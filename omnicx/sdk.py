"""The omnicx Python SDK (see README, "Python SDK"): `EventProducer`, `EventConsumer`."""

from streams.ingest import BatchResult, IngestConfig, ProducerConfig
from streams.sdk import EventConsumer, EventProducer, RecordPosition

__all__ = [
    "BatchResult",
    "EventConsumer",
    "EventProducer",
    "IngestConfig",
    "ProducerConfig",
    "RecordPosition",
]
