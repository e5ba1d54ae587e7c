"""Erasure: the customer disappears from every Delta table and from every file on disk (Parquet
data, deletion vectors, and the commit log: JSON commits, checkpoints, checksums), the request
reaches cx.erasures.v1, and bronze then refuses the customer's identifiers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql.types import DateType, NumericType, TimestampType

from jobs.bronze.ingest import ingest_interactions, ingest_rejections
from jobs.erase import ERASED_TABLES, erase_customer
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
PHONE = "+14155550123"
# Delta writes a checkpoint every `delta.checkpointInterval` commits, more than a test makes: one
# after every commit puts the state, with each file's statistics, into checkpoint Parquet too.
CHECKPOINT_EVERY_COMMIT = "spark.databricks.delta.properties.defaults.checkpointInterval"


def _parquet_bytes(lake: Path) -> bytes:
    return b"".join(p.read_bytes() for p in lake.rglob("*.parquet"))


def _file_text(path: Path) -> bytes:
    """A file's bytes, lower-cased; for Parquet also its decoded values (a compressed page can
    hide a string from a byte scan)."""
    data = path.read_bytes()
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        data += repr(pq.read_table(path).to_pylist()).encode()
    return data.lower()


def _holders(lake: Path, needles: list[bytes]) -> dict[str, list[str]]:
    """Every file under `lake` holding a needle (in any case): path -> needles. All files count:
    data and deletion vectors, `_delta_log/` commits, checkpoints, `.crc` and hidden files."""
    found: dict[str, list[str]] = {}
    for path in sorted(p for p in lake.rglob("*") if p.is_file()):
        text = _file_text(path)
        hits = [n.decode() for n in needles if n.lower() in text]
        if hits:
            found[str(path.relative_to(lake))] = hits
    return found


@pytest.fixture
def checkpoint_every_commit(spark) -> Iterator[None]:  # type: ignore[no-untyped-def]
    before = spark.conf.get(CHECKPOINT_EVERY_COMMIT, None)
    spark.conf.set(CHECKPOINT_EVERY_COMMIT, "1")
    yield
    if before is None:
        spark.conf.unset(CHECKPOINT_EVERY_COMMIT)
    else:
        spark.conf.set(CHECKPOINT_EVERY_COMMIT, before)


@pytest.mark.unit
def test_erased_tables_keep_no_string_statistics() -> None:
    """Delta keeps per-file min/max values in the log (add actions, checkpoints, `.crc`) for as
    long as the log (years) and erasure cannot rewrite it: a table erasure deletes from must
    collect statistics only on columns that cannot hold an identifier or a message."""
    for spec, _ in ERASED_TABLES:
        types = {f.name: f.dataType for f in spec.schema.fields}
        # Without the list Delta would collect statistics on the first 32 columns, strings too.
        assert spec.stats_columns, spec.name
        for name in spec.stats_columns:
            assert isinstance(types[name], NumericType | TimestampType | DateType), (
                spec.name,
                name,
            )


@pytest.mark.integration
@pytest.mark.usefixtures("checkpoint_every_commit")
def test_erase_removes_rows_and_files(spark, bootstrap, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = lake_config(bootstrap, tmp_path / "lake", partitions=1)
    produce_events(
        bootstrap,
        config.interactions_topic,
        [
            event("z1", at(0), ids=[("email", SECRET), ("phone", PHONE)], text="zelda writes"),
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
    needles = [SECRET.encode(), PHONE.encode(), zelda.encode(), b"zelda writes"]
    before = _holders(lake, needles)
    # The scan sees every needle before erasure (else its silence after proves nothing), and it
    # reads the log: JSON commits and the decoded checkpoints.
    assert [n for n in needles if not any(n.decode() in h for h in before.values())] == []
    logs = [p for p in lake.rglob("*") if p.is_file() and "_delta_log" in p.parts]
    checkpoints = [p for p in logs if p.name.endswith(".checkpoint.parquet")]
    assert checkpoints and any(p.suffix == ".crc" for p in logs)
    assert any(b"numrecords" in _file_text(p) for p in checkpoints)

    result = erase_customer(spark, config, zelda)
    assert result.identifier_keys == [f"email:{SECRET}", f"phone:{PHONE}"]
    assert result.deleted_rows == {
        "bronze/interactions": 1,
        "bronze/rejections": 1,
        "silver/identity_graph": 2,
        "silver/customer_timeline": 1,
        "gold/customer_features_daily": 1,
    }
    assert all(n > 0 for n in result.files_removed.values()), result.files_removed
    # No file of any table holds her: not the data, not a commit's predicate, not a statistic.
    assert _holders(lake, needles) == {}
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
        (zelda, [identifier_hash(f"email:{SECRET}"), identifier_hash(f"phone:{PHONE}")])
    ]
    # New events of the erased customer are suppressed, not ingested.
    produce_events(
        bootstrap, config.interactions_topic, [event("z2", at(5), ids=[("email", SECRET)])]
    )
    again = ingest_interactions(spark, config)
    assert (again.read, again.suppressed, again.accepted) == (1, 1, 0)

    with pytest.raises(UnknownCustomer):
        erase_customer(spark, config, zelda)
