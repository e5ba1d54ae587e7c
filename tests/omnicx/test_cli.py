"""The stack as a user drives it: `omnicx up`, `status --json`, `topics apply`, `down`, and
the demo's round trip of real tweets through the broker."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from omnicx.demo import read_raw_rows, round_trip
from tests.conftest import SAMPLE_TWEETS

pytestmark = pytest.mark.e2e


def _omnicx(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "omnicx", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return proc


def test_up_status_topics_down(tmp_path: Path, omnicx_env: dict[str, str]) -> None:
    up = _omnicx(["up"], omnicx_env, tmp_path)
    try:
        assert up.returncode == 0, up.stderr
        status = _omnicx(["status", "--json"], omnicx_env, tmp_path)
        data = json.loads(status.stdout)
        port = omnicx_env["OMNICX_KAFKA__PORT"]
        assert data["kafka"] == {**data["kafka"], "up": True, "bootstrap": f"127.0.0.1:{port}"}
        assert data["streams"]["up"] is True and len(data["streams"]["workers"]) == 1
        assert data["api"]["up"] is True
        health = httpx.get(data["api"]["url"] + "/healthz", timeout=5)
        assert health.json() == {"status": "ok"}
        applied = _omnicx(["topics", "apply"], omnicx_env, tmp_path)
        assert applied.returncode == 0 and "cx.interactions.v1" in applied.stdout
        assert "created" not in applied.stdout  # `up` applied them already
        again = _omnicx(["up"], omnicx_env, tmp_path)  # idempotent
        assert again.returncode == 0, again.stderr
    finally:
        down = _omnicx(["down"], omnicx_env, tmp_path)
    assert down.returncode == 0
    after = json.loads(_omnicx(["status", "--json"], omnicx_env, tmp_path).stdout)
    assert after["kafka"]["up"] is False
    assert after["streams"]["up"] is False and after["api"]["up"] is False


def test_demo_round_trip_of_real_tweets(bootstrap: str) -> None:
    rows = read_raw_rows(SAMPLE_TWEETS)
    assert len(rows) == 93  # 100 lines: a header and 93 records, some tweets span lines
    result = round_trip(bootstrap, SAMPLE_TWEETS)
    assert result["produced"] == result["consumed"] == 93
    keys = {r.key.decode() for r in result["sample"]}
    assert keys <= {record_id for record_id, _, _ in rows}
    first = result["sample"][0].value.decode()
    assert first.startswith("tweet_id,author_id,inbound,created_at,text")


def test_apikey_create_and_list(tmp_path: Path, omnicx_env: dict[str, str]) -> None:
    created = _omnicx(
        ["apikey", "create", "--scopes", "read:timeline,read:signals", "--name", "desktop"],
        omnicx_env,
        tmp_path,
    )
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("ocx_") and len(key.split("_", 2)[2]) >= 30
    listed = _omnicx(["apikey", "list"], omnicx_env, tmp_path)
    assert key.split("_")[1] in listed.stdout and "desktop" in listed.stdout
    assert key.split("_", 2)[2] not in listed.stdout
    bad = _omnicx(["apikey", "create", "--scopes", "read:all"], omnicx_env, tmp_path)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert bad.stderr.startswith("error: unknown scope(s) read:all")
