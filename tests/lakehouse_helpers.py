"""Builders shared by the lakehouse tests (jobs, orchestration, CLI): canonical events,
producing them to the real broker, and per-test topics so tests sharing one broker do not read
each other's records."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from jobs.config import LakehouseConfig
from schemas.cloudevents import interaction_headers
from schemas.events import InteractionEvent, make_event_id
from schemas.topics import DLQ, ERASURES, IDENTITY, INTERACTIONS, topic

T0 = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)


def at(minutes: float = 0, day: int = 0) -> datetime:
    """T0 + day days + minutes."""
    return T0 + timedelta(days=day, minutes=minutes)


def event(
    record: str,
    when: datetime,
    *,
    channel: str = "email",
    direction: str = "inbound",
    ids: Sequence[tuple[str, str]] = (("email", "ann@example.com"),),
    conversation: str | None = None,
    kind: str | None = None,
    tenant: str = "acme",
    text: str | None = None,
    attributes: dict[str, Any] | None = None,
    system: str = "test",
) -> InteractionEvent:
    """A canonical event with a stable id derived from `record`."""
    return InteractionEvent(
        event_id=make_event_id(system, record),
        occurred_at=when,
        ingested_at=when + timedelta(seconds=1),
        channel=channel,
        direction=direction,
        kind=kind or ("message" if channel != "phone" else "call_started"),
        conversation_id=conversation,
        identifiers=[{"type": t, "value": v} for t, v in ids],
        tenant=tenant,
        text=text,
        attributes=attributes or {},
        source={"system": system, "record_id": record},
    )


def producer(bootstrap: str) -> KafkaProducer:
    return KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)


def produce_events(bootstrap: str, topic_name: str, events: Iterable[InteractionEvent]) -> int:
    """Produce canonical events as the contract says (key = primary identifier, CloudEvents
    headers); returns how many."""
    prod = producer(bootstrap)
    n = 0
    for ev in events:
        prod.send(
            topic_name,
            key=ev.primary_identifier.key.encode(),
            value=ev.to_json_bytes(),
            headers=interaction_headers(ev),
        )
        n += 1
    prod.flush()
    prod.close()
    return n


def produce_raw(
    bootstrap: str,
    topic_name: str,
    values: Iterable[bytes | None],
    headers: list[tuple[str, bytes]] | None = None,
) -> None:
    prod = producer(bootstrap)
    for value in values:
        prod.send(topic_name, key=b"raw", value=value, headers=headers or [])
    prod.flush()
    prod.close()


def private_topics(bootstrap: str, partitions: int | None = None) -> dict[str, str]:
    """Fresh copies of the interactions, DLQ and erasure topics for one test."""
    from omnicx.topics import apply_topics

    suffix = uuid.uuid4().hex[:8]
    specs = []
    names = {}
    for field, name in (
        ("interactions_topic", INTERACTIONS),
        ("dlq_topic", DLQ),
        ("erasures_topic", ERASURES),
        ("identity_topic", IDENTITY),
    ):
        spec = topic(name)
        spec = replace(spec, name=f"{name}.{suffix}", partitions=partitions or spec.partitions)
        specs.append(spec)
        names[field] = spec.name
    apply_topics(bootstrap, specs)
    return names


def lake_config(bootstrap: str, lake_dir: Path, **overrides: Any) -> LakehouseConfig:
    """A LakehouseConfig on its own lake folder and its own topics."""
    return LakehouseConfig(
        lake_dir=lake_dir,
        kafka_bootstrap=bootstrap,
        **{**private_topics(bootstrap, overrides.pop("partitions", None)), **overrides},
    )


def kafka_records(spark, values: Sequence[bytes | None], topic_name: str = INTERACTIONS):  # type: ignore[no-untyped-def]
    """A DataFrame shaped like Spark's Kafka source output (offsets 0..n-1 of partition 0)."""
    rows = [
        (b"k", v, topic_name, 0, i, datetime(2024, 1, 1, tzinfo=UTC), [])
        for i, v in enumerate(values)
    ]
    return spark.createDataFrame(
        rows,
        "key binary, value binary, topic string, partition int, offset long, timestamp timestamp,"
        " headers array<struct<key:string,value:binary>>",
    )


def bronze_frame(spark, events: Sequence[InteractionEvent]):  # type: ignore[no-untyped-def]
    """bronze.interactions rows of `events`, built by the real bronze parser (no Kafka)."""
    from jobs.bronze.parse import accepted_events, classify_interactions

    records = kafka_records(spark, [e.to_json_bytes() for e in events])
    return accepted_events(classify_interactions(records))


def write_bronze(spark, config: LakehouseConfig, events: Sequence[InteractionEvent]) -> None:  # type: ignore[no-untyped-def]
    """Append `events` to the config's bronze.interactions (for silver/gold tests)."""
    from jobs.tables import BRONZE_INTERACTIONS_SPEC, ensure_table

    path = ensure_table(spark, config, BRONZE_INTERACTIONS_SPEC)
    bronze_frame(spark, events).write.format("delta").mode("append").save(path)


def local_config(lake_dir: Path, **overrides: Any) -> LakehouseConfig:
    """A LakehouseConfig for tests that never touch Kafka."""
    return LakehouseConfig(lake_dir=lake_dir, **overrides)


def twcs_events(path: Path) -> list[InteractionEvent]:
    """Canonical social events of a twcs-style CSV (Customer Support on Twitter): one
    conversation per thread (root = topmost ancestor in the file), tenant = the brand account
    answering the thread, the customer known by their handle."""
    import csv

    rows = {r["tweet_id"]: r for r in csv.DictReader(path.open(encoding="utf-8"))}

    def root(tweet_id: str) -> str:
        seen = set()
        while (parent := rows[tweet_id]["in_response_to_tweet_id"]) in rows and parent not in seen:
            seen.add(tweet_id)
            tweet_id = parent
        return tweet_id

    threads: dict[str, list[dict[str, str]]] = {}
    for r in rows.values():
        threads.setdefault(root(r["tweet_id"]), []).append(r)
    events = []
    for conv, tweets in threads.items():
        brands = [t["author_id"] for t in tweets if t["inbound"] != "True"]
        customers = [t["author_id"] for t in tweets if t["inbound"] == "True"]
        brand = brands[0] if brands else "unknown"
        for t in tweets:
            inbound = t["inbound"] == "True"
            handle = t["author_id"] if inbound else (customers[0] if customers else conv)
            when = datetime.strptime(t["created_at"], "%a %b %d %H:%M:%S %z %Y")
            events.append(
                event(
                    t["tweet_id"],
                    when,
                    channel="social",
                    direction="inbound" if inbound else "outbound",
                    ids=[("social_handle", handle)],
                    conversation=conv,
                    tenant=brand,
                    text=t["text"],
                    system="twcs",
                )
            )
    return events


# The lake tests handle a few rows per query: compiling generated Java for every projection
# costs far more than interpreting it (minutes per test on two busy cores). The session is
# shared with other areas' tests, so the settings are restored afterwards.
_FAST_SMALL_DATA = {
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
}


@pytest.fixture(autouse=True)
def interpreted_spark(request: pytest.FixtureRequest) -> Iterator[None]:
    if "spark" not in request.fixturenames:
        yield
        return
    spark = request.getfixturevalue("spark")
    before = {key: spark.conf.get(key, None) for key in _FAST_SMALL_DATA}
    for key, value in _FAST_SMALL_DATA.items():
        spark.conf.set(key, value)
    yield
    for key, value in before.items():
        if value is None:
            spark.conf.unset(key)
        else:
            spark.conf.set(key, value)
