"""`POST /v1/events/{channel}` on a real uvicorn server, producing to the real broker."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from schemas.cloudevents import headers_dict
from schemas.dlq import Rejection
from schemas.topics import DLQ, INTERACTIONS, ingest_topic
from streams.adapters import AdapterConfig
from streams.api import ApiConfig, ApiKeyStore, create_app
from streams.ingest import IngestConfig
from streams.ingest.http import HttpIngestConfig, ingest_extension
from tests.streams.ingest.conftest import (  # noqa: F401
    ServerThread,
    end_offsets,
    read_since,
    topics,
)

pytestmark = pytest.mark.e2e

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


@pytest.fixture(scope="module")
def api(topics: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:  # noqa: F811
    keys = tmp_path_factory.mktemp("api") / "keys.json"
    store = ApiKeyStore(keys)
    writer, reader = store.create(["write:events"]), store.create(["read:timeline"])
    config = IngestConfig(
        adapters=AdapterConfig(own_email_domains=["acme.example"], own_social_handles=["AcmeHelp"])
    )
    extension = ingest_extension(topics, config, http=HttpIngestConfig(max_body_bytes=64 * 1024))
    app = create_app(ApiConfig(keys_file=keys), [extension])
    with ServerThread(app) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        yield {"client": client, "writer": writer, "reader": reader, "bootstrap": topics}


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_keys_and_scope_are_required(api: dict[str, Any]) -> None:
    client: httpx.Client = api["client"]
    assert client.post("/v1/events/app", content=b"{}").status_code == 401
    denied = client.post("/v1/events/app", content=b"{}", headers=_auth(api["reader"]))
    assert denied.status_code == 403 and "write:events" in denied.json()["detail"]


def test_batch_with_good_and_bad_items(api: dict[str, Any]) -> None:
    client: httpx.Client = api["client"]
    bootstrap = api["bootstrap"]
    good = [
        json.loads(line)
        for line in (FIXTURES / "app" / "segment.jsonl").read_text().splitlines()
        if line.strip()
    ]
    bad = [
        {"type": "track", "messageId": "http-bad-1", "event": "Viewed",
         "timestamp": "2025-11-03T09:01:00Z"},
        {"type": "track", "messageId": "http-bad-2", "userId": 12.5, "event": "Viewed",
         "timestamp": "2025-11-03T09:01:00Z"},
    ]  # fmt: skip
    before = {t: end_offsets(bootstrap, t) for t in (INTERACTIONS, DLQ, ingest_topic("app"))}
    response = client.post("/v1/events/app", json=good + bad, headers=_auth(api["writer"]))
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["read"] == len(good) + 2 == body["accepted"] + body["rejected"]
    assert body["rejected"] >= 2
    by_item = {r["item"]: r for r in body["rejections"]}
    assert by_item[len(good) + 1]["error_class"] == "MissingIdentity"
    assert by_item[len(good) + 2]["record_id"] == "http-bad-2"

    canonical = read_since(bootstrap, INTERACTIONS, before[INTERACTIONS])
    assert sorted(headers_dict(r.headers)["ce_id"] for r in canonical) == sorted(body["event_ids"])
    assert (
        len(read_since(bootstrap, ingest_topic("app"), before[ingest_topic("app")]))
        == body["accepted"]
    )
    dlq = read_since(bootstrap, DLQ, before[DLQ])
    assert len(dlq) == body["rejected"]
    key_id = api["writer"].split("_")[1]
    for record in dlq:
        rejection = Rejection.from_headers(headers_dict(record.headers))
        assert rejection.stage == "ingest_http" and rejection.channel == "app"
        assert rejection.source_file == f"POST /v1/events/app key={key_id}"
        item = by_item[rejection.source_line]
        assert rejection.error_class == item["error_class"] and rejection.message == item["message"]
        assert json.loads(record.value) == (good + bad)[rejection.source_line - 1]

    again = client.post("/v1/events/app", json=good + bad, headers=_auth(api["writer"]))
    assert again.json()["event_ids"] == body["event_ids"]  # same records, same ids


def test_single_payloads_of_other_channels(api: dict[str, Any]) -> None:
    client: httpx.Client = api["client"]
    ctr = json.loads((FIXTURES / "phone" / "ctr.jsonl").read_text().splitlines()[0])
    phone = client.post("/v1/events/phone", json=ctr, headers=_auth(api["writer"]))
    assert phone.status_code == 202 and len(phone.json()["event_ids"]) == 2  # started + ended
    eml = (FIXTURES / "email" / "multipart_attachment.eml").read_bytes()
    email = client.post(
        "/v1/events/email",
        content=eml,
        headers=_auth(api["writer"]) | {"Content-Type": "message/rfc822"},
    )
    assert email.status_code == 202 and email.json()["accepted"] == 1, email.text
    csv = (FIXTURES / "social" / "tweets.csv").read_bytes()
    social = client.post(
        "/v1/events/social",
        content=csv,
        headers=_auth(api["writer"]) | {"Content-Type": "text/csv"},
    )
    assert social.status_code == 202 and social.json()["rejected"] == 0, social.text


def test_unknown_channel_and_oversized_bodies(api: dict[str, Any]) -> None:
    client: httpx.Client = api["client"]
    bootstrap = api["bootstrap"]
    before = end_offsets(bootstrap, DLQ)
    unknown = client.post("/v1/events/fax", content=b'{"x": 1}', headers=_auth(api["writer"]))
    assert unknown.status_code == 404
    assert unknown.json()["rejections"][0]["error_class"] == "UnknownChannel"
    (record,) = read_since(bootstrap, DLQ, before)
    assert record.value == b'{"x": 1}'
    assert headers_dict(record.headers)["dlq_channel"] == "fax"
    big = client.post("/v1/events/app", content=b"x" * 70_000, headers=_auth(api["writer"]))
    assert big.status_code == 413 and "65,536 bytes" in big.json()["detail"]
    truncated = client.post(
        "/v1/events/app", content=b'{"type": "track", "userId": "u', headers=_auth(api["writer"])
    )
    assert truncated.status_code == 202
    (rejection,) = truncated.json()["rejections"]
    assert rejection["error_class"] == "MalformedPayload" and "truncated" in rejection["message"]
