"""The lakehouse benchmark's fast event generator writes the same canonical events as building
the models would (so the benchmark measures valid, contract-conforming input)."""

from __future__ import annotations

import pytest

from bench.lakehouse_bench import generate, generate_records
from schemas.events import InteractionEvent


@pytest.mark.unit
def test_fast_generator_matches_the_models() -> None:
    slow = generate(500, seed=3)
    fast = list(generate_records(500, seed=3))
    assert len(fast) == 500
    for event, (key, value) in zip(slow, fast, strict=True):
        assert InteractionEvent.model_validate_json(value) == event
        assert key == event.primary_identifier.key.encode()
    assert {e.direction for e in slow} == {"inbound", "outbound"}
    assert len({e.channel for e in slow}) == 5
