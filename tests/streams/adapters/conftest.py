"""Helpers for the adapter tests: the fixture files, a business configuration and a fixed
reception time, so the hand-checked values below do not depend on the clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from schemas.events import InteractionEvent
from streams.adapters import AdapterConfig, AdapterError, get_adapter

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
RECEIVED_AT = datetime(2025, 11, 20, 12, 0, tzinfo=UTC)


def business_config(**overrides: object) -> AdapterConfig:
    base: dict[str, object] = {
        "own_email_domains": ["acme.example"],
        "own_social_handles": ["AcmeHelp"],
    }
    base.update(overrides)
    return AdapterConfig.model_validate(base)


@dataclass
class Outcome:
    line: int | None
    record_id: str | None
    events: list[InteractionEvent]
    error: AdapterError | None


def adapt_file(channel: str, path: Path, config: AdapterConfig | None = None) -> list[Outcome]:
    """Split a fixture file like `omnicx ingest` does and adapt every record."""
    adapter = get_adapter(channel)
    config = config or business_config()
    records = adapter.split(path.read_bytes(), str(path))
    context = adapter.build_context(records)
    out = []
    for record in records:
        try:
            adapted = adapter.adapt(record.data, config, received_at=RECEIVED_AT, context=context)
            out.append(Outcome(record.line, adapted.record_id, adapted.events, None))
        except AdapterError as exc:
            out.append(Outcome(record.line, exc.record_id, [], exc))
    return out


@pytest.fixture
def config() -> AdapterConfig:
    return business_config()
