"""The suppression list: identifiers of erased customers, refused at ingest.

`omnicx erase` publishes an `ErasureRequest` (identifier hashes only, never the identifiers) on
the compacted topic cx.erasures.v1. Ingestion reads that topic from the beginning and refuses
every record that carries one of the hashed identifiers: it goes to cx.dlq.v1 with reason
`Suppressed` and without its bytes (`streams.ingest.pipeline`).

Two ways to use it:

- `SuppressionList.load(bootstrap)` reads the topic once, to its end: right for one-shot
  commands (`omnicx ingest`), which then refuse everything erased before they started.
- `SuppressionFollower` keeps reading in a background thread: right for long-running
  processes (the HTTP ingest of the Customer API), which pick up an erasure within about a
  poll interval (0.2 s) of its publication.

A tombstone (null value) for a customer key withdraws that customer's request, as the lake's
bronze job reads it (`jobs.kafka_source.read_erasure_requests`). A record that is not an
`ErasureRequest` is logged and skipped: it cannot name anything to suppress.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from kafka import KafkaConsumer, TopicPartition

from schemas.erasure import ErasureRequest
from schemas.events import Identifier
from schemas.identity import identifier_hash
from schemas.topics import ERASURES
from streams.api import ApiExtension

log = logging.getLogger(__name__)


class SuppressionUnavailable(Exception):
    """cx.erasures.v1 could not be read to its end: ingesting without the list could let an
    erased customer back in, so callers stop rather than ingest unchecked."""


class SuppressionList:
    """Identifier hashes of erased customers; callable as a `SuppressionCheck`.

    Thread-safe: the follower thread adds while request threads check.
    """

    def __init__(self, requests: Iterable[ErasureRequest] = ()) -> None:
        self._by_customer: dict[str, frozenset[str]] = {}
        self._hashes: frozenset[str] = frozenset()
        self._lock = threading.Lock()
        for request in requests:
            self.add(request)

    def __call__(self, identifier: Identifier) -> bool:
        """True when `identifier` belongs to an erased customer."""
        # Reading one frozenset reference needs no lock; writers replace it whole.
        return identifier_hash(identifier.key) in self._hashes

    def __len__(self) -> int:
        return len(self._hashes)

    @property
    def customers(self) -> int:
        """How many customers are erased."""
        return len(self._by_customer)

    def add(self, request: ErasureRequest) -> None:
        """Suppress the request's identifiers (a later request for the same customer replaces
        the earlier one, as compaction would)."""
        with self._lock:
            self._by_customer[request.customer_id] = frozenset(request.identifier_hashes)
            self._rebuild()

    def withdraw(self, customer_id: str) -> None:
        """Forget a customer's request (a tombstone on cx.erasures.v1)."""
        with self._lock:
            if self._by_customer.pop(customer_id, None) is not None:
                self._rebuild()

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        """Apply one cx.erasures.v1 record."""
        if value is None:
            if key is not None:
                self.withdraw(key.decode("utf-8", "replace"))
            return
        try:
            request = ErasureRequest.from_json_bytes(value)
        except ValueError as exc:
            log.warning("skipping an unreadable erasure request: %s", str(exc).splitlines()[0])
            return
        self.add(request)

    def _rebuild(self) -> None:
        hashes: set[str] = set()
        for customer_hashes in self._by_customer.values():
            hashes |= customer_hashes
        self._hashes = frozenset(hashes)

    @classmethod
    def load(
        cls, bootstrap: str, topic: str = ERASURES, timeout_s: float = 30.0
    ) -> SuppressionList:
        """Read `topic` from the beginning to its current end.

        A missing topic means nobody was ever erased (an empty list).

        Raises:
            SuppressionUnavailable: the broker does not answer, or the end was not reached in
                `timeout_s`.
        """
        out = cls()
        _Reader(bootstrap, topic, out).read_to_end(timeout_s)
        return out


class _Reader:
    """A group-less consumer of every partition of the erasure topic, from the beginning."""

    def __init__(self, bootstrap: str, topic: str, target: SuppressionList) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.target = target
        self.consumer: KafkaConsumer | None = None

    def open(self) -> bool:
        """Assign every partition; False when the topic does not exist (yet)."""
        try:
            self.consumer = KafkaConsumer(
                bootstrap_servers=self.bootstrap,
                group_id=None,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                client_id="omnicx-suppression",
            )
        except Exception as exc:  # noqa: BLE001 - kafka-python raises several kinds here
            raise SuppressionUnavailable(
                f"Kafka at {self.bootstrap} does not answer ({type(exc).__name__}): the "
                f"suppression list ({self.topic}) cannot be read"
            ) from exc
        parts = self.consumer.partitions_for_topic(self.topic)
        if not parts:
            return False
        tps = [TopicPartition(self.topic, p) for p in sorted(parts)]
        self.consumer.assign(tps)
        self.consumer.seek_to_beginning(*tps)
        return True

    def poll(self, timeout_ms: int) -> int:
        assert self.consumer is not None
        batch = self.consumer.poll(timeout_ms=timeout_ms)
        n = 0
        for records in batch.values():
            for record in records:
                self.target.apply(record.key, record.value)
                n += 1
        return n

    def caught_up(self) -> bool:
        assert self.consumer is not None
        tps = list(self.consumer.assignment())
        end = self.consumer.end_offsets(tps)
        return all(self.consumer.position(tp) >= end[tp] for tp in tps)

    def read_to_end(self, timeout_s: float) -> None:
        try:
            if not self.open():
                return
            deadline = time.monotonic() + timeout_s
            while not self.caught_up():
                if time.monotonic() > deadline:
                    raise SuppressionUnavailable(
                        f"{self.topic} was not read to its end in {timeout_s:.0f} s"
                    )
                self.poll(200)
        finally:
            self.close()

    def close(self) -> None:
        if self.consumer is not None:
            self.consumer.close()
            self.consumer = None


class SuppressionFollower:
    """A `SuppressionList` kept current by a background thread following the erasure topic.

    Args:
        bootstrap: Kafka bootstrap servers.
        topic: the erasure topic.
        poll_s: how long one poll waits; an erasure is seen within about this delay.
    """

    def __init__(self, bootstrap: str, topic: str = ERASURES, poll_s: float = 0.2) -> None:
        self.list = SuppressionList()
        self._reader = _Reader(bootstrap, topic, self.list)
        self._poll_ms = int(poll_s * 1000)
        self._stop = threading.Event()
        self._caught_up = threading.Event()
        self._thread: threading.Thread | None = None

    def __call__(self, identifier: Identifier) -> bool:
        return self.list(identifier)

    def start(self) -> None:
        """Start following (returns at once; `wait_caught_up` to wait for the backlog)."""
        self._thread = threading.Thread(target=self._run, name="omnicx-suppression", daemon=True)
        self._thread.start()

    def wait_caught_up(self, timeout_s: float) -> bool:
        """Wait until everything on the topic when following began has been read."""
        return self._caught_up.wait(timeout_s)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if not self._reader.open():
                    # Nobody was erased yet; the topic appears with the first erasure.
                    self._caught_up.set()
                    self._reader.close()
                    self._stop.wait(2.0)
                    continue
                while not self._stop.is_set():
                    self._reader.poll(self._poll_ms)
                    if not self._caught_up.is_set() and self._reader.caught_up():
                        self._caught_up.set()
            except Exception:  # the broker went away: keep the list, retry
                log.exception("suppression list consumer failed; retrying in 2 s")
                self._stop.wait(2.0)
            finally:
                self._reader.close()


def follow_while(follower: SuppressionFollower, extension: ApiExtension) -> ApiExtension:
    """`extension` with `follower` running for the app's lifetime: started (and its backlog
    read) before the extension's own start-up, stopped after its shut-down."""
    inner = extension.lifespan

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        follower.start()
        try:
            # Serving before the backlog is read would let erased customers back in.
            if not await run_in_threadpool(follower.wait_caught_up, 30.0):
                log.warning("suppression list not caught up after 30 s; serving anyway")
            if inner is None:
                yield
            else:
                async with inner(app):
                    yield
        finally:
            await run_in_threadpool(follower.stop)

    return ApiExtension(router=extension.router, lifespan=lifespan)
