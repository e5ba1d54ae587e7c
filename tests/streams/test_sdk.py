"""The SDK against the real broker: the README example as written, native payloads through the
pipeline, canonical events, and the consumer's commit control and DLQ for bad records."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kafka import KafkaProducer

from schemas.cloudevents import headers_dict
from schemas.dlq import Rejection
from schemas.events import InteractionEvent, make_event_id
from schemas.topics import DLQ, INTERACTIONS
from streams.sdk import EventConsumer, EventProducer
from tests.conftest import REPO_ROOT
from tests.streams.ingest.conftest import end_offsets, read_since, topics  # noqa: F401

pytestmark = pytest.mark.integration


def _readme_example() -> str:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Ingesting events and the Python SDK", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    return code


def test_readme_example_runs_as_written(topics: str, tmp_path: Path) -> None:  # noqa: F811
    script = tmp_path / "example.py"
    script.write_text(_readme_example(), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNICX_")}
    env |= {"OMNICX_KAFKA_BOOTSTRAP": topics, "OMNICX_HOME": str(tmp_path / "home")}
    run = subprocess.run(
        [sys.executable, str(script)],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    event_id = make_event_id("segment", "readme-example-1")
    assert f"accepted 1, rejected 0: ['{event_id}']" in run.stdout
    assert "purchase app_user_id:u-42 2025-11-20T10:00:00+00:00" in run.stdout


def _event(n: int, tag: str) -> InteractionEvent:
    return InteractionEvent.model_validate(
        {
            "event_id": make_event_id("sdk-test", f"{tag}-{n}"),
            "occurred_at": datetime(2025, 11, 1, 9, n % 60, tzinfo=UTC),
            "ingested_at": datetime(2025, 11, 1, 10, tzinfo=UTC),
            "channel": "chat",
            "direction": "inbound",
            "kind": "chat_message",
            "identifiers": [{"type": "email", "value": f"c{n}@example.com"}],
            "source": {"system": "sdk-test", "record_id": f"{tag}-{n}"},
            "text": f"message {n}",
        }
    )


def test_native_payloads_are_validated_and_rejections_reported(topics: str) -> None:  # noqa: F811
    before = end_offsets(topics, DLQ)
    payloads = [
        {"type": "identify", "messageId": f"sdk-{uuid.uuid4()}", "userId": "u-7",
         "timestamp": "2025-11-20T10:00:00Z", "traits": {"email": "Seven@Example.com"}},
        {"type": "track", "messageId": "sdk-no-id", "timestamp": "2025-11-20T10:00:00Z",
         "event": "Viewed"},
        {"type": "track", "messageId": "sdk-bad-time", "userId": "u-8", "timestamp": "soon",
         "event": "Viewed"},
    ]  # fmt: skip
    with EventProducer(topics) as producer:
        result = producer.ingest("app", payloads)
    assert (result.read, result.accepted, result.rejected) == (3, 1, 2)
    assert result.by_reason == {"MissingIdentity": 1, "InvalidTimestamp": 1}
    dlq = read_since(topics, DLQ, before)
    rejections = [Rejection.from_headers(headers_dict(r.headers)) for r in dlq]
    assert sorted((r.stage, r.source_file, r.source_line) for r in rejections) == [
        ("ingest_sdk", "sdk", 2),
        ("ingest_sdk", "sdk", 3),
    ]
    assert {json.loads(r.value)["messageId"] for r in dlq} == {"sdk-no-id", "sdk-bad-time"}


def test_consumer_yields_typed_events_and_commits_only_what_was_yielded(
    topics: str,  # noqa: F811
) -> None:
    tag = uuid.uuid4().hex[:8]
    junk_key = f"junk-{tag}".encode()
    bare = KafkaProducer(bootstrap_servers=topics)
    bare.send(INTERACTIONS, value=b'{"not": "an event"}', key=junk_key).get(timeout=30)
    bare.close()
    events = [_event(n, tag) for n in range(10)]
    dlq_before = end_offsets(topics, DLQ)
    with EventProducer(topics) as producer:
        futures = [producer.send_event(e) for e in events]
        producer.flush(30)
    assert all(f.succeeded() for f in futures)

    wanted = {e.event_id for e in events}
    group = f"sdk-test-{tag}"
    first: list[str] = []
    with EventConsumer(topics, group_id=group, from_beginning=True) as consumer:
        for event in consumer.events(max_idle_s=15):
            assert isinstance(event, InteractionEvent)
            if event.event_id in wanted:
                first.append(event.event_id)
                if len(first) == 4:
                    break  # the rest of the fetched batch must not count as consumed
        assert consumer.last is not None and consumer.last.topic == INTERACTIONS
        consumer.commit()
    assert len(first) == 4
    with EventConsumer(topics, group_id=group, from_beginning=True) as consumer:
        rest = [e.event_id for e in consumer.events(max_idle_s=5) if e.event_id in wanted]
        consumer.commit()
    assert sorted(first + rest) == sorted(wanted)  # nothing lost, nothing twice
    with EventConsumer(topics, group_id=group, from_beginning=True) as consumer:
        assert list(consumer.events(max_idle_s=3)) == []  # all committed

    dlq = read_since(topics, DLQ, dlq_before)
    mine = [r for r in dlq if r.key == junk_key]
    assert len(mine) == 1 and mine[0].value == b'{"not": "an event"}'
    rejection = Rejection.from_headers(headers_dict(mine[0].headers))
    assert rejection.stage == "sdk_consume" and rejection.source_topic == INTERACTIONS
    assert rejection.source_offset is not None and rejection.error_class == "InvalidEvent"
