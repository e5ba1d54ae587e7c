"""Turning a `Resolution` into the IdentityUpdate records published on cx.identity.v1."""

from __future__ import annotations

from datetime import datetime

from schemas.identity_update import IdentityUpdate
from streams.identity.graph import Resolution

__all__ = ["IdentityUpdate", "updates_for"]


def updates_for(
    resolution: Resolution, event_id: str, occurred_at: datetime
) -> list[IdentityUpdate]:
    """The link and merge records of one resolution, merges first (a reader that sees a link to
    a new id can already follow the old one)."""
    out = [
        IdentityUpdate(
            kind="merge",
            customer_id=new,
            merged_customer_id=old,
            event_id=event_id,
            occurred_at=occurred_at,
        )
        for old, new in resolution.merges
    ]
    out += [
        IdentityUpdate(
            kind="link", customer_id=cid, identifier=key, event_id=event_id, occurred_at=occurred_at
        )
        for key, cid in resolution.links
    ]
    return out
