"""What every channel adapter shares: the raw record, the adapter interface, and the checks
that make rejections specific (encoding, JSON, types, timestamps, identity)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol

import orjson
from pydantic import ValidationError

from schemas.events import Identifier, InteractionEvent
from schemas.identifiers import IdentifierType, InvalidIdentifier, normalise
from streams.adapters.config import AdapterConfig
from streams.adapters.errors import (
    AdapterError,
    InvalidEncoding,
    InvalidField,
    InvalidTimestamp,
    MalformedPayload,
    MissingIdentity,
    PayloadTooLarge,
)


@dataclass(frozen=True)
class RawRecord:
    """One payload as received, and where it came from.

    `source` is a file path or an HTTP request label; `line` the 1-based line where the record
    starts in a file (or the item number of an HTTP batch).
    """

    data: bytes
    source: str = ""
    line: int | None = None
    content_type: str | None = None


@dataclass
class Adapted:
    """The canonical events made from one raw record, and that record's id in its system."""

    record_id: str
    events: list[InteractionEvent]


class ChannelAdapter(Protocol):
    """One channel's format: split a file or request body into raw records, optionally build a
    context over the whole batch (reply chains, threads), and adapt each record."""

    channel: str

    def split(self, data: bytes, source: str, content_type: str | None = None) -> list[RawRecord]:
        """The raw records in a file or request body."""
        ...

    def build_context(self, records: Sequence[RawRecord]) -> Any:
        """Whatever adapting one record needs to know about the others (or None)."""
        ...

    def adapt(
        self,
        data: bytes,
        config: AdapterConfig,
        *,
        received_at: datetime,
        context: Any = None,
    ) -> Adapted:
        """The canonical events of one raw payload; raises AdapterError with the reason."""
        ...


def fallback_record_id(data: bytes) -> str:
    """A stable id for a record whose own id could not be read: its content hash."""
    return "sha256:" + hashlib.sha256(data).hexdigest()[:32]


def check_size(data: bytes, config: AdapterConfig) -> None:
    if len(data) > config.max_payload_bytes:
        raise PayloadTooLarge(
            f"payload of {len(data):,} bytes exceeds the {config.max_payload_bytes:,}-byte limit"
        )


def decode_utf8(data: bytes) -> str:
    """Strict UTF-8, with the offset of the first bad byte in the error."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidEncoding(
            f"invalid UTF-8 at byte {exc.start}: {data[exc.start : exc.start + 4]!r}"
        ) from None


# An integer of 20+ digits may not fit 64 bits, which orjson turns into a float (json keeps
# the int); such documents take the json path.
_LONG_DIGITS = re.compile(rb"\d{20}")


def load_json(data: bytes, what: str) -> Any:
    """Parse JSON text, telling a truncated document from other syntax errors."""
    if not _LONG_DIGITS.search(data):
        # orjson parses ~6x faster than json and agrees with it on every document it accepts
        # (strict UTF-8, no BOM, no NaN/Infinity, 64-bit integers); anything it refuses goes
        # the json way below, which accepts or refuses it with the same message as before.
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    text = decode_utf8(data).lstrip("\ufeff")
    if not text.strip():
        raise MalformedPayload(f"empty payload; expected a {what} JSON document")
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        # An unterminated string runs to the end of the input (JSON strings cannot hold raw
        # newlines), so it is a truncation too.
        if exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string"):
            raise MalformedPayload(
                f"truncated JSON: the {what} document ends early (line {exc.lineno}, "
                f"column {exc.colno}: {exc.msg})"
            ) from None
        raise MalformedPayload(
            f"invalid JSON in the {what} document at line {exc.lineno}, column {exc.colno}: "
            f"{exc.msg}"
        ) from None


def load_object(data: bytes, config: AdapterConfig, what: str) -> dict[str, Any]:
    """A payload that must be one JSON object: size-checked, parsed (`load_json`), and refused
    with InvalidField when it is anything else. `what` names it in errors ("chat transcript")."""
    check_size(data, config)
    doc = load_json(data, what)
    if not isinstance(doc, dict):
        raise InvalidField(f"a {what} must be a JSON object, got {type_name(doc)}")
    return doc


def _refuse_constant(name: str) -> Any:
    # Python's json takes NaN/Infinity, which JSON (RFC 8259) does not have and which would not
    # survive the canonical event's own JSON round trip.
    raise MalformedPayload(f"invalid JSON: {name} is not a JSON value")


def type_name(value: Any) -> str:
    return {
        dict: "an object",
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def require_object(value: Any, what: str, record_id: str | None = None) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidField(f"{what} must be a JSON object, got {type_name(value)}", record_id)
    return value


def get_str(
    obj: dict[str, Any],
    key: str,
    what: str,
    *,
    required: bool = False,
    record_id: str | None = None,
    allow_int: bool = False,
) -> str | None:
    """`obj[key]` as a non-empty string, or None if absent; wrong types are refused."""
    value = obj.get(key)
    if value is None or value == "":
        if required:
            raise InvalidField(f"{what}.{key} is required", record_id)
        return None
    if allow_int and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise InvalidField(f"{what}.{key} must be a string, got {type_name(value)}", record_id)
    return value


def get_object(
    obj: dict[str, Any], key: str, what: str, record_id: str | None = None
) -> dict[str, Any]:
    """`obj[key]` as an object ({} if absent or null); wrong types are refused."""
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidField(f"{what}.{key} must be an object, got {type_name(value)}", record_id)
    return value


def get_number(
    obj: dict[str, Any], key: str, what: str, record_id: str | None = None
) -> float | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidField(f"{what}.{key} must be a number, got {type_name(value)}", record_id)
    return float(value)


def parse_iso_time(value: Any, what: str, record_id: str | None = None) -> datetime:
    """An ISO 8601 / RFC 3339 timestamp; one without an offset is taken as UTC (Amazon Connect
    and Segment document theirs as UTC)."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidTimestamp(
            f"{what} must be an ISO 8601 timestamp string, got {type_name(value)}", record_id
        )
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidTimestamp(
            f"{what} is not an ISO 8601 timestamp: {value!r}", record_id
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def check_time(
    moment: datetime,
    what: str,
    config: AdapterConfig,
    received_at: datetime,
    record_id: str | None = None,
) -> datetime:
    """Refuse impossible times: before `config.earliest`, or further ahead of `received_at`
    than `config.max_future_s` (Kafka 4 refuses records stamped more than 1 h ahead)."""
    if moment < config.earliest:
        raise InvalidTimestamp(
            f"{what} {moment.isoformat()} is before {config.earliest.date().isoformat()}",
            record_id,
        )
    if moment > received_at + timedelta(seconds=config.max_future_s):
        ahead = (moment - received_at).total_seconds()
        raise InvalidTimestamp(
            f"{what} {moment.isoformat()} is {ahead / 3600:.1f} h in the future (limit "
            f"{config.max_future_s / 3600:g} h)",
            record_id,
        )
    return moment


@dataclass
class Identifiers:
    """Collects a payload's customer identifiers in priority order (the first becomes the Kafka
    key), drops duplicates, and keeps a note of values that could not be normalised instead of
    failing the whole event over one bad trait."""

    default_region: str | None = None
    items: list[Identifier] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    # (type, value) of `items`: a set lookup instead of pydantic's field-by-field __eq__.
    _seen: set[tuple[str, str]] = field(default_factory=set, repr=False, compare=False)

    def add(self, kind: IdentifierType | str, value: Any, origin: str) -> None:
        if value is None or value == "":
            return
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            self.dropped.append(f"{origin}: expected a string, got {type_name(value)}")
            return
        try:
            identifier = _identifier(str(kind), value, self.default_region)
        except (InvalidIdentifier, ValidationError, ValueError) as exc:
            reason = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
            self.dropped.append(f"{origin}: {reason}")
            return
        seen = (identifier.type.value, identifier.value)
        if seen not in self._seen:
            self._seen.add(seen)
            self.items.append(identifier)

    def add_named(
        self, bag: dict[str, Any], names: Mapping[str, IdentifierType | str], where: str
    ) -> None:
        """Add the identifiers found in a payload's attributes or traits: `names` maps an
        attribute name to its identifier type (the adapter config's maps); `where` is the
        attribute bag's path, for the origin in notes ("Attributes", "context.traits")."""
        for name, kind in names.items():
            if name in bag:
                self.add(kind, bag[name], f"{where}.{name}")

    def require(self, what: str, record_id: str | None = None) -> list[Identifier]:
        if not self.items:
            detail = f" (unusable: {'; '.join(self.dropped)})" if self.dropped else ""
            raise MissingIdentity(f"no customer identifier: {what}{detail}", record_id)
        return list(self.items)


@lru_cache(maxsize=65_536)
def _identifier(kind: str, value: str, default_region: str | None) -> Identifier:
    """Normalised identifier, cached: the same customers recur in every batch and phone number
    parsing is the most expensive step of an adapter. (Identifier is frozen, so sharing it is
    safe; failures are not cached and are raised again each time.)"""
    canonical = normalise(kind, value, default_region)
    return Identifier(type=IdentifierType(kind), value=canonical)


def build_event(record_id: str, **fields: Any) -> InteractionEvent:
    """Validate the canonical event; a failure here is a field the adapter could not map."""
    try:
        return InteractionEvent(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidField(f"canonical event field {where}: {first['msg']}", record_id) from None


def split_json_records(
    data: bytes, source: str, content_type: str | None = None
) -> list[RawRecord]:
    """JSON lines (one document per line) or one JSON array (each element a record, kept as
    its exact original bytes), or one JSON object.

    Decoding uses surrogateescape so that a line with invalid UTF-8 stays a record of its own
    and is refused by the adapter with the byte offset, instead of spoiling the whole file.
    """
    text = data.decode("utf-8", errors="surrogateescape").lstrip("\ufeff")
    stripped = text.lstrip()
    if stripped.startswith("["):
        return _split_json_array(text, source, content_type)
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            records.append(
                RawRecord(
                    line.strip().encode("utf-8", errors="surrogateescape"),
                    source,
                    number,
                    content_type,
                )
            )
    # A single pretty-printed object spans several lines: keep it whole. (On a JSON-lines
    # file this parse stops at the end of the first line with "Extra data", so it is cheap.)
    if len(records) > 1 and stripped.startswith("{") and _is_one_document(stripped):
        first_line = text[: len(text) - len(stripped)].count("\n") + 1
        return [
            RawRecord(
                stripped.rstrip().encode("utf-8", "surrogateescape"),
                source,
                first_line,
                content_type,
            )
        ]
    return records


def _is_one_document(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _split_json_array(text: str, source: str, content_type: str | None) -> list[RawRecord]:
    decoder = json.JSONDecoder()
    pos = text.index("[") + 1
    records: list[RawRecord] = []
    n = len(text)

    def skip_ws(i: int) -> int:
        while i < n and text[i] in " \t\r\n":
            i += 1
        return i

    pos = skip_ws(pos)
    if pos < n and text[pos] == "]":
        return records
    # Line numbers counted incrementally (counting from 0 for every element is quadratic in
    # the body size).
    line, counted = 1, 0
    while pos < n:
        line += text.count("\n", counted, pos)
        counted = pos
        try:
            _, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            # The rest cannot be split; it becomes one record the adapter refuses with the
            # JSON error (usually a truncated array).
            records.append(RawRecord(text[pos:].encode("utf-8", "surrogateescape"), source, line))
            return records
        records.append(
            RawRecord(text[pos:end].encode("utf-8", "surrogateescape"), source, line, content_type)
        )
        pos = skip_ws(end)
        if pos < n and text[pos] == ",":
            pos = skip_ws(pos + 1)
            continue
        if pos < n and text[pos] == "]":
            break
        # Neither ',' nor ']': the array is truncated or broken after this element.
        rest = text[pos:].strip()
        records.append(
            RawRecord(
                (rest or "]").encode("utf-8", "surrogateescape"),
                source,
                line + text.count("\n", counted, pos),
            )
        )
        break
    return records


def as_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def ensure_adapter_error(exc: Exception, record_id: str | None) -> AdapterError:
    """Wrap an unexpected exception from a parser library as a MalformedPayload."""
    if isinstance(exc, AdapterError):
        return exc
    return MalformedPayload(f"{type(exc).__name__}: {exc}", record_id)
