"""Feature store: online read latency and push throughput, on SQLite and on Redis.

Online reads of the `personalisation_v1` service, for 1 customer and for 50, through:
- our client (`FeatureStoreClient.online_features`, what the Customer API uses);
- Feast's own feature server (`feast serve`, HTTP POST /get-online-features over a kept-alive
  connection): the peer a user would otherwise run;
- Feast's Python SDK in-process (`FeatureStore.get_online_features`), for reference.
Push throughput: our client's push (online write + parquet log) against Feast's SDK
`push(..., to=PushMode.ONLINE)` on the same store.

Everything runs in the same process and run, on a fresh repo under a temp dir, with a real
Redis server from infra/redis on a free port.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.common import percentile, ratio, report
from feature_store.client import FeatureStoreClient
from feature_store.config import FeatureStoreConfig, feast_argv, feast_environment
from infra.procs import free_port
from infra.redis import LocalRedis, RedisConfig
from schemas.features import CUSTOMER_REALTIME_FEATURES

CUSTOMERS = 2_000
PUSH_BATCH = 100
READS_1 = 400
READS_50 = 150
SERVICE = "personalisation_v1"


def _rows(start: int, n: int, at: datetime) -> list[dict[str, Any]]:
    rows = []
    for i in range(start, start + n):
        row: dict[str, Any] = {
            "customer_id": f"cus_{i:020x}",
            "event_timestamp": at,
            "last_contact_at": at,
            "last_channel": ("email", "chat", "phone")[i % 3],
        }
        for name, (kind, _) in CUSTOMER_REALTIME_FEATURES.items():
            if kind == "int64":
                row.setdefault(name, i % 7)
            elif kind == "float64":
                row.setdefault(name, (i % 100) / 10)
        rows.append(row)
    return rows


def _latencies(fn: Callable[[], object], n: int) -> list[float]:
    for _ in range(min(20, n)):  # warm caches and connections
        fn()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def _push_rate(push: Callable[[list[dict[str, Any]]], object], at: datetime) -> float:
    t0 = time.perf_counter()
    for start in range(0, CUSTOMERS, PUSH_BATCH):
        push(_rows(start, PUSH_BATCH, at))
    return CUSTOMERS / (time.perf_counter() - t0)


def _start_server(config: FeatureStoreConfig) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        feast_argv(config, "serve", "--port", str(port), "--no-access-log"),
        env=feast_environment(config),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        if proc.poll() is not None:
            raise RuntimeError("feast serve exited during start-up")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("feast serve did not answer /health in 180 s")
        time.sleep(0.5)


def _bench_store(store: str, base: Path, redis: LocalRedis | None) -> None:
    config = FeatureStoreConfig(
        data_dir=base / store,
        lake_dir=base / "lake",
        online_store=store,  # type: ignore[arg-type]
        redis_address=redis.address if redis else "127.0.0.1:1",
    )
    client = FeatureStoreClient(config)
    client.apply()
    now = datetime.now(UTC)

    ours_push = _push_rate(client.push_customer_features, now)
    client.flush()
    import pandas as pd
    from feast.data_source import PushMode

    fs = client.store

    def feast_push(rows: list[dict[str, Any]]) -> None:
        fs.push("customer_realtime_push_source", pd.DataFrame(rows), to=PushMode.ONLINE)

    # Newer times, so Feast's Redis writer does not drop them as stale.
    feast_push_rate = _push_rate(feast_push, now + timedelta(seconds=1))
    name = "push_rows_per_s" if store == "sqlite" else f"push_rows_per_s_{store}"
    report(name, ours_push, "rows/s")
    report(f"feast_sdk_{name}", feast_push_rate, "rows/s")
    ratio(f"{name}_vs_feast_sdk", ours_push, feast_push_rate, f"feast_sdk_{name}")

    ids = [r["customer_id"] for r in _rows(0, CUSTOMERS, now)]
    one, fifty = ids[:1], ids[100:150]
    service = fs.get_feature_service(SERVICE)
    # The reads measured below must find the pushed rows, not time empty answers.
    if client.online_features(one, SERVICE)[0]["contacts_24h"] is None:
        raise RuntimeError(f"the {store} store did not return the pushed customer")
    proc, url = _start_server(config)
    try:
        http = httpx.Client(timeout=30)
        for label, entity_ids, n in (("1", one, READS_1), ("50", fifty, READS_50)):
            body = {"feature_service": SERVICE, "entities": {"customer_id": entity_ids}}

            def via_http(body: dict[str, Any] = body) -> None:
                http.post(f"{url}/get-online-features", json=body).raise_for_status()

            paths = {
                "client": _latencies(lambda e=entity_ids: client.online_features(e, SERVICE), n),
                "feast_http": _latencies(via_http, n),
                "feast_sdk": _latencies(
                    lambda e=entity_ids: fs.get_online_features(
                        features=service, entity_rows=[{"customer_id": x} for x in e]
                    ).to_dict(),
                    n,
                ),
            }
            prefix = f"features_{store}_read{label}_{SERVICE}"
            for path, values in paths.items():
                report(f"{prefix}_{path}_p50", percentile(values, 50), "ms")
                report(f"{prefix}_{path}_p99", percentile(values, 99), "ms")
            for q in (50, 99):
                ratio(
                    f"{prefix}_p{q}_client_vs_feast_http",
                    percentile(paths["client"], q),
                    percentile(paths["feast_http"], q),
                    f"{prefix}_feast_http_p{q}",
                )
        http.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        client.close()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="omnicx-features-bench-") as tmp:
        base = Path(tmp)
        _bench_store("sqlite", base, None)
        redis = LocalRedis(RedisConfig(port=free_port(), data_dir=base / "redis", appendonly=False))
        redis.start()
        try:
            _bench_store("redis", base, redis)
        finally:
            redis.stop()


if __name__ == "__main__":
    main()
