"""The stack's Dagster instance: storage under <home>/dagster whatever the current directory,
the same folder whether opened by the webserver/daemon (DAGSTER_HOME) or in process."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
import yaml
from dagster import DagsterInstance, asset, materialize

from omnicx.lake_dagster import DAGSTER_YAML, contiguous_ranges, dagster_instance
from omnicx.settings import load_settings


@asset
def one() -> None:
    """A trivial asset to leave a run in the instance."""


@pytest.mark.unit
def test_storage_follows_dagster_home_not_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings(home=tmp_path / "home")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    with dagster_instance(settings) as instance:
        run_id = materialize([one], instance=instance).run_id
    home = settings.home / "dagster"
    written = yaml.safe_load((home / "dagster.yaml").read_text())
    assert written["storage"] == {"sqlite": {"base_dir": str(home.resolve())}}
    assert written["telemetry"] == yaml.safe_load(DAGSTER_YAML.read_text())["telemetry"]
    assert (home / "history" / "runs.db").exists()
    assert not any(elsewhere.iterdir())  # nothing relative to the cwd

    # A process started with DAGSTER_HOME (the webserver, the daemon) sees the same runs.
    other = tmp_path / "copy"
    shutil.copytree(home, other)
    monkeypatch.setenv("DAGSTER_HOME", str(other))
    with DagsterInstance.get() as instance:
        assert [r.run_id for r in instance.get_runs()] == [run_id]
    assert not any(elsewhere.iterdir())


@pytest.mark.unit
def test_repo_yaml_serves_the_cli_from_the_repo_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dagster CLI run from the repo root without DAGSTER_HOME opens a temporary instance
    configured by ./dagster.yaml: its storage must resolve there, under .omnicx/dagster (it
    named {env: DAGSTER_HOME} before, and every such command failed)."""
    from dagster._core.instance.ref import InstanceRef

    root = tmp_path / "repo"
    root.mkdir()
    shutil.copy(DAGSTER_YAML, root / "dagster.yaml")
    monkeypatch.chdir(root)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    scratch = root / ".tmp_dagster_home_x"
    scratch.mkdir()
    # What dagster._cli.utils does without DAGSTER_HOME.
    ref = InstanceRef.from_dir(str(scratch), config_dir=str(root))
    with DagsterInstance.from_ref(ref) as instance:
        run_id = materialize([one], instance=instance).run_id
    assert (root / ".omnicx" / "dagster" / "history" / "runs.db").exists()
    assert not (scratch / "history").exists()
    with DagsterInstance.from_ref(ref) as instance:
        assert [r.run_id for r in instance.get_runs()] == [run_id]


@pytest.mark.unit
def test_contiguous_ranges() -> None:
    d = date.fromisoformat
    days = [d("2026-11-22"), d("2017-10-11"), d("2017-10-10"), d("2017-10-12"), d("2017-10-11")]
    assert contiguous_ranges(days) == [
        (d("2017-10-10"), d("2017-10-12")),
        (d("2026-11-22"), d("2026-11-22")),
    ]
    assert contiguous_ranges([]) == []
