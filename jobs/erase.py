"""Right to be forgotten in the lake: delete a customer from every Delta table and purge the
files that held them, then tell everyone else (cx.erasures.v1, tombstones on cx.identity.v1).

Order matters: the erasure request is published first, so bronze stops ingesting the
customer's identifiers (the suppression list) before their rows are deleted; a bronze run racing
the erasure cannot bring them back. Deleted rows live on in older Parquet files (and deletion
vectors) until those are purged: `REORG ... APPLY (PURGE)` rewrites files with deletion vectors
and `VACUUM ... RETAIN 0 HOURS` removes every file no longer in the current version, so time
travel to before the erasure is gone too (on purpose).

The commit log is kept for years and cannot be rewritten, so nothing erasure writes to it may
name the customer: rows are deleted by a MERGE against a DataFrame of their identifiers (the log
records the join condition, not the values, unlike a DELETE's predicate), and the tables keep
per-file statistics only on columns that cannot hold an identifier (`TableSpec.stats_columns`).

Hooks: other stores (the Feast online store, stream worker state) register a callable in
`ERASURE_HOOKS`; each is called with the request after the lake is clean.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from kafka import KafkaProducer

from jobs.config import LakehouseConfig
from jobs.errors import UnknownCustomer
from jobs.tables import (
    BRONZE_INTERACTIONS_SPEC,
    BRONZE_REJECTIONS_SPEC,
    GOLD_CUSTOMER_FEATURES_DAILY_SPEC,
    SILVER_CUSTOMER_TIMELINE_SPEC,
    SILVER_IDENTITY_GRAPH_SPEC,
    TableSpec,
    ensure_table,
)
from schemas.erasure import ErasureRequest
from schemas.identity import identifier_hash

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

# Tasks VACUUM lists a table's files with (Spark's default of 10,000 costs minutes locally).
VACUUM_LISTING_PARALLELISM = 4

ErasureHook = Callable[[ErasureRequest], None]
# Stores outside the lake register here (feature_store's online-store erase, stream state).
ERASURE_HOOKS: list[ErasureHook] = []


@dataclass
class ErasureResult:
    """What an erasure removed."""

    customer_id: str
    identifier_keys: list[str]
    deleted_rows: dict[str, int] = field(default_factory=dict)
    files_removed: dict[str, int] = field(default_factory=dict)
    tombstones: int = 0


def customer_identifiers(
    spark: SparkSession, config: LakehouseConfig, customer_id: str
) -> list[str]:
    """The identifier keys of `customer_id` in silver.identity_graph."""
    graph = spark.read.format("delta").load(ensure_table(spark, config, SILVER_IDENTITY_GRAPH_SPEC))
    rows = graph.where(graph.customer_id == customer_id).select("identifier_key").collect()
    return sorted(r.identifier_key for r in rows)


def publish_erasure(
    config: LakehouseConfig, customer_id: str, identifier_keys: list[str], reason: str
) -> tuple[ErasureRequest, int]:
    """Write the request to cx.erasures.v1 and tombstone the identifiers on cx.identity.v1;
    returns the request and the number of tombstones."""
    request = ErasureRequest(
        customer_id=customer_id,
        identifier_hashes=[identifier_hash(k) for k in identifier_keys],
        requested_at=datetime.now(UTC),
        reason=reason,
    )
    producer = KafkaProducer(bootstrap_servers=config.kafka_bootstrap, acks="all")
    try:
        producer.send(
            config.erasures_topic, key=customer_id.encode(), value=request.to_json_bytes()
        )
        for key in identifier_keys:
            producer.send(config.identity_topic, key=key.encode(), value=None)
        producer.flush()
    finally:
        producer.close()
    return request, len(identifier_keys)


def _erased_frame(spark: SparkSession, customer_id: str, identifier_keys: list[str]) -> DataFrame:
    """The customer to erase as rows (one per identifier key), the source the deletes join.

    Delta writes a DELETE's condition, literals included, into the commit's
    `commitInfo.operationParameters.predicate`, and the log outlives the data (3650 days for
    the lake's tables): a condition naming her e-mail would keep it in plain text. A MERGE
    logs its join condition, which names columns only; the values stay in this DataFrame.
    """
    rows = [
        (customer_id, key, key.split(":", 1)[1].lower() if ":" in key else "")
        for key in identifier_keys
    ] or [(customer_id, "", "")]  # no identifiers known: still delete by customer_id
    return spark.createDataFrame(
        rows, "customer_id string, identifier_key string, identifier_value string"
    )


def _delete(
    spark: SparkSession, config: LakehouseConfig, spec: TableSpec, erased: DataFrame, on: str
) -> int:
    """Delete the rows of `spec` that match a row of `erased` on `on` (target `t`, source `s`);
    returns the rows deleted."""
    from delta.tables import DeltaTable

    table = DeltaTable.forPath(spark, ensure_table(spark, config, spec))
    # One target row may match several of her identifiers: Delta allows that for an
    # unconditional delete (there is nothing ambiguous to apply).
    metrics = table.alias("t").merge(erased.alias("s"), on).whenMatchedDelete().execute()
    return int(metrics.collect()[0]["num_deleted_rows"])


def _purge(spark: SparkSession, path: str) -> int:
    """Rewrite files with deletion vectors and delete every unreferenced file; returns files
    removed by VACUUM."""
    from delta.tables import DeltaTable

    spark.sql(f"REORG TABLE delta.`{path}` APPLY (PURGE)")
    before = DeltaTable.forPath(spark, path).history(1).collect()[0]["version"]
    # The session keeps Delta's retention guard on; erasure must remove the files holding the
    # deleted rows now, so it lowers the guard for this VACUUM only and restores it.
    guard = "spark.databricks.delta.retentionDurationCheck.enabled"
    # VACUUM lists the table's files with this many Spark tasks (default 10,000): minutes of
    # empty tasks on a small local table. A few are plenty for one table's directory.
    listing = "spark.sql.sources.parallelPartitionDiscovery.parallelism"
    overrides = {guard: "false", listing: str(VACUUM_LISTING_PARALLELISM)}
    previous = {name: spark.conf.get(name, None) for name in overrides}
    for name, value in overrides.items():
        spark.conf.set(name, value)
    try:
        spark.sql(f"VACUUM delta.`{path}` RETAIN 0 HOURS")
    finally:
        for name, old in previous.items():
            if old is None:
                spark.conf.unset(name)
            else:
                spark.conf.set(name, old)
    history = DeltaTable.forPath(spark, path).history(4).collect()
    removed = 0
    for row in history:
        if row["version"] > before and row["operation"] == "VACUUM END":
            removed += int((row["operationMetrics"] or {}).get("numDeletedFiles", 0))
    return removed


# Conditions of the deletes on a target row `t` and a row `s` of `_erased_frame`; they name
# columns only, so the commit log never holds her values.
BY_IDENTIFIER = "exists(t.identifiers, i -> concat(i.type, ':', i.value) = s.identifier_key)"
BY_CUSTOMER = "t.customer_id = s.customer_id"
# bronze.rejections: the record's bytes, key or reason mention one of her identifier values
# (case-insensitive). Refused records were never parsed into identifiers, so their raw bytes
# are searched for the normalised value: an email or handle written differently in case is
# found, a phone number written in another format (spaces, brackets) is not (docs/erasure.md).
MENTIONS_ANY = (
    "s.identifier_value != '' AND instr(lower(concat_ws(' ', decode(t.raw_value, 'UTF-8'), "
    "t.kafka_key, t.error_message, t.source_file)), s.identifier_value) > 0"
)
# The tables a customer is deleted from, with the condition that finds their rows. Their
# per-file statistics (kept in the log) must stay off string columns: see
# tests/jobs/test_erase.py::test_erased_tables_keep_no_string_statistics.
ERASED_TABLES: tuple[tuple[TableSpec, str], ...] = (
    (BRONZE_INTERACTIONS_SPEC, BY_IDENTIFIER),
    (BRONZE_REJECTIONS_SPEC, MENTIONS_ANY),
    (SILVER_IDENTITY_GRAPH_SPEC, BY_CUSTOMER),
    (SILVER_CUSTOMER_TIMELINE_SPEC, f"{BY_CUSTOMER} OR {BY_IDENTIFIER}"),
    (GOLD_CUSTOMER_FEATURES_DAILY_SPEC, BY_CUSTOMER),
)


def erase_customer(
    spark: SparkSession,
    config: LakehouseConfig,
    customer_id: str,
    reason: str = "data subject request",
    progress: Callable[[str], None] | None = None,
    extra_keys: Sequence[str] = (),
) -> ErasureResult:
    """Erase `customer_id` from Kafka-facing state and every Delta table.

    Args:
        extra_keys: identifier keys of the customer known elsewhere (the stream workers'
            identity graph), erased and suppressed along with those of silver.identity_graph.

    Raises:
        UnknownCustomer: neither the identity graph nor `extra_keys` know the customer.
    """
    say = progress or (lambda _m: None)
    keys = sorted(set(customer_identifiers(spark, config, customer_id)) | set(extra_keys))
    if not keys:
        raise UnknownCustomer(
            f"{customer_id} is not in silver.identity_graph: run the lakehouse jobs first or "
            "check the id"
        )
    say("publishing the erasure request")
    _request, tombstones = publish_erasure(config, customer_id, keys, reason)
    result = ErasureResult(customer_id, keys, tombstones=tombstones)
    erased = _erased_frame(spark, customer_id, keys)
    # Delete everywhere before purging anywhere, so an interrupted erasure is re-run whole.
    for spec, condition in ERASED_TABLES:
        say(f"deleting from {spec.name}")
        result.deleted_rows[spec.name] = _delete(spark, config, spec, erased, condition)
    for spec, _ in ERASED_TABLES:
        say(f"purging files of {spec.name}")
        result.files_removed[spec.name] = _purge(spark, spec.path(config))
    for hook in ERASURE_HOOKS:
        hook(_request)
    return result
