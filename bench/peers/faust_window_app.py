"""A faust worker doing only the windowed count of the Quix Streams peer (no identity,
timeline, features or rules): the like-for-like framework comparison.

Per customer (the Kafka key), events per 1-hour tumbling window of event time (the Kafka
timestamp), from a windowed table with an in-memory store and a changelog, as our stream
workers keep their tables; every update is sent to the output topic. Prints one
`RESULT {json}` line after `--events` events (events, seconds from the first to the last);
the caller then stops the process.

    python -m bench.peers.faust_window_app --bootstrap HOST:PORT --input T --output T \
        --events N --datadir DIR
"""

from __future__ import annotations

import argparse
import json
import os
import time
import uuid
from datetime import timedelta
from typing import Any

import faust

WINDOW_S = 3600
PARTITIONS = 6  # as cx.customer-events.v1


def build(args: argparse.Namespace) -> faust.App:
    app = faust.App(
        f"bench-faust-window-{uuid.uuid4().hex[:8]}",
        broker=f"kafka://{args.bootstrap}",
        store="memory://",
        processing_guarantee="at_least_once",
        topic_partitions=PARTITIONS,
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        datadir=args.datadir,
        key_serializer="raw",
        value_serializer="raw",
        # The settings of our stream workers (streams/workers/app.py), so only the work differs.
        broker_commit_interval=1.0,
        stream_wait_empty=False,
        producer_linger=0.02,
    )
    source = app.topic(args.input, key_type=bytes, value_type=bytes)
    sink = app.topic(args.output, key_type=bytes, value_type=bytes)
    counts = (
        app.Table("window_counts", default=int, partitions=PARTITIONS)
        .tumbling(WINDOW_S, expires=timedelta(days=30))
        .relative_to_stream()
    )
    seen = {"n": 0, "first": 0.0, "last": 0.0}

    @app.agent(source)
    async def count(stream: Any) -> None:
        async for event in stream.events():
            key = event.key
            json.loads(event.value)  # parse, as the Quix app's JSON deserializer does
            counts[key] += 1
            value = counts[key].current()
            start_ms = int(event.message.timestamp // WINDOW_S) * WINDOW_S * 1000
            out = json.dumps({"start": start_ms, "value": value}).encode()
            await sink.send(key=key, value=out)
            now = time.perf_counter()
            if seen["n"] == 0:
                seen["first"] = now
            seen["n"] += 1
            seen["last"] = now
            if seen["n"] == args.events:
                elapsed = seen["last"] - seen["first"]
                result = {"events": seen["n"], "seconds": elapsed}
                # Straight to fd 1: faust turns print() into log lines.
                os.write(1, f"RESULT {json.dumps(result)}\n".encode())

    return app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.peers.faust_window_app")
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--datadir", required=True)
    args = parser.parse_args()
    app = build(args)
    faust.Worker(app, loglevel="warning", quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main()
