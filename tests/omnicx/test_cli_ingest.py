"""`omnicx ingest` as a user runs it, against the real broker: every fixture record of every
channel ends on cx.interactions.v1 (raw on cx.ingest.<channel>) or on cx.dlq.v1 with its reason,
and re-ingesting the same files adds no new event ids."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from omnicx.cli import app
from omnicx.errors import OmnicxError
from schemas.cloudevents import headers_dict
from schemas.dlq import Rejection
from schemas.events import InteractionEvent
from schemas.topics import CHANNELS, DLQ, INTERACTIONS, ingest_topic
from tests.conftest import REPO_ROOT
from tests.streams.ingest.conftest import end_offsets, read_since, topics  # noqa: F401

pytestmark = pytest.mark.e2e

FIXTURES = REPO_ROOT / "tests" / "fixtures"


def _env(bootstrap: str, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNICX_")}
    env.update(
        OMNICX_HOME=str(home),
        OMNICX_KAFKA_BOOTSTRAP=bootstrap,
        OMNICX_OWN_EMAIL_DOMAINS="acme.example",
        OMNICX_OWN_SOCIAL_HANDLES="AcmeHelp",
    )
    return env


def _omnicx(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "omnicx", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _ingest_json(channel: str, env: dict[str, str]) -> dict:
    """`omnicx ingest CHANNEL <fixtures> --json`, run in-process (the subprocess runs below
    cover the entry point; starting Python ten more times would only cost time)."""
    result = CliRunner().invoke(
        app, ["ingest", channel, str(FIXTURES / channel), "--json"], env=env
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _offsets(bootstrap: str, channel: str) -> dict[str, dict[int, int]]:
    return {t: end_offsets(bootstrap, t) for t in (ingest_topic(channel), INTERACTIONS, DLQ)}


def _source_line(path: Path, line: int) -> bytes:
    return path.read_bytes().splitlines()[line - 1]


@pytest.mark.parametrize("channel", CHANNELS)
def test_ingest_every_fixture_of_a_channel(channel: str, topics: str, tmp_path: Path) -> None:  # noqa: F811
    env = _env(topics, tmp_path / "home")
    before = _offsets(topics, channel)
    summary = _ingest_json(channel, env)
    assert summary["read"] == summary["accepted"] + summary["rejected"]
    assert summary["accepted"] > 0 and summary["rejected"] > 0  # fixtures hold both kinds
    assert sum(summary["rejected_by_reason"].values()) == summary["rejected"]

    raw = read_since(topics, ingest_topic(channel), before[ingest_topic(channel)])
    assert len(raw) == summary["accepted"]
    canonical = read_since(topics, INTERACTIONS, before[INTERACTIONS])
    assert len(canonical) == summary["events"]
    ids = [headers_dict(r.headers)["ce_id"] for r in canonical]
    assert sorted(ids) == sorted(summary["event_ids"])
    for record in canonical:
        event = InteractionEvent.from_json_bytes(record.value)
        assert event.channel.value == channel
        assert record.key.decode() == event.primary_identifier.key
        assert headers_dict(record.headers)["ce_id"] == event.event_id

    dlq = read_since(topics, DLQ, before[DLQ])
    assert len(dlq) == summary["rejected"]
    files = set(summary["files"])
    reasons: dict[str, int] = {}
    for record in dlq:
        rejection = Rejection.from_headers(headers_dict(record.headers))
        assert rejection.stage == "ingest_file" and rejection.channel == channel
        assert rejection.source_file in files and rejection.source_line is not None
        assert rejection.message and rejection.rejected_at
        reasons[rejection.error_class] = reasons.get(rejection.error_class, 0) + 1
        source = Path(rejection.source_file)
        if source.suffix == ".jsonl":  # one record per line: the DLQ value is that line
            assert record.value == _source_line(source, rejection.source_line).strip()
        elif source.suffix == ".eml":  # one record per file: the DLQ value is the file
            assert record.value == source.read_bytes()
    assert reasons == summary["rejected_by_reason"]

    # The same files again: the same event ids, nothing new for a consumer that dedups by id.
    second = _ingest_json(channel, env)
    assert set(second["event_ids"]) == set(summary["event_ids"])
    assert (second["read"], second["rejected"]) == (summary["read"], summary["rejected"])


def test_ingest_shows_progress_and_a_summary(topics: str, tmp_path: Path) -> None:  # noqa: F811
    env = _env(topics, tmp_path / "home") | {"COLUMNS": "160"}
    run = _omnicx(
        ["ingest", "app", str(FIXTURES / "app" / "malformed" / "bad.jsonl")], env, tmp_path
    )
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "12/12" in out  # the progress bar's final state
    assert "accepted" in out and "DLQ reasons" in out and "InvalidTimestamp" in out


def test_ingest_refuses_an_unknown_channel_and_missing_files(tmp_path: Path) -> None:
    env = _env("127.0.0.1:1", tmp_path / "home")
    unknown = _omnicx(["ingest", "fax", str(FIXTURES / "app")], env, tmp_path)
    assert unknown.returncode == 1
    assert "unknown channel 'fax'" in unknown.stderr and "Traceback" not in unknown.stderr
    missing = CliRunner().invoke(app, ["ingest", "app", str(tmp_path / "nope.jsonl")], env=env)
    assert isinstance(missing.exception, OmnicxError)
    assert "no such file" in str(missing.exception)


def test_ingest_without_a_broker_says_what_to_do(tmp_path: Path) -> None:
    env = _env("127.0.0.1:1", tmp_path / "home")
    run = CliRunner().invoke(app, ["ingest", "app", str(FIXTURES / "app")], env=env)
    assert isinstance(run.exception, OmnicxError)
    assert "Kafka at 127.0.0.1:1 does not answer" in str(run.exception)
    assert "omnicx up" in str(run.exception)
