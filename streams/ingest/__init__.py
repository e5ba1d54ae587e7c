"""The ingest gateway: native records -> raw topic + canonical topic, or the DLQ with a reason.

`pipeline` is the core every way in shares (files, HTTP, SDK); `kafka` builds the producer.
"""

from streams.ingest.kafka import ProducerConfig, make_producer
from streams.ingest.pipeline import (
    BatchResult,
    IngestConfig,
    Ingestor,
    Outcome,
    SuppressionCheck,
    adapt_records,
)

__all__ = [
    "BatchResult",
    "IngestConfig",
    "Ingestor",
    "Outcome",
    "ProducerConfig",
    "SuppressionCheck",
    "adapt_records",
    "make_producer",
]
