"""The Dagster erase job: part of the code location, configured by customer id, and it really
erases (real broker, Spark + Delta, Dagster's in-process executor)."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.bronze.ingest import ingest_interactions
from jobs.silver.identity import refresh_identity_graph
from orchestration.definitions import LakehouseResource, build_definitions
from orchestration.erase import FeatureStoreResource, erase_customer_job
from schemas.identity import customer_id_for
from tests.lakehouse_helpers import at, event, lake_config, produce_events

SECRET = "yuri.erased@example.com"


@pytest.mark.unit
def test_erase_job_is_in_the_definitions(tmp_path: Path) -> None:
    defs = build_definitions(LakehouseResource(lake_dir=str(tmp_path), kafka_bootstrap="x:1"))
    job = defs.get_job_def("erase_customer_job")
    config = job.run_config_schema.config_type.fields["ops"].config_type.fields
    assert set(config) == {"erase_from_lake", "erase_from_online_store"}


@pytest.mark.integration
def test_erase_job_removes_the_customer(spark, bootstrap, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = lake_config(bootstrap, tmp_path / "lake", partitions=1)
    produce_events(
        bootstrap,
        config.interactions_topic,
        [
            event("y1", at(0), ids=[("email", SECRET)], text="yuri writes"),
            event("k1", at(1), ids=[("email", "kept@example.com")]),
        ],
    )
    ingest_interactions(spark, config)
    refresh_identity_graph(spark, config)
    lake = config.lake_dir
    assert SECRET.encode() in b"".join(p.read_bytes() for p in lake.rglob("*.parquet"))

    yuri = customer_id_for(f"email:{SECRET}")
    op_config = {"customer_id": yuri, "reason": "test"}
    result = erase_customer_job.execute_in_process(
        run_config={
            "ops": {
                "erase_from_lake": {"config": op_config},
                "erase_from_online_store": {"config": op_config},
            }
        },
        resources={
            "lakehouse": LakehouseResource(
                lake_dir=str(lake),
                kafka_bootstrap=bootstrap,
                spark_local_dir=str(tmp_path / "spark"),
                interactions_topic=config.interactions_topic,
                dlq_topic=config.dlq_topic,
                erasures_topic=config.erasures_topic,
                identity_topic=config.identity_topic,
            ),
            # Never applied here: the op says so and removes nothing.
            "feature_store": FeatureStoreResource(data_dir=str(tmp_path / "fs")),
        },
    )
    assert result.success
    lake_out = result.output_for_node("erase_from_lake")
    assert lake_out["deleted_rows"]["bronze/interactions"] == 1
    assert lake_out["deleted_rows"]["silver/identity_graph"] == 1
    assert result.output_for_node("erase_from_online_store") == 0
    files = b"".join(p.read_bytes() for p in lake.rglob("*.parquet"))
    assert SECRET.encode() not in files and b"yuri writes" not in files
    assert b"kept@example.com" in files
