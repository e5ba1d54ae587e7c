"""`omnicx erase` end to end: real broker, real stream workers, real Spark + Delta, a real Feast
SQLite online store and the Customer API. A journey is ingested and processed, the lake built,
the customer erased; then no Parquet file (lake tables including raw payloads, Feast push log),
no online-store row, no API route and no stream-state changelog knows them, and a new event
with their e-mail is refused into cx.dlq.v1 as Suppressed."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from kafka import KafkaProducer

from feature_store.client import FeatureStoreClient
from feature_store.config import FeatureStoreConfig
from jobs.bronze.ingest import ingest_interactions, ingest_rejections
from jobs.config import LakehouseConfig
from jobs.gold.features import refresh_features
from jobs.silver.identity import refresh_identity_graph
from jobs.silver.timeline import refresh_timeline
from omnicx.erase import ERASED, erase_everywhere
from omnicx.settings import Settings
from omnicx.topics import apply_topics
from schemas import topics as T
from schemas.dlq import ERROR_CLASS
from schemas.identity import customer_id_for
from streams.api import ApiConfig, ApiKeyStore, create_app
from streams.api.customers import customer_api, state_view_for
from streams.ingest import IngestConfig
from streams.ingest.http import ingest_extension
from streams.ingest.suppression import SuppressionFollower, follow_while
from tests.feature_store.conftest import customer_row
from tests.streams.conftest import Workers, make_event, new_workers
from tests.streams.ingest.conftest import ServerThread, end_offsets, read_since

# Idle, the test takes about 3 minutes; on a shared, loaded machine Spark's many small jobs
# take much longer than the suite's 15-minute default timeout.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(2400)]

SECRET = "Zelda.Secret@Example.com"  # normalised: zelda.secret@example.com
PHONE = "+14155550199"
KEEP = "keeper@example.com"
ZELDA = customer_id_for("email:zelda.secret@example.com")
KEEPER = customer_id_for(f"email:{KEEP}")

JOURNEY = [
    make_event("z-mail-1", 0, "email", [{"type": "email", "value": SECRET}], text="zelda writes"),
    make_event("z-call-1", 20, "phone", [{"type": "phone", "value": PHONE}], kind="call_started"),
    # The identify links the phone to her e-mail: one customer, anchored on the e-mail.
    make_event(
        "z-app-1",
        30,
        "app",
        [{"type": "email", "value": SECRET}, {"type": "phone", "value": PHONE}],
        "internal",
        "identify",
    ),
    make_event("k-mail-1", 5, "email", [{"type": "email", "value": KEEP}], text="keeper writes"),
]
# Refused by the workers (not an event); its raw bytes, with her address, reach the DLQ and
# bronze.rejections.
GARBAGE = b'{"from": "ZELDA.SECRET@example.com", "oops": true}'


def wait_for(check: Any, timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.3)
    raise AssertionError(f"condition not met within {timeout}s; last: {last!r}")


def parquet_bytes(*roots: Path) -> bytes:
    """The bytes of every Parquet file and every Delta log file (JSON commits, checkpoints,
    checksums: the log outlives the data) under `roots`, lower-cased (identifiers are matched
    in any case: the raw payloads keep the sender's spelling)."""
    files = (p for root in roots for p in root.rglob("*") if p.is_file())
    return b"".join(
        p.read_bytes() for p in files if p.suffix == ".parquet" or "_delta_log" in p.parts
    ).lower()


@pytest.fixture(scope="module")
def workers(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workers]:
    apply_topics(bootstrap, [T.topic(T.ERASURES), T.topic(T.INTERACTIONS), T.topic(T.DLQ)])
    w = new_workers(bootstrap, tmp_path_factory.mktemp("workers"))
    w.start(1)
    yield w
    w.stop_all()


def test_erase_leaves_no_trace(workers: Workers, spark: Any, tmp_path: Path) -> None:  # noqa: PLR0915
    bootstrap, cfg = workers.bootstrap, workers.config
    keys = ApiKeyStore(tmp_path / "keys.json")
    reader = keys.create(["read:timeline", "read:identity", "read:features", "read:signals"])
    writer = keys.create(["write:events"])
    auth = {"Authorization": f"Bearer {reader}"}

    # 1. The journey through the stream workers, read back from the Customer API.
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for ev in JOURNEY:
        producer.send(
            cfg.interactions_topic, key=ev.primary_identifier.key.encode(), value=ev.to_json_bytes()
        )
    producer.send(cfg.interactions_topic, key=b"garbage", value=GARBAGE)
    producer.flush()
    producer.close()
    view = state_view_for(bootstrap, cfg)
    api_app = create_app(ApiConfig(keys_file=tmp_path / "keys.json"), [customer_api(view)])
    with TestClient(api_app) as api:

        def timeline_of(cid: str) -> int | None:
            r = api.get(f"/v1/customers/{cid}/timeline", headers=auth)
            return r.json()["total_events"] if r.status_code == 200 else None

        wait_for(lambda: timeline_of(ZELDA) == 3 and timeline_of(KEEPER) == 1)
        assert api.get(f"/v1/customers/{ZELDA}/features", headers=auth).status_code == 200
        assert api.get("/v1/identities/phone/+14155550199", headers=auth).json() == {
            "identifier": f"phone:{PHONE}",
            "customer_id": ZELDA,
        }

        # 2. The lake from the same topics; the worker's DLQ holds the garbage's bytes.
        lake = LakehouseConfig(
            lake_dir=tmp_path / "lake",
            kafka_bootstrap=bootstrap,
            interactions_topic=cfg.interactions_topic,
            dlq_topic=cfg.dlq_topic,
            erasures_topic=T.ERASURES,
            identity_topic=cfg.identity_topic,
        )
        wait_for(lambda: sum(end_offsets(bootstrap, cfg.dlq_topic).values()) >= 1)
        ingest_interactions(spark, lake)
        ingest_rejections(spark, lake)
        refresh_identity_graph(spark, lake)
        refresh_timeline(spark, lake)
        refresh_features(spark, lake)

        # 3. Real-time features of both customers in a real Feast SQLite online store.
        fs_config = FeatureStoreConfig(
            data_dir=tmp_path / "fs", lake_dir=tmp_path / "lake", registry_cache_ttl_s=0
        )
        with FeatureStoreClient(fs_config) as fs:
            fs.apply()
            now = JOURNEY[0].occurred_at
            fs.push_customer_features([customer_row(ZELDA, now), customer_row(KEEPER, now)])
            fs.flush()
            assert fs.online_features([ZELDA])[0]["contacts_24h"] == 2

        needles = [b"zelda.secret@example.com", PHONE.encode(), ZELDA.encode(), b"zelda writes"]
        before = parquet_bytes(tmp_path / "lake", tmp_path / "fs")
        # The scan can see every needle before erasure (else its silence after proves nothing).
        assert [n for n in needles if n not in before] == []
        assert GARBAGE.lower() in before

        # 4. Erase.
        settings = Settings(
            home=tmp_path / "home",
            kafka_bootstrap=bootstrap,
            lake_dir=tmp_path / "lake",
            streams=cfg,
            feature_store=fs_config,
        )
        started = time.monotonic()
        report = erase_everywhere(settings, ZELDA, lake=lake, spark=spark, stream_timeout_s=90)
        print(f"erase took {time.monotonic() - started:.1f} s: {json.dumps(report.as_json())}")
        assert report.complete, report.as_json()
        assert report.identifiers == 2
        assert report.lake.removed == {
            "bronze/interactions": 3,
            # The garbage twice: refused by bronze itself, and the workers' DLQ copy.
            "bronze/rejections": 2,
            "silver/identity_graph": 2,
            "silver/customer_timeline": 3,
            "gold/customer_features_daily": 1,
        }
        assert report.online_store.status == ERASED
        assert report.online_store.removed == {"feast sqlite online store customers": 1}
        assert report.stream_state.status == ERASED
        assert report.stream_state.removed == {
            "identity links": 2,
            "timeline events": 3,
            "timeline records": 2,  # the head and her one day
            "feature and signal records": 1,
        }

        # No Parquet file of the lake or the feature store holds her; the keeper is intact.
        after = parquet_bytes(tmp_path / "lake", tmp_path / "fs")
        assert [n for n in needles if n in after] == []
        assert GARBAGE.lower() not in after
        assert KEEP.encode() in after and b"keeper writes" in after
        with FeatureStoreClient(fs_config) as fs:
            gone, kept = fs.online_features([ZELDA, KEEPER])
            assert all(v is None for k, v in gone.items() if k != "customer_id")
            assert kept["contacts_24h"] == 2

        # The API forgets her (the view follows the changelog tombstones); not the keeper.
        for route in ("timeline", "features", "signals"):
            wait_for(
                lambda route=route: (
                    api.get(f"/v1/customers/{ZELDA}/{route}", headers=auth).status_code == 404
                )
            )
        for path in ("email/zelda.secret@example.com", f"phone/{PHONE}"):
            wait_for(
                lambda path=path: api.get(f"/v1/identities/{path}", headers=auth).status_code == 404
            )
        assert timeline_of(KEEPER) == 1

    # 5. A new event with her e-mail, posted to the HTTP ingest, is refused as Suppressed.
    follower = SuppressionFollower(bootstrap)
    ingest = follow_while(
        follower, ingest_extension(bootstrap, IngestConfig(), suppressed=follower)
    )
    dlq_start = end_offsets(bootstrap, T.DLQ)
    app_event = {
        "type": "identify",
        "messageId": "z-app-9",
        "userId": "u-z-9",
        "timestamp": "2026-05-05T10:00:00Z",
        "traits": {"email": SECRET.upper()},
    }
    ingest_app = create_app(ApiConfig(keys_file=tmp_path / "keys.json"), [ingest])
    with ServerThread(ingest_app) as server, httpx.Client(base_url=server.url, timeout=60) as http:
        r = http.post(
            "/v1/events/app",
            content=json.dumps(app_event).encode(),
            headers={"Authorization": f"Bearer {writer}", "content-type": "application/json"},
        )
    assert r.status_code == 202, r.text
    body = r.json()
    assert (body["read"], body["accepted"], body["rejected"]) == (1, 0, 1)
    assert body["rejections"][0]["error_class"] == "Suppressed"
    refused = read_since(bootstrap, T.DLQ, dlq_start)
    suppressed = [m for m in refused if dict(m.headers).get(ERROR_CLASS) == b"Suppressed"]
    assert len(suppressed) == 1 and suppressed[0].value is None


def test_cli_refuses_an_unknown_customer_and_publishes_nothing(
    bootstrap: str, tmp_path: Path
) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNICX_")}
    env.update(OMNICX_HOME=str(tmp_path / "home"), OMNICX_KAFKA_BOOTSTRAP=bootstrap)
    before = sum(end_offsets(bootstrap, T.ERASURES).values())
    done = subprocess.run(
        [sys.executable, "-m", "omnicx", "erase", "cus_nobody", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, done.stderr
    assert "cus_nobody is unknown" in done.stderr and "Traceback" not in done.stderr
    assert sum(end_offsets(bootstrap, T.ERASURES).values()) == before


@pytest.mark.unit
def test_report_table_and_completeness() -> None:
    from rich.console import Console

    from omnicx.erase import ABSENT, PENDING, ErasureReport, PartReport

    report = ErasureReport("cus_z", "test", identifiers=2, tombstones=2)
    report.lake = PartReport(ERASED, {"bronze/interactions": 3}, "DELETE, REORG PURGE, VACUUM")
    report.lake_files_removed = {"bronze/interactions": 2}
    report.online_store = PartReport(ABSENT, detail="no feast sqlite online store")
    report.stream_state = PartReport(ERASED, {"timeline events": 3})
    assert report.complete
    console = Console(width=160, record=True)
    console.print(report.table())
    text = console.export_text()
    assert "3 rows, 2 files" in text and "no feast sqlite online store" in text
    assert report.as_json()["lake"]["removed"] == {"bronze/interactions": 3}
    report.stream_state.status = PENDING
    assert not report.complete
