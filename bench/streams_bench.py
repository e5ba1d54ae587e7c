"""The stream pipeline (one faust worker: validation, identity, timeline, features, rules) and
the Customer API, against a fresh local broker.

- `stream_events_per_s`: N synthetic multi-channel events (identities merging as app
  `identify` events arrive; N = OMNICX_BENCH_STREAM_EVENTS, default 20,000, 25 per customer)
  produced up front, then one worker started; input events per second from the first to the
  last resolved event on cx.customer-events.v1, by the records' create times
  (`stream_throughput`). Until 2026-12-04 the window was read by polling every 0.5 s and
  closed when that topic held N records; it holds ~20% more (a merge publishes the merged
  customer's events again under the survivor), so the figure counted those and stopped before
  the worker was done: it read 10-25% high.
- `aiokafka_consume_events_per_s`: a bare aiokafka loop reading the same N events in the same
  run (the ceiling for Python consumption); `stream_vs_aiokafka` is the ratio.
- `freshness_ms_p50` / `_p99`: events produced at the steady 1,000 events/s of issue 4
  (`freshness_rate_events_per_s`; OMNICX_BENCH_FRESHNESS_RATE overrides it; batched as the
  ingest producer batches, `LOAD_LINGER_MS`, the linger counted in the figure) until visible in
  the Customer API's state (the event in the customer's timeline; its features are written
  just before it). A worker that does not keep up at that rate shows it here as queueing.
- `freshness_sustained_ms_p50` / `_p99`: the same at half the measured throughput
  (`freshness_sustained_rate_events_per_s`), a rate the worker keeps up with: what a channel
  app sees when the pipeline is not saturated. Left out when that rate is the one above.
- `api_timeline_ms_p99`, `api_features_ms_p99`: HTTP GETs against a real uvicorn server at a
  fixed 300 requests/s (client-side latency, including HTTP).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from kafka import KafkaConsumer, KafkaProducer
from kafka.structs import TopicPartition

from bench.common import local_broker, percentile, ratio, report
from bench.streams_data import journeys
from infra.procs import ManagedProcess, free_port, port_answers
from omnicx.topics import apply_topics
from schemas import topics as T
from schemas.events import InteractionEvent, Source
from schemas.identity import customer_id_for
from streams.api import ApiConfig, ApiKeyStore, create_app
from streams.api.customers import customer_api, state_view_for
from streams.api.state import StateView
from streams.ingest.kafka import ProducerConfig
from streams.timeline import customer_of_key, newest_first
from streams.workers.config import TIMELINES_TABLE, StreamsConfig, worker_argv

N_EVENTS = int(os.environ.get("OMNICX_BENCH_STREAM_EVENTS", "20000"))
CUSTOMERS = max(1, N_EVENTS // 25)
FRESHNESS_RATE = float(os.environ.get("OMNICX_BENCH_FRESHNESS_RATE", "1000"))
FRESHNESS_SECONDS = 20.0
API_RATE = 300.0
LOAD_LINGER_MS = ProducerConfig().linger_ms
"""The freshness runs' load producer batches as omnicx's ingest producer does (5 ms). Until
2026-12-07 it sent each event as a produce request of its own (linger 0): a thousand requests
a second that cost the broker and the load generator CPU that the 2-core machine's worker
then lacked (docs/streams.md, Figures 2026-12-07). The peers are fed the same way."""
API_SECONDS = 5.0


def _isolated_config(bootstrap: str, tmp: Path) -> StreamsConfig:
    tag = uuid.uuid4().hex[:8]
    names = {
        "interactions_topic": T.INTERACTIONS,
        "customer_events_topic": T.CUSTOMER_EVENTS,
        "identity_topic": T.IDENTITY,
        "signals_topic": T.SIGNALS,
        "dlq_topic": T.DLQ,
    }
    renamed = {field: f"{name}.bench-{tag}" for field, name in names.items()}
    apply_topics(bootstrap, [replace(T.topic(n), name=renamed[f]) for f, n in names.items()])
    return StreamsConfig(
        app_id=f"omnicx-bench-{tag}",
        web_port=free_port(),
        data_dir=tmp / "streams",
        log_level="warning",
        **renamed,
    )


def _end_total(bootstrap: str, topic: str) -> int:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        return sum(consumer.end_offsets(tps).values())
    finally:
        consumer.close()


def _cpu_s(pid: int | None) -> float:
    """User + system CPU seconds of process `pid` so far (0 if unknown)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _edge_times(bootstrap: str, topic: str) -> tuple[float, float]:
    """The create times (epoch s, set by the worker's producer) of the earliest and the latest
    record of `topic`: its first record's and its last record's over all partitions."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        begin, end = consumer.beginning_offsets(tps), consumer.end_offsets(tps)
        times = []
        for tp in tps:
            if end[tp] <= begin[tp]:
                continue
            consumer.assign([tp])
            for offset in {begin[tp], end[tp] - 1}:
                consumer.seek(tp, offset)
                records = consumer.poll(timeout_ms=10_000, max_records=1).get(tp, [])
                assert records, f"no record at {tp} offset {offset}"
                times.append(records[0].timestamp / 1000)
        return min(times), max(times)
    finally:
        consumer.close()


def stream_throughput(
    bootstrap: str, config: StreamsConfig, worker: ManagedProcess
) -> tuple[float, float]:
    """Input events per second of one worker, and its CPU seconds per input event.

    The window runs from the worker's first resolved event on cx.customer-events.v1 to its
    last, by the records' create times (so the worker's start-up is left out and no polling
    interval is counted). That topic holds more records than there were input events: a merge
    publishes the merged customer's events again under the survivor. The worker is done when
    the topic has at least N records and stops growing; the events in the window are N less
    the share of the output already there at the first sight of it (the same share for the
    CPU time, read from the first sight on)."""
    events = journeys(N_EVENTS, CUSTOMERS, seed=3, tag="bench")
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20)
    for ev in events:
        producer.send(
            config.interactions_topic,
            key=ev.primary_identifier.key.encode(),
            value=ev.to_json_bytes(),
        )
    producer.flush()
    producer.close()
    worker.start()
    worker.wait_until(lambda: port_answers("127.0.0.1", config.web_port), 120, "faust web", None)
    first_seen = 0
    cpu0 = cpu1 = 0.0
    done, still_since = 0, time.monotonic()
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        now_done = _end_total(bootstrap, config.customer_events_topic)
        if now_done and not first_seen:
            first_seen = now_done
            cpu0 = _cpu_s(worker.pid())
        if now_done != done:
            done, still_since = now_done, time.monotonic()
            cpu1 = _cpu_s(worker.pid())
        elif done >= N_EVENTS and time.monotonic() - still_since >= 3.0:
            break
        time.sleep(0.2)
    assert first_seen, "the worker produced nothing"
    assert done >= N_EVENTS, f"the worker resolved {done} of {N_EVENTS} events in 900 s"
    t_first, t_last = _edge_times(bootstrap, config.customer_events_topic)
    in_window = N_EVENTS * (done - 1) / done
    after_first_seen = N_EVENTS * (done - first_seen) / done
    if t_last <= t_first or after_first_seen <= 0:
        return float("nan"), float("nan")
    return in_window / (t_last - t_first), (cpu1 - cpu0) / after_first_seen


async def bare_aiokafka(bootstrap: str, topic: str, n: int) -> float:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    try:
        seen = 0
        t0 = time.perf_counter()
        while seen < n:
            batch = await consumer.getmany(timeout_ms=500)
            for messages in batch.values():
                for msg in messages:
                    InteractionEvent.from_json_bytes(msg.value)  # parse, as the worker does
                seen += sum(len(m) for m in batch.values())
        return seen / (time.perf_counter() - t0)
    finally:
        await consumer.stop()


FRESH_CUSTOMERS = 200


def freshness_event(i: int, run: str = "fresh") -> tuple[InteractionEvent, str]:
    """The i-th event of the freshness run `run` (a chat message of one of FRESH_CUSTOMERS
    customers, occurring now) and its customer id. Runs on one pipeline need their own `run`:
    an event id seen before is a duplicate, which the timeline ignores."""
    c = i % FRESH_CUSTOMERS
    ev = InteractionEvent(
        event_id=f"{run}-{i}",
        occurred_at=datetime.now(UTC),
        ingested_at=datetime.now(UTC),
        channel="chat",
        direction="inbound",
        kind="message",
        conversation_id=f"{run}-{c}-{i // 50}",
        identifiers=[{"type": "email", "value": f"fresh{c}@example.com"}],
        text="hello, any news on my order?",
        source=Source(system="bench", record_id=str(i)),
    )
    return ev, customer_id_for(f"email:fresh{c}@example.com")


async def freshness(
    bootstrap: str, config: StreamsConfig, rate: float, run: str = "fresh"
) -> list[float]:
    """Produce at `rate` for FRESHNESS_SECONDS; per event, ms until the API's view has it.

    The view reports each timeline record it applies (`StateView.on_change`), and only that
    customer's pending events are looked for in its newest entries, at that moment: polling
    every pending event every millisecond cost more CPU than the worker once the backlog grew,
    and slowed the very thing it measured.
    """
    view: StateView = state_view_for(bootstrap, config)
    pending: dict[str, dict[str, float]] = defaultdict(dict)  # customer -> event id -> sent
    latencies: list[float] = []

    def changed(table: str, key: Any) -> None:
        if table != TIMELINES_TABLE:
            return
        cid = customer_of_key(key)
        waiting = pending.get(cid)
        if not waiting:
            return
        now = time.perf_counter()
        head = view.get(TIMELINES_TABLE, cid)
        if not head:
            return
        get = view.tables[TIMELINES_TABLE].get
        for entry in islice(newest_first(head, cid, get), len(waiting) + 60):
            at = waiting.pop(entry["id"], None)
            if at is not None:
                latencies.append((now - at) * 1000)
                if not waiting:
                    break

    await view.start()
    await view.wait_caught_up(120)
    view.on_change = changed
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=LOAD_LINGER_MS)
    await producer.start()
    n = int(rate * FRESHNESS_SECONDS)
    try:
        t0 = time.perf_counter()
        for i in range(n):
            ev, cid = freshness_event(i, run)
            pending[cid][ev.event_id] = time.perf_counter()
            await producer.send(
                config.interactions_topic, key=cid.encode(), value=ev.to_json_bytes()
            )
            pause = t0 + (i + 1) / rate - time.perf_counter()
            if pause > 0:
                await asyncio.sleep(pause)
        deadline = time.perf_counter() + 120
        while any(pending.values()) and time.perf_counter() < deadline:
            await asyncio.sleep(0.01)
    finally:
        view.on_change = None
        await producer.stop()
        await view.stop()
    missing = sum(len(w) for w in pending.values())
    if missing:
        raise RuntimeError(f"{missing} of {n} events never reached the API's view")
    return latencies


def paced_latencies(send: Callable[[int], httpx.Response], rate: float, n: int) -> list[float]:
    """Client-side ms of `send(i)` for i in range(n), started at a fixed `rate` per second
    (the load generator of the API benchmarks; bench/api_peers_bench.py drives the peers with
    it). A request must answer 200."""
    out: list[float] = []
    t0 = time.perf_counter()
    for i in range(n):
        started = time.perf_counter()
        r = send(i)
        out.append((time.perf_counter() - started) * 1000)
        assert r.status_code == 200, r.text
        pause = t0 + (i + 1) / rate - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
    return out


def api_latency(
    bootstrap: str, config: StreamsConfig, tmp: Path
) -> tuple[list[float], list[float]]:
    keys = tmp / "keys.json"
    key = ApiKeyStore(keys).create(["read:timeline", "read:features"])
    port = free_port()
    app = create_app(
        ApiConfig(port=port, keys_file=keys), [customer_api(state_view_for(bootstrap, config))]
    )
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not port_answers("127.0.0.1", port):
            time.sleep(0.1)
        cids = [customer_id_for(f"email:fresh{c}@example.com") for c in range(FRESH_CUSTOMERS)]
        auth = {"Authorization": f"Bearer {key}"}
        out: dict[str, list[float]] = {"timeline": [], "features": []}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=auth) as client:
            # Wait until the API has caught up with the changelogs: every customer the load
            # asks for answers (the first alone answered while others were still being read).
            deadline = time.monotonic() + 120
            waiting = list(cids)
            while waiting and time.monotonic() < deadline:
                waiting = [
                    c
                    for c in waiting
                    if client.get(f"/v1/customers/{c}/timeline?limit=1").status_code != 200
                ]
                if waiting:
                    time.sleep(0.5)
            for route in ("timeline", "features"):
                query = "?limit=50" if route == "timeline" else ""
                out[route] = paced_latencies(
                    lambda i, route=route, query=query: client.get(
                        f"/v1/customers/{cids[i % len(cids)]}/{route}{query}"
                    ),
                    API_RATE,
                    int(API_RATE * API_SECONDS),
                )
        return out["timeline"], out["features"]
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="omnicx-streams-bench-") as tmpdir:
        tmp = Path(tmpdir)
        with local_broker(tmp / "kafka") as (kafka, _cold):
            bootstrap = kafka.bootstrap
            config = _isolated_config(bootstrap, tmp)
            worker = ManagedProcess(
                name="bench stream worker",
                argv=worker_argv(sys.executable, config, bootstrap, 1),
                pidfile=tmp / "worker.pid",
                logfile=tmp / "worker.log",
                marker="streams.workers",
            )
            try:
                ours, cpu_per_event = stream_throughput(bootstrap, config, worker)
                report("stream_events_per_s", ours, "events/s")
                # Load-independent: the worker's CPU time over the same window, per event.
                report("stream_worker_cpu_ms_per_event", cpu_per_event * 1000, "ms")
                bare = asyncio.run(bare_aiokafka(bootstrap, config.interactions_topic, N_EVENTS))
                report("aiokafka_consume_events_per_s", bare, "events/s")
                ratio("stream_vs_aiokafka", ours, bare, "aiokafka_consume_events_per_s")
                report("freshness_rate_events_per_s", FRESHNESS_RATE, "events/s")
                lat = asyncio.run(freshness(bootstrap, config, FRESHNESS_RATE))
                report("freshness_ms_p50", percentile(lat, 50), "ms")
                report("freshness_ms_p99", percentile(lat, 99), "ms")
                sustained = min(FRESHNESS_RATE, max(1.0, round(ours / 2)))
                if sustained < FRESHNESS_RATE:
                    report("freshness_sustained_rate_events_per_s", sustained, "events/s")
                    lat = asyncio.run(freshness(bootstrap, config, sustained, run="steady"))
                    report("freshness_sustained_ms_p50", percentile(lat, 50), "ms")
                    report("freshness_sustained_ms_p99", percentile(lat, 99), "ms")
                timeline_ms, features_ms = api_latency(bootstrap, config, tmp)
                report("api_timeline_ms_p99", percentile(timeline_ms, 99), "ms")
                report("api_features_ms_p99", percentile(features_ms, 99), "ms")
            finally:
                worker.stop(timeout=20)


if __name__ == "__main__":
    main()
