"""How a group of linked identifiers is named: the customer_id rule shared by the stream's
identity resolution and the batch identity graph, so both label every customer the same way.

A customer is a connected component of identifiers (two identifiers are linked when one event
carries both). Its *anchor* is the identifier first seen earliest in event time (ties broken by
the identifier key); the customer_id is derived from the anchor. The rule depends only on the
set of events, never on their arrival order, and an id stays stable as new identifiers join
(they are normally seen later). When two customers merge, the survivor is the one whose anchor
comes first; the other id is recorded as merged into it.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

CUSTOMER_ID_PREFIX = "cus_"


def customer_id_for(anchor_key: str) -> str:
    """The customer_id of a component whose anchor identifier key is `anchor_key`
    (`type:value`, as `schemas.events.Identifier.key`)."""
    digest = hashlib.sha256(anchor_key.encode("utf-8")).hexdigest()
    return f"{CUSTOMER_ID_PREFIX}{digest[:20]}"


def anchor_order(first_seen: datetime, identifier_key: str) -> tuple[float, str]:
    """Sort key of candidate anchors: earliest first-seen time, then identifier key."""
    return (first_seen.timestamp(), identifier_key)


def identifier_hash(identifier_key: str) -> str:
    """A one-way hash of an identifier key, used where the identifier itself must not be kept
    (suppression list after an erasure)."""
    return hashlib.sha256(identifier_key.encode("utf-8")).hexdigest()
