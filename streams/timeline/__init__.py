"""The unified customer timeline (pure logic; the worker keeps it in a faust table)."""

from streams.timeline.timeline import (
    Entry,
    conversations,
    entry_for,
    insert,
    query,
)

__all__ = ["Entry", "conversations", "entry_for", "insert", "query"]
