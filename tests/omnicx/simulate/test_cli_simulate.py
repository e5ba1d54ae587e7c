"""`omnicx simulate` as a user runs it: a subprocess, real files, a summary, clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def _simulate(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "omnicx", "simulate", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_simulate_writes_files_manifest_and_summary(tmp_path: Path) -> None:
    out = tmp_path / "traffic"
    args = ["-n", "150", "--start", "2026-11-01", "--seed", "4", "-o", str(out)]
    args += ["--brand", "acme,Acme Telecom,AcmeCares,acme.test,help@acme.test"]
    proc = _simulate(args, tmp_path)
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["business"]["own_email_addresses"] == ["help@acme.test"]
    assert manifest["business"]["own_social_handles"] == ["AcmeCares"]
    assert (out / "email" / "acme.mbox").read_text().count("\nFrom: Acme Telecom Support ") > 0
    for name in ("social/tweets.csv", "app/segment.jsonl", "phone/ctr.jsonl"):
        assert (out / name).stat().st_size > 0, name
    assert "records/s" in proc.stdout and "events/s" in proc.stdout
    assert f"{manifest['totals']['records']:,} records" in proc.stdout.replace("\n", " ")
    # Running again into its own directory replaces the earlier run.
    again = _simulate(args, tmp_path)
    assert again.returncode == 0, again.stderr


def test_simulate_explains_bad_input(tmp_path: Path) -> None:
    proc = _simulate(["--brand", "only,three,parts", "-o", str(tmp_path / "x")], tmp_path)
    assert proc.returncode == 2
    assert "--brand wants slug,Name,Handle,domain" in proc.stderr
    proc = _simulate(["--start", "2999-01-01", "-o", str(tmp_path / "y")], tmp_path)
    assert proc.returncode == 2 and "future" in proc.stderr
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("x")
    proc = _simulate(["-n", "5", "-o", str(tmp_path / "mine")], tmp_path)
    assert proc.returncode == 2 and "refusing" in proc.stderr


def test_simulate_defaults_to_the_omnicx_home(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNICX_")}
    env["OMNICX_HOME"] = str(tmp_path / "home")
    proc = subprocess.run(
        [sys.executable, "-m", "omnicx", "simulate", "-n", "20", "--channels", "phone"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((tmp_path / "home" / "simulated" / "manifest.json").read_text())
    assert list(manifest["channels"]) == ["phone"]
    assert manifest["days"] == 1 and manifest["customers"] == 20


def test_config_file_values_hold_unless_a_flag_overrides_them(tmp_path: Path) -> None:
    config = tmp_path / "sim.json"
    config.write_text(
        json.dumps({"customers": 30, "seed": 99, "email_format": "eml", "twitter_v2": False})
    )
    out = tmp_path / "o"
    args = ["--config", str(config), "--start", "2026-11-01", "-n", "25", "-o", str(out)]
    proc = _simulate(args, tmp_path)
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 99 and manifest["customers"] == 25
    assert manifest["config"]["email_format"] == "eml"
    assert not (out / "social" / "tweets_v2.jsonl").exists()
