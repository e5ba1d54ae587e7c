"""`omnicx erase CUSTOMER_ID`: the right to be forgotten, across every store, with a report.

One orchestration (docs/erasure.md has the picture):

1. **Who**: the customer's identifier keys, from the lake's silver.identity_graph and from the
   stream workers' identity graph (the `identity-components` changelog): either may know
   identifiers the other has not seen yet.
2. **Request**: one `ErasureRequest` (identifier hashes only) on cx.erasures.v1, and tombstones
   for the identifiers on the compacted cx.identity.v1. Everything else follows the topic:
   ingestion refuses the identifiers from now on (`streams.ingest.suppression`), the stream
   workers delete the customer's state (`streams.workers.erasure`).
3. **Lake**: delete from every Delta table (MERGE against her identifiers, so the commit log
   names no value of hers), REORG PURGE, VACUUM RETAIN 0 HOURS (`jobs.erase`).
4. **Online store**: the Feast online store (SQLite or Redis) and the real-time push log.
5. **Stream state**: wait until the workers' changelogs hold tombstones for what they held.

Absent parts are reported, not fatal: no lake yet, a feature store never applied, stream
workers not running (they apply the retained request when they start).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from omnicx.errors import OmnicxError
from omnicx.settings import Settings, load_settings

if TYPE_CHECKING:
    from jobs.config import LakehouseConfig
    from streams.ingest.suppression import SuppressionList

console = Console()
err_console = Console(stderr=True)

ERASED, ABSENT, PENDING, FAILED = "erased", "absent", "pending", "failed"


@dataclass
class PartReport:
    """What erasure did in one store.

    Attributes:
        status: erased | absent (the store does not exist here) | pending (the request is
            published; the store applies it later) | failed.
        removed: what was removed, by table, view or kind.
        detail: one line for people.
    """

    status: str
    removed: dict[str, int] = field(default_factory=dict)
    detail: str = ""


@dataclass
class ErasureReport:
    """What `omnicx erase` removed where."""

    customer_id: str
    reason: str
    identifiers: int = 0
    tombstones: int = 0
    lake: PartReport = field(default_factory=lambda: PartReport(ABSENT))
    lake_files_removed: dict[str, int] = field(default_factory=dict)
    online_store: PartReport = field(default_factory=lambda: PartReport(ABSENT))
    stream_state: PartReport = field(default_factory=lambda: PartReport(ABSENT))

    def as_json(self) -> dict[str, Any]:
        """The report as JSON-ready dicts."""
        return asdict(self)

    @property
    def complete(self) -> bool:
        """No part failed or is still pending."""
        return all(p.status in (ERASED, ABSENT) for p in self._parts().values())

    def _parts(self) -> dict[str, PartReport]:
        return {
            "lake": self.lake,
            "online store": self.online_store,
            "stream state": self.stream_state,
        }

    def table(self) -> Table:
        """The report as a rich table: one row per store and table."""
        out = Table(title=f"erasure of {self.customer_id}", title_justify="left")
        out.add_column("store")
        out.add_column("what")
        out.add_column("removed", justify="right")
        out.add_column("status")
        out.add_row(
            "kafka",
            "cx.erasures.v1 request, cx.identity.v1 tombstones",
            str(self.tombstones),
            ERASED,
        )
        for name, part in self._parts().items():
            colour = {ERASED: "green", ABSENT: "dim", PENDING: "yellow", FAILED: "red"}[part.status]
            status = f"[{colour}]{part.status}[/{colour}]"
            if not part.removed:
                out.add_row(name, part.detail, "-", status)
            for i, (what, n) in enumerate(part.removed.items()):
                files = self.lake_files_removed.get(what) if part is self.lake else None
                count = f"{n} rows, {files} files" if files is not None else str(n)
                out.add_row(name if i == 0 else "", what, count, status if i == 0 else "")
        return out


# --- who: the customer's identifiers ------------------------------------------------------


def scan_changelog(
    bootstrap: str, topic: str, keep: Callable[[Any, Any], bool], timeout_s: float = 30.0
) -> dict[Any, Any] | None:
    """The latest value of every key of a faust table changelog (JSON keys and values) for
    which `keep(key, value)` holds; None when the topic does not exist.

    Raises:
        OmnicxError: the topic could not be read to its end in `timeout_s`.
    """
    from kafka import KafkaConsumer, TopicPartition
    from kafka.errors import KafkaError

    try:
        consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
            client_id="omnicx-erase",
        )
    except KafkaError as exc:
        raise OmnicxError(
            f"Kafka at {bootstrap} does not answer ({type(exc).__name__}): start it with "
            "`omnicx up` or set OMNICX_KAFKA_BOOTSTRAP"
        ) from exc
    try:
        parts = consumer.partitions_for_topic(topic)
        if not parts:
            return None
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        out: dict[Any, Any] = {}
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < end[tp] for tp in tps):
            if time.monotonic() > deadline:
                raise OmnicxError(f"could not read {topic} to its end in {timeout_s:.0f} s")
            for records in consumer.poll(timeout_ms=200).values():
                for record in records:
                    if record.key is None:
                        continue
                    key = json.loads(record.key)
                    value = json.loads(record.value) if record.value is not None else None
                    if value is not None and keep(key, value):
                        out[key] = value
                    else:
                        out.pop(key, None)
        return out
    finally:
        consumer.close()


def stream_identifiers(settings: Settings, customer_id: str) -> list[str] | None:
    """The identifier keys the stream workers' identity graph holds for `customer_id`; None
    when the workers never ran against this broker."""
    from streams.workers.config import IDENTITY_COMPONENTS_TABLE, changelog_topic

    topic = changelog_topic(settings.streams.app_id, IDENTITY_COMPONENTS_TABLE)
    comps = scan_changelog(settings.bootstrap, topic, lambda _k, v: v.get("cid") == customer_id)
    if comps is None:
        return None
    return sorted({m for comp in comps.values() for m in comp.get("m", [])})


def stream_state(settings: Settings, customer_ids: Iterable[str]) -> dict[str, int] | None:
    """Entries the workers' state holds for these customers: events in `timelines` (over the
    buckets), records in `timelines` (heads and buckets) and in `customers` (features,
    signals and cooldowns); None without workers."""
    from streams.timeline import customer_of_key
    from streams.workers.config import CUSTOMERS_TABLE, TIMELINES_TABLE, changelog_topic

    wanted = set(customer_ids)
    out: dict[str, int] = {}
    for table in (TIMELINES_TABLE, CUSTOMERS_TABLE):
        topic = changelog_topic(settings.streams.app_id, table)
        # Timelines: the head (key customer_id) and its buckets (`customer_id#bucket`).
        held = scan_changelog(
            settings.bootstrap, topic, lambda k, _v: customer_of_key(str(k)) in wanted
        )
        if held is None:
            return None
        if table == TIMELINES_TABLE:
            # A bucket is the day's list of entries; a head is a dict.
            out["timeline events"] = sum(len(v) for v in held.values() if isinstance(v, list))
            out["timeline records"] = len(held)
        else:
            out["feature and signal records"] = len(held)
    return out


def identity_links(settings: Settings, keys: list[str]) -> int:
    """How many of these identifier keys the workers' identity graph holds."""
    from streams.workers.config import IDENTITY_NODES_TABLE, changelog_topic

    wanted = set(keys)
    topic = changelog_topic(settings.streams.app_id, IDENTITY_NODES_TABLE)
    return len(scan_changelog(settings.bootstrap, topic, lambda k, _v: k in wanted) or {})


# --- the orchestration --------------------------------------------------------------------


def lake_exists(config: LakehouseConfig) -> bool:
    """True when the lake holds at least one Delta table."""
    from jobs.tables import TABLES

    return any(Path(spec.path(config), "_delta_log").is_dir() for spec in TABLES)


def erase_everywhere(
    settings: Settings,
    customer_id: str,
    reason: str = "data subject request",
    *,
    lake: LakehouseConfig | None = None,
    spark: Any = None,
    stream_timeout_s: float = 60.0,
    progress: Callable[[str], None] | None = None,
) -> ErasureReport:
    """Erase `customer_id` from every store and say what was removed where.

    Args:
        settings: where the broker, lake, feature store and stream workers are.
        lake: the lake's config (default: from `settings`).
        spark: a SparkSession to use (default: one is started if the lake exists).
        stream_timeout_s: how long to wait for the stream workers to apply the request.
        progress: called with a short message before each step.

    Raises:
        OmnicxError: no store knows the customer (nothing was published).
    """
    from jobs.erase import erase_customer, publish_erasure

    say = progress or (lambda _m: None)
    lake = lake or _lake_config(settings)
    report = ErasureReport(customer_id, reason)

    say("reading the stream workers' identity graph")
    from_stream = stream_identifiers(settings, customer_id) or []
    before = stream_state(settings, [customer_id])
    has_lake = lake_exists(lake)
    if has_lake:
        from jobs.erase import customer_identifiers

        say("starting Spark")
        spark = spark or _spark(settings)
        say("reading silver.identity_graph")
        from_lake = customer_identifiers(spark, lake, customer_id)
    else:
        from_lake = []
        report.lake.detail = f"no lake tables under {lake.lake_dir}"
    keys = sorted(set(from_stream) | set(from_lake))
    if not keys:
        raise OmnicxError(
            f"{customer_id} is unknown: neither the lake's identity graph nor the stream "
            "workers' hold it (check the id with GET /v1/identities/TYPE/VALUE)"
        )
    report.identifiers = len(keys)
    # Counted before the request is published: the workers may apply it within a second.
    if before is not None:
        before = {"identity links": identity_links(settings, keys), **before}

    if has_lake:
        result = erase_customer(spark, lake, customer_id, reason, progress=say, extra_keys=keys)
        report.tombstones = result.tombstones
        report.lake = PartReport(ERASED, dict(result.deleted_rows), "MERGE delete, purge, VACUUM")
        report.lake_files_removed = dict(result.files_removed)
    else:
        say("publishing the erasure request")
        _request, report.tombstones = publish_erasure(lake, customer_id, keys, reason)

    say("erasing the online store")
    report.online_store = erase_online_store(settings, customer_id)

    say("waiting for the stream workers")
    report.stream_state = wait_stream_state(settings, customer_id, keys, before, stream_timeout_s)
    return report


def erase_online_store(settings: Settings, customer_id: str) -> PartReport:
    """Delete the customer from the Feast online store (SQLite or Redis) and the push log."""
    from feature_store.client import FeatureStoreClient
    from feature_store.errors import FeatureStoreError

    config = settings.feature_store.resolved()
    what = f"feast {config.online_store} online store"
    if config.online_store == "sqlite" and not config.sqlite_path.exists():
        return PartReport(ABSENT, detail=f"no {what} ({config.sqlite_path})")
    try:
        with FeatureStoreClient(config) as client:
            found = client.delete_customers([customer_id])
    except FeatureStoreError as exc:
        if type(exc).__name__ == "FeatureStoreNotApplied":
            return PartReport(ABSENT, detail=f"{what} not applied")
        return PartReport(FAILED, detail=f"{what}: {exc}")
    return PartReport(ERASED, {f"{what} customers": found}, what)


def wait_stream_state(
    settings: Settings,
    customer_id: str,
    keys: list[str],
    before: dict[str, int] | None,
    timeout_s: float,
) -> PartReport:
    """Wait until the workers' changelogs no longer hold the customer or its identifiers."""
    from schemas.identity import customer_id_for
    from streams.workers.config import IDENTITY_NODES_TABLE, changelog_topic

    if before is None:
        return PartReport(ABSENT, detail="no stream worker state on this broker")
    nodes_topic = changelog_topic(settings.streams.app_id, IDENTITY_NODES_TABLE)
    wanted = set(keys)
    ids = {customer_id} | {customer_id_for(k) for k in keys}
    removed = dict(before)
    deadline = time.monotonic() + timeout_s
    while True:
        left = stream_state(settings, ids) or {}
        nodes = scan_changelog(settings.bootstrap, nodes_topic, lambda k, _v: k in wanted) or {}
        if not nodes and not any(left.values()):
            return PartReport(ERASED, removed, "tombstones on the workers' changelogs")
        if time.monotonic() > deadline:
            return PartReport(
                PENDING,
                removed,
                f"workers have not applied the request in {timeout_s:.0f} s; they will when "
                "running (cx.erasures.v1 is retained)",
            )
        time.sleep(1.0)


def suppression_list(settings: Settings) -> SuppressionList:
    """The suppression list for one-shot ingestion (`omnicx ingest`).

    Raises:
        OmnicxError: cx.erasures.v1 could not be read.
    """
    from streams.ingest.suppression import SuppressionList, SuppressionUnavailable

    try:
        return SuppressionList.load(settings.bootstrap)
    except SuppressionUnavailable as exc:
        raise OmnicxError(f"{exc}; start Kafka with `omnicx up`") from exc


def _lake_config(settings: Settings) -> LakehouseConfig:
    from omnicx.cli_lakehouse import lake_config

    return lake_config(settings)


def _spark(settings: Settings) -> Any:
    from infra.spark import build_spark_session

    return build_spark_session(settings.spark)


# --- the command --------------------------------------------------------------------------


def erase_command(
    customer_id: Annotated[str, typer.Argument(help="The customer_id to erase (cus_...).")],
    reason: Annotated[str, typer.Option(help="Why (kept with the request).")] = (
        "data subject request"
    ),
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON only.")] = False,
    wait: Annotated[
        float, typer.Option(help="Seconds to wait for the stream workers to apply it.")
    ] = 60.0,
) -> None:
    """Erase a customer everywhere: Delta tables (files purged), Feast online store, stream
    state, compacted topics; their identifiers are refused at ingest from now on."""
    from jobs.errors import JobsError

    settings = load_settings()
    try:
        if as_json:
            report = erase_everywhere(settings, customer_id, reason, stream_timeout_s=wait)
        else:
            with console.status("erasing") as status:
                report = erase_everywhere(
                    settings, customer_id, reason, stream_timeout_s=wait, progress=status.update
                )
    except JobsError as exc:
        raise OmnicxError(str(exc)) from exc
    if as_json:
        print(json.dumps(report.as_json()))
    else:
        console.print(report.table())
        console.print_json(json.dumps(report.as_json()))
    if not report.complete:
        raise typer.Exit(2)
