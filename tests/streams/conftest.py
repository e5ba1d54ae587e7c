"""Stream fixtures: the registry's topics on the session broker, worker processes, a Customer
API over the workers' changelogs, and a journey of events."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from infra.procs import ManagedProcess, free_port, port_answers
from omnicx.topics import apply_topics
from schemas import topics as T
from schemas.events import InteractionEvent, Source
from streams.workers.config import StreamsConfig, worker_argv


@dataclass
class Workers:
    config: StreamsConfig
    bootstrap: str
    procs: dict[int, ManagedProcess]
    run_dir: Path

    def process(self, n: int) -> ManagedProcess:
        if n not in self.procs:
            self.procs[n] = ManagedProcess(
                name=f"stream worker {n}",
                argv=worker_argv(sys.executable, self.config, self.bootstrap, n),
                pidfile=self.run_dir / f"worker-{n}.pid",
                logfile=self.run_dir / f"worker-{n}.log",
                marker="streams.workers",
            )
        return self.procs[n]

    def start(self, n: int = 1) -> ManagedProcess:
        proc = self.process(n)
        proc.start()
        port = self.config.web_port_of(n)
        proc.wait_until(lambda: port_answers("127.0.0.1", port), 90, f"faust web on {port}")
        return proc

    def stop_all(self) -> None:
        for proc in self.procs.values():
            proc.stop(timeout=20)


def new_workers(bootstrap: str, tmp: Path) -> Workers:
    """Workers with their own app id, their own copies of the registry's stream topics (so
    test modules sharing the session broker do not see each other's events) and free ports."""
    while True:
        base = free_port()
        if all(port_answers("127.0.0.1", base + i) is False for i in range(3)):
            break
    tag = uuid.uuid4().hex[:8]
    names = {
        "interactions_topic": T.INTERACTIONS,
        "customer_events_topic": T.CUSTOMER_EVENTS,
        "identity_topic": T.IDENTITY,
        "signals_topic": T.SIGNALS,
        "dlq_topic": T.DLQ,
    }
    renamed = {field: f"{name}.test-{tag}" for field, name in names.items()}
    apply_topics(
        bootstrap,
        [replace(T.topic(name), name=renamed[field]) for field, name in names.items()],
    )
    config = StreamsConfig(
        app_id=f"omnicx-test-{tag}",
        web_port=base,
        data_dir=tmp / "streams",
        commit_interval_s=0.5,
        **renamed,
    )
    return Workers(config, bootstrap, {}, tmp / "run")


@pytest.fixture(scope="module")
def workers(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workers]:
    w = new_workers(bootstrap, tmp_path_factory.mktemp("workers"))
    yield w
    w.stop_all()


T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


def make_event(
    n: str,
    minutes: float,
    channel: str,
    identifiers: list[dict[str, str]],
    direction: str = "inbound",
    kind: str = "message",
    conversation: str | None = None,
    text: str | None = None,
    start: datetime = T0,
) -> InteractionEvent:
    return InteractionEvent(
        event_id=n,
        occurred_at=start + timedelta(minutes=minutes),
        ingested_at=start + timedelta(minutes=minutes, seconds=1),
        channel=channel,
        direction=direction,
        kind=kind,
        conversation_id=conversation,
        identifiers=identifiers,
        text=text,
        source=Source(system="test", record_id=n),
    )
