"""Ingest throughput: files per channel, the HTTP endpoint under concurrent clients, and the
SDK producer, each next to a bare kafka-python loop producing the same event bytes in the same
run (acks=all, idempotent, lz4, linger 5 ms: the settings omnicx uses), so the ratio is our
overhead (parsing, validation, the raw copy, headers, waiting for acknowledgements).

Figures:
- `ingest_file_events_per_s_<channel>`: `Ingestor.ingest_file` on a file of the channel's
  fixtures repeated (canonical events per second, in-process: no CLI start-up);
- `ingest_http_events_per_s`, `ingest_http_p50_ms`, `ingest_http_p99_ms`: POST batches of 100
  Segment messages over 8 concurrent keep-alive connections to uvicorn (`BENCH_HTTP_WORKERS`
  worker processes, default 2: one per core, each with its own producer). The client shares the
  two cores, so it is as light as it can be: a raw asyncio HTTP/1.1 client sending prebuilt
  request bytes (no httpx), which reads the status, the body and the count of event ids.
  `ingest_http_server_cpu_us_per_event` is the server processes' CPU time (user + system, all
  their threads, librdkafka's included) per event: unlike events/s it hardly depends on what
  else the machine runs. `load_avg_1m` is the load average when the HTTP figures were taken;
  the peers are a bare kafka-python loop and a bare librdkafka (confluent-kafka) loop;
- `ingest_sdk_send_event_events_per_s`: `EventProducer.send_event` of prebuilt events.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
from kafka import KafkaProducer

from bench.common import local_broker, percentile, ratio, report
from infra.procs import free_port
from schemas.events import InteractionEvent
from schemas.topics import INTERACTIONS
from streams.adapters import AdapterConfig, get_adapter
from streams.api import ApiKeyStore
from streams.ingest import IngestConfig, Ingestor, ProducerConfig, make_producer
from streams.ingest.pipeline import adapt_records
from streams.sdk import EventProducer

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
ADAPTERS = AdapterConfig(own_email_domains=["acme.example"], own_social_handles=["AcmeHelp"])
# Size: OMNICX_BENCH_INGEST_SCALE multiplies every channel's record count (default 1).
_SCALE = float(os.environ.get("OMNICX_BENCH_INGEST_SCALE", "1"))
TARGET_RECORDS = {
    channel: max(100, int(n * _SCALE))
    for channel, n in {"app": 20_000, "phone": 10_000, "chat": 4_000, "social": 20_000,
                       "email": 4_000}.items()
}  # fmt: skip
HTTP_BATCH = 100
HTTP_CLIENTS = 8
HTTP_REQUESTS = 300
HTTP_WORKERS = int(os.environ.get("BENCH_HTTP_WORKERS", "2"))  # uvicorn worker processes


def _repeat_lines(lines: list[bytes], n: int) -> bytes:
    out = [lines[i % len(lines)] for i in range(n)]
    return b"\n".join(out) + b"\n"


def channel_file(channel: str, directory: Path) -> Path:
    """A benchmark file of about TARGET_RECORDS valid records of the channel's fixtures."""
    n = TARGET_RECORDS[channel]
    if channel in ("app", "phone", "chat"):
        name = {"app": "segment.jsonl", "phone": "ctr.jsonl", "chat": "transcripts.jsonl"}[channel]
        lines = [x for x in (FIXTURES / channel / name).read_bytes().splitlines() if x.strip()]
        data = _repeat_lines(lines, n)
        path = directory / name
    elif channel == "social":
        sample = ROOT / "data" / "samples" / "twcs_sample.csv"
        text = sample.read_bytes()
        header, _, body = text.partition(b"\n")
        copies = max(1, n // 93)
        data = header + b"\n" + body.rstrip(b"\n") + b"\n"
        data = header + b"\n" + (body.rstrip(b"\n") + b"\n") * copies
        path = directory / "twcs.csv"
    else:
        mbox = (FIXTURES / "email" / "thread.mbox").read_bytes()
        per_copy = mbox.count(b"\nFrom ") + 1
        data = mbox.rstrip(b"\n") + b"\n\n"
        data = (mbox.rstrip(b"\n") + b"\n\n") * max(1, n // per_copy)
        path = directory / "mail.mbox"
    path.write_bytes(data)
    return path


def events_of(channel: str, path: Path) -> list[InteractionEvent]:
    adapter = get_adapter(channel)
    records = adapter.split(path.read_bytes(), str(path))
    outcomes = adapt_records(
        channel,
        records,
        ADAPTERS,
        received_at=datetime.now(UTC),
        context=adapter.build_context(records),
    )
    return [e for o in outcomes for e in o.events]


def bare_produce(bootstrap: str, messages: list[tuple[bytes, bytes]]) -> float:
    """The peer: the same keys and values in a plain kafka-python loop, same settings."""
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        compression_type="lz4",
        linger_ms=5,
        batch_size=256 * 1024,
    )
    t0 = time.perf_counter()
    for key, value in messages:
        producer.send(INTERACTIONS, key=key, value=value)
    producer.flush()
    elapsed = time.perf_counter() - t0
    producer.close()
    return len(messages) / elapsed


def bare_produce_librdkafka(bootstrap: str, messages: list[tuple[bytes, bytes]]) -> float:
    """The second peer: the same keys and values through confluent-kafka (librdkafka, the
    client the HTTP endpoint uses), same settings, a delivery callback per record."""
    from confluent_kafka import Producer

    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "compression.type": "lz4",
            "linger.ms": 5,
            "batch.size": 256 * 1024,
            "partitioner": "murmur2_random",
        }
    )
    producer.list_topics(timeout=10)
    acked = 0

    def delivered(error: object, _message: object) -> None:
        nonlocal acked
        acked += error is None

    t0 = time.perf_counter()
    for key, value in messages:
        producer.produce(INTERACTIONS, value, key, on_delivery=delivered)
        producer.poll(0)
    producer.flush()
    elapsed = time.perf_counter() - t0
    if acked != len(messages):
        raise RuntimeError(f"librdkafka peer: {acked} of {len(messages)} records acknowledged")
    return len(messages) / elapsed


def _messages(events: list[InteractionEvent]) -> list[tuple[bytes, bytes]]:
    return [(e.primary_identifier.key.encode(), e.to_json_bytes()) for e in events]


def file_bench(bootstrap: str, directory: Path) -> None:
    producer = make_producer(bootstrap, ProducerConfig(client="librdkafka"))  # as `omnicx ingest`
    ingestor = Ingestor(producer, IngestConfig(adapters=ADAPTERS))
    for channel in ("email", "social", "app", "phone", "chat"):
        path = channel_file(channel, directory)
        t0 = time.perf_counter()
        result = ingestor.ingest_file(channel, path)
        elapsed = time.perf_counter() - t0
        assert result.rejected == 0, result.examples
        ours = result.events / elapsed
        report(f"ingest_file_events_per_s_{channel}", ours, "events/s")
        report(f"ingest_file_records_per_s_{channel}", result.read / elapsed, "records/s")
        peer = bare_produce(bootstrap, _messages(events_of(channel, path)))
        report(f"kafka_python_bare_events_per_s_{channel}", peer, "events/s")
        ratio(f"ingest_file_vs_bare_kafka_python_{channel}", ours, peer, "kafka-python loop")
    producer.close()


HTTP_APP = """
import os
from streams.adapters import AdapterConfig
from streams.api import ApiConfig, create_app
from streams.ingest import IngestConfig, ProducerConfig
from streams.ingest.http import ingest_extension
from pathlib import Path

def app():
    config = IngestConfig(adapters=AdapterConfig(own_email_domains=["acme.example"]))
    producer = ProducerConfig(
        client_id="omnicx-http-ingest", client=os.environ.get("BENCH_PRODUCER", "librdkafka")
    )
    ext = ingest_extension(os.environ["BENCH_BOOTSTRAP"], config, producer=producer)
    return create_app(ApiConfig(keys_file=Path(os.environ["BENCH_KEYS"])), [ext])
"""


def _segment_batches(n_requests: int) -> list[bytes]:
    lines = [
        json.loads(x)
        for x in (FIXTURES / "app" / "segment.jsonl").read_bytes().splitlines()
        if x.strip()
    ]
    bodies = []
    for r in range(n_requests):
        batch = []
        for i in range(HTTP_BATCH):
            doc = dict(lines[(r * HTTP_BATCH + i) % len(lines)])
            doc["messageId"] = f"bench-{r}-{i}"
            batch.append(doc)
        bodies.append(json.dumps(batch).encode())
    return bodies


def _requests(port: int, key: str, bodies: list[bytes]) -> list[bytes]:
    """Whole HTTP/1.1 requests, built before the clock starts."""
    head = (
        f"POST /v1/events/app HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
    )
    return [f"{head}Content-Length: {len(b)}\r\n\r\n".encode() + b for b in bodies]


async def _connection(
    port: int, requests: list[bytes], latencies: list[float], counts: list[int]
) -> None:
    """One keep-alive connection sending requests one after another until none are left."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while requests:
            request = requests.pop()
            t0 = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            at = head.lower().index(b"content-length:") + len(b"content-length:")
            body = await reader.readexactly(int(head[at : head.index(b"\r\n", at)]))
            latencies.append((time.perf_counter() - t0) * 1000)
            if status != 202:
                raise RuntimeError(f"HTTP {status}: {body[:300]!r}")
            counts.append(len(orjson.loads(body)["event_ids"]))
    finally:
        writer.close()


async def _drive(port: int, requests: list[bytes]) -> tuple[float, list[float], int]:
    latencies: list[float] = []
    counts: list[int] = []
    t0 = time.perf_counter()
    await asyncio.gather(
        *(_connection(port, requests, latencies, counts) for _ in range(HTTP_CLIENTS))
    )
    return time.perf_counter() - t0, latencies, sum(counts)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its children (uvicorn's workers), Linux."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the command: state, ppid, ...; utime and stime are fields 14 and 15 of stat.
        if int(stat.parent.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def http_bench(bootstrap: str, directory: Path) -> None:
    (directory / "bench_http_app.py").write_text(HTTP_APP)
    keys = directory / "keys.json"
    key = ApiKeyStore(keys).create(["write:events"], name="bench")
    port = free_port()
    env = os.environ | {
        "BENCH_BOOTSTRAP": bootstrap,
        "BENCH_KEYS": str(keys),
        "PYTHONPATH": f"{directory}{os.pathsep}{ROOT}",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "bench_http_app:app", "--port", str(port),
         "--log-level", "warning", "--no-access-log", "--workers", str(HTTP_WORKERS)],
        env=env,
        cwd=ROOT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("the benchmark API server did not start")
            time.sleep(0.2)
        bodies = _segment_batches(HTTP_REQUESTS + 2 * HTTP_CLIENTS)
        warm, bodies = bodies[: 2 * HTTP_CLIENTS], bodies[2 * HTTP_CLIENTS :]
        # Warm-up: every worker opens its producer and every connection is made once.
        asyncio.run(_drive(port, _requests(port, key, warm)))
        requests = _requests(port, key, bodies)
        cpu0 = _cpu_seconds(server.pid)
        elapsed, latencies, events = asyncio.run(_drive(port, requests))
        cpu = _cpu_seconds(server.pid) - cpu0
        load = os.getloadavg()[0]
    finally:
        server.terminate()
        server.wait(timeout=30)
    ours = events / elapsed
    report("ingest_http_events_per_s", ours, "events/s")
    report("ingest_http_p50_ms", percentile(latencies, 50), "ms")
    report("ingest_http_p99_ms", percentile(latencies, 99), "ms")
    report("ingest_http_server_cpu_us_per_event", cpu / events * 1e6, "us")
    report("ingest_http_workers", HTTP_WORKERS, "processes")
    report("load_avg_1m", load, "load")
    # The same events, produced bare.
    path = directory / "http_events.jsonl"
    path.write_bytes(b"\n".join(json.dumps(d).encode() for b in bodies for d in json.loads(b)))
    messages = _messages(events_of("app", path))
    peer = bare_produce(bootstrap, messages)
    report("kafka_python_bare_events_per_s_http_batch", peer, "events/s")
    ratio("ingest_http_vs_bare_kafka_python", ours, peer, "kafka-python loop")
    rd_peer = bare_produce_librdkafka(bootstrap, messages)
    report("librdkafka_bare_events_per_s_http_batch", rd_peer, "events/s")
    ratio("ingest_http_vs_bare_librdkafka", ours, rd_peer, "confluent-kafka loop")


def sdk_bench(bootstrap: str, directory: Path) -> None:
    path = channel_file("chat", directory)
    events = events_of("chat", path)
    with EventProducer(bootstrap) as producer:
        t0 = time.perf_counter()
        for event in events:
            producer.send_event(event)
        producer.flush()
        ours = len(events) / (time.perf_counter() - t0)
    report("ingest_sdk_send_event_events_per_s", ours, "events/s")
    peer = bare_produce(bootstrap, _messages(events))
    report("kafka_python_bare_events_per_s_sdk", peer, "events/s")
    ratio("ingest_sdk_vs_bare_kafka_python", ours, peer, "kafka-python loop")


def main() -> None:
    from omnicx.topics import apply_topics

    with tempfile.TemporaryDirectory() as tmp, local_broker(Path(tmp) / "kafka") as (kafka, _):
        bootstrap = kafka.bootstrap
        apply_topics(bootstrap)
        work = Path(tmp) / "work"
        work.mkdir()
        file_bench(bootstrap, work)
        http_bench(bootstrap, work)
        sdk_bench(bootstrap, work)


if __name__ == "__main__":
    main()
