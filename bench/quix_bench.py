"""The per-customer windowed count in Quix Streams and in a bare faust worker, next to our
stream workers, on a fresh local broker.

Input: the events of the stream-worker benchmark (`bench.streams_data.journeys`, same size and
seed as bench/streams_bench.py), shaped as `cx.customer-events.v1` records: the canonical
event with `customer_id` set, keyed by it, the Kafka timestamp set to `occurred_at`, on a topic
with that topic's partitions. Each peer counts events per customer in 1-hour tumbling windows
of event time and writes every update to an output topic; both outputs are checked against
the counts computed here, so a peer that drops late events fails the run instead of looking
fast.

- `quix_windowed_count_events_per_s`: Quix Streams (`tumbling_window(1h).count().current()`),
  installed in its own venv, .omnicx/bench/quix-venv (its pins conflict with ours);
- `faust_windowed_count_events_per_s`: faust-streaming doing only that count (a windowed
  table), the like-for-like comparison of the two frameworks;
- `stream_vs_quix_windowed_count`, `stream_vs_faust_windowed_count`: our worker's
  `stream_events_per_s` of the same `make bench` run (validation, identity, timeline,
  features and rules per event) over each; when bench/streams_bench.py did not run before
  (`python -m bench.run quix`), this module measures it itself.

Peers are timed inside their process, first to last event processed (start-up, topic
creation and rebalancing excluded, as `stream_events_per_s` excludes the worker's start-up).

Size: OMNICX_BENCH_WINDOW_EVENTS (default: the stream benchmark's event count).
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import replace
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer

from bench import streams_bench
from bench.common import local_broker, prior, ratio, report
from bench.streams_data import journeys
from infra.procs import ManagedProcess
from omnicx.topics import apply_topics
from schemas import topics as T
from schemas.identity import customer_id_for
from streams.workers.config import worker_argv

ROOT = Path(__file__).resolve().parent.parent
QUIX_REQUIREMENT = "quixstreams==3.28.1"
QUIX_VENV = ROOT / ".omnicx" / "bench" / "quix-venv"
WINDOW_MS = 3600 * 1000
PEER_TIMEOUT_S = 600.0


def quix_python(venv: Path = QUIX_VENV) -> Path:
    """The venv's python with QUIX_REQUIREMENT installed (pip from PyPI, through pip's
    cache); created on first use, reused while the marker of the same requirement is there."""
    python = venv / "bin" / "python"
    marker = venv / f".installed-{QUIX_REQUIREMENT}"
    if python.exists() and marker.exists():
        return python
    print(f"installing {QUIX_REQUIREMENT} into {venv} (first run only) ...", flush=True)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         QUIX_REQUIREMENT],
        check=True,
    )  # fmt: skip
    marker.touch()
    print(f"installed in {time.perf_counter() - t0:.0f}s", flush=True)
    return python


def customer_events(n: int, customers: int) -> list[tuple[bytes, bytes, int]]:
    """(key, value, timestamp ms) of the stream benchmark's events as customer events."""
    out = []
    for ev in journeys(n, customers, seed=3, tag="bench"):
        cid = customer_id_for(ev.primary_identifier.key)
        value = ev.model_copy(update={"customer_id": cid}).to_json_bytes()
        out.append((cid.encode(), value, int(ev.occurred_at.timestamp() * 1000)))
    return out


def expected_counts(messages: list[tuple[bytes, bytes, int]]) -> dict[tuple[str, int], int]:
    """Events per (customer, window start ms): what a correct windowed count ends with."""
    return dict(Counter((k.decode(), ts // WINDOW_MS * WINDOW_MS) for k, _, ts in messages))


def final_counts(bootstrap: str, topic: str, n: int) -> dict[tuple[str, int], int]:
    """The largest count a peer wrote per (customer, window start), from its n outputs."""
    consumer = KafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    out: dict[tuple[str, int], int] = {}
    seen, deadline = 0, time.monotonic() + 120
    try:
        while seen < n and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=1000).values():
                for r in records:
                    doc = json.loads(r.value)
                    key = (r.key.decode(), int(doc["start"]))
                    out[key] = max(out.get(key, 0), int(doc["value"]))
                    seen += 1
    finally:
        consumer.close()
    return out


def check_counts(peer: str, got: dict[tuple[str, int], int], want: dict) -> None:  # type: ignore[type-arg]
    if got != want:
        wrong = [k for k in want if got.get(k) != want[k]]
        raise RuntimeError(
            f"{peer} counted wrong: {len(wrong)} of {len(want)} customer windows differ "
            f"(e.g. {wrong[:3]}: want {[want[k] for k in wrong[:3]]}, "
            f"got {[got.get(k) for k in wrong[:3]]}); its throughput is not reported"
        )


def run_peer(
    name: str, argv: list[str], stop_when_done: bool, abort: threading.Event | None = None
) -> dict[str, float]:
    """Run a peer process until it prints `RESULT {json}`; its output is shown indented.
    `stop_when_done`: terminate it then (a faust worker runs until stopped). `abort`: set by
    another thread to stop the peer early (it then gives no result)."""
    proc = subprocess.Popen(
        argv,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # authlib (a quixstreams dependency) warns about httpx on import: noise here
        env=os.environ | {"PYTHONUNBUFFERED": "1", "PYTHONWARNINGS": "ignore"},
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    result: dict[str, float] | None = None
    deadline = time.monotonic() + PEER_TIMEOUT_S
    try:
        while result is None and time.monotonic() < deadline:
            if abort is not None and abort.is_set():
                break
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                continue
            if line is None:
                break
            if "RESULT {" in line:  # faust prefixes stdout lines with a log header
                result = json.loads(line[line.index("RESULT {") + len("RESULT ") :])
            else:
                print(f"    {name}: {line}", flush=True)
    finally:
        if stop_when_done or result is None:
            proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if result is None:
        raise RuntimeError(f"{name} gave no result (exit status {proc.returncode})")
    return result


def _rate(name: str, result: dict[str, float], n: int) -> float:
    if result["events"] != n:
        raise RuntimeError(f"{name} processed {result['events']:.0f} of {n} events")
    return result["events"] / result["seconds"]


def _our_stream_rate(bootstrap: str, tmp: Path) -> float:
    """stream_events_per_s of this run, or measured here as bench/streams_bench.py does."""
    earlier = prior("stream_events_per_s")
    if earlier is not None:
        print(f"ours: stream_events_per_s {earlier.value:.1f} from this run", flush=True)
        return earlier.value
    config = streams_bench._isolated_config(bootstrap, tmp)
    worker = ManagedProcess(
        name="bench stream worker",
        argv=worker_argv(sys.executable, config, bootstrap, 1),
        pidfile=tmp / "worker.pid",
        logfile=tmp / "worker.log",
        marker="streams.workers",
    )
    try:
        ours, _cpu = streams_bench.stream_throughput(bootstrap, config, worker)
    finally:
        worker.stop(timeout=20)
    report("stream_events_per_s", ours, "events/s")
    return ours


def main() -> None:
    n = int(os.environ.get("OMNICX_BENCH_WINDOW_EVENTS", str(streams_bench.N_EVENTS)))
    python = quix_python()
    messages = customer_events(n, streams_bench.CUSTOMERS)
    want = expected_counts(messages)
    report("windowed_count_events", n, "events")
    with tempfile.TemporaryDirectory(prefix="omnicx-quix-bench-") as tmpdir:
        tmp = Path(tmpdir)
        with local_broker(tmp / "kafka") as (kafka, _cold):
            bootstrap = kafka.bootstrap
            tag = uuid.uuid4().hex[:8]
            names = {p: f"{T.CUSTOMER_EVENTS}.bench-{p}-{tag}" for p in ("in", "quix", "faust")}
            spec = T.topic(T.CUSTOMER_EVENTS)
            apply_topics(bootstrap, [replace(spec, name=name) for name in names.values()])
            producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20)
            for key, value, ts in messages:
                producer.send(names["in"], key=key, value=value, timestamp_ms=ts)
            producer.flush()
            producer.close()

            quix = run_peer(
                "quix",
                [str(python), str(ROOT / "bench" / "peers" / "quix_window_app.py"),
                 "--bootstrap", bootstrap, "--input", names["in"], "--output", names["quix"],
                 "--events", str(n), "--state", str(tmp / "quix-state")],
                stop_when_done=False,
            )  # fmt: skip
            check_counts("Quix Streams", final_counts(bootstrap, names["quix"], n), want)
            quix_rate = _rate("Quix Streams", quix, n)
            report("quix_windowed_count_events_per_s", quix_rate, "events/s")

            faust_result = run_peer(
                "faust",
                [sys.executable, "-m", "bench.peers.faust_window_app",
                 "--bootstrap", bootstrap, "--input", names["in"], "--output", names["faust"],
                 "--events", str(n), "--datadir", str(tmp / "faust")],
                stop_when_done=True,
            )  # fmt: skip
            check_counts("faust", final_counts(bootstrap, names["faust"], n), want)
            faust_rate = _rate("faust", faust_result, n)
            report("faust_windowed_count_events_per_s", faust_rate, "events/s")
            ratio(
                "faust_vs_quix_windowed_count",
                faust_rate,
                quix_rate,
                "quix_windowed_count_events_per_s",
                ours_name="faust_windowed_count_events_per_s",
            )

            ours = _our_stream_rate(bootstrap, tmp)
            for peer, rate in (("quix", quix_rate), ("faust", faust_rate)):
                ratio(
                    f"stream_vs_{peer}_windowed_count",
                    ours,
                    rate,
                    f"{peer}_windowed_count_events_per_s",
                    ours_name="stream_events_per_s",
                )


if __name__ == "__main__":
    main()
