"""The Quix Streams peer of the windowed-count benchmark; runs in .omnicx/bench/quix-venv
(quixstreams pins conflict with ours), so it imports nothing of omnicx.

Per customer (the Kafka key), the number of events in 1-hour tumbling windows of event time
(the Kafka timestamp, set to `occurred_at`), with a 1-hour grace so the late events of the
input still count; every update is written to the output topic (`.current()`), as our stream
workers write every resolved event. Prints one `RESULT {json}` line: events processed and the
seconds from the first to the last one (start-up and rebalancing excluded).

    python quix_window_app.py --bootstrap HOST:PORT --input T --output T --events N --state DIR
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from datetime import timedelta

from quixstreams import Application


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--state", required=True)
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()

    app = Application(
        broker_address=args.bootstrap,
        consumer_group=f"bench-quix-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        state_dir=args.state,
        loglevel="WARNING",
    )
    source = app.topic(args.input, value_deserializer="json", key_deserializer="str")
    sink = app.topic(args.output, value_serializer="json", key_serializer="str")
    seen = {"n": 0, "first": 0.0, "last": 0.0}

    def tick(_value: object) -> None:
        now = time.perf_counter()
        if seen["n"] == 0:
            seen["first"] = now
        seen["n"] += 1
        seen["last"] = now

    sdf = app.dataframe(source)
    sdf = (
        sdf.tumbling_window(duration_ms=timedelta(hours=1), grace_ms=timedelta(hours=1))
        .count()
        .current()
    )
    sdf = sdf.update(tick)
    sdf.to_topic(sink)
    # Stops after one output per input event (each update of a window is one output), or
    # when nothing new arrived for a minute (then the RESULT shows how many were missing).
    app.run(count=args.events, timeout=min(args.timeout, 60.0), collect=False)
    elapsed = seen["last"] - seen["first"]
    print("RESULT " + json.dumps({"events": seen["n"], "seconds": elapsed}), flush=True)


if __name__ == "__main__":
    main()
