"""Feast from Dagster: the resource that says where the feature store is, and the asset that
materialises the gold table's batch features into the Feast online store.

`feast/online_features` sits downstream of `gold/customer_features_daily`, daily-partitioned
like it, in the `gold_daily` job (so the daily schedule refreshes gold and then the online
store). A run for days D1..D2 runs Feast's `materialize` over event times from D1 00:00 UTC to
now (or the newest row of gold, if later): Feast loads each customer's newest row in that
window. The window is open-ended because Feast's SQLite writer does not compare event times,
so materialising only an old day after a newer one would put the older values back online;
with the window running to the end, a backfill of any range still leaves every customer with
their newest row.

Its check, `online_store_serves_latest_gold`, reads the online store back (through the same
client the Customer API uses) for the customers of gold's latest day and compares every
feature with gold's row.
"""

import contextlib
import io
import math
from datetime import UTC, date, datetime
from datetime import time as dtime
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    ConfigurableResource,
    MaterializeResult,
    asset,
    asset_check,
)

from feature_store.config import FeatureStoreConfig
from jobs.tables import GOLD_CUSTOMER_FEATURES_DAILY_SPEC
from orchestration.definitions import (
    DAILY,
    LakehouseResource,
    _load,
    gold_customer_features_daily,
)
from schemas.features import (
    CUSTOMER_DAILY_FEATURES,
    CUSTOMER_DAILY_VIEW,
    CUSTOMER_ENTITY_KEY,
    TIMESTAMP_FIELD,
)

# Customers of gold's latest day whose online values the check compares (all of them up to
# this many; a deterministic sample beyond).
CHECK_SAMPLE = 20_000
# Feast's Spark offline store sets this on the session it finds, which is the lakehouse's;
# it is put back afterwards so the lake's own queries keep Spark's default parsing.
_FEAST_SPARK_CONF = "spark.sql.parser.quotedRegexColumnNames"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class FeatureStoreResource(ConfigurableResource):  # type: ignore[misc]
    """Where the Feast repo's state and online store are (`feature_store/`)."""

    data_dir: str = ".omnicx/feature_store"
    online_store: str = "sqlite"
    redis_address: str = "127.0.0.1:6379"
    lake_dir: str | None = None  # default: the lake of the LakehouseResource it runs with

    def config(self, lake_dir: Path | None = None) -> FeatureStoreConfig:
        """The feature store's typed config (`lake_dir`: the lake whose gold table Feast
        reads, if this resource does not name one)."""
        chosen = self.lake_dir or lake_dir
        return FeatureStoreConfig(
            data_dir=Path(self.data_dir),
            online_store=self.online_store,  # type: ignore[arg-type]
            redis_address=self.redis_address,
            **({"lake_dir": Path(chosen)} if chosen else {}),
        )


def _utc(value: datetime) -> datetime:
    # Spark returns naive datetimes in the session time zone, which is UTC (infra/spark).
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def run_days(context: AssetExecutionContext) -> list[date] | None:
    """The days of the run: one partition, a range (a single-run backfill, as
    `omnicx.lake_dagster` launches), or None for an unpartitioned run."""
    if not (context.has_partition_key or context.has_partition_key_range):
        return None
    return [date.fromisoformat(k) for k in context.partition_keys]


def materialise_window(
    days: list[Any] | None, newest: datetime | None
) -> tuple[datetime, datetime]:
    """[start, end] of event times to materialise for partition days `days` (None: the whole
    table): from the first day's midnight UTC to now, or to `newest` (gold's newest event time)
    if that is later."""
    start = datetime.combine(min(days), dtime.min, UTC) if days else _EPOCH
    end = datetime.now(UTC)
    if newest is not None and _utc(newest) > end:
        end = _utc(newest)
    return start, end


@asset(
    key=["feast", "online_features"],
    deps=[gold_customer_features_daily],
    partitions_def=DAILY,
    group_name="feast",
    description=(
        "The batch feature view customer_daily_profile loaded into the Feast online store "
        "(SQLite or Redis): Feast `materialize` of gold.customer_features_daily from the "
        "partition's first day to now, so every customer serves their newest daily row. "
        "Applies the Feast repo first if its registry is missing or points at another lake."
    ),
)
def feast_online_features(
    context: AssetExecutionContext,
    lakehouse: LakehouseResource,
    feature_store: FeatureStoreResource,
) -> MaterializeResult:
    """Materialise the batch feature views for the partition's days (and everything newer)."""
    import time

    from pyspark.sql import functions as F

    from feature_store.client import BATCH_VIEWS, FeatureStoreClient

    spark = lakehouse.spark()
    gold = _load(lakehouse, GOLD_CUSTOMER_FEATURES_DAILY_SPEC)
    newest = gold.agg(F.max(TIMESTAMP_FIELD)).first()[0]
    start, end = materialise_window(run_days(context), newest)
    customers = (
        gold.where(F.col(TIMESTAMP_FIELD).between(start, end))
        .select(CUSTOMER_ENTITY_KEY)
        .distinct()
        .count()
    )
    config = feature_store.config(lakehouse.config().lake_dir)
    before = spark.conf.get(_FEAST_SPARK_CONF, "false")
    output = io.StringIO()
    t0 = time.monotonic()
    with FeatureStoreClient(config) as client:
        applied = client.ensure_applied()
        # Feast prints its progress bars; they belong in the run's log, not on the console of
        # whoever launched the run (omnicx draws its own progress there).
        try:
            with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
                client.materialize(start, end)
        finally:
            spark.conf.set(_FEAST_SPARK_CONF, before)
    seconds = time.monotonic() - t0
    context.log.info(f"feast materialize {start:%Y-%m-%d} .. {end:%Y-%m-%d %H:%M}: {customers}")
    if output.getvalue().strip():
        context.log.debug(output.getvalue()[-4000:])
    return MaterializeResult(
        metadata={
            "views": ", ".join(BATCH_VIEWS),
            "customers": customers,
            "window_start": start.isoformat(),
            "window_end": end.isoformat(),
            "online_store": config.online_store,
            "applied_repo": applied,
            "materialize_seconds": round(seconds, 2),
        }
    )


def same_value(online: Any, gold: Any) -> bool:
    """Whether an online feature value equals gold's (floats to 1e-9; None equals None)."""
    if online is None or gold is None:
        return online is None and gold is None
    if isinstance(gold, float) or isinstance(online, float):
        return math.isclose(float(online), float(gold), rel_tol=1e-9, abs_tol=1e-9)
    return bool(online == gold)


@asset_check(
    asset=feast_online_features,
    description=(
        "For the customers of gold.customer_features_daily's latest day, the online store "
        "serves exactly gold's values (every feature of customer_daily_profile)."
    ),
)
def online_store_serves_latest_gold(
    lakehouse: LakehouseResource, feature_store: FeatureStoreResource
) -> AssetCheckResult:
    """Every customer of gold's latest day is online with that day's values."""
    from pyspark.sql import functions as F

    from feature_store.client import FeatureStoreClient

    gold = _load(lakehouse, GOLD_CUSTOMER_FEATURES_DAILY_SPEC)
    newest = gold.agg(F.max(TIMESTAMP_FIELD)).first()[0]
    if newest is None:
        return AssetCheckResult(passed=True, metadata={"checked": 0, "note": "gold is empty"})
    features = list(CUSTOMER_DAILY_FEATURES)
    rows = (
        # The latest day's rows (gold's timestamps are the day's last microsecond; comparing
        # dates in the session's UTC avoids turning a naive datetime back into a timestamp).
        gold.where(F.to_date(TIMESTAMP_FIELD) == F.lit(str(_utc(newest).date())).cast("date"))
        .select(CUSTOMER_ENTITY_KEY, *features)
        .orderBy(CUSTOMER_ENTITY_KEY)
        .limit(CHECK_SAMPLE)
        .collect()
    )
    expected = {r[CUSTOMER_ENTITY_KEY]: r.asDict() for r in rows}
    ids = sorted(expected)
    missing: list[str] = []
    wrong: list[str] = []
    config = feature_store.config(lakehouse.config().lake_dir)
    with FeatureStoreClient(config) as client:
        for i in range(0, len(ids), 1000):
            chunk = ids[i : i + 1000]
            for cid, online in zip(
                chunk, client.online_features(chunk, service=CUSTOMER_DAILY_VIEW), strict=True
            ):
                if all(online.get(f) is None for f in features):
                    missing.append(cid)
                elif not all(same_value(online.get(f), expected[cid][f]) for f in features):
                    wrong.append(cid)
    return AssetCheckResult(
        passed=not missing and not wrong,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "latest_day": str(_utc(newest).date()),
            "checked": len(ids),
            "missing": len(missing),
            "different": len(wrong),
            "examples": ", ".join((missing + wrong)[:5]) or "-",
        },
    )


FEAST_ASSETS = [feast_online_features]
FEAST_CHECKS = [online_store_serves_latest_gold]
