"""The pipeline's routing, with a recording producer standing in for Kafka (pure logic; the
real broker is exercised in tests/omnicx/test_cli_ingest.py and the HTTP tests)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from schemas.cloudevents import headers_dict
from schemas.dlq import Rejection
from schemas.events import InteractionEvent
from schemas.topics import DLQ, INTERACTIONS
from streams.adapters import AdapterConfig
from streams.ingest import IngestConfig, Ingestor
from streams.ingest.pipeline import STAGE_FILE, STAGE_HTTP, DeliveryFailed

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
RECEIVED_AT = datetime(2025, 11, 20, 12, 0, tzinfo=UTC)


@dataclass
class _Done:
    ok: bool = True
    is_done: bool = True
    exception: Exception | None = None

    def get(self, timeout: float | None = None) -> None:
        if not self.ok:
            raise self.exception or RuntimeError("failed")


@dataclass
class Recorder:
    """Keeps what would have been produced."""

    fail: bool = False
    sent: list[tuple[str, bytes | None, bytes | None, dict[str, str]]] = field(default_factory=list)

    def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> Any:
        self.sent.append((topic, key, value, headers_dict(headers)))
        return _Done(ok=not self.fail, exception=RuntimeError("broker gone") if self.fail else None)

    def flush(self, timeout: float | None = None) -> None:
        pass

    def on(self, topic: str) -> list[tuple[str, bytes | None, bytes | None, dict[str, str]]]:
        return [s for s in self.sent if s[0] == topic]


def _ingestor(recorder: Recorder, **kwargs: Any) -> Ingestor:
    config = IngestConfig(
        adapters=AdapterConfig(own_email_domains=["acme.example"], own_social_handles=["AcmeHelp"])
    )
    return Ingestor(recorder, config, **kwargs)


def test_malformed_app_file_routes_each_record_once() -> None:
    recorder = Recorder()
    path = FIXTURES / "app" / "malformed" / "bad.jsonl"
    result = _ingestor(recorder).ingest(
        "app", path.read_bytes(), source=str(path), stage=STAGE_FILE, received_at=RECEIVED_AT
    )
    assert result.read == 12 == result.accepted + result.rejected
    dlq = recorder.on(DLQ)
    assert len(dlq) == result.rejected
    raw = recorder.on("cx.ingest.app")
    assert len(raw) == result.accepted
    assert len(recorder.on(INTERACTIONS)) == result.events
    # Every DLQ record names the stage, class, file and line; its value is the original line.
    lines = path.read_bytes().splitlines()
    for _, key, value, headers in dlq:
        rejection = Rejection.from_headers(headers)
        assert rejection.stage == STAGE_FILE and rejection.channel == "app"
        assert rejection.source_file == str(path)
        assert rejection.source_line is not None
        assert value == lines[rejection.source_line - 1]
        assert rejection.error_class in result.by_reason and rejection.message
        assert key
    reasons = {Rejection.from_headers(h).source_line: Rejection.from_headers(h) for *_, h in dlq}
    assert reasons[1].error_class == "MalformedPayload" and "truncated" in reasons[1].message
    assert reasons[2].error_class == "InvalidField"  # userId is an object
    assert reasons[3].error_class == "MissingIdentity"
    assert reasons[5].error_class == "InvalidTimestamp"  # 1999
    assert reasons[6].error_class == "InvalidTimestamp"  # 2099
    assert reasons[12].error_class == "InvalidEncoding"


def test_accepted_records_go_to_raw_and_canonical_with_cloudevents_headers() -> None:
    recorder = Recorder()
    path = FIXTURES / "phone" / "ctr.jsonl"
    result = _ingestor(recorder).ingest(
        "phone", path.read_bytes(), source=str(path), stage=STAGE_FILE, received_at=RECEIVED_AT
    )
    assert result.rejected == 0 and result.accepted == len(recorder.on("cx.ingest.phone"))
    assert result.events == 2 * result.accepted  # call_started + call_ended per contact
    for _, key, value, _ in recorder.on("cx.ingest.phone"):
        assert key is not None and value is not None
        assert json.loads(value)["ContactId"] == key.decode()
    for _, key, value, headers in recorder.on(INTERACTIONS):
        assert value is not None and key is not None
        event = InteractionEvent.from_json_bytes(value)
        assert key.decode() == event.primary_identifier.key
        assert headers["ce_id"] == event.event_id
        assert headers["ce_type"] == "io.omnicx.interaction.v1"
        assert headers["ce_source"] == "/omnicx/phone/amazon_connect_ctr"
    again = Recorder()
    second = _ingestor(again).ingest(
        "phone", path.read_bytes(), source=str(path), stage=STAGE_FILE, received_at=RECEIVED_AT
    )
    assert second.event_ids == result.event_ids  # stable ids: a re-ingest adds nothing new


def test_unknown_channel_is_refused_into_the_dlq() -> None:
    recorder = Recorder()
    result = _ingestor(recorder).ingest("fax", b"%PDF", source="req-1", stage=STAGE_HTTP)
    assert (result.read, result.accepted, result.rejected) == (1, 0, 1)
    ((topic, _, value, headers),) = recorder.sent
    assert topic == DLQ and value == b"%PDF"
    assert headers["dlq_error_class"] == "UnknownChannel" and "fax" in headers["dlq_error_message"]


def test_oversized_record_keeps_a_prefix_and_says_so() -> None:
    recorder = Recorder()
    body = json.dumps({"type": "track", "userId": "u", "pad": "x" * 1_100_000}).encode()
    result = _ingestor(recorder).ingest("app", body, source="big.jsonl", stage=STAGE_FILE)
    assert result.by_reason == {"PayloadTooLarge": 1}
    ((topic, _, value, headers),) = recorder.sent
    assert topic == DLQ and value is not None and len(value) == 1_000_000
    assert value == body[:1_000_000]
    assert "first 1,000,000 bytes" in headers["dlq_error_message"]


def test_suppressed_identifier_is_refused_without_its_bytes() -> None:
    recorder = Recorder()
    path = FIXTURES / "app" / "segment.jsonl"
    everything = _ingestor(Recorder()).ingest(
        "app", path.read_bytes(), source=str(path), stage=STAGE_FILE, received_at=RECEIVED_AT
    )
    erased = {"email:ada.lovelace@example.com"}
    result = _ingestor(recorder, suppressed=lambda i: i.key in erased).ingest(
        "app", path.read_bytes(), source=str(path), stage=STAGE_FILE, received_at=RECEIVED_AT
    )
    assert result.read == everything.read
    assert result.by_reason["Suppressed"] >= 1
    assert result.accepted == everything.accepted - result.by_reason["Suppressed"]
    for _, key, value, headers in recorder.on(DLQ):
        assert value is None and b"lovelace" not in (key or b"")
        assert "lovelace" not in headers["dlq_error_message"]
    for _, _, value, _ in recorder.on(INTERACTIONS):
        assert value is not None and b"ada.lovelace@example.com" not in value


def test_unacknowledged_records_fail_the_batch() -> None:
    path = FIXTURES / "chat" / "transcripts.jsonl"
    with pytest.raises(DeliveryFailed, match="not acknowledged"):
        _ingestor(Recorder(fail=True)).ingest(
            "chat", path.read_bytes(), source=str(path), stage=STAGE_FILE, received_at=RECEIVED_AT
        )
