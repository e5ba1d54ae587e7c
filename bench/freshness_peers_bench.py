"""The peers of `freshness_ms_p50` / `_p99` (bench/streams_bench.py): the per-customer windowed
count of bench/quix_bench.py, fed at a steady rate, timed from the produce call to the count's
update on the peer's output topic.

The events are the freshness run's own (`streams_bench.freshness_event`: chat messages of 200
customers, occurring now), as `cx.customer-events.v1` records (customer id as key, Kafka
timestamp = `occurred_at`), produced one at a time (batched as streams_bench batches them,
`LOAD_LINGER_MS`) at the rate streams_bench used in this run
(`freshness_rate_events_per_s`; OMNICX_BENCH_FRESHNESS_RATE, default 1,000/s, when it did
not run) for as long (`FRESHNESS_SECONDS`). A consumer of the output topic in the same event loop
matches each update (customer, window, count) to the event that made it; an event whose update
never comes fails the run.

- Quix Streams (`bench/peers/quix_window_app.py`, in its venv): `quix_freshness_ms_p50/_p99`;
- a bare faust worker (`bench/peers/faust_window_app.py`): `faust_freshness_ms_p50/_p99`;
- `freshness_p50_vs_quix` (and p99, and the same for faust): ours over each, from the same
  `make bench` run (left out when the streams module did not run).

Before the timed events, one event per customer goes through and its update is awaited, so the
peer's start-up and partition assignment are not timed (as streams_bench waits for the API's
view to catch up first). Read the ratios for what they are: ours is visible after validation,
identity, timeline, features and rules, in the Customer API's state; the peers' count is one
counting step, visible on a topic.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench import quix_bench, streams_bench
from bench.api_peers_bench import freshness_rate
from bench.common import local_broker, percentile, prior, ratio, report
from omnicx.topics import apply_topics
from schemas import topics as T

ROOT = Path(__file__).resolve().parent.parent
WINDOW_MS = quix_bench.WINDOW_MS
WARM_UP_TIMEOUT_S = 300.0
DRAIN_TIMEOUT_S = 120.0


class Tracker:
    """What each produced event's output update will look like, and when it was sent."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, int], int] = {}
        self.pending: dict[tuple[str, int, int], float] = {}
        self.latencies: list[float] = []
        self.warm = 0  # updates seen of the warm-up events
        self.timing = False

    def sent(self, cid: str, ts_ms: int, at: float) -> None:
        window = (cid, ts_ms // WINDOW_MS * WINDOW_MS)
        self.counts[window] = self.counts.get(window, 0) + 1
        self.pending[(*window, self.counts[window])] = at

    def seen(self, key: str, doc: dict[str, Any], at: float) -> None:
        sent_at = self.pending.pop((key, int(doc["start"]), int(doc["value"])), None)
        if sent_at is None:
            return  # a repeated update (at-least-once), already counted
        if self.timing:
            self.latencies.append((at - sent_at) * 1000)
        else:
            self.warm += 1


async def _follow(bootstrap: str, topic: str, tracker: Tracker, stop: asyncio.Event) -> None:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=50)
            now = time.perf_counter()
            for records in batch.values():
                for r in records:
                    tracker.seen(r.key.decode(), json.loads(r.value), now)
    finally:
        await consumer.stop()


async def _send(producer: AIOKafkaProducer, topic: str, i: int, tracker: Tracker) -> None:
    ev, cid = streams_bench.freshness_event(i)
    value = ev.model_copy(update={"customer_id": cid}).to_json_bytes()
    ts_ms = int(ev.occurred_at.timestamp() * 1000)
    await producer.send(topic, key=cid.encode(), value=value, timestamp_ms=ts_ms)
    tracker.sent(cid, ts_ms, time.perf_counter())


async def drive(
    bootstrap: str, topics: tuple[str, str], rate: float, peer: threading.Thread
) -> list[float]:
    """Warm up, then produce at `rate` for FRESHNESS_SECONDS; the ms of each event's update."""
    source, sink = topics
    tracker, stop = Tracker(), asyncio.Event()
    follower = asyncio.create_task(_follow(bootstrap, sink, tracker, stop))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=streams_bench.LOAD_LINGER_MS)
    warm = streams_bench.FRESH_CUSTOMERS
    try:
        await producer.start()
        for i in range(warm):
            await _send(producer, source, -1 - i, tracker)
        deadline = time.monotonic() + WARM_UP_TIMEOUT_S
        while tracker.warm < warm:
            if follower.done():
                follower.result()  # the output consumer failed: raise its error
            if not peer.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the peer answered {tracker.warm} of {warm} warm-up events")
            await asyncio.sleep(0.05)
        tracker.timing = True
        n = int(rate * streams_bench.FRESHNESS_SECONDS)
        t0 = time.perf_counter()
        for i in range(n):
            await _send(producer, source, i, tracker)
            pause = t0 + (i + 1) / rate - time.perf_counter()
            if pause > 0:
                await asyncio.sleep(pause)
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while tracker.pending and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        if tracker.pending:
            raise RuntimeError(f"no update for {len(tracker.pending)} of {n} events")
        return tracker.latencies
    finally:
        stop.set()
        await producer.stop()
        # Its error, if any, was raised above where it mattered.
        await asyncio.gather(follower, return_exceptions=True)


def measure_peer(name: str, argv: list[str], bootstrap: str, topics: tuple[str, str]) -> None:
    """Run one peer (quix_bench.run_peer, in a thread) while `drive` feeds it; report its
    p50/p99 and ours over them."""
    failure: list[BaseException] = []
    abort = threading.Event()

    def run() -> None:
        try:
            quix_bench.run_peer(name, argv, stop_when_done=True, abort=abort)
        except BaseException as exc:  # shown after the drive, which fails first
            failure.append(exc)

    peer = threading.Thread(target=run, daemon=True)
    peer.start()
    try:
        latencies = asyncio.run(drive(bootstrap, topics, freshness_rate(), peer))
    except BaseException as exc:
        abort.set()  # stop the peer process too: a faust worker never stops by itself
        peer.join(timeout=120)
        if isinstance(exc, Exception):
            raise RuntimeError(f"{name}: {exc}; {failure[0] if failure else ''}") from exc
        raise
    peer.join(timeout=120)
    report(f"{name}_freshness_ms_p50", percentile(latencies, 50), "ms")
    report(f"{name}_freshness_ms_p99", percentile(latencies, 99), "ms")
    for q in (50, 99):
        ours = prior(f"freshness_ms_p{q}")
        if ours is None:
            print(f"no freshness_ms_p{q} in this run (the streams module did not run)")
            continue
        ratio(
            f"freshness_p{q}_vs_{name}",
            ours.value,
            percentile(latencies, q),
            f"{name}_freshness_ms_p{q}",
            ours_name=f"freshness_ms_p{q}",
        )


def main() -> None:
    # The fresh topics' leaders are elected while the warm-up is sent: aiokafka's retries of
    # NotLeaderForPartition are expected then and are only noise in the log.
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    rate = freshness_rate()
    report("freshness_peers_rate_events_per_s", rate, "events/s")
    n = streams_bench.FRESH_CUSTOMERS + int(rate * streams_bench.FRESHNESS_SECONDS)
    python = quix_bench.quix_python()
    with tempfile.TemporaryDirectory(prefix="omnicx-freshness-peers-bench-") as tmpdir:
        tmp = Path(tmpdir)
        with local_broker(tmp / "kafka") as (kafka, _cold):
            bootstrap = kafka.bootstrap
            tag = uuid.uuid4().hex[:8]
            spec = T.topic(T.CUSTOMER_EVENTS)
            names = {
                f"{peer}-{side}": f"{T.CUSTOMER_EVENTS}.fresh-{peer}-{side}-{tag}"
                for peer in ("quix", "faust")
                for side in ("in", "out")
            }
            apply_topics(bootstrap, [replace(spec, name=name) for name in names.values()])
            quix_topics = (names["quix-in"], names["quix-out"])
            measure_peer(
                "quix",
                [str(python), str(ROOT / "bench" / "peers" / "quix_window_app.py"),
                 "--bootstrap", bootstrap, "--input", quix_topics[0], "--output",
                 quix_topics[1], "--events", str(n), "--state", str(tmp / "quix-state")],
                bootstrap,
                quix_topics,
            )  # fmt: skip
            faust_topics = (names["faust-in"], names["faust-out"])
            measure_peer(
                "faust",
                [sys.executable, "-m", "bench.peers.faust_window_app",
                 "--bootstrap", bootstrap, "--input", faust_topics[0], "--output",
                 faust_topics[1], "--events", str(n), "--datadir", str(tmp / "faust")],
                bootstrap,
                faust_topics,
            )  # fmt: skip


if __name__ == "__main__":
    main()
