"""Customer API keys: 401 without a key, 403 without the scope, hashes only on disk, keys
created while the API runs work at once; /healthz and /metrics answer."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient

from streams.api import ApiConfig, ApiExtension, ApiKeyStore, create_app, require_scope
from streams.api.auth import UnknownScope

pytestmark = pytest.mark.unit


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    router = APIRouter()

    @router.get("/v1/probe")
    def probe(key=Depends(require_scope("read:timeline"))) -> dict[str, str]:  # noqa: B008
        return {"key": key.key_id}

    app = create_app(ApiConfig(keys_file=tmp_path / "keys.json"), [ApiExtension(router)])
    return TestClient(app)


def test_scopes_are_enforced(client: TestClient, tmp_path: Path) -> None:
    store = ApiKeyStore(tmp_path / "keys.json")
    assert client.get("/v1/probe").status_code == 401
    assert (
        client.get("/v1/probe", headers={"Authorization": "Bearer ocx_nope_x"}).status_code == 401
    )
    reader = store.create(["read:timeline"], name="desktop")
    writer = store.create(["write:events"])
    ok = client.get("/v1/probe", headers={"Authorization": f"Bearer {reader}"})
    assert ok.status_code == 200 and ok.json()["key"] == reader.split("_")[1]
    denied = client.get("/v1/probe", headers={"Authorization": f"Bearer {writer}"})
    assert denied.status_code == 403 and "read:timeline" in denied.json()["detail"]
    tampered = reader[:-2] + ("aa" if not reader.endswith("aa") else "bb")
    assert (
        client.get("/v1/probe", headers={"Authorization": f"Bearer {tampered}"}).status_code == 401
    )
    on_disk = (tmp_path / "keys.json").read_text()
    assert reader.split("_", 2)[2] not in on_disk


def test_unknown_scope_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnknownScope, match="read:everything"):
        ApiKeyStore(tmp_path / "k.json").create(["read:everything"])


def test_health_metrics_and_openapi(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    client.get("/v1/probe")
    metrics = client.get("/metrics").text
    assert 'omnicx_api_requests_total{method="GET",route="/v1/probe",status="401"} 1.0' in metrics
    spec = client.get("/openapi.json").json()
    assert "/v1/probe" in spec["paths"] and spec["info"]["title"] == "omnicx Customer API"
