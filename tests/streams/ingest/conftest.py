"""Helpers for tests that read what ingest wrote to the real broker."""

from __future__ import annotations

import time
from typing import Any

import pytest
from kafka import KafkaConsumer, TopicPartition


@pytest.fixture(scope="module")
def topics(bootstrap: str) -> str:
    """The registry's topics on the session broker (idempotent); returns the bootstrap."""
    from omnicx.topics import apply_topics

    apply_topics(bootstrap)
    return bootstrap


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """partition -> next offset, to read only what a step adds afterwards."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        return {tp.partition: off for tp, off in consumer.end_offsets(partitions).items()}
    finally:
        consumer.close()


def read_since(
    bootstrap: str, topic: str, start: dict[int, int] | None = None, timeout_s: float = 30.0
) -> list[Any]:
    """Every record of `topic` from `start` (default: the beginning) to its current end."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        consumer.assign(partitions)
        ends = consumer.end_offsets(partitions)
        for tp in partitions:
            consumer.seek(tp, (start or {}).get(tp.partition, 0))
        out: list[Any] = []
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read {topic} to its end in {timeout_s} s")
            for records in consumer.poll(timeout_ms=500).values():
                out.extend(records)
        return out
    finally:
        consumer.close()


class ServerThread:
    """A real uvicorn server for an ASGI app, in a thread, on a free port."""

    def __init__(self, app: Any) -> None:
        import threading

        import uvicorn

        from infra.procs import free_port

        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the API server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
