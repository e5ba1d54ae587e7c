"""Materialising the lakehouse through Dagster from omnicx (`make demo`, `omnicx report
--refresh`): the runs land in the same Dagster instance (`<home>/dagster`) that `omnicx up
--with-dagster` serves, so the UI shows them with their metadata and check results.

One run per asset, in the graph's order, so the caller can show progress between them; the
daily-partitioned gold assets run once per contiguous range of days that silver holds (one
single-run backfill per range: Dagster passes the range, the job replaces those days).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omnicx.errors import OmnicxError
from omnicx.settings import Settings

if TYPE_CHECKING:
    from dagster import DagsterInstance

    from orchestration.definitions import LakehouseResource
    from orchestration.feast import FeatureStoreResource

DAGSTER_YAML = Path(__file__).resolve().parent.parent / "dagster.yaml"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
# Spark settings for a lake of thousands of rows (the demo's): interpret the plans rather than
# compile them (Janino compiling each projection costs seconds, minutes on busy cores, while
# the rows take milliseconds either way), and fewer shuffle partitions.
SMALL_DATA_SPARK_CONF = {
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
}


@dataclass
class AssetRun:
    """One Dagster run of one asset."""

    asset: str
    run_id: str
    seconds: float
    partitions: tuple[str, str] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    checks: dict[str, bool] = field(default_factory=dict)


def dagster_home(settings: Settings) -> Path:
    """DAGSTER_HOME of the local stack: `<home>/dagster`, holding the repo's dagster.yaml with
    its storage's base_dir made absolute (`instance_yaml`)."""
    home = settings.home / "dagster"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(instance_yaml(home))
    return home


def instance_yaml(home: Path) -> str:
    """The repo's dagster.yaml with SQLite storage in `home`: the repo's file keeps a path
    relative to the repo root (for the dagster CLI run there), which a process started in
    another folder would resolve elsewhere."""
    import yaml

    config = yaml.safe_load(DAGSTER_YAML.read_text())
    config["storage"] = {"sqlite": {"base_dir": str(home.resolve())}}
    header = f"# Written by omnicx from {DAGSTER_YAML} (storage made absolute).\n"
    return header + yaml.safe_dump(config, sort_keys=False)


def dagster_instance(settings: Settings) -> DagsterInstance:
    """The local stack's Dagster instance, opened in this process. dagster.yaml names the
    storage by `{env: DAGSTER_HOME}` (what the webserver and daemon get); here the same folder
    is given directly, so this process need not set the variable."""
    from dagster import DagsterInstance
    from dagster._core.instance.ref import InstanceRef

    home = str(dagster_home(settings))
    ref = InstanceRef.from_dir(home, overrides={"storage": {"sqlite": {"base_dir": home}}})
    return DagsterInstance.from_ref(ref)


def resource_from_settings(settings: Settings, small_data: bool = False) -> LakehouseResource:
    """The lakehouse resource as omnicx settings describe it (`small_data`: with
    SMALL_DATA_SPARK_CONF under the settings' own Spark conf, and two shuffle partitions)."""
    from orchestration.definitions import LakehouseResource

    conf = {**SMALL_DATA_SPARK_CONF, **settings.spark.extra_conf} if small_data else {}

    return LakehouseResource(
        lake_dir=str(settings.lake_dir),
        kafka_bootstrap=settings.bootstrap,
        spark_master=settings.spark.master,
        spark_driver_memory=settings.spark.driver_memory,
        spark_local_dir=str(settings.spark.local_dir) if settings.spark.local_dir else None,
        spark_shuffle_partitions=2 if small_data else settings.spark.shuffle_partitions,
        spark_conf=conf or dict(settings.spark.extra_conf),
        sla_minutes=settings.sla_minutes,
        dlq_alert_threshold=settings.dlq_alert_threshold,
        dlq_alert_window_minutes=settings.dlq_alert_window_minutes,
    )


def contiguous_ranges(days: list[date]) -> list[tuple[date, date]]:
    """Sorted distinct `days` as inclusive runs of consecutive days."""
    ranges: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if ranges and day == ranges[-1][1] + timedelta(days=1):
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


def timeline_days(lakehouse: LakehouseResource) -> list[date]:
    """The days silver.customer_timeline has events on (its partition column)."""
    from jobs.tables import SILVER_CUSTOMER_TIMELINE_SPEC

    path = SILVER_CUSTOMER_TIMELINE_SPEC.path(lakehouse.config())
    rows = lakehouse.spark().read.format("delta").load(path).select("event_date").distinct()
    return sorted(r.event_date for r in rows.collect() if r.event_date is not None)


def _metadata(result: Any, node: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for materialization in result.asset_materializations_for_node(node):
        for key, value in materialization.metadata.items():
            out[key] = getattr(value, "value", value)
    return out


def materialize_lakehouse(
    lakehouse: LakehouseResource,
    instance: DagsterInstance,
    on_start: Callable[[str, int, int], None] = lambda name, done, total: None,
    tags: dict[str, str] | None = None,
    feature_store: FeatureStoreResource | None = None,
) -> list[AssetRun]:
    """Materialise every lakehouse asset through Dagster (bronze, silver, then gold per range
    of days), running their asset checks; returns one AssetRun per run. With `feature_store`,
    then the Feast online store too (`feast/online_features`), in one run over the whole span
    of days (its window runs from the first day to now, so one run loads every customer's
    newest row).

    Raises:
        OmnicxError: a run failed (an asset raised, or a blocking check failed).
    """
    from dagster import materialize

    from orchestration.definitions import ASSETS, CHECKS, DAILY
    from orchestration.feast import FEAST_ASSETS, FEAST_CHECKS

    resources: dict[str, Any] = {"lakehouse": lakehouse}
    assets = list(ASSETS)
    checks = list(CHECKS)
    if feature_store is not None:
        resources["feature_store"] = feature_store
        assets += FEAST_ASSETS
        checks += FEAST_CHECKS
    unpartitioned = [a for a in assets if a.partitions_def is None]
    partitioned = [a for a in assets if a.partitions_def is not None and a not in FEAST_ASSETS]
    spanning = [a for a in assets if a in FEAST_ASSETS]
    runs: list[AssetRun] = []

    def run(asset: Any, total: int, range_tags: dict[str, str] | None = None) -> None:
        name = asset.key.to_user_string()
        span = (range_tags[RANGE_START_TAG], range_tags[RANGE_END_TAG]) if range_tags else None
        on_start(name if span is None else f"{name} {span[0]}..{span[1]}", len(runs), total)
        t0 = time.monotonic()
        result = materialize(
            [*assets, *checks],
            selection=[asset.key],
            resources=resources,
            instance=instance,
            tags={"omnicx/started_by": "omnicx", **(tags or {}), **(range_tags or {})},
            raise_on_error=False,
            # Dagster's console logger prints every event at DEBUG: it would bury the caller's
            # progress bar; the events are in the instance (and the UI) all the same.
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
        if not result.success:
            failures = [e.message or e.event_type_value for e in result.all_events if e.is_failure]
            raise OmnicxError(
                f"Dagster run {result.run_id} of {name} failed: {'; '.join(failures)[:800]}"
            )
        runs.append(
            AssetRun(
                asset=name,
                run_id=result.run_id,
                seconds=time.monotonic() - t0,
                partitions=span,
                metadata=_metadata(result, asset.node_def.name),
                checks={e.check_name: e.passed for e in result.get_asset_check_evaluations()},
            )
        )

    # Gold's ranges are known only once silver exists; the first total is a lower bound.
    total = len(unpartitioned) + len(partitioned)
    for asset in unpartitioned:
        run(asset, total)
    # Days before the partitions' start (2017-01-01) have no partition to land in.
    first = DAILY.start.date()
    ranges = contiguous_ranges([d for d in timeline_days(lakehouse) if d >= first])
    total = len(unpartitioned) + len(partitioned) * len(ranges) + (len(spanning) if ranges else 0)
    for asset in partitioned:
        for lo, hi in ranges:
            run(asset, total, {RANGE_START_TAG: lo.isoformat(), RANGE_END_TAG: hi.isoformat()})
    if ranges:
        first_day, last_day = ranges[0][0].isoformat(), ranges[-1][1].isoformat()
        for asset in spanning:
            run(asset, total, {RANGE_START_TAG: first_day, RANGE_END_TAG: last_day})
    on_start("done", len(runs), total)
    return runs
