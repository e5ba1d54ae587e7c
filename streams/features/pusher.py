"""The feature pusher: keeps the Feast online store in step with the stream workers' features.

The workers keep every customer's features (and every channel's reply-time state) in faust
tables whose changelog topics hold each update. The pusher consumes those changelogs in its own
consumer group (`<app_id>-feature-pusher`) and pushes the latest row per customer and per
channel of each poll to the Feast online store (and the push log, for training sets) through
`feature_store.FeatureStoreClient`, then commits. It runs as its own process (`omnicx up`
starts it after the workers), so a slow or absent online store never holds up event
processing, and the workers' hot path stays free of Feast.

Delivery: at-least-once, exactly-once in effect. Offsets are committed only after the push;
a re-push after a crash is harmless because the online store keeps the newest event time per
entity (an older or equal row changes nothing). A tombstone (the customer was erased or merged
away) deletes the customer's online rows.

Run by hand: `python -m streams.features.pusher --bootstrap HOST:PORT --streams '<StreamsConfig
JSON>' --feature-store '<FeatureStoreConfig JSON>'`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from feature_store.client import FeatureStoreClient
from feature_store.config import FeatureStoreConfig
from feature_store.errors import FeatureStoreNotApplied
from streams.features.channel import ChannelResponseState, channel_features
from streams.features.state import CustomerState
from streams.workers.config import CHANNELS_TABLE, CUSTOMERS_TABLE, StreamsConfig, changelog_topic

log = logging.getLogger("omnicx.feature_pusher")

RETRY_S = 5.0


def pusher_group(config: StreamsConfig) -> str:
    """The pusher's consumer group."""
    return f"{config.app_id}-feature-pusher"


def pusher_topics(config: StreamsConfig) -> tuple[str, str]:
    """The changelog topics the pusher reads: (customers, channels)."""
    return (
        changelog_topic(config.app_id, CUSTOMERS_TABLE),
        changelog_topic(config.app_id, CHANNELS_TABLE),
    )


def customer_row(customer_id: str, value: Mapping[str, Any]) -> dict[str, Any] | None:
    """The Feast row of one `customers` table value: features as of the customer's latest
    event (None while the customer has no event clock yet)."""
    clock = CustomerState.from_dict(value["state"]).clock_at
    if clock is None:
        return None
    return {"customer_id": customer_id, "event_timestamp": clock, **value["features"]}


def channel_row(value: Mapping[str, Any]) -> dict[str, Any] | None:
    """The Feast row of one `channels` table value: reply-time features at the channel's
    clock (its latest answer)."""
    state = ChannelResponseState.from_dict(dict(value))
    if state.clock is None:
        return None
    at = datetime.fromtimestamp(state.clock, UTC)
    return {"channel": state.channel, "event_timestamp": at, **channel_features(state)}


@dataclass
class Batch:
    """The latest changelog value per key of one poll, split by table."""

    customers: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    channels: dict[str, dict[str, Any] | None] = field(default_factory=dict)

    def add(self, table: str, key: bytes | None, value: bytes | None) -> None:
        if key is None:
            return
        name = json.loads(key)
        target = self.customers if table == CUSTOMERS_TABLE else self.channels
        # A later record of the same key replaces an earlier one: only the newest matters.
        target[name] = json.loads(value) if value else None

    def __len__(self) -> int:
        return len(self.customers) + len(self.channels)


@dataclass
class PushCounts:
    """What one push did."""

    customers: int = 0
    channels: int = 0
    erased: int = 0


def push_batch(client: FeatureStoreClient, batch: Batch) -> PushCounts:
    """Push (or, for tombstones, delete) every entity of `batch`.

    Raises:
        FeatureStoreNotApplied: the Feast repo is not applied yet (nothing was written).
    """
    counts = PushCounts()
    customer_rows = []
    erased = []
    for cid, value in batch.customers.items():
        if value is None:
            erased.append(cid)
            continue
        row = customer_row(cid, value)
        if row is not None:
            customer_rows.append(row)
    channel_rows = [r for r in (channel_row(v) for v in batch.channels.values() if v) if r]
    if customer_rows:
        client.push_customer_features(customer_rows)
        counts.customers = len(customer_rows)
    if channel_rows:
        client.push_channel_features(channel_rows)
        counts.channels = len(channel_rows)
    if erased:
        counts.erased = client.delete_customers(erased)
    return counts


class FeaturePusher:
    """Consume the workers' feature changelogs and push them to Feast until stopped.

    Args:
        bootstrap: Kafka bootstrap servers.
        streams: the workers' config (app id: changelog topic names and the group).
        feature_store: where the Feast repo and online store are.
        ready_file: touched once the consumer is subscribed (what `omnicx up` waits for).
    """

    def __init__(
        self,
        bootstrap: str,
        streams: StreamsConfig,
        feature_store: FeatureStoreConfig,
        ready_file: Path | None = None,
    ) -> None:
        from kafka import KafkaConsumer

        self.customers_topic, self.channels_topic = pusher_topics(streams)
        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=pusher_group(streams),
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=5000,
            key_deserializer=None,
            value_deserializer=None,
        )
        self.consumer.subscribe([self.customers_topic, self.channels_topic])
        self.client = FeatureStoreClient(feature_store)
        self.ready_file = ready_file
        self.stopping = False
        self.totals = PushCounts()

    def run(self) -> None:
        """Poll, push, commit; until `stop()` (or SIGTERM in `main`)."""
        if self.ready_file is not None:
            self.ready_file.parent.mkdir(parents=True, exist_ok=True)
            self.ready_file.write_text(f"{os.getpid()}\n")
        try:
            while not self.stopping:
                self.step()
        finally:
            self.close()

    def step(self, timeout_ms: int = 500) -> PushCounts:
        """One poll and its push; commits only what was pushed."""
        polled = self.consumer.poll(timeout_ms=timeout_ms)
        if not polled:
            self.client.flush()
            return PushCounts()
        batch = Batch()
        for tp, records in polled.items():
            table = CUSTOMERS_TABLE if tp.topic == self.customers_topic else CHANNELS_TABLE
            for record in records:
                batch.add(table, record.key, record.value)
        while True:
            try:
                counts = push_batch(self.client, batch)
                break
            except FeatureStoreNotApplied as exc:
                # Hold the offsets: the rows are pushed once the repo exists.
                log.warning("waiting for the Feast repo (%s); retrying in %.0f s", exc, RETRY_S)
                if self.stopping:
                    return PushCounts()
                time.sleep(RETRY_S)
        self.consumer.commit()
        self.totals.customers += counts.customers
        self.totals.channels += counts.channels
        self.totals.erased += counts.erased
        log.info(
            "pushed %d customers, %d channels, erased %d",
            counts.customers,
            counts.channels,
            counts.erased,
        )
        return counts

    def stop(self) -> None:
        self.stopping = True

    def close(self) -> None:
        try:
            self.client.flush()
        finally:
            self.client.close()
            self.consumer.close()
            if self.ready_file is not None:
                self.ready_file.unlink(missing_ok=True)


class LagProbe:
    """Reads how far the pusher is behind, with one consumer kept for all its reads (a caller
    that polls, such as the demo waiting for the pusher, would otherwise connect and join the
    cluster's metadata afresh every time). Close it, or use it as a context manager."""

    def __init__(self, bootstrap: str, streams: StreamsConfig) -> None:
        from kafka import KafkaConsumer

        self.streams = streams
        # A consumer of the pusher's group that never subscribes: it only reads committed
        # offsets (fetched from the coordinator on every call, as nothing is assigned to it).
        self._consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=pusher_group(streams))

    def lag(self) -> int:
        """Records of the feature changelogs the pusher has not committed yet."""
        from kafka import TopicPartition

        consumer = self._consumer
        partitions = [
            TopicPartition(topic, p)
            for topic in pusher_topics(self.streams)
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        ends = consumer.end_offsets(partitions)
        return sum(max(0, ends[tp] - (consumer.committed(tp) or 0)) for tp in partitions)

    def close(self) -> None:
        self._consumer.close()

    def __enter__(self) -> LagProbe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def lag(bootstrap: str, streams: StreamsConfig) -> int:
    """Records of the feature changelogs the pusher has not committed yet (one read; to poll,
    keep a LagProbe)."""
    with LagProbe(bootstrap, streams) as probe:
        return probe.lag()


def _configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m streams.features.pusher")
    parser.add_argument("--bootstrap", required=True, help="Kafka bootstrap servers")
    parser.add_argument("--streams", default="{}", help="StreamsConfig as JSON")
    parser.add_argument("--feature-store", default="{}", help="FeatureStoreConfig as JSON")
    parser.add_argument("--ready-file", type=Path, default=None)
    args = parser.parse_args(list(argv) if argv is not None else None)
    _configure_logging()
    pusher = FeaturePusher(
        args.bootstrap,
        StreamsConfig.model_validate_json(args.streams),
        FeatureStoreConfig.model_validate_json(args.feature_store),
        ready_file=args.ready_file,
    )
    signal.signal(signal.SIGTERM, lambda *_: pusher.stop())
    signal.signal(signal.SIGINT, lambda *_: pusher.stop())
    pusher.run()


if __name__ == "__main__":
    main()
