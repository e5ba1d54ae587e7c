"""The unified customer timeline (pure logic; the worker keeps it in a faust table)."""

from streams.timeline.buckets import (
    BUCKET_MAX,
    BucketedTimeline,
    bucket_key,
    customer_of_key,
    erase_keys,
    newest_first,
    stored_count,
)
from streams.timeline.timeline import (
    Entry,
    conversations,
    entry_for,
    insert,
    query,
    query_newest_first,
)

__all__ = [
    "BUCKET_MAX",
    "BucketedTimeline",
    "Entry",
    "bucket_key",
    "conversations",
    "customer_of_key",
    "entry_for",
    "erase_keys",
    "insert",
    "newest_first",
    "query",
    "query_newest_first",
    "stored_count",
]
