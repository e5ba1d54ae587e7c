"""Pure conversions between Python values, Feast's ValueProto and Arrow, for the agreed feature
types of schemas/features.py (int64, float64, string, unix_timestamp).

Rows pushed by the stream workers are validated here before anything is written, so a bad row
fails the whole batch with a message that names the row and the column.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
from feast.protos.feast.types.Value_pb2 import Value as ValueProto

from feature_store import restore_prometheus_env
from feature_store.errors import FeatureStoreInputError

restore_prometheus_env()

_ARROW_TYPES: dict[str, pa.DataType] = {
    "int64": pa.int64(),
    "float64": pa.float64(),
    "string": pa.string(),
    # Microseconds, not nanoseconds: Spark cannot read parquet TIMESTAMP(NANOS).
    "unix_timestamp": pa.timestamp("us", tz="UTC"),
}
EVENT_TIMESTAMP_TYPE = pa.timestamp("us", tz="UTC")


def to_utc_datetime(value: Any, what: str) -> datetime:
    """A timezone-aware UTC datetime from a datetime (naive means UTC), a pandas Timestamp, an
    ISO-8601 string or epoch seconds.

    Raises:
        FeatureStoreInputError: the value is none of those.
    """
    if isinstance(value, datetime):  # pandas.Timestamp is a datetime subclass
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise FeatureStoreInputError(f"{what}: {value!r} is not an ISO-8601 time") from exc
        return to_utc_datetime(parsed, what)
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return datetime.fromtimestamp(value, tz=UTC)
    raise FeatureStoreInputError(
        f"{what}: expected a datetime, an ISO-8601 string or epoch seconds, got {value!r}"
    )


def epoch_ns(ts: datetime) -> int:
    """Nanoseconds since the epoch of an aware datetime, exactly (no float rounding)."""
    delta = ts - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def clean_value(kind: str, value: Any, what: str) -> Any:
    """Check `value` against the agreed type `kind` and return its canonical Python form
    (int, float, str, aware datetime, or None for null; NaN counts as null).

    Raises:
        FeatureStoreInputError: the value does not fit the type.
    """
    if value is None:
        return None
    if kind == "int64":
        if isinstance(value, bool) or not _is_integral(value):
            raise FeatureStoreInputError(f"{what}: expected an integer, got {value!r}")
        return int(value)
    if kind == "float64":
        if isinstance(value, bool) or not _is_number(value):
            raise FeatureStoreInputError(f"{what}: expected a number, got {value!r}")
        number = float(value)
        return None if math.isnan(number) else number
    if kind == "string":
        if not isinstance(value, str):
            raise FeatureStoreInputError(f"{what}: expected a string, got {value!r}")
        return value
    if kind == "unix_timestamp":
        return to_utc_datetime(value, what)
    raise FeatureStoreInputError(f"{what}: unknown feature type {kind!r}")


def _is_integral(value: Any) -> bool:
    if isinstance(value, str | bytes):
        return False
    if isinstance(value, int):
        return True
    # numpy integers and integral floats (3.0) from pandas columns
    try:
        return float(value).is_integer() and int(value) == value
    except (TypeError, ValueError, OverflowError):
        return False


def _is_number(value: Any) -> bool:
    if isinstance(value, str | bytes):
        return False
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def to_proto(kind: str, value: Any) -> ValueProto:
    """The Feast ValueProto of a cleaned value, encoded as Feast encodes it (timestamps as
    whole epoch seconds in unix_timestamp_val; null as an empty Value)."""
    if value is None:
        return ValueProto()
    if kind == "int64":
        return ValueProto(int64_val=value)
    if kind == "float64":
        return ValueProto(double_val=value)
    if kind == "string":
        return ValueProto(string_val=value)
    return ValueProto(unix_timestamp_val=int(value.timestamp()))


def from_proto(raw: bytes | None) -> Any:
    """The Python value of a serialized ValueProto, as Feast's `to_dict()` returns it."""
    if raw is None:
        return None
    proto = ValueProto.FromString(raw)
    which = proto.WhichOneof("val")
    if which is None or which == "null_val":
        return None
    value = getattr(proto, which)
    if which == "unix_timestamp_val":
        return datetime.fromtimestamp(value, tz=UTC)
    if which in ("int64_val", "double_val", "string_val", "int32_val", "float_val", "bool_val"):
        return value
    # Anything outside the agreed types: let Feast decode it.
    from feast.type_map import feast_value_type_to_python_type

    return feast_value_type_to_python_type(proto)


@dataclass(frozen=True)
class ViewSpec:
    """One feature view as the client writes it: entity key, features and their types."""

    view: str
    push_source: str
    entity_key: str
    features: dict[str, str]  # name -> agreed type

    def arrow_schema(self) -> pa.Schema:
        """Schema of the view's push log: entity key, event_timestamp, features in order."""
        fields = [
            pa.field(self.entity_key, pa.string(), nullable=False),
            pa.field("event_timestamp", EVENT_TIMESTAMP_TYPE, nullable=False),
        ]
        fields += [pa.field(name, _ARROW_TYPES[kind]) for name, kind in self.features.items()]
        return pa.schema(fields)


@dataclass(frozen=True)
class CleanRow:
    """A validated row: entity id, event time, and the features in the view's order."""

    entity_id: str
    event_time: datetime
    values: tuple[Any, ...]


def clean_rows(spec: ViewSpec, rows: Sequence[Mapping[str, Any]]) -> list[CleanRow]:
    """Validate every row against `spec`: the entity key (non-empty string), `event_timestamp`,
    and exactly the view's features (a value may be None).

    Raises:
        FeatureStoreInputError: naming the first bad row and column; nothing is half-accepted.
    """
    expected = set(spec.features)
    out = []
    for index, row in enumerate(rows):
        where = f"{spec.push_source} row {index}"
        entity_id = row.get(spec.entity_key)
        if not isinstance(entity_id, str) or not entity_id:
            raise FeatureStoreInputError(
                f"{where}: '{spec.entity_key}' must be a non-empty string, got {entity_id!r}"
            )
        if "event_timestamp" not in row:
            raise FeatureStoreInputError(f"{where}: 'event_timestamp' is missing")
        event_time = to_utc_datetime(row["event_timestamp"], f"{where} event_timestamp")
        given = set(row) - {spec.entity_key, "event_timestamp"}
        if given != expected:
            problems = []
            if expected - given:
                problems.append(f"missing {sorted(expected - given)}")
            if given - expected:
                problems.append(f"unknown {sorted(given - expected)}")
            raise FeatureStoreInputError(
                f"{where}: columns do not match {spec.view} ({'; '.join(problems)}); rows carry "
                f"'{spec.entity_key}', 'event_timestamp' and every feature of the view"
            )
        values = tuple(
            clean_value(kind, row[name], f"{where} {name}") for name, kind in spec.features.items()
        )
        out.append(CleanRow(entity_id, event_time, values))
    return out


def rows_to_arrow(spec: ViewSpec, rows: Sequence[CleanRow]) -> pa.Table:
    """The push-log table of cleaned rows."""
    columns: dict[str, list[Any]] = {
        spec.entity_key: [r.entity_id for r in rows],
        "event_timestamp": [r.event_time for r in rows],
    }
    for i, name in enumerate(spec.features):
        columns[name] = [r.values[i] for r in rows]
    return pa.Table.from_pydict(columns, schema=spec.arrow_schema())
