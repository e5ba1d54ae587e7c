"""Lakehouse throughput: bronze (Kafka -> Delta), silver (identity graph + timeline MERGE) and
gold (KPIs) over generated events on a fresh broker and lake; then the core KPI query over the
same Parquet files in Spark SQL and in DuckDB (the peer a user would pick for one machine).

Size: OMNICX_BENCH_LAKE_EVENTS (default DEFAULT_EVENTS; see docs/lakehouse.md for the
1,000,000-event run). The events are generated once, as canonical JSON, and produced with
librdkafka (confluent-kafka, the producer of `streams.ingest.rdkafka`), so a million events
reach the broker in well under a minute; every phase prints when it starts and ends. The
Spark driver (which is the whole of Spark in local mode) gets OMNICX_BENCH_LAKE_DRIVER_MEMORY,
by default `driver_memory(n)`.
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import local_broker, ratio, report

DEFAULT_EVENTS = 50_000
TOPIC = "cx.interactions.v1"
CORE_KPIS = """
WITH c AS (
  SELECT conversation_key, min(occurred_at) AS started_at
  FROM timeline WHERE direction = 'inbound' GROUP BY conversation_key
), s AS (
  SELECT t.conversation_key, t.channel, t.tenant, t.customer_id, c.started_at
  FROM timeline t JOIN c ON t.conversation_key = c.conversation_key
   AND t.occurred_at = c.started_at AND t.direction = 'inbound'
), r AS (
  SELECT s.conversation_key, min(t.occurred_at) AS first_out
  FROM s JOIN timeline t ON t.conversation_key = s.conversation_key
  WHERE t.direction = 'outbound' AND t.occurred_at >= s.started_at GROUP BY s.conversation_key
), f AS (
  SELECT s.*, {epoch}(r.first_out) - {epoch}(s.started_at) AS frs
  FROM s LEFT JOIN r ON s.conversation_key = r.conversation_key
)
SELECT CAST(started_at AS DATE) AS day, channel, tenant,
  count(DISTINCT conversation_key) AS opened, count(frs) AS answered,
  {p}(frs, 0.5) AS p50, {p}(frs, 0.9) AS p90,
  avg(CASE WHEN frs <= 3600 THEN 1.0 ELSE 0.0 END) AS sla
FROM f GROUP BY 1, 2, 3
"""


def generate(n: int, seed: int = 7) -> list:  # type: ignore[type-arg]
    """n canonical events: conversations of 1-4 inbound messages with replies, on five
    channels and three tenants, over ~30 days, ~n/6 customers."""
    from schemas.events import InteractionEvent, make_event_id

    rng = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    channels = ["email", "chat", "social", "phone", "app"]
    customers = max(10, n // 6)
    events: list[InteractionEvent] = []
    conv = 0
    while len(events) < n:
        conv += 1
        who = rng.randrange(customers)
        channel = rng.choice(channels)
        t = start + timedelta(minutes=rng.randrange(30 * 24 * 60))
        for k in range(rng.randint(1, 4)):
            direction = "inbound" if k % 2 == 0 else "outbound"
            t += timedelta(minutes=rng.expovariate(1 / 45))
            events.append(
                InteractionEvent(
                    event_id=make_event_id("bench", f"{conv}-{k}"),
                    occurred_at=t,
                    ingested_at=t,
                    channel=channel,
                    direction=direction,
                    kind="message",
                    conversation_id=f"c{conv}",
                    identifiers=[{"type": "email", "value": f"u{who}@example.com"}],
                    tenant=f"brand{who % 3}",
                    text="thanks, that was great" if direction == "inbound" and k == 0 else None,
                    source={"system": "bench", "record_id": f"{conv}-{k}"},
                )
            )
    return events[:n]


def _iso(t: datetime) -> str:
    # pydantic's form: no fraction when there are no microseconds.
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if t.microsecond else "%Y-%m-%dT%H:%M:%SZ")


def generate_records(n: int, seed: int = 7) -> Iterator[tuple[bytes, bytes]]:
    """The same n events as `generate` (same seed, same draws), as (key, canonical JSON)
    built directly: ~10x faster than building InteractionEvent models, which matters at a
    million events. tests/jobs/test_bench_generator.py checks the two agree."""
    import orjson

    from schemas.events import make_event_id

    rng = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    channels = ["email", "chat", "social", "phone", "app"]
    customers = max(10, n // 6)
    made = 0
    conv = 0
    while made < n:
        conv += 1
        who = rng.randrange(customers)
        channel = rng.choice(channels)
        t = start + timedelta(minutes=rng.randrange(30 * 24 * 60))
        email = f"u{who}@example.com"
        for k in range(rng.randint(1, 4)):
            if made >= n:
                break
            direction = "inbound" if k % 2 == 0 else "outbound"
            t += timedelta(minutes=rng.expovariate(1 / 45))
            record = f"{conv}-{k}"
            when = _iso(t)
            value = orjson.dumps(
                {
                    "event_id": make_event_id("bench", record),
                    "occurred_at": when,
                    "ingested_at": when,
                    "channel": channel,
                    "direction": direction,
                    "kind": "message",
                    "conversation_id": f"c{conv}",
                    "in_reply_to": None,
                    "identifiers": [{"type": "email", "value": email}],
                    "customer_id": None,
                    "tenant": f"brand{who % 3}",
                    "agent_id": None,
                    "text": "thanks, that was great" if direction == "inbound" and k == 0 else None,
                    "attributes": {},
                    "source": {"system": "bench", "record_id": record},
                    "schema_version": 1,
                }
            )
            made += 1
            yield f"email:{email}".encode(), value


def driver_memory(n: int) -> str:
    """Spark driver memory for n events: 2 GiB up to 100,000, then 1 GiB more per 200,000,
    at most 8 GiB (a third of the 24 GiB machine the benchmark is sized for). The cached bronze
    batch and the MERGE's shuffles of a million events fit in 6 GiB without spilling."""
    gib = 2 if n <= 100_000 else min(8, 2 + -(-(n - 100_000) // 200_000))
    return f"{gib}g"


def spark_cpu_seconds() -> float:
    """CPU seconds (user + system) used so far by this process's Spark JVM (local mode: the
    driver runs every task), the load-independent cost of a phase. psutil comes with Dagster."""
    import psutil

    for child in psutil.Process().children(recursive=True):
        try:
            if any("SparkSubmit" in part for part in child.cmdline()):
                times = child.cpu_times()
                return float(times.user + times.system)
        except psutil.Error:
            continue
    return float("nan")


def _phase(message: str, started: float) -> None:
    print(f"# [{time.perf_counter() - started:7.1f}s] {message}", flush=True)


def produce(bootstrap: str, records: list[tuple[bytes, bytes]], started: float) -> float:
    """Produce the records to TOPIC with librdkafka (idempotent, acks=all, lz4, keys partitioned
    as the Java client does) and wait for every acknowledgement; returns the seconds taken.
    Prints progress every tenth."""
    from confluent_kafka import KafkaException, Producer

    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "compression.type": "lz4",
            "linger.ms": 50,
            "batch.size": 1_000_000,
            "queue.buffering.max.messages": 500_000,
            "partitioner": "murmur2_random",
        }
    )
    failed: list[str] = []

    def delivered(error: object, _message: object) -> None:
        if error is not None:
            failed.append(str(error))

    t0 = time.perf_counter()
    step = max(1, len(records) // 10)
    for i, (key, value) in enumerate(records, 1):
        while True:
            try:
                producer.produce(TOPIC, value=value, key=key, on_delivery=delivered)
                break
            except BufferError:
                producer.poll(0.05)  # the local queue is full: let librdkafka send
        if i % step == 0:
            producer.poll(0)
            _phase(f"produced {i:,}/{len(records):,}", started)
    if producer.flush(120):
        raise KafkaException(f"{len(producer)} records not acknowledged after 120 s")
    if failed:
        raise KafkaException(f"{len(failed)} records failed: {failed[0]}")
    return time.perf_counter() - t0


def main() -> None:
    import duckdb

    from infra.spark import SparkConfig, build_spark_session
    from jobs.bronze.ingest import ingest_interactions
    from jobs.config import LakehouseConfig
    from jobs.gold.kpis import refresh_kpis
    from jobs.silver.identity import refresh_identity_graph
    from jobs.silver.timeline import refresh_timeline
    from omnicx.topics import apply_topics

    n = int(os.environ.get("OMNICX_BENCH_LAKE_EVENTS", str(DEFAULT_EVENTS)))
    memory = os.environ.get("OMNICX_BENCH_LAKE_DRIVER_MEMORY") or driver_memory(n)
    started = time.perf_counter()
    cpu0 = time.process_time()
    report("lakehouse_events", n, "events")
    print(f"# load average at start: {os.getloadavg()}", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="omnicx-lake-bench-"))
    t0 = time.perf_counter()
    records = list(generate_records(n))
    _phase(f"generated {n:,} events in {time.perf_counter() - t0:.1f}s", started)
    with local_broker(tmp / "kafka") as (kafka, _cold):
        apply_topics(kafka.bootstrap)
        produce_s = produce(kafka.bootstrap, records, started)
        del records
        _phase(f"produced {n:,} events in {produce_s:.1f}s (librdkafka, lz4)", started)
        spark = build_spark_session(
            SparkConfig(
                local_dir=tmp / "spark",
                driver_memory=memory,
                shuffle_partitions=4,
                # The phases print their own progress; Spark's bar would flood the log.
                extra_conf={"spark.ui.showConsoleProgress": "false"},
            )
        )
        config = LakehouseConfig(lake_dir=tmp / "lake", kafka_bootstrap=kafka.bootstrap)
        _phase(f"Spark up (driver memory {memory}); bronze: reading {TOPIC}", started)

        t0, c0 = time.perf_counter(), spark_cpu_seconds()
        result = ingest_interactions(spark, config)
        bronze_s = time.perf_counter() - t0
        report("bronze_rows_per_s", result.accepted / bronze_s, "rows/s")
        c1 = spark_cpu_seconds()
        report("bronze_spark_cpu_s_per_1k_rows", (c1 - c0) * 1000 / result.accepted, "s")
        _phase(
            f"bronze: {result.accepted:,} accepted, {result.rejected:,} rejected in "
            f"{bronze_s:.1f}s; silver: identity graph + timeline MERGE",
            started,
        )

        t0 = time.perf_counter()
        refresh_identity_graph(spark, config)
        metrics = refresh_timeline(spark, config)
        silver_s = time.perf_counter() - t0
        report("silver_rows_per_s", metrics["rows"] / silver_s, "rows/s")
        c2 = spark_cpu_seconds()
        report("silver_spark_cpu_s_per_1k_rows", (c2 - c1) * 1000 / metrics["rows"], "s")
        _phase(f"silver: {metrics['rows']:,} rows in {silver_s:.1f}s; gold KPIs", started)

        t0 = time.perf_counter()
        refresh_kpis(spark, config)
        gold_s = time.perf_counter() - t0
        report("gold_kpis_seconds", gold_s, "s")
        report("gold_kpis_spark_cpu_seconds", spark_cpu_seconds() - c2, "s")
        _phase(f"gold: {gold_s:.1f}s; the core KPI query in Spark SQL and DuckDB", started)

        files = sorted(
            str(p) for p in config.table_path("silver/customer_timeline").rglob("*.parquet")
        )
        spark.read.parquet(*files).createOrReplaceTempView("timeline")
        spark_sql = CORE_KPIS.format(p="percentile", epoch="unix_seconds")
        t0 = time.perf_counter()
        spark_rows = spark.sql(spark_sql).collect()
        spark_s = time.perf_counter() - t0
        report("spark_core_kpis_seconds", spark_s, "s")

        con = duckdb.connect()
        listed = ", ".join(f"'{f}'" for f in files)
        con.execute(f"CREATE VIEW timeline AS SELECT * FROM read_parquet([{listed}])")
        duck_sql = CORE_KPIS.format(p="quantile_cont", epoch="epoch")
        t0 = time.perf_counter()
        duck_rows = con.execute(duck_sql).fetchall()
        duck_s = time.perf_counter() - t0
        report("duckdb_core_kpis_seconds", duck_s, "s", peer="spark_core_kpis_seconds")
        ratio("spark_over_duckdb_core_kpis", spark_s, duck_s, "duckdb")
        # The whole gold refresh (every KPI, written to Delta) against DuckDB's core query.
        ratio("gold_kpis_over_duckdb_core_kpis", gold_s, duck_s, "duckdb")
        # Same query, same files: the answers must agree, or the comparison means nothing.
        ours = sorted((str(r[0]), r[1], r[2], int(r[3]), int(r[4])) for r in spark_rows)
        theirs = sorted((str(r[0]), r[1], r[2], int(r[3]), int(r[4])) for r in duck_rows)
        if ours != theirs:
            print(f"WARNING: Spark and DuckDB disagree ({len(ours)} vs {len(theirs)} rows)")
        else:
            print(f"# Spark and DuckDB agree on {len(ours)} (day, channel, tenant) rows")
        print(f"# load average at end: {os.getloadavg()}", flush=True)
        spark.stop()
    # This process's CPU (generation, producing, the Python side of Spark; not the JVM's).
    print(f"# python process CPU {time.process_time() - cpu0:.0f}s", flush=True)
    _phase("done (wall time)", started)


if __name__ == "__main__":
    main()
