"""The dead-letter queue contract (cx.dlq.v1).

A rejected record keeps its original key and bytes as the value; these headers say why and
from where. `stage` is where it was refused; `source_*` locate the original record (a Kafka
topic/partition/offset, or a file and line for `omnicx ingest`, or the HTTP request).
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.cloudevents import Headers

# Header names on cx.dlq.v1.
STAGE = "dlq_stage"  # ingest_file | ingest_http | normalise | identity | ...
ERROR_CLASS = "dlq_error_class"  # e.g. InvalidPayload, MissingIdentity, Suppressed
ERROR_MESSAGE = "dlq_error_message"  # human-readable reason
CHANNEL = "dlq_channel"
SOURCE_TOPIC = "dlq_source_topic"
SOURCE_PARTITION = "dlq_source_partition"
SOURCE_OFFSET = "dlq_source_offset"
SOURCE_FILE = "dlq_source_file"
SOURCE_LINE = "dlq_source_line"
REJECTED_AT = "dlq_rejected_at"  # RFC 3339


@dataclass(frozen=True)
class Rejection:
    """Why and where a record was refused; `headers()` renders the DLQ headers."""

    stage: str
    error_class: str
    message: str
    channel: str | None = None
    source_topic: str | None = None
    source_partition: int | None = None
    source_offset: int | None = None
    source_file: str | None = None
    source_line: int | None = None
    rejected_at: str | None = None

    def headers(self) -> Headers:
        pairs = {
            STAGE: self.stage,
            ERROR_CLASS: self.error_class,
            ERROR_MESSAGE: self.message,
            CHANNEL: self.channel,
            SOURCE_TOPIC: self.source_topic,
            SOURCE_PARTITION: self.source_partition,
            SOURCE_OFFSET: self.source_offset,
            SOURCE_FILE: self.source_file,
            SOURCE_LINE: self.source_line,
            REJECTED_AT: self.rejected_at,
        }
        return [(k, str(v).encode("utf-8")) for k, v in pairs.items() if v is not None]

    @classmethod
    def from_headers(cls, headers: dict[str, str]) -> Rejection:
        def as_int(key: str) -> int | None:
            return int(headers[key]) if key in headers else None

        return cls(
            stage=headers.get(STAGE, ""),
            error_class=headers.get(ERROR_CLASS, ""),
            message=headers.get(ERROR_MESSAGE, ""),
            channel=headers.get(CHANNEL),
            source_topic=headers.get(SOURCE_TOPIC),
            source_partition=as_int(SOURCE_PARTITION),
            source_offset=as_int(SOURCE_OFFSET),
            source_file=headers.get(SOURCE_FILE),
            source_line=as_int(SOURCE_LINE),
            rejected_at=headers.get(REJECTED_AT),
        )
