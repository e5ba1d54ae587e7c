"""The thin client: the one way the rest of omnicx talks to the feature store.

Stream workers push real-time rows (`push_customer_features`, `push_channel_features`), the
Customer API reads online features (`online_features`, `channel_features`), data scientists pull
point-in-time-correct training sets (`historical_features`), the batch side materialises the
lake into the online store, and erasure removes customers (`delete_customers`). Nothing outside
`feature_store/` imports Feast.

Example:
    >>> client = FeatureStoreClient(FeatureStoreConfig(data_dir=Path("/tmp/fs")))
    >>> client.apply()
    >>> client.push_customer_features([{"customer_id": "cus_1", "event_timestamp": now, ...}])
    >>> client.online_features(["cus_1"])
    [{'customer_id': 'cus_1', 'contacts_24h': 3, ...}]
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from feature_store.config import (
    FeatureStoreConfig,
    feast_argv,
    feast_environment,
    write_feature_store_yaml,
)
from feature_store.errors import (
    FeastCommandError,
    FeatureStoreInputError,
    FeatureStoreNotApplied,
)
from feature_store.online import OnlineStore, ReadPlan, RedisOnline, SqliteOnline
from feature_store.push_log import PushLog
from feature_store.values import ViewSpec, clean_rows, to_utc_datetime
from schemas.features import (
    CHANNEL_ENTITY_KEY,
    CHANNEL_REALTIME_FEATURES,
    CHANNEL_REALTIME_PUSH_SOURCE,
    CHANNEL_REALTIME_VIEW,
    CUSTOMER_DAILY_FEATURES,
    CUSTOMER_DAILY_TABLE,
    CUSTOMER_DAILY_VIEW,
    CUSTOMER_ENTITY_KEY,
    CUSTOMER_REALTIME_FEATURES,
    CUSTOMER_REALTIME_PUSH_SOURCE,
    CUSTOMER_REALTIME_VIEW,
    TIMESTAMP_FIELD,
)

if TYPE_CHECKING:
    import pandas as pd
    from feast import FeatureStore

CUSTOMER_REALTIME = ViewSpec(
    view=CUSTOMER_REALTIME_VIEW,
    push_source=CUSTOMER_REALTIME_PUSH_SOURCE,
    entity_key=CUSTOMER_ENTITY_KEY,
    features={name: kind for name, (kind, _) in CUSTOMER_REALTIME_FEATURES.items()},
)
CHANNEL_REALTIME = ViewSpec(
    view=CHANNEL_REALTIME_VIEW,
    push_source=CHANNEL_REALTIME_PUSH_SOURCE,
    entity_key=CHANNEL_ENTITY_KEY,
    features={name: kind for name, (kind, _) in CHANNEL_REALTIME_FEATURES.items()},
)
CUSTOMER_DAILY = ViewSpec(
    view=CUSTOMER_DAILY_VIEW,
    push_source="customer_daily_source",
    entity_key=CUSTOMER_ENTITY_KEY,
    features={name: kind for name, (kind, _) in CUSTOMER_DAILY_FEATURES.items()},
)
ALL_VIEWS = (CUSTOMER_REALTIME, CHANNEL_REALTIME, CUSTOMER_DAILY)
CUSTOMER_VIEWS = (CUSTOMER_REALTIME, CUSTOMER_DAILY)
# Views loaded into the online store by materialisation. The real-time views are fed by push;
# materialising them from their push logs would write rows that may be older than what the
# stream pushed since (Feast's SQLite write has no event-time check), so only on request.
BATCH_VIEWS = (CUSTOMER_DAILY_VIEW,)
SERVICES = ("personalisation_v1", "outreach_v1")


@dataclass(frozen=True)
class PushResult:
    """What happened to pushed rows: every row is either written online or found stale (an
    equal-or-newer value was already stored). All rows go to the push log either way."""

    received: int
    written: int
    stale: int


class FeatureStoreClient:
    """Push, read, train, materialise and erase against the omnicx Feast repo.

    Args:
        config: where the repo, registry, stores and offline data are.
    """

    def __init__(self, config: FeatureStoreConfig) -> None:
        self.config = config.resolved()
        self._store: FeatureStore | None = None
        self._online: OnlineStore | None = None
        self._plans: dict[str, tuple[ReadPlan, float]] = {}
        self._lock = threading.Lock()
        self._logs = {
            spec.view: PushLog(
                spec,
                self.config.push_logs / spec.push_source,
                self.config.offline_flush_rows,
                self.config.offline_flush_interval_s,
            )
            for spec in (CUSTOMER_REALTIME, CHANNEL_REALTIME)
        }

    # -- set-up --------------------------------------------------------------------------------

    def apply(self) -> str:
        """Register the repo's objects (`feast apply`) and prepare the stores; idempotent.

        Writes `<data_dir>/feature_store.yaml`, seeds the push logs, runs `feast apply` on the
        repo (source validation skipped: the gold table may not exist yet), then prepares the
        online store. Returns Feast's output.

        Raises:
            FeastCommandError: `feast apply` failed (its output is in `detail`).
        """
        write_feature_store_yaml(self.config)
        for log in self._logs.values():
            log.seed()
        output = self.run_feast("apply", "--skip-source-validation")
        with self._lock:
            self._plans.clear()
            if self._store is not None:
                self._store.refresh_registry()
        self.online.prepare(ALL_VIEWS)
        return output

    def ensure_applied(self) -> bool:
        """Apply the repo unless the registry already holds the batch view reading this
        config's lake (the lake path is recorded in the registry when the repo is applied, so a
        registry applied for another lake would materialise the wrong table). Returns True when
        it applied.

        Raises:
            FeastCommandError: `feast apply` failed.
        """
        from feast.errors import FeatureViewNotFoundException

        if self.config.registry_path.exists():
            try:
                view = self.store.get_feature_view(CUSTOMER_DAILY_VIEW)
                path = getattr(view.batch_source, "path", None)
                if path == str(self.config.lake_dir / CUSTOMER_DAILY_TABLE):
                    return False
            except FeatureViewNotFoundException:
                pass
        self.apply()
        return True

    def run_feast(self, *args: str, timeout: float = 900.0) -> str:
        """Run a `feast` command on this repo and rendered yaml; returns its output.

        Raises:
            FeastCommandError: the command failed.
        """
        write_feature_store_yaml(self.config)
        proc = subprocess.run(
            feast_argv(self.config, *args),
            env=feast_environment(self.config),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        output = (proc.stdout + proc.stderr).strip()
        if proc.returncode != 0:
            last = _last_error_line(output)
            raise FeastCommandError(
                f"feast {args[0] if args else ''} failed: {last}", detail=output[-6000:]
            )
        return output

    @property
    def store(self) -> FeatureStore:
        """Feast's FeatureStore for this repo (created on first use)."""
        if self._store is None:
            from feast import FeatureStore

            path = write_feature_store_yaml(self.config)
            self._store = FeatureStore(repo_path=str(self.config.repo_path), fs_yaml_file=path)
        return self._store

    @property
    def online(self) -> OnlineStore:
        """Direct access to the configured online store."""
        if self._online is None:
            if self.config.online_store == "redis":
                host, port = self.config.redis_host_port
                self._online = RedisOnline(host, port, self.config.project)
            else:
                self._online = SqliteOnline(self.config.sqlite_path, self.config.project)
        return self._online

    # -- push ----------------------------------------------------------------------------------

    def push_customer_features(self, rows: Sequence[Mapping[str, Any]]) -> PushResult:
        """Push real-time customer rows (`customer_id`, `event_timestamp` and every feature of
        customer_realtime_contacts) to the online store and the push log.

        Raises:
            FeatureStoreInputError: a row lacks a column, has an unknown one, or a bad value;
                nothing of the batch is written.
        """
        return self._push(CUSTOMER_REALTIME, rows)

    def push_channel_features(self, rows: Sequence[Mapping[str, Any]]) -> PushResult:
        """Push real-time channel rows (`channel`, `event_timestamp` and every feature of
        channel_realtime_response); see `push_customer_features`."""
        return self._push(CHANNEL_REALTIME, rows)

    def _push(self, spec: ViewSpec, rows: Sequence[Mapping[str, Any]]) -> PushResult:
        clean = clean_rows(spec, rows)
        written = self.online.write(spec, clean)
        self._logs[spec.view].append(clean)
        return PushResult(received=len(clean), written=written, stale=len(clean) - written)

    def flush(self) -> int:
        """Write buffered push-log rows now; returns how many."""
        return sum(log.flush() for log in self._logs.values())

    # -- online reads --------------------------------------------------------------------------

    def online_features(
        self, customer_ids: Sequence[str], service: str = "personalisation_v1"
    ) -> list[dict[str, Any]]:
        """The service's features for each customer, in order: one dict per customer with
        `customer_id` and every feature (None where the store has no value).

        Raises:
            FeatureStoreInputError: unknown service.
            FeatureStoreNotApplied: the repo was not applied.
            FeatureStoreUnavailable: Redis does not answer.
        """
        return self.online.read(self._plan(service), list(customer_ids))

    def channel_features(self, channels: Sequence[str]) -> list[dict[str, Any]]:
        """Every feature of channel_realtime_response for each channel, in order."""
        return self.online.read(self._plan(CHANNEL_REALTIME_VIEW), list(channels))

    def _plan(self, name: str) -> ReadPlan:
        cached = self._plans.get(name)
        now = time.monotonic()
        if cached is not None and now - cached[1] < max(self.config.registry_cache_ttl_s, 1):
            return cached[0]
        with self._lock:
            plan = self._build_plan(name)
            self._plans[name] = (plan, now)
        return plan

    def _build_plan(self, name: str) -> ReadPlan:
        from feast.errors import FeatureServiceNotFoundException, FeatureViewNotFoundException

        store = self.store
        try:
            if name in {spec.view for spec in ALL_VIEWS}:
                view = store.get_feature_view(name)
                views = [(view.name, tuple(f.name for f in view.features))]
                entity_key = view.entity_columns[0].name
            else:
                service = store.get_feature_service(name)
                views = [
                    (p.name, tuple(f.name for f in p.features))
                    for p in service.feature_view_projections
                ]
                keys = {store.get_feature_view(v).entity_columns[0].name for v, _ in views}
                if len(keys) != 1:
                    raise FeatureStoreInputError(
                        f"feature service {name!r} mixes entity keys {sorted(keys)}"
                    )
                entity_key = keys.pop()
        except FeatureServiceNotFoundException as exc:
            known = sorted(s.name for s in store.list_feature_services())
            if not known:
                raise FeatureStoreNotApplied(
                    "the feature registry is empty: run 'omnicx features apply'"
                ) from exc
            raise FeatureStoreInputError(
                f"unknown feature service {name!r}; known: {', '.join(known)}"
            ) from exc
        except FeatureViewNotFoundException as exc:
            raise FeatureStoreNotApplied(
                f"feature view {name!r} is not registered: run 'omnicx features apply'"
            ) from exc
        return ReadPlan(name=name, entity_key=entity_key, views=tuple(views))

    # -- offline -------------------------------------------------------------------------------

    def historical_features(
        self, entity_df: pd.DataFrame, service: str = "outreach_v1"
    ) -> pd.DataFrame:
        """A point-in-time-correct training set: for each entity row (`customer_id`,
        `event_timestamp`, any other columns such as labels), the service's feature values as
        they were at that timestamp, never later ones. Rows keep their input order.

        Raises:
            FeatureStoreInputError: the entity frame lacks its columns, or the service is
                unknown.
        """
        missing = {CUSTOMER_ENTITY_KEY, TIMESTAMP_FIELD} - set(entity_df.columns)
        if missing:
            raise FeatureStoreInputError(
                f"the entity frame needs columns {sorted(missing)} (one row per customer and "
                "time to look features up at)"
            )
        import pandas as pd

        self._plan(service)  # unknown services fail here with a clear message
        self.flush()
        frame = entity_df.copy()
        frame[TIMESTAMP_FIELD] = pd.to_datetime(frame[TIMESTAMP_FIELD], utc=True)
        frame["__row"] = range(len(frame))
        job = self.store.get_historical_features(
            entity_df=frame, features=self.store.get_feature_service(service)
        )
        result = job.to_df().sort_values("__row").drop(columns="__row").reset_index(drop=True)
        result[TIMESTAMP_FIELD] = pd.to_datetime(result[TIMESTAMP_FIELD], utc=True)
        return result

    def materialize(
        self, start: datetime, end: datetime, views: Sequence[str] = BATCH_VIEWS
    ) -> None:
        """Load the latest values with event times in [start, end] from the offline store into
        the online store (Feast's `materialize`), for the batch views by default."""
        self.flush()
        self.store.materialize(
            start_date=to_utc_datetime(start, "start"),
            end_date=to_utc_datetime(end, "end"),
            feature_views=list(views),
        )

    def materialize_incremental(self, end: datetime, views: Sequence[str] = BATCH_VIEWS) -> None:
        """Materialise from where the previous run stopped up to `end` (Feast's
        `materialize_incremental`)."""
        self.flush()
        self.store.materialize_incremental(
            end_date=to_utc_datetime(end, "end"), feature_views=list(views)
        )

    # -- erasure -------------------------------------------------------------------------------

    def delete_customers(self, customer_ids: Sequence[str]) -> int:
        """Erase customers from the online store (every customer view) and from the real-time
        push log. Returns how many of them had any data there.

        The daily profile's offline data is the lake's gold table, which the lakehouse erases.
        """
        ids = list(dict.fromkeys(customer_ids))
        found = self.online.delete(CUSTOMER_VIEWS, ids)
        found |= self._logs[CUSTOMER_REALTIME.view].delete(ids)
        return len(found)

    # -- lifecycle -----------------------------------------------------------------------------

    def close(self) -> None:
        """Flush the push logs and close connections."""
        self.flush()
        if self._online is not None:
            self._online.close()

    def __enter__(self) -> FeatureStoreClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _last_error_line(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in reversed(lines):
        if "Error" in line or "error" in line or "Exception" in line:
            return line[:300]
    return lines[-1][:300] if lines else "no output"
