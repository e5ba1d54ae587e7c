"""Customer API read routes over a hand-filled state view: scopes (401/403), merges followed,
404 for unknown customers. (The integration test reads the same routes from real workers.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from streams.api import ApiConfig, ApiKeyStore, create_app
from streams.api.customers import customer_api
from streams.api.state import StateView
from streams.features.customer import process
from streams.features.state import CustomerState
from streams.timeline import BucketedTimeline, bucket_key, entry_for
from streams.workers.config import CHANNELS_TABLE, CUSTOMERS_TABLE, TIMELINES_TABLE
from streams.workers.records import customer_record
from tests.streams.conftest import make_event

pytestmark = pytest.mark.unit


@pytest.fixture
def setup(tmp_path: Path) -> tuple[TestClient, ApiKeyStore]:
    view = StateView(
        "127.0.0.1:1", {TIMELINES_TABLE: "unused", CUSTOMERS_TABLE: "u", CHANNELS_TABLE: "u"}
    )
    ev = make_event("e1", 0, "chat", [{"type": "email", "value": "a@x.com"}], conversation="c")
    timeline = BucketedTimeline("cus_live", None, lambda key: None)
    timeline.insert(entry_for(ev.model_copy(update={"customer_id": "cus_live"})), 400 * 86400.0)
    for b in timeline.dirty:
        view.tables[TIMELINES_TABLE][bucket_key("cus_live", b)] = timeline.buckets[b]
    view.tables[TIMELINES_TABLE]["cus_live"] = timeline.head
    view.tables[TIMELINES_TABLE]["cus_moved"] = {"to": "cus_old", "b": []}
    state = CustomerState("cus_live")
    update = process(state, ev.model_copy(update={"customer_id": "cus_live"}))
    view.tables[CUSTOMERS_TABLE] = {
        "cus_live": customer_record(None, state.to_dict(), update.features, [], 10)
    }
    view.merged_into["cus_old"] = "cus_live"
    view.links["email:a@x.com"] = "cus_old"
    app = create_app(ApiConfig(keys_file=tmp_path / "k.json"), [customer_api(view, follow=False)])
    return TestClient(app), ApiKeyStore(tmp_path / "k.json")


ROUTES = {
    "/v1/customers/cus_live/timeline": "read:timeline",
    "/v1/identities/email/A@X.com": "read:identity",
    "/v1/customers/cus_live/features": "read:features",
    "/v1/customers/cus_old/signals": "read:signals",
    "/v1/channels/chat/response-time": "read:identity",
}


@pytest.mark.parametrize("path,scope", ROUTES.items())
def test_scopes(setup: tuple[TestClient, ApiKeyStore], path: str, scope: str) -> None:
    client, store = setup
    with client:
        assert client.get(path).status_code == 401
        other = store.create(["write:events"])
        assert client.get(path, headers={"Authorization": f"Bearer {other}"}).status_code == 403
        ok = store.create([scope])
        assert client.get(path, headers={"Authorization": f"Bearer {ok}"}).status_code == 200


def test_merges_and_redirects_are_followed(setup: tuple[TestClient, ApiKeyStore]) -> None:
    client, store = setup
    auth = {"Authorization": f"Bearer {store.create(['read:timeline', 'read:identity'])}"}
    with client:
        for requested in ("cus_live", "cus_old", "cus_moved"):
            body = client.get(f"/v1/customers/{requested}/timeline", headers=auth).json()
            assert body["customer_id"] == "cus_live" and body["requested_id"] == requested
            assert [e["event_id"] for e in body["events"]] == ["e1"]
        ident = client.get("/v1/identities/email/A@X.com", headers=auth).json()
        assert ident == {"identifier": "email:a@x.com", "customer_id": "cus_live"}
        assert client.get("/v1/customers/cus_x/timeline", headers=auth).status_code == 404
        assert client.get("/v1/identities/fax/123", headers=auth).status_code == 422


def test_features_as_of_last_event_and_now(setup: tuple[TestClient, ApiKeyStore]) -> None:
    client, store = setup
    auth = {"Authorization": f"Bearer {store.create(['read:features'])}"}
    with client:
        last = client.get("/v1/customers/cus_old/features?as_of=last_event", headers=auth).json()
        assert last["customer_id"] == "cus_live"
        # One inbound chat message (2026-05-04 09:00): one contact, unanswered.
        f = last["features"]
        assert (f["contacts_1h"], f["contacts_24h"], f["open_conversations"]) == (1, 1, 1)
        assert f["last_channel"] == "chat"
        # Months later on the wall clock, the windows are empty; the last contact stays.
        now = client.get("/v1/customers/cus_live/features", headers=auth).json()["features"]
        assert (now["contacts_1h"], now["contacts_24h"]) == (0, 0)
        assert now["last_channel"] == "chat"


def test_answers_are_the_json_fastapi_would_write(setup: tuple[TestClient, ApiKeyStore]) -> None:
    """The routes serialise with orjson (`customers._json`), not FastAPI's jsonable_encoder:
    same JSON, same content type, and the OpenAPI document still describes JSON objects."""
    from fastapi.encoders import jsonable_encoder

    client, store = setup
    auth = {"Authorization": f"Bearer {store.create(['read:timeline', 'read:features'])}"}
    with client:
        for path in ("/v1/customers/cus_live/timeline", "/v1/customers/cus_live/features"):
            r = client.get(path, headers=auth)
            assert r.headers["content-type"] == "application/json"
            body = r.json()
            assert jsonable_encoder(body) == body  # JSON-native values only
            assert body["customer_id"] == "cus_live"
        events = client.get("/v1/customers/cus_live/timeline", headers=auth).json()["events"]
        view: StateView = client.app.state.customer_state  # type: ignore[attr-defined]
        tables = view.tables[TIMELINES_TABLE]
        stored = [
            e["e"] for b in tables["cus_live"]["b"] for e in tables[bucket_key("cus_live", b)]
        ]
        assert events == stored  # the stored event JSON, unchanged
        schema = client.get("/openapi.json").json()
        ok = schema["paths"]["/v1/customers/{customer_id}/timeline"]["get"]["responses"]["200"]
        assert ok["content"]["application/json"]["schema"]["type"] == "object"


def test_view_freezes_its_state_out_of_the_collector(monkeypatch: pytest.MonkeyPatch) -> None:
    """Once caught up, and every FREEZE_EVERY records after, the view collects and freezes;
    in between it leaves the collector alone."""
    import gc

    import streams.api.state as state_mod

    calls: list[str] = []
    monkeypatch.setattr(state_mod.gc, "collect", lambda *a: calls.append("collect") or 0)
    monkeypatch.setattr(state_mod.gc, "freeze", lambda: calls.append("freeze"))
    view = StateView("127.0.0.1:1", {TIMELINES_TABLE: "t"})
    view.records = 10
    view._settle_gc()
    assert calls == ["collect", "freeze"]
    view.records += state_mod.FREEZE_EVERY - 1
    view._settle_gc()
    assert calls == ["collect", "freeze"]
    view.records += 1
    view._settle_gc()
    assert calls == ["collect", "freeze", "collect", "freeze"]
    assert gc.isenabled()
