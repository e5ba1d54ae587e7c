"""Decoded feature states kept between the timeline agent's batches (pure).

A customer's `customers` record holds its `CustomerState` as JSON-able data, decoded at the
first event of every batch and encoded at its end. Decoding grows with the state (every inbound
event of 7 days) and was a tenth of a live worker's time. `DecodedStates` keeps the state
decoded, paired with the record object it was written as: it is handed out again only while
the table still holds that very object. Any other writer (the clock agent, an erasure, a
changelog recovery, a rebalance) stores a new object, and the state is decoded afresh.

A state is checked out by `take` and only comes back with `keep`, after its record is written:
a batch that fails, or writes nothing, leaves nothing behind that could differ from the table.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from streams.features.state import CustomerState


class DecodedStates:
    """At most `size` decoded states, the least recently kept dropped first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._kept: OrderedDict[str, tuple[dict[str, Any], CustomerState]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def take(self, customer_id: str, record: dict[str, Any] | None) -> CustomerState:
        """The state of `record` (the table's current value; None for a new customer), to
        change at will: the decoded one if it was kept with this very record, else decoded."""
        kept = self._kept.pop(customer_id, None)
        if kept is not None and record is not None and kept[0] is record:
            self.hits += 1
            return kept[1]
        self.misses += 1
        if record is None:
            return CustomerState(customer_id)
        return CustomerState.from_dict(record["state"])

    def keep(self, customer_id: str, record: dict[str, Any], state: CustomerState) -> None:
        """Remember `state` as decoded from `record`, the value just written to the table."""
        if self.size <= 0:
            return
        self._kept[customer_id] = (record, state)
        self._kept.move_to_end(customer_id)
        while len(self._kept) > self.size:
            self._kept.popitem(last=False)

    def forget(self, customer_id: str) -> None:
        """Drop the customer's kept state (an erasure: nothing of it stays in memory)."""
        self._kept.pop(customer_id, None)

    def __len__(self) -> int:
        return len(self._kept)
