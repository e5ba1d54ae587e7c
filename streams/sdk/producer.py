"""SDK producer: native payloads through the ingest pipeline, or canonical events directly."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

from schemas.cloudevents import interaction_headers
from schemas.events import InteractionEvent
from schemas.topics import INTERACTIONS
from streams.adapters import RawRecord
from streams.ingest import BatchResult, IngestConfig, Ingestor, ProducerConfig, make_producer
from streams.ingest.pipeline import STAGE_SDK, SuppressionCheck

Payload = bytes | str | Mapping[str, Any]


class EventProducer:
    """Produce to omnicx from Python code.

    The underlying kafka-python producer is idempotent with acks=all, lz4 compression and
    batching (`streams.ingest.ProducerConfig`).

    - `ingest(channel, payloads)`: native payloads (a Segment message dict, a CTR, an RFC 5322
      message, ...) go through the same adapters and DLQ as `omnicx ingest`; returns once the
      broker acknowledged them, with the accepted event ids and the rejections.
    - `send_event(event)`: an InteractionEvent you built yourself, to cx.interactions.v1 with
      CloudEvents headers; asynchronous (returns the kafka-python future), `flush()` to wait.
    """

    def __init__(
        self,
        bootstrap: str,
        config: ProducerConfig | None = None,
        ingest: IngestConfig | None = None,
        *,
        suppressed: SuppressionCheck | None = None,
        source: str = "sdk",
    ) -> None:
        self._producer = make_producer(bootstrap, config or ProducerConfig(client_id="omnicx-sdk"))
        self._ingestor = Ingestor(self._producer, ingest, suppressed=suppressed)
        self.source = source

    def ingest(
        self,
        channel: str,
        payloads: Payload | Sequence[Payload],
        *,
        content_type: str | None = None,
    ) -> BatchResult:
        """Adapt and publish native payloads of `channel`.

        A dict is one record (JSON); a list is one record per item (`dlq_source_line` is the
        item number); bytes or str are a body in the channel's file format (JSON lines, CSV,
        mbox, one RFC 5322 message) and are split like a file.

        Raises:
            streams.ingest.pipeline.DeliveryFailed: the broker did not acknowledge everything.
        """
        if isinstance(payloads, bytes | str):
            data = payloads.encode("utf-8") if isinstance(payloads, str) else payloads
            return self._ingestor.ingest(
                channel, data, source=self.source, stage=STAGE_SDK, content_type=content_type
            )
        items = [payloads] if isinstance(payloads, Mapping) else list(payloads)
        records = [
            RawRecord(_payload_bytes(item), self.source, number, content_type)
            for number, item in enumerate(items, start=1)
        ]
        return self._ingestor.ingest_records(channel, records, stage=STAGE_SDK)

    def send_event(self, event: InteractionEvent) -> Any:
        """Produce one canonical event (keyed by its primary identifier); returns the future."""
        return self._producer.send(
            INTERACTIONS,
            value=event.to_json_bytes(),
            key=event.primary_identifier.key.encode("utf-8"),
            headers=interaction_headers(event),
        )

    def flush(self, timeout_s: float | None = None) -> None:
        """Wait until every record sent so far is acknowledged (or the timeout passes)."""
        self._producer.flush(timeout=timeout_s)

    def close(self, timeout_s: float = 10.0) -> None:
        """Flush and close the connection."""
        self._producer.close(timeout=timeout_s)

    def __enter__(self) -> EventProducer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _payload_bytes(item: Payload) -> bytes:
    if isinstance(item, bytes):
        return item
    if isinstance(item, str):
        return item.encode("utf-8")
    return json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
