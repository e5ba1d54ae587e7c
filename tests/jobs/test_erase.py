"""Erasure: the customer disappears from every Delta table and from the Parquet files on disk,
the request reaches cx.erasures.v1, and bronze then refuses the customer's identifiers."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.bronze.ingest import ingest_interactions, ingest_rejections
from jobs.erase import erase_customer
from jobs.errors import UnknownCustomer
from jobs.gold.features import refresh_features
from jobs.gold.kpis import refresh_kpis
from jobs.kafka_source import read_erasure_requests
from jobs.silver.identity import refresh_identity_graph
from jobs.silver.timeline import refresh_timeline
from omnicx.cli_lakehouse import build_report
from schemas.dlq import Rejection
from schemas.identity import customer_id_for, identifier_hash
from tests.lakehouse_helpers import at, event, lake_config, produce_events, produce_raw

SECRET = "zelda.secret@example.com"


def _parquet_bytes(lake: Path) -> bytes:
    return b"".join(p.read_bytes() for p in lake.rglob("*.parquet"))


@pytest.mark.integration
def test_erase_removes_rows_and_files(spark, bootstrap, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = lake_config(bootstrap, tmp_path / "lake", partitions=1)
    produce_events(
        bootstrap,
        config.interactions_topic,
        [
            event("z1", at(0), ids=[("email", SECRET)], text="zelda writes"),
            event("k1", at(1), ids=[("email", "keep@example.com")], text="keeper writes"),
        ],
    )
    # A payload refused on the way in: never parsed into identifiers, its bytes hold the
    # customer's address in another case; the refused record of someone else stays.
    reason = Rejection(stage="ingest_file", error_class="InvalidTimestamp", message="bad date")
    produce_raw(
        bootstrap,
        config.dlq_topic,
        [b'{"from": "Zelda.Secret@Example.com", "date": "yesterday"}', b'{"from": "keep@x"}'],
        headers=reason.headers(),
    )
    ingest_interactions(spark, config)
    ingest_rejections(spark, config)
    refresh_identity_graph(spark, config)
    refresh_timeline(spark, config)
    refresh_features(spark, config)
    refresh_kpis(spark, config)
    # The report reads the same lake: charts as PNG, the league as rows.
    html, league = build_report(spark, config)
    assert html.count("data:image/png;base64,") >= 2
    assert league == []  # no social conversations here
    lake = config.lake_dir
    # Parquet dictionary-encodes short strings in plain bytes: the raw needle is findable.
    assert SECRET.encode() in _parquet_bytes(lake)
    assert b"Zelda.Secret@Example.com" in _parquet_bytes(lake)

    zelda = customer_id_for(f"email:{SECRET}")
    result = erase_customer(spark, config, zelda)
    assert result.identifier_keys == [f"email:{SECRET}"]
    assert result.deleted_rows == {
        "bronze/interactions": 1,
        "bronze/rejections": 1,
        "silver/identity_graph": 1,
        "silver/customer_timeline": 1,
        "gold/customer_features_daily": 1,
    }
    assert SECRET.encode() not in _parquet_bytes(lake)
    assert b"zelda writes" not in _parquet_bytes(lake)
    assert b"zelda.secret@example.com" not in _parquet_bytes(lake).lower()
    assert b'{"from": "keep@x"}' in _parquet_bytes(lake)
    assert b"keep@example.com" in _parquet_bytes(lake)
    for table in ("bronze/interactions", "silver/customer_timeline"):
        rows = spark.read.format("delta").load(str(config.table_path(table))).collect()
        assert [r.source_record_id for r in rows] == ["k1"]

    requests = read_erasure_requests(bootstrap, config.erasures_topic)
    assert [(r.customer_id, r.identifier_hashes) for r in requests] == [
        (zelda, [identifier_hash(f"email:{SECRET}")])
    ]
    # New events of the erased customer are suppressed, not ingested.
    produce_events(
        bootstrap, config.interactions_topic, [event("z2", at(5), ids=[("email", SECRET)])]
    )
    again = ingest_interactions(spark, config)
    assert (again.read, again.suppressed, again.accepted) == (1, 1, 0)

    with pytest.raises(UnknownCustomer):
        erase_customer(spark, config, zelda)
