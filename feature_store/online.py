"""Direct access to Feast's online stores, in Feast's own key layouts.

Reads and writes here go straight to SQLite or Redis, skipping the per-call work of
`FeatureStore.get_online_features` (registry lookups, request protos, response building): the
plan of what to read for a feature service is prepared once. The layouts are Feast's, so Feast
(`get_online_features`, `feast serve`, `feast materialize`) reads and writes the same data:

- SQLite (`feast.infra.online_stores.sqlite`): one table `<project>_<view>` per feature view,
  one row per (serialized entity key, feature name) with the serialized ValueProto and the
  event time in whole seconds. We add one column, `omnicx_event_ns`, holding the exact event
  time, so that ordering is exact below one second.
- Redis (`feast.infra.online_stores.redis`): one hash per entity key
  (`serialize_entity_key(key) + project`), fields `mmh3("<view>:<feature>")` -> ValueProto and
  `_ts:<view>` -> a protobuf Timestamp.

Writes never let an older event time overwrite a newer one. Feast's SQLite store does not check
at all, and its Redis store reads the stored time and writes in a second round trip (a race
with concurrent writers) and drops a row whose time equals the stored one. Here the check and
the write are one statement (SQLite `ON CONFLICT ... WHERE`) or one script (Redis Lua), and an
equal time overwrites, so the later-processed of two same-time updates wins.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from feast.infra.key_encoding_utils import serialize_entity_key
from feast.infra.online_stores.helpers import _mmh3, extract_text_and_num
from feast.protos.feast.types.EntityKey_pb2 import EntityKey as EntityKeyProto
from feast.protos.feast.types.Value_pb2 import Value as ValueProto
from google.protobuf.timestamp_pb2 import Timestamp

from feature_store.errors import FeatureStoreNotApplied, FeatureStoreUnavailable
from feature_store.values import CleanRow, ViewSpec, epoch_ns, from_proto, to_proto

ENTITY_KEY_SERIALIZATION_VERSION = 3
EXACT_TIME_COLUMN = "omnicx_event_ns"


def entity_key_bytes(join_key: str, entity_id: str) -> bytes:
    """Feast's serialized entity key (version 3) of a single string join key."""
    proto = EntityKeyProto(join_keys=[join_key], entity_values=[ValueProto(string_val=entity_id)])
    return serialize_entity_key(
        proto, entity_key_serialization_version=ENTITY_KEY_SERIALIZATION_VERSION
    )


@dataclass(frozen=True)
class ReadPlan:
    """What to read for a feature service (or one view): per view, the features wanted, and
    the output column order."""

    name: str
    entity_key: str
    views: tuple[tuple[str, tuple[str, ...]], ...]  # (view, features)

    @property
    def columns(self) -> list[str]:
        return [f for _, features in self.views for f in features]


class OnlineStore(Protocol):
    def write(self, spec: ViewSpec, rows: Sequence[CleanRow]) -> int: ...

    def read(self, plan: ReadPlan, entity_ids: Sequence[str]) -> list[dict[str, Any]]: ...

    def delete(self, specs: Sequence[ViewSpec], entity_ids: Sequence[str]) -> set[str]: ...

    def prepare(self, specs: Sequence[ViewSpec]) -> None: ...

    def close(self) -> None: ...


def _empty_rows(plan: ReadPlan, entity_ids: Sequence[str]) -> list[dict[str, Any]]:
    columns = plan.columns
    return [{plan.entity_key: eid, **dict.fromkeys(columns)} for eid in entity_ids]


class SqliteOnline:
    """Feast's SQLite online store file, read and written directly.

    Args:
        path: the database file (`online_store.path` of feature_store.yaml).
        project: the Feast project (table prefix).
    """

    def __init__(self, path: Path, project: str) -> None:
        self.path = path
        self.project = project
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._sql: dict[tuple[str, int], str] = {}
        self._prepared: set[str] = set()

    def table(self, view: str) -> str:
        return f"{self.project}_{view}"

    def _conn(self) -> sqlite3.Connection:
        # One connection per thread: the API serves reads from a thread pool.
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if not self.path.exists():
                raise FeatureStoreNotApplied(
                    f"the SQLite online store {self.path} does not exist: run "
                    "'omnicx features apply' first"
                )
            conn = sqlite3.connect(self.path, timeout=10.0, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout = 10000")
            self._local.conn = conn
        return conn

    def prepare(self, specs: Sequence[ViewSpec]) -> None:
        """WAL mode (readers do not block the writer and vice versa) and the exact-time column."""
        conn = self._conn()
        conn.execute("PRAGMA journal_mode = WAL")
        for spec in specs:
            self._ensure_exact_time_column(conn, spec.view)

    def _ensure_exact_time_column(self, conn: sqlite3.Connection, view: str) -> None:
        if view in self._prepared:
            return
        table = self.table(view)
        columns = {row[1] for row in conn.execute(f'PRAGMA table_info("{table}")')}
        if not columns:
            raise FeatureStoreNotApplied(
                f"table {table} is missing from {self.path}: run 'omnicx features apply'"
            )
        if EXACT_TIME_COLUMN not in columns:
            with conn:
                conn.execute(f'ALTER TABLE "{table}" ADD COLUMN {EXACT_TIME_COLUMN} INTEGER')
        self._prepared.add(view)

    def write(self, spec: ViewSpec, rows: Sequence[CleanRow]) -> int:
        """Upsert rows unless the stored event time is newer; returns rows written."""
        if not rows:
            return 0
        table = self.table(spec.view)
        sql = (
            f'INSERT INTO "{table}" (entity_key, feature_name, value, value_text, event_ts, '
            f"created_ts, {EXACT_TIME_COLUMN}) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(entity_key, feature_name) DO UPDATE SET value = excluded.value, "
            "value_text = excluded.value_text, event_ts = excluded.event_ts, "
            f"created_ts = excluded.created_ts, {EXACT_TIME_COLUMN} = excluded.{EXACT_TIME_COLUMN} "
            # Rows Feast wrote itself (materialize) have only whole seconds in event_ts.
            f"WHERE excluded.{EXACT_TIME_COLUMN} >= "
            f'MAX(COALESCE("{table}".{EXACT_TIME_COLUMN}, 0), "{table}".event_ts * 1000000000)'
        )
        now = int(datetime.now(UTC).replace(tzinfo=None).timestamp())
        params = []
        names = list(spec.features)
        kinds = list(spec.features.values())
        for row in rows:
            key = entity_key_bytes(spec.entity_key, row.entity_id)
            # Feast stores whole seconds of the naive UTC time (its sqlite3 datetime adapter).
            seconds = int(row.event_time.replace(tzinfo=None).timestamp())
            exact = epoch_ns(row.event_time)
            for name, kind, value in zip(names, kinds, row.values, strict=True):
                proto = to_proto(kind, value)
                text, _ = extract_text_and_num(proto, False)
                params.append((key, name, proto.SerializeToString(), text, seconds, now, exact))
        with self._write_lock:
            conn = self._conn()
            self._ensure_exact_time_column(conn, spec.view)
            with conn:
                cursor = conn.executemany(sql, params)
                changed = cursor.rowcount
        # Every feature of a row is written together, so the guard passes or fails per row.
        return changed // len(names)

    def read(self, plan: ReadPlan, entity_ids: Sequence[str]) -> list[dict[str, Any]]:
        """One query for all views and entities of the plan."""
        out = _empty_rows(plan, entity_ids)
        if not entity_ids:
            return out
        keys = [entity_key_bytes(plan.entity_key, eid) for eid in entity_ids]
        sql = self._sql.get((plan.name, len(keys)))
        if sql is None:
            marks = ",".join("?" * len(keys))
            sql = " UNION ALL ".join(
                f'SELECT {i}, entity_key, feature_name, value FROM "{self.table(view)}" '
                f"WHERE entity_key IN ({marks})"
                for i, (view, _) in enumerate(plan.views)
            )
            self._sql[(plan.name, len(keys))] = sql
        wanted = [set(features) for _, features in plan.views]
        index = {key: i for i, key in enumerate(keys)}
        try:
            cursor = self._conn().execute(sql, keys * len(plan.views))
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                raise FeatureStoreNotApplied(
                    f"{exc} in {self.path}: run 'omnicx features apply'"
                ) from exc
            raise
        for view_index, key, feature, raw in cursor:
            if feature in wanted[view_index]:
                out[index[key]][feature] = from_proto(raw)
        return out

    def delete(self, specs: Sequence[ViewSpec], entity_ids: Sequence[str]) -> set[str]:
        """Delete every row of these entities from the views' tables; returns ids that had rows."""
        found: set[str] = set()
        if not entity_ids:
            return found
        with self._write_lock:
            conn = self._conn()
            with conn:
                for spec in specs:
                    by_key = {entity_key_bytes(spec.entity_key, e): e for e in entity_ids}
                    keys = list(by_key)
                    marks = ",".join("?" * len(keys))
                    table = self.table(spec.view)
                    hits = conn.execute(
                        f'SELECT DISTINCT entity_key FROM "{table}" WHERE entity_key IN ({marks})',
                        keys,
                    ).fetchall()
                    found.update(by_key[k] for (k,) in hits)
                    conn.execute(f'DELETE FROM "{table}" WHERE entity_key IN ({marks})', keys)
        return found

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


# Compare-and-set of one entity hash: write the fields only if the stored `_ts:<view>` is not
# newer. A protobuf Timestamp is field 1 (seconds) and field 2 (nanos), both varints.
_GUARDED_HSET = """
local prev = redis.call('HGET', KEYS[1], ARGV[1])
if prev then
  local s, n, i = 0, 0, 1
  while i <= #prev do
    local tag = string.byte(prev, i)
    i = i + 1
    local value, scale, b = 0, 1, 128
    while b >= 128 do
      b = string.byte(prev, i)
      i = i + 1
      value = value + (b % 128) * scale
      scale = scale * 128
    end
    if tag == 8 then s = value elseif tag == 16 then n = value end
  end
  local new_s, new_n = tonumber(ARGV[3]), tonumber(ARGV[4])
  if s > new_s or (s == new_s and n > new_n) then
    return 0
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2], unpack(ARGV, 5))
return 1
"""


class RedisOnline:
    """Feast's Redis online store, read and written directly.

    Args:
        host, port: the Redis server.
        project: the Feast project (suffix of every key).
    """

    def __init__(self, host: str, port: int, project: str) -> None:
        import redis

        self.address = f"{host}:{port}"
        self.project = project.encode()
        # Typed loosely: redis-py's stubs want str keys, Feast's keys are bytes.
        self._redis: Any = redis.Redis(
            host=host, port=port, socket_timeout=5.0, socket_connect_timeout=2.0
        )
        self._script = self._redis.register_script(_GUARDED_HSET)
        self._fields: dict[str, list[bytes]] = {}
        self._error: type[Exception] = redis.exceptions.ConnectionError

    def key(self, join_key: str, entity_id: str) -> bytes:
        return entity_key_bytes(join_key, entity_id) + self.project

    def _unavailable(self, exc: Exception) -> FeatureStoreUnavailable:
        return FeatureStoreUnavailable(
            f"the Redis online store at {self.address} does not answer ({exc}): start it with "
            "'omnicx up' (OMNICX_ONLINE_STORE=redis) or check OMNICX_REDIS__PORT"
        )

    def prepare(self, specs: Sequence[ViewSpec]) -> None:
        try:
            self._redis.ping()
        except self._error as exc:
            raise self._unavailable(exc) from exc

    def write(self, spec: ViewSpec, rows: Sequence[CleanRow]) -> int:
        """Compare-and-set each row's hash fields; returns rows written."""
        if not rows:
            return 0
        ts_field = f"_ts:{spec.view}".encode()
        fields = [_mmh3(f"{spec.view}:{name}") for name in spec.features]
        kinds = list(spec.features.values())
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                for row in rows:
                    ts = Timestamp()
                    ts.FromDatetime(row.event_time)
                    args: list[Any] = [ts_field, ts.SerializeToString(), ts.seconds, ts.nanos]
                    for field, kind, value in zip(fields, kinds, row.values, strict=True):
                        args += [field, to_proto(kind, value).SerializeToString()]
                    self._script(
                        keys=[self.key(spec.entity_key, row.entity_id)], args=args, client=pipe
                    )
                results = pipe.execute()
        except self._error as exc:
            raise self._unavailable(exc) from exc
        return sum(int(r) for r in results)

    def read(self, plan: ReadPlan, entity_ids: Sequence[str]) -> list[dict[str, Any]]:
        """One HMGET per entity (pipelined): every view of an entity lives in one hash."""
        out = _empty_rows(plan, entity_ids)
        if not entity_ids:
            return out
        fields = self._fields.get(plan.name)
        if fields is None:
            fields = [_mmh3(f"{view}:{f}") for view, features in plan.views for f in features]
            self._fields[plan.name] = fields
        columns = plan.columns
        try:
            if len(entity_ids) == 1:
                replies = [self._redis.hmget(self.key(plan.entity_key, entity_ids[0]), fields)]
            else:
                with self._redis.pipeline(transaction=False) as pipe:
                    for eid in entity_ids:
                        pipe.hmget(self.key(plan.entity_key, eid), fields)
                    replies = pipe.execute()
        except self._error as exc:
            raise self._unavailable(exc) from exc
        for row, reply in zip(out, replies, strict=True):
            for column, raw in zip(columns, reply, strict=True):
                if raw is not None:
                    row[column] = from_proto(raw)
        return out

    def delete(self, specs: Sequence[ViewSpec], entity_ids: Sequence[str]) -> set[str]:
        """Delete the entities' hashes (all views of an entity share one); returns ids found."""
        found: set[str] = set()
        join_keys = sorted({spec.entity_key for spec in specs})
        try:
            for join_key in join_keys:
                for eid in entity_ids:
                    if self._redis.delete(self.key(join_key, eid)):
                        found.add(eid)
        except self._error as exc:
            raise self._unavailable(exc) from exc
        return found

    def close(self) -> None:
        self._redis.close()
