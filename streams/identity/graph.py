"""The identity graph: connected components of identifiers, named by the anchor rule.

Pure logic over two key-value maps, so the same code runs on plain dicts in tests and on faust
tables (changelog-backed) in the worker:

- `nodes[identifier_key] = {"c": component_key, "t": first_seen_epoch_s}`
- `components[component_key] = {"m": [member keys], "a": anchor key, "at": anchor first seen,
  "cid": customer_id}`

Values are always replaced, never mutated in place, because a faust table only writes its
changelog on assignment.

Why the result does not depend on arrival order: the grouping is the connected components of
"carried by one event"; an identifier's first-seen time is the minimum event time over the
events that carry it; the anchor is the member with the smallest (first seen, key)
(`schemas.identity.anchor_order`). All three are functions of the set of events. Processing an
event can only lower first-seen times of its own identifiers and join components, so the new
anchor is the minimum of the involved components' anchors and the event's identifiers.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from schemas.identity import customer_id_for

Node = dict[str, Any]
ComponentRecord = dict[str, Any]


@dataclass(frozen=True)
class Resolution:
    """What resolving one event decided.

    Attributes:
        customer_id: the customer the event belongs to (after any merge).
        links: (identifier key, customer_id) for every identifier whose customer is new or
            changed: the event's new identifiers, and all members of a renamed component.
        merges: (old customer_id, surviving customer_id) for every customer that stopped
            existing because of this event (two components joined, or the anchor moved).
    """

    customer_id: str
    links: list[tuple[str, str]] = field(default_factory=list)
    merges: list[tuple[str, str]] = field(default_factory=list)

    @property
    def revived(self) -> list[str]:
        """Customer ids whose earlier merge record must be withdrawn (a tombstone on
        cx.identity.v1): when the anchor moves back, an id that was merged away lives again."""
        return [self.customer_id] if self.merges else []


class IdentityGraph:
    """Union of identifiers into customers over two mutable maps (dicts or faust tables)."""

    def __init__(
        self,
        nodes: MutableMapping[str, Node] | None = None,
        components: MutableMapping[str, ComponentRecord] | None = None,
    ) -> None:
        self.nodes: MutableMapping[str, Node] = nodes if nodes is not None else {}
        self.components: MutableMapping[str, ComponentRecord] = (
            components if components is not None else {}
        )

    def lookup(self, identifier_key: str) -> str | None:
        """The customer_id of an identifier, or None if it was never seen."""
        node = self.nodes.get(identifier_key)
        if node is None:
            return None
        comp = self.components.get(node["c"])
        return None if comp is None else str(comp["cid"])

    def resolve(self, identifier_keys: Sequence[str], occurred_at: datetime) -> Resolution:
        """Record that one event at `occurred_at` carried `identifier_keys`; return its customer.

        Raises:
            ValueError: no identifiers (an event without identity cannot be resolved).
        """
        keys = sorted(set(identifier_keys))
        if not keys:
            raise ValueError("an event needs at least one identifier to be resolved")
        ts = occurred_at.timestamp()

        # The components this event touches, and the identifiers it introduces.
        involved: dict[str, ComponentRecord] = {}
        new_keys: list[str] = []
        for key in keys:
            node = self.nodes.get(key)
            if node is None:
                new_keys.append(key)
                continue
            comp_key = node["c"]
            if comp_key not in involved:
                involved[comp_key] = self.components[comp_key]
            if ts < node["t"]:
                self.nodes[key] = {"c": comp_key, "t": ts}

        # Candidate anchors: every involved component's anchor, and each of this event's
        # identifiers at its (possibly lowered) first-seen time.
        candidates = [(c["at"], c["a"]) for c in involved.values()]
        for key in keys:
            node = self.nodes.get(key)
            candidates.append((min(ts, node["t"]) if node is not None else ts, key))
        anchor_t, anchor = min(candidates)
        if len(involved) == 1 and not new_keys:
            (comp,) = involved.values()
            if comp["a"] == anchor and comp["at"] == anchor_t:
                # Known identifiers of one customer whose anchor stays: the component is
                # unchanged, so it is not written again (most events of a replay; each write
                # is a changelog record and journal bytes in the worker).
                return Resolution(str(comp["cid"]))
        customer_id = customer_id_for(anchor)

        if not involved:
            self.components[anchor] = {"m": keys, "a": anchor, "at": anchor_t, "cid": customer_id}
            for key in keys:
                self.nodes[key] = {"c": anchor, "t": ts}
            return Resolution(customer_id, links=[(k, customer_id) for k in keys])

        # Weighted union: the biggest component keeps its key; the others' members move to it,
        # so each identifier is relabelled O(log n) times over the graph's life.
        target_key = max(involved, key=lambda k: (len(involved[k]["m"]), k))
        members: list[str] = list(involved[target_key]["m"])
        links: list[tuple[str, str]] = []
        merges: list[tuple[str, str]] = []
        renamed = involved[target_key]["cid"] != customer_id
        if renamed:
            merges.append((involved[target_key]["cid"], customer_id))
            links.extend((m, customer_id) for m in members)
        for comp_key, comp in involved.items():
            if comp_key == target_key:
                continue
            for member in comp["m"]:
                self.nodes[member] = {"c": target_key, "t": self.nodes[member]["t"]}
                if comp["cid"] != customer_id:
                    links.append((member, customer_id))
            members.extend(comp["m"])
            if comp["cid"] != customer_id:
                merges.append((comp["cid"], customer_id))
            del self.components[comp_key]
        for key in new_keys:
            self.nodes[key] = {"c": target_key, "t": ts}
            links.append((key, customer_id))
        members.extend(new_keys)
        self.components[target_key] = {
            # Unique: after a crash cut the graph's writes, a component can already list the
            # members of one merged into it that still exists (streams.workers.app).
            "m": list(dict.fromkeys(members)),
            "a": anchor,
            "at": anchor_t,
            "cid": customer_id,
        }
        return Resolution(customer_id, links=links, merges=merges)

    def groups(self) -> dict[str, frozenset[str]]:
        """customer_id -> its identifier keys (for tests and diagnostics)."""
        return {str(c["cid"]): frozenset(c["m"]) for c in self.components.values()}

    def assignment(self) -> dict[str, str]:
        """identifier key -> customer_id for every identifier seen."""
        out: dict[str, str] = {}
        for comp in self.components.values():
            for member in comp["m"]:
                out[member] = str(comp["cid"])
        return out
