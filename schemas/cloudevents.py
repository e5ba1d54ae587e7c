"""CloudEvents attributes as Kafka headers (binary content mode, CloudEvents Kafka binding 1.0).

The record value is the event JSON; the attributes travel as `ce_*` headers so consumers can
route and deduplicate without parsing the body.
"""

from __future__ import annotations

from functools import lru_cache

from schemas.events import InteractionEvent
from schemas.signals import OutreachSignal

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
INTERACTION_TYPE = "io.omnicx.interaction.v1"
SIGNAL_TYPE = "io.omnicx.signal.v1"
INTERACTION_SCHEMA = "urn:omnicx:schema:interaction-event:v1"
SIGNAL_SCHEMA = "urn:omnicx:schema:outreach-signal:v1"

Headers = list[tuple[str, bytes]]


def interaction_headers(event: InteractionEvent) -> Headers:
    # Built by hand (same names, order and bytes as `_headers`): this runs once per event on
    # every ingest path, and all but two of the headers are constants.
    return [
        _SPEC,
        ("ce_id", event.event_id.encode("utf-8")),
        ("ce_source", _interaction_source(event.channel.value, event.source.system)),
        _INTERACTION_TYPE,
        ("ce_time", event.occurred_at.isoformat().encode("utf-8")),
        _INTERACTION_SCHEMA,
        _CONTENT_TYPE,
    ]


_SPEC = ("ce_specversion", SPEC_VERSION.encode())
_INTERACTION_TYPE = ("ce_type", INTERACTION_TYPE.encode())
_INTERACTION_SCHEMA = ("ce_dataschema", INTERACTION_SCHEMA.encode())
_CONTENT_TYPE = ("content-type", CONTENT_TYPE.encode())


@lru_cache(maxsize=256)
def _interaction_source(channel: str, system: str) -> bytes:
    return f"/omnicx/{channel}/{system}".encode()


def signal_headers(signal: OutreachSignal) -> Headers:
    return _headers(
        ce_id=signal.signal_id,
        ce_source=f"/omnicx/rules/{signal.type}",
        ce_type=SIGNAL_TYPE,
        ce_time=signal.raised_at.isoformat(),
        ce_dataschema=SIGNAL_SCHEMA,
    )


def _headers(**attrs: str) -> Headers:
    out = [("ce_specversion", SPEC_VERSION.encode())]
    out += [(k, v.encode("utf-8")) for k, v in attrs.items()]
    out.append(("content-type", CONTENT_TYPE.encode()))
    return out


def headers_dict(headers: Headers | None) -> dict[str, str]:
    """Kafka headers as a str dict (last value wins)."""
    return {k: v.decode("utf-8", errors="replace") for k, v in (headers or [])}
