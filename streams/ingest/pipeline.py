"""The ingest pipeline: a channel's native records -> canonical events on Kafka, or the DLQ.

Every way in (files, HTTP, SDK) goes through `Ingestor`:

1. split the body into raw records (`streams.adapters.<channel>.split`);
2. adapt each record (pure; `adapt_records`), which yields events or an `AdapterError`;
3. publish: an accepted record's bytes go to `cx.ingest.<channel>` keyed by its source record
   id (for replay) and its events to `cx.interactions.v1` keyed by the primary identifier, with
   CloudEvents headers; a rejected record's bytes go to `cx.dlq.v1` keyed by its record id,
   with the `schemas.dlq` headers (stage, error class, message, file and line).

Each record read ends in exactly one of the two places, so `read == accepted + rejected` holds
for every batch (`BatchResult.check`). Nothing is counted as accepted until the broker has
acknowledged it (acks=all).
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, Field

from schemas.cloudevents import interaction_headers
from schemas.dlq import Rejection
from schemas.events import Identifier, InteractionEvent
from schemas.topics import CHANNELS, DLQ, INTERACTIONS, ingest_topic
from streams.adapters import AdapterConfig, AdapterError, RawRecord, get_adapter
from streams.adapters.base import ensure_adapter_error, fallback_record_id
from streams.adapters.errors import PayloadTooLarge, UnknownChannel

# Stages named in the dlq_stage header.
STAGE_FILE = "ingest_file"
STAGE_HTTP = "ingest_http"
STAGE_SDK = "ingest_sdk"

# Records adapted and handed to the producer per step; the progress callback fires per step.
CHUNK = 500

SuppressionCheck = Callable[[Identifier], bool]
"""True when an identifier belongs to an erased customer whose events must be refused. The
erasure component supplies it (e.g. a set of identifier hashes kept from cx.erasures.v1)."""


class Suppressed(AdapterError):
    """The record names an identifier of an erased customer; it is refused and its bytes are
    not kept (the DLQ record carries the reason only)."""


class IngestError(Exception):
    """Root of the gateway's errors that are not about one record (those go to the DLQ)."""


class DeliveryFailed(IngestError):
    """The broker did not acknowledge some records; retrying the batch is safe (stable ids)."""


class Producer(Protocol):
    """What the pipeline needs of a Kafka producer (kafka-python's `KafkaProducer`)."""

    def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> Any: ...

    def flush(self, timeout: float | None = None) -> None: ...


class IngestConfig(BaseModel):
    """Configuration of the ingest gateway."""

    adapters: AdapterConfig = Field(
        default_factory=AdapterConfig,
        description="The business's own addresses and handles, limits, identifier maps.",
    )
    flush_timeout_s: float = Field(
        60.0, gt=0, description="How long to wait for the broker to acknowledge a batch."
    )


@dataclass
class Outcome:
    """What became of one raw record: events, or the error that refused it."""

    record: RawRecord
    record_id: str
    events: list[InteractionEvent] = field(default_factory=list)
    error: AdapterError | None = None

    @property
    def accepted(self) -> bool:
        return self.error is None


@dataclass
class BatchResult:
    """Counts of one ingest run; `read == accepted + rejected` always."""

    channel: str
    read: int = 0
    accepted: int = 0
    rejected: int = 0
    events: int = 0
    by_reason: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)  # error class -> first message
    event_ids: list[str] = field(default_factory=list)
    rejections: list[Outcome] = field(default_factory=list)

    def add(self, outcomes: Iterable[Outcome]) -> None:
        for outcome in outcomes:
            self.read += 1
            if outcome.error is None:
                self.accepted += 1
                self.events += len(outcome.events)
                self.event_ids.extend(e.event_id for e in outcome.events)
            else:
                self.rejected += 1
                name = outcome.error.error_class
                self.by_reason[name] += 1
                self.examples.setdefault(name, outcome.error.message)
                self.rejections.append(outcome)

    def merge(self, other: BatchResult) -> None:
        self.read += other.read
        self.accepted += other.accepted
        self.rejected += other.rejected
        self.events += other.events
        self.by_reason.update(other.by_reason)
        for name, message in other.examples.items():
            self.examples.setdefault(name, message)
        self.event_ids.extend(other.event_ids)
        self.rejections.extend(other.rejections)

    def check(self) -> None:
        """The invariant; a failure here is a bug in the gateway, not bad input."""
        if self.read != self.accepted + self.rejected:
            raise AssertionError(
                f"read {self.read} != accepted {self.accepted} + rejected {self.rejected}"
            )


def adapt_records(
    channel: str,
    records: Sequence[RawRecord],
    config: AdapterConfig,
    *,
    received_at: datetime,
    context: Any = None,
    suppressed: SuppressionCheck | None = None,
) -> list[Outcome]:
    """Adapt every record (pure: no I/O). Never raises for a bad record: any exception a parser
    library throws becomes that record's rejection."""
    adapter = get_adapter(channel)
    out: list[Outcome] = []
    for record in records:
        try:
            adapted = adapter.adapt(record.data, config, received_at=received_at, context=context)
        except Exception as exc:  # noqa: BLE001 - every failure is this record's rejection
            error = ensure_adapter_error(exc, None)
            out.append(
                Outcome(record, error.record_id or fallback_record_id(record.data), [], error)
            )
            continue
        hit = _suppressed_identifier(adapted.events, suppressed) if suppressed else None
        if hit is not None:
            error = Suppressed(
                f"identifier {hit.type.value}:sha256:{_digest(hit.key)} belongs to an erased "
                "customer; the record is refused and its bytes are not kept",
                adapted.record_id,
            )
            out.append(Outcome(record, adapted.record_id, [], error))
            continue
        out.append(Outcome(record, adapted.record_id, adapted.events))
    return out


def _suppressed_identifier(
    events: Sequence[InteractionEvent], suppressed: SuppressionCheck
) -> Identifier | None:
    for event in events:
        for identifier in event.identifiers:
            if suppressed(identifier):
                return identifier
    return None


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class Ingestor:
    """Split, adapt and publish batches of one channel's native records."""

    def __init__(
        self,
        producer: Producer,
        config: IngestConfig | None = None,
        *,
        suppressed: SuppressionCheck | None = None,
    ) -> None:
        self.producer = producer
        self.config = config or IngestConfig()
        self.suppressed = suppressed

    def split(
        self, channel: str, data: bytes, source: str, content_type: str | None = None
    ) -> list[RawRecord]:
        """The raw records of a body; an unknown channel or an unsplittable body is one record
        (refused later with the reason)."""
        if channel not in CHANNELS:
            return [RawRecord(data, source, 1, content_type)]
        try:
            return get_adapter(channel).split(data, source, content_type)
        except Exception:  # noqa: BLE001 - the adapter refuses the whole body with the reason
            return [RawRecord(data, source, 1, content_type)]

    def ingest(
        self,
        channel: str,
        data: bytes,
        *,
        source: str,
        stage: str,
        content_type: str | None = None,
        received_at: datetime | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> BatchResult:
        """Ingest one body (a file's bytes or an HTTP request body)."""
        records = self.split(channel, data, source, content_type)
        return self.ingest_records(
            channel, records, stage=stage, received_at=received_at, on_progress=on_progress
        )

    def ingest_file(
        self, channel: str, path: Path, *, on_progress: Callable[[int], None] | None = None
    ) -> BatchResult:
        """Ingest one file of a channel's native format (stage `ingest_file`)."""
        return self.ingest(
            channel, path.read_bytes(), source=str(path), stage=STAGE_FILE, on_progress=on_progress
        )

    def ingest_records(
        self,
        channel: str,
        records: Sequence[RawRecord],
        *,
        stage: str,
        received_at: datetime | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> BatchResult:
        """Adapt and publish `records`; returns once the broker acknowledged all of them.

        Raises:
            DeliveryFailed: some records were not acknowledged (nothing is counted as accepted
                that the broker did not take; re-running the batch is safe).
        """
        received_at = received_at or datetime.now(UTC)
        result = BatchResult(channel)
        futures: list[Any] = []
        if channel not in CHANNELS:
            error = UnknownChannel(
                f"unknown channel {channel!r}; expected one of {', '.join(CHANNELS)}"
            )
            outcomes = [Outcome(r, fallback_record_id(r.data), [], error) for r in records]
            futures += self._publish(channel, outcomes, stage)
            result.add(outcomes)
            if on_progress:
                on_progress(len(outcomes))
        else:
            context = get_adapter(channel).build_context(records)
            for start in range(0, len(records), CHUNK):
                chunk = records[start : start + CHUNK]
                outcomes = adapt_records(
                    channel,
                    chunk,
                    self.config.adapters,
                    received_at=received_at,
                    context=context,
                    suppressed=self.suppressed,
                )
                futures += self._publish(channel, outcomes, stage)
                result.add(outcomes)
                if on_progress:
                    on_progress(len(chunk))
        self._confirm(futures)
        result.check()
        return result

    def _publish(self, channel: str, outcomes: Sequence[Outcome], stage: str) -> list[Any]:
        futures = []
        send = self.producer.send
        rejected_at = datetime.now(UTC).isoformat()
        limit = self.config.adapters.max_payload_bytes
        for outcome in outcomes:
            key = outcome.record_id.encode("utf-8")
            values = [event.to_json_bytes() for event in outcome.events]
            too_big = max((len(v) for v in values), default=0)
            if outcome.error is None and too_big > limit:
                # The raw record fitted, but its canonical event (text plus attributes) does
                # not fit a Kafka record: refuse the record rather than fail the batch.
                outcome.error = PayloadTooLarge(
                    f"canonical event of {too_big:,} bytes exceeds the {limit:,}-byte limit",
                    outcome.record_id,
                )
                outcome.events = []
            if outcome.error is None:
                headers = []
                if outcome.record.content_type:
                    headers.append(("content-type", outcome.record.content_type.encode()))
                futures.append(
                    send(ingest_topic(channel), value=outcome.record.data, key=key, headers=headers)
                )
                for event, value in zip(outcome.events, values, strict=True):
                    futures.append(
                        send(
                            INTERACTIONS,
                            value=value,
                            key=event.primary_identifier.key.encode("utf-8"),
                            headers=interaction_headers(event),
                        )
                    )
            else:
                dlq_value, key = self._dlq_value(outcome)
                rejection = Rejection(
                    stage=stage,
                    error_class=outcome.error.error_class,
                    message=self._dlq_message(outcome),
                    channel=channel,
                    source_file=outcome.record.source or None,
                    source_line=outcome.record.line,
                    rejected_at=rejected_at,
                )
                futures.append(send(DLQ, value=dlq_value, key=key, headers=rejection.headers()))
        return futures

    def _dlq_value(self, outcome: Outcome) -> tuple[bytes | None, bytes]:
        """The original bytes and key, except: a suppressed record keeps neither (erasure), and
        an oversized one keeps its first `max_payload_bytes` so the DLQ record fits Kafka."""
        assert outcome.error is not None
        if isinstance(outcome.error, Suppressed):
            return None, _digest(outcome.record_id).encode()
        data = outcome.record.data
        limit = self.config.adapters.max_payload_bytes
        return data[:limit], outcome.record_id.encode("utf-8")

    def _dlq_message(self, outcome: Outcome) -> str:
        assert outcome.error is not None
        message = outcome.error.message
        limit = self.config.adapters.max_payload_bytes
        if isinstance(outcome.error, PayloadTooLarge) and len(outcome.record.data) > limit:
            message += f" (the DLQ value holds its first {limit:,} bytes)"
        return message

    def _confirm(self, futures: Sequence[Any]) -> None:
        """Wait for this batch's acknowledgements only (not a producer-wide flush), so
        concurrent HTTP requests sharing one producer do not wait for each other."""
        deadline = time.monotonic() + self.config.flush_timeout_s
        failed: list[BaseException] = []
        for future in futures:
            try:
                future.get(timeout=max(0.0, deadline - time.monotonic()))
            except Exception as exc:  # noqa: BLE001 - counted and reported below
                failed.append(exc)
        if failed:
            first = failed[0]
            raise DeliveryFailed(
                f"{len(failed)} of {len(futures)} Kafka records were not acknowledged "
                f"({type(first).__name__}: {first}); the batch can be re-run safely "
                "(event ids are stable)"
            )
