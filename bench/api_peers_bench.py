"""The peers of the Customer API latencies of bench/streams_bench.py, driven by the same load
generator (`streams_bench.paced_latencies`: one request at a time, started at a fixed 300 per
second, client-side latency including HTTP over a kept-alive connection).

- `feast_http_features_ms_p99`: Feast's own feature server (`feast serve`, what a user would
  run instead of our API for features) answering `POST /get-online-features` for one
  customer with the whole real-time feature set (`customer_realtime_contacts`, the 12
  features our `/v1/customers/{id}/features` returns), on the embedded SQLite online store,
  over 200 customers pushed first; `api_features_vs_feast_http_p99` is the ratio with our
  `api_features_ms_p99`.
- `http_floor_timeline_ms_p99`: the HTTP floor, not a product: a bare FastAPI app on uvicorn
  (no auth, no state lookup, no query) answering a precomputed timeline body of the same
  shape and size as ours (the freshness run's events of each customer, newest 50, with their
  conversations) from a dict; `api_timeline_vs_http_floor_p99` says how much of our latency
  is HTTP and the framework.

Ours come from the streams module of the same `make bench` run (`bench.common.prior`); when it
did not run, the peers are measured and the ratios left out (say `python -m bench.run streams
api_peers`).
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, HTTPException, Response

from bench import features_bench, streams_bench
from bench.common import percentile, prior, ratio, report
from feature_store.client import FeatureStoreClient
from feature_store.config import FeatureStoreConfig
from infra.procs import free_port, port_answers
from schemas.features import CUSTOMER_REALTIME_FEATURES, CUSTOMER_REALTIME_VIEW
from streams.timeline import conversations, entry_for, insert, query

TIMELINE_LIMIT = 50  # as streams_bench asks for


def _n_requests() -> int:
    return int(streams_bench.API_RATE * streams_bench.API_SECONDS)


def freshness_rate() -> float:
    """The freshness rate of this run's streams module, or OMNICX_BENCH_FRESHNESS_RATE."""
    earlier = prior("freshness_rate_events_per_s")
    if earlier is not None:
        return earlier.value
    return streams_bench.FRESHNESS_RATE


def timeline_bodies(n_events: int, limit: int = TIMELINE_LIMIT) -> dict[str, bytes]:
    """Per customer id, the body our timeline route answers after the freshness run's first
    `n_events` events (the customer's events, newest `limit`, grouped by conversation), as
    JSON bytes."""
    entries: dict[str, list[dict[str, Any]]] = {}
    for i in range(n_events):
        ev, cid = streams_bench.freshness_event(i)
        stored = entry_for(ev.model_copy(update={"customer_id": cid}))
        entries[cid], _ = insert(entries.get(cid, []), stored, retention_s=30 * 86400)
    bodies = {}
    for cid, timeline in entries.items():
        events = query(timeline, limit=limit)
        body = {
            "customer_id": cid,
            "requested_id": cid,
            "total_events": len(timeline),
            "events": events,
            "conversations": conversations(events),
        }
        bodies[cid] = json.dumps(body).encode()
    return bodies


def floor_app(bodies: dict[str, bytes]) -> FastAPI:
    """A bare FastAPI app answering the precomputed bodies: the HTTP floor."""
    app = FastAPI()

    @app.get("/v1/customers/{customer_id}/timeline")
    def timeline(customer_id: str) -> Response:
        body = bodies.get(customer_id)
        if body is None:
            raise HTTPException(404)
        return Response(content=body, media_type="application/json")

    return app


def http_floor_timeline() -> list[float]:
    bodies = timeline_bodies(int(freshness_rate() * streams_bench.FRESHNESS_SECONDS))
    sizes = sorted(len(b) for b in bodies.values())
    print(
        f"http floor: {len(bodies)} timelines, body {sizes[len(sizes) // 2]} bytes (median)",
        flush=True,
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(floor_app(bodies), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)  # as streams_bench runs ours
    thread.start()
    try:
        while not port_answers("127.0.0.1", port):
            time.sleep(0.1)
        cids = list(bodies)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            return streams_bench.paced_latencies(
                lambda i: client.get(
                    f"/v1/customers/{cids[i % len(cids)]}/timeline?limit={TIMELINE_LIMIT}"
                ),
                streams_bench.API_RATE,
                _n_requests(),
            )
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def feast_http_features(base: Path) -> list[float]:
    config = FeatureStoreConfig(data_dir=base / "feast", lake_dir=base / "lake")
    client = FeatureStoreClient(config)
    try:
        client.apply()
        rows = features_bench._rows(0, streams_bench.FRESH_CUSTOMERS, datetime.now(UTC))
        client.push_customer_features(rows)
        client.flush()
        cids = [r["customer_id"] for r in rows]
        features = [f"{CUSTOMER_REALTIME_VIEW}:{name}" for name in CUSTOMER_REALTIME_FEATURES]
        proc, url = features_bench._start_server(config)
        try:
            with httpx.Client(base_url=url, timeout=30) as http:

                def send(i: int) -> httpx.Response:
                    body = {"features": features, "entities": {"customer_id": [cids[i % 200]]}}
                    return http.post("/get-online-features", json=body)

                answer = send(0).json()
                # The reads timed below must find the pushed rows, not time empty answers.
                if answer["results"][1]["values"][0] is None:
                    raise RuntimeError(f"feast serve did not return the pushed {cids[0]}")
                return streams_bench.paced_latencies(send, streams_bench.API_RATE, _n_requests())
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
    finally:
        client.close()


def _ratio(name: str, ours_name: str, peer_name: str) -> None:
    ours, peer = prior(ours_name), prior(peer_name)
    assert peer is not None
    if ours is None:
        print(f"no {ours_name} in this run (the streams module did not run): {name} left out")
        return
    ratio(name, ours.value, peer.value, peer_name, ours_name=ours_name)


def main() -> None:
    floor = http_floor_timeline()
    report("http_floor_timeline_ms_p50", percentile(floor, 50), "ms")
    report("http_floor_timeline_ms_p99", percentile(floor, 99), "ms")
    _ratio("api_timeline_vs_http_floor_p99", "api_timeline_ms_p99", "http_floor_timeline_ms_p99")
    with tempfile.TemporaryDirectory(prefix="omnicx-api-peers-bench-") as tmp:
        feast = feast_http_features(Path(tmp))
    report("feast_http_features_ms_p50", percentile(feast, 50), "ms")
    report("feast_http_features_ms_p99", percentile(feast, 99), "ms")
    _ratio("api_features_vs_feast_http_p99", "api_features_ms_p99", "feast_http_features_ms_p99")


if __name__ == "__main__":
    main()
