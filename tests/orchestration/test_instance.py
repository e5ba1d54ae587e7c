"""The stack's Dagster instance: storage under <home>/dagster whatever the current directory,
the same folder whether opened by the webserver/daemon (DAGSTER_HOME) or in process."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
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
    assert (home / "dagster.yaml").read_text() == DAGSTER_YAML.read_text()
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
def test_contiguous_ranges() -> None:
    d = date.fromisoformat
    days = [d("2026-11-22"), d("2017-10-11"), d("2017-10-10"), d("2017-10-12"), d("2017-10-11")]
    assert contiguous_ranges(days) == [
        (d("2017-10-10"), d("2017-10-12")),
        (d("2026-11-22"), d("2026-11-22")),
    ]
    assert contiguous_ranges([]) == []
