"""`make demo`: the main job end to end on embedded defaults.

Today it brings the stack up, applies the topic registry, produces the real sample tweets as
raw social records and reads them back from the broker. Later stages (normalisation, identity,
timeline, lakehouse, features) extend it.
"""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from omnicx.errors import OmnicxError
from omnicx.settings import SAMPLE_TWEETS, Settings
from omnicx.stack import LocalStack
from schemas.topics import ingest_topic


def read_raw_rows(path: Path) -> list[tuple[str, bytes, int]]:
    """(record id, raw CSV record bytes with the header line, source line) per row of a
    twcs-style CSV."""
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = []
        for row in reader:
            buf = io.StringIO()
            writer = csv.writer(buf, lineterminator="\n")
            writer.writerow(header)
            writer.writerow(row)
            rows.append((row[0], buf.getvalue().encode("utf-8"), reader.line_num))
    return rows


def round_trip(bootstrap: str, path: Path, progress: Progress | None = None) -> dict[str, object]:
    """Produce every row of `path` to cx.ingest.social and consume exactly those back.

    Returns counts and a few consumed records. Raises OmnicxError if anything produced is not
    read back.
    """
    topic = ingest_topic("social")
    rows = read_raw_rows(path)
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    sent = []
    task = progress.add_task("producing raw tweets", total=len(rows)) if progress else None
    for record_id, raw, line in rows:
        headers = [
            ("source_file", str(path.name).encode()),
            ("source_line", str(line).encode()),
            ("content-type", b"text/csv"),
        ]
        sent.append(producer.send(topic, key=record_id.encode(), value=raw, headers=headers))
        if progress and task is not None:
            progress.advance(task)
    producer.flush()
    metadata = [future.get(timeout=30) for future in sent]
    producer.close()

    # Read back exactly the offsets we wrote, so earlier demo runs do not count.
    wanted = {(m.partition, m.offset) for m in metadata}
    starts: dict[int, int] = {}
    ends: dict[int, int] = {}
    for m in metadata:
        starts[m.partition] = min(starts.get(m.partition, m.offset), m.offset)
        ends[m.partition] = max(ends.get(m.partition, m.offset), m.offset + 1)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    partitions = [TopicPartition(topic, p) for p in starts]
    consumer.assign(partitions)
    for tp in partitions:
        consumer.seek(tp, starts[tp.partition])
    received: list = []
    task = progress.add_task("consuming them back", total=len(wanted)) if progress else None
    deadline = time.monotonic() + 60
    while len(received) < len(wanted) and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=1000).values():
            for record in records:
                if (
                    record.offset < ends[record.partition]
                    and (record.partition, record.offset) in wanted
                ):
                    received.append(record)
                    if progress and task is not None:
                        progress.advance(task)
    consumer.close()
    if len(received) != len(wanted):
        raise OmnicxError(
            f"round trip incomplete: produced {len(wanted)} records to {topic}, read back "
            f"{len(received)} within 60s"
        )
    return {
        "topic": topic,
        "produced": len(metadata),
        "consumed": len(received),
        "partitions": sorted(starts),
        "sample": received[:5],
    }


def run_demo(settings: Settings, console: Console, down_after: bool = False) -> None:
    stack = LocalStack(settings)
    console.rule("[bold]omnicx demo")
    with console.status("starting the local stack (Kafka broker from Maven jars)") as status:
        t0 = time.monotonic()
        statuses = stack.up(on_start=lambda name: status.update(f"starting {name}"))
    console.print(f"stack up in {time.monotonic() - t0:.1f}s:")
    for s in statuses:
        console.print(f"  {s.name:8} {s.address:24} {'up' if s.up else 'DOWN'}")

    with Progress(console=console) as progress:
        result = round_trip(settings.bootstrap, SAMPLE_TWEETS, progress)
    console.print(
        f"round trip through {result['topic']}: produced {result['produced']}, "
        f"consumed {result['consumed']} (partitions {result['partitions']})"
    )
    table = Table(
        "partition",
        "offset",
        "key",
        "raw record (first 70 chars)",
        title="records read back from the broker",
    )
    for record in result["sample"]:  # type: ignore[attr-defined]
        text = record.value.decode("utf-8").splitlines()[1]
        table.add_row(str(record.partition), str(record.offset), record.key.decode(), text[:70])
    console.print(table)
    if down_after:
        stack.down()
        console.print("stack stopped")
    else:
        console.print("the stack keeps running: 'omnicx status' shows it, 'omnicx down' stops it")
