"""The ingest adapters of `streams.adapters` over simulated traffic: for every file, read =
accepted + rejected, the rejected records are exactly the ones the manifest calls malformed, and
the accepted ones become the events the manifest expects."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from omnicx.simulate.config import SimulateConfig
from omnicx.simulate.run import MANIFEST, simulate
from schemas.events import Identifier, InteractionEvent
from schemas.identifiers import IdentifierType
from streams.adapters import AdapterConfig, get_adapter
from streams.ingest.pipeline import BatchResult, adapt_records

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 20, tzinfo=UTC)


@pytest.fixture(scope="module", params=["mbox", "eml"])
def simulated(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp(f"sim-{request.param}")
    config = SimulateConfig(
        customers=400, start=date(2026, 11, 1), seed=21, out=out, email_format=request.param
    )
    simulate(config, now=NOW)
    return out


def adapter_config(manifest: dict[str, Any]) -> AdapterConfig:
    business = manifest["business"]
    return AdapterConfig(
        own_email_domains=business["own_email_domains"],
        own_email_addresses=business["own_email_addresses"],
        own_social_handles=business["own_social_handles"],
    )


def ingest(channel: str, paths: list[Path], config: AdapterConfig) -> BatchResult:
    adapter = get_adapter(channel)
    records = []
    for path in paths:
        records += adapter.split(path.read_bytes(), str(path))
    context = adapter.build_context(records)
    result = BatchResult(channel)
    result.add(adapt_records(channel, records, config, received_at=NOW, context=context))
    result.check()
    return result


def test_adapters_accept_the_well_formed_and_reject_the_malformed(simulated: Path) -> None:
    manifest = json.loads((simulated / MANIFEST).read_text())
    config = adapter_config(manifest)
    # Message-IDs without their angle brackets, as the email adapter keeps them.
    malformed_refs = {m["ref"].strip("<>") for m in manifest["malformed_records"]}
    for file, stats in manifest["files"].items():
        path = simulated / file
        paths = sorted(path.rglob("*.eml")) if path.is_dir() else [path]
        result = ingest(stats["channel"], paths, config)
        reasons = dict(result.by_reason)
        assert result.read == stats["records"], (file, reasons)
        assert result.rejected == stats["malformed"], (file, reasons, result.examples)
        assert result.accepted + result.rejected == result.read
        assert result.events == stats["expected_events"], file
        # Rejected ids name the malformed records (a truncated JSON line has no readable id).
        for outcome in result.rejections:
            assert outcome.record_id in malformed_refs or outcome.record_id.startswith("sha256:"), (
                file,
                outcome.record_id,
                outcome.error,
            )


def test_one_identify_links_the_identifiers_each_channel_saw(simulated: Path) -> None:
    """Adapted, the linking identify carries email, phone and Twitter handle together, and the
    email, tweet and call of the same person each carry one of them on its own."""
    manifest = json.loads((simulated / MANIFEST).read_text())
    config = adapter_config(manifest)
    events: dict[str, list[InteractionEvent]] = {}
    for channel, stats in manifest["channels"].items():
        paths = []
        for file in stats["files"]:
            path = simulated / file
            paths += sorted(path.rglob("*.eml")) if path.is_dir() else [path]
        events[channel] = []
        adapter = get_adapter(channel)
        records = [r for p in paths for r in adapter.split(p.read_bytes(), str(p))]
        outcomes = adapt_records(
            channel, records, config, received_at=NOW, context=adapter.build_context(records)
        )
        events[channel] = [e for o in outcomes for e in o.events]
    people = manifest["people"]["fragmented_identity"]
    assert people
    for person in people:
        email = Identifier(type=IdentifierType.EMAIL, value=person["email"])
        phone = Identifier(type=IdentifierType.PHONE, value=person["phone"])
        handle = Identifier(type=IdentifierType.SOCIAL_HANDLE, value=person["twitter"])
        linking = [e for e in events["app"] if {email, phone, handle} <= set(e.identifiers)]
        assert linking, person["pid"]
        for channel, identifier in (("email", email), ("social", handle), ("phone", phone)):
            seen = [e for e in events[channel] if identifier in e.identifiers]
            assert seen, (person["pid"], channel)
            assert min(e.occurred_at for e in seen) < linking[0].occurred_at
