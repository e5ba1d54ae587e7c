"""`python -m omnicx.api_server` with `api.workers` = 2: uvicorn worker processes, each with its
own Kafka producer, serving `POST /v1/events/{channel}` against the real broker."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from infra.procs import free_port
from omnicx.settings import Settings
from streams.api import ApiConfig, ApiKeyStore

pytestmark = pytest.mark.e2e

SEGMENT = Path(__file__).resolve().parents[1] / "fixtures" / "app" / "segment.jsonl"


def test_two_workers_serve_ingest(bootstrap: str, tmp_path: Path) -> None:
    from omnicx.topics import apply_topics

    apply_topics(bootstrap)
    keys = tmp_path / "keys.json"
    key = ApiKeyStore(keys).create(["write:events"], name="test")
    settings = Settings(
        home=tmp_path,
        kafka_bootstrap=bootstrap,
        api=ApiConfig(port=free_port(), keys_file=keys, workers=2),
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "omnicx.api_server", "--settings", settings.model_dump_json()],
    )
    url = settings.api.url
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, "the API server exited"
            assert time.monotonic() < deadline, "the API server did not answer in 90 s"
            time.sleep(0.3)
        workers = subprocess.run(
            ["pgrep", "-P", str(server.pid)], capture_output=True, text=True, check=False
        ).stdout.split()
        # uvicorn's supervisor runs the two workers (and may hold a resource tracker).
        assert len(workers) >= 2
        lines = [x for x in SEGMENT.read_text().splitlines() if x.strip()]
        body = "[" + ",".join(lines) + "]"
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        results = []
        # Several requests on fresh connections, so both workers are likely to serve some; each
        # answers with the same stable ids.
        for _ in range(6):
            response = httpx.post(f"{url}/v1/events/app", content=body, headers=headers, timeout=60)
            assert response.status_code == 202, response.text
            results.append(response.json())
        assert all(r["read"] == r["accepted"] + r["rejected"] for r in results)
        assert {json.dumps(r["event_ids"]) for r in results} == {
            json.dumps(results[0]["event_ids"])
        }
        assert results[0]["accepted"] >= 1
    finally:
        server.terminate()
        server.wait(timeout=30)
