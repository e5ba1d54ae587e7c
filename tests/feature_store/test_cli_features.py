"""`omnicx features apply | serve` as a user runs them: Feast's own feature server answers
/get-online-features for a customer pushed through our client."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from feature_store.client import FeatureStoreClient
from infra.procs import free_port
from omnicx.settings import Settings
from tests.feature_store.conftest import customer_row, utc

pytestmark = pytest.mark.e2e

OMNICX = str(Path(sys.executable).with_name("omnicx"))


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [OMNICX, "features", *args], env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def served(omnicx_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Apply, push one customer, and run `omnicx features serve`; yields its base URL."""
    applied = run(omnicx_env, "apply")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "personalisation_v1" in applied.stdout
    home = Path(omnicx_env["OMNICX_HOME"])
    assert (home / "feature_store" / "registry.db").exists()

    monkeypatch.setenv("OMNICX_HOME", str(home))
    with FeatureStoreClient(Settings().feature_store) as client:
        client.push_customer_features(
            [customer_row("cus_served", utc(2026, 11, 23, 9), contacts_24h=6)]
        )

    port = free_port()
    proc = subprocess.Popen(
        [OMNICX, "features", "serve", "--port", str(port)],
        env=omnicx_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, (
                f"feature server exited: {proc.stdout.read() if proc.stdout else ''}"
            )
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "feature server did not answer /health in 120 s"
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_serve_answers_get_online_features(served: str) -> None:
    response = httpx.post(
        f"{served}/get-online-features",
        json={
            "feature_service": "personalisation_v1",
            "entities": {"customer_id": ["cus_served", "cus_unknown"]},
        },
        timeout=30,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    names = body["metadata"]["feature_names"]
    columns = {name: result["values"] for name, result in zip(names, body["results"], strict=True)}
    assert columns["customer_id"] == ["cus_served", "cus_unknown"]
    assert columns["contacts_24h"] == [6, None]
    assert columns["last_channel"] == ["email", None]
    statuses = body["results"][names.index("contacts_24h")]["statuses"]
    assert statuses == ["PRESENT", "NOT_FOUND"]


def test_usage_errors_are_one_line(omnicx_env: dict[str, str]) -> None:
    served = run(omnicx_env, "serve")
    assert served.returncode == 1
    assert "run 'omnicx features apply'" in served.stderr and "Traceback" not in served.stderr
    bad = run(omnicx_env, "materialize")
    assert bad.returncode == 1 and "give START and END" in bad.stderr
