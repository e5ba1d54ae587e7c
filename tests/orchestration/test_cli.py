"""`dagster asset materialize` as a data engineer types it at the repo root: the repo's
dagster.yaml, no DAGSTER_HOME, the definitions of `omnicx.dagster_defs` configured from
OMNICX_* settings, against a real broker and real Spark + Delta."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from infra.kafka import LocalKafka
from omnicx.lake_dagster import DAGSTER_YAML
from omnicx.topics import apply_topics
from schemas.topics import INTERACTIONS
from tests.conftest import free_kafka_config
from tests.lakehouse_helpers import at, event, produce_events

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def test_asset_materialize_from_the_repo_root(tmp_path: Path) -> None:
    kafka = LocalKafka(free_kafka_config(tmp_path / "kafka"))
    kafka.start()
    try:
        apply_topics(kafka.bootstrap)
        events = [event(f"cli-{i}", at(minutes=i)) for i in range(5)]
        produce_events(kafka.bootstrap, INTERACTIONS, events)
        # A folder laid out like the repo root: its dagster.yaml, nothing else of ours (the
        # code comes from PYTHONPATH), so what lands under it is what the CLI put there.
        root = tmp_path / "root"
        root.mkdir()
        shutil.copy(DAGSTER_YAML, root / "dagster.yaml")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OMNICX_", "DAGSTER_"))}
        env.update(
            PYTHONPATH=str(REPO),
            OMNICX_HOME=str(root / ".omnicx"),
            OMNICX_KAFKA_BOOTSTRAP=kafka.bootstrap,
        )
        dagster = Path(sys.executable).parent / "dagster"
        done = subprocess.run(
            [str(dagster), "asset", "materialize", "-m", "omnicx.dagster_defs"]
            + ["--select", "bronze/interactions"],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert "RUN_SUCCESS" in done.stderr + done.stdout
    finally:
        kafka.stop()
    # The run is in the stack's instance under the default home, not in a throwaway folder.
    assert (root / ".omnicx" / "dagster" / "history" / "runs.db").exists()
    assert not list(root.glob(".tmp_dagster_home_*/history"))
    # Bronze holds the five events, in the lake of that home.
    log = root / ".omnicx" / "lake" / "bronze" / "interactions" / "_delta_log"
    assert sorted(p.name for p in log.glob("*.json"))
    parquet = list((log.parent).rglob("*.parquet"))
    assert parquet, "bronze wrote no data file"
    import pyarrow.parquet as pq

    rows = sum(pq.read_table(p).num_rows for p in parquet)
    assert rows == len(events)
