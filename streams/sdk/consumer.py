"""SDK consumer: typed InteractionEvents from cx.interactions.v1 / cx.customer-events.v1, with
explicit commits."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata
from pydantic import ValidationError

from schemas.dlq import Rejection
from schemas.events import InteractionEvent
from schemas.topics import CUSTOMER_EVENTS, DLQ, INTERACTIONS
from streams.ingest import ProducerConfig, make_producer

STAGE_CONSUME = "sdk_consume"
READABLE_TOPICS = (INTERACTIONS, CUSTOMER_EVENTS)


@dataclass(frozen=True)
class RecordPosition:
    """Where the last yielded event was read."""

    topic: str
    partition: int
    offset: int
    key: bytes | None


class EventConsumer:
    """Read InteractionEvents with commit control.

    Offsets are committed only when you call `commit()`, and only up to the last event the
    iterator yielded (not the rest of a fetched batch), so a crash before `commit()` replays
    from the last commit: at-least-once. A record that is not a valid InteractionEvent is not
    yielded; it goes to cx.dlq.v1 (stage `sdk_consume`, with its topic/partition/offset) and
    counts as consumed.
    """

    def __init__(
        self,
        bootstrap: str,
        group_id: str,
        topics: Sequence[str] = (INTERACTIONS,),
        *,
        from_beginning: bool = False,
        client_id: str = "omnicx-sdk-consumer",
        producer_config: ProducerConfig | None = None,
    ) -> None:
        unknown = [t for t in topics if t not in READABLE_TOPICS]
        if unknown:
            raise ValueError(
                f"not an InteractionEvent topic: {', '.join(unknown)}; "
                f"expected {' or '.join(READABLE_TOPICS)}"
            )
        self.bootstrap = bootstrap
        self._consumer = KafkaConsumer(
            *topics,
            bootstrap_servers=bootstrap,
            group_id=group_id,
            client_id=client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest" if from_beginning else "latest",
        )
        self._producer_config = producer_config or ProducerConfig(client_id=client_id)
        self._dlq: KafkaProducer | None = None
        self._pending: dict[TopicPartition, int] = {}
        self.last: RecordPosition | None = None
        self.invalid = 0

    def events(
        self, *, max_idle_s: float | None = None, max_events: int | None = None
    ) -> Iterator[InteractionEvent]:
        """Yield events as they arrive; stop after `max_events`, or when nothing arrived for
        `max_idle_s` seconds (None: run until the caller stops iterating)."""
        yielded = 0
        idle_since = time.monotonic()
        while max_events is None or yielded < max_events:
            batch = self._consumer.poll(timeout_ms=500)
            if not batch:
                if max_idle_s is not None and time.monotonic() - idle_since >= max_idle_s:
                    return
                continue
            idle_since = time.monotonic()
            for tp, records in batch.items():
                for index, record in enumerate(records):
                    event = self._decode(record)
                    self._pending[tp] = record.offset + 1
                    if event is None:
                        continue
                    self.last = RecordPosition(
                        record.topic, record.partition, record.offset, record.key
                    )
                    try:
                        yield event
                    except GeneratorExit:
                        # The caller stopped iterating: the rest of this batch is unread.
                        self._rewind(batch, tp, index)
                        raise
                    yielded += 1
                    if max_events is not None and yielded >= max_events:
                        # Unread records of this batch must be fetched again next time.
                        self._rewind(batch, tp, index)
                        return

    def _rewind(self, batch: dict[TopicPartition, list[Any]], stop_tp: Any, index: int) -> None:
        seen_stop = False
        for tp, records in batch.items():
            if tp == stop_tp:
                seen_stop = True
                if index + 1 < len(records):
                    self._consumer.seek(tp, records[index + 1].offset)
            elif seen_stop and records:
                self._consumer.seek(tp, records[0].offset)

    def _decode(self, record: Any) -> InteractionEvent | None:
        try:
            return InteractionEvent.from_json_bytes(record.value or b"")
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "value"
            self._dead_letter(record, f"not an InteractionEvent: {where}: {first['msg']}")
            return None

    def _dead_letter(self, record: Any, message: str) -> None:
        if self._dlq is None:
            self._dlq = make_producer(self.bootstrap, self._producer_config)
        rejection = Rejection(
            stage=STAGE_CONSUME,
            error_class="InvalidEvent",
            message=message,
            source_topic=record.topic,
            source_partition=record.partition,
            source_offset=record.offset,
            rejected_at=datetime.now(UTC).isoformat(),
        )
        self._dlq.send(DLQ, value=record.value, key=record.key, headers=rejection.headers())
        self._dlq.flush()
        self.invalid += 1

    def commit(self) -> None:
        """Commit the offsets of everything yielded (and dead-lettered) so far."""
        if not self._pending:
            return
        offsets = {tp: OffsetAndMetadata(off, "", -1) for tp, off in self._pending.items()}
        self._consumer.commit(offsets=offsets)
        self._pending.clear()

    def close(self) -> None:
        """Leave the group without committing (call `commit()` first if you mean to)."""
        self._consumer.close(autocommit=False)
        if self._dlq is not None:
            self._dlq.close(timeout=10)

    def __enter__(self) -> EventConsumer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
