"""Traffic simulator throughput (`omnicx simulate`), next to the peer a user would write
instead: a plain Faker loop that dumps one Segment-like JSON line per record, with no journeys,
no other formats, no time ordering and no manifest.

Both write the same number of records to a temporary directory in the same run. Wall-clock and
CPU figures are both printed: the machine is shared, and CPU seconds are the steadier measure.

Size: OMNICX_BENCH_SIMULATE_CUSTOMERS (default 10,000).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from faker import Faker

from bench.common import ratio, report
from omnicx.simulate.config import SimulateConfig
from omnicx.simulate.run import simulate

CUSTOMERS = int(os.environ.get("OMNICX_BENCH_SIMULATE_CUSTOMERS", "10000"))


def _faker_loop(path: Path, n: int) -> None:
    fake = Faker()
    fake.seed_instance(7)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    end = datetime(2026, 11, 2, tzinfo=UTC)
    with path.open("w") as fh:
        for _ in range(n):
            msg = {
                "anonymousId": fake.uuid4(),
                "userId": fake.hexify("^^^^^^^^^^^^"),
                "messageId": fake.uuid4(),
                "type": "track",
                "event": fake.random_element(("Product Viewed", "Signed In", "Order Completed")),
                "timestamp": fake.date_time_between(start, end, tzinfo=UTC).isoformat(),
                "traits": {"email": fake.email(), "name": fake.name()},
                "properties": {"text": fake.sentence()},
            }
            fh.write(json.dumps(msg) + "\n")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="omnicx-bench-sim-") as tmp:
        config = SimulateConfig(
            customers=CUSTOMERS, days=1, start=date(2026, 11, 1), out=Path(tmp) / "sim"
        )
        cpu0 = time.process_time()
        result = simulate(config, now=datetime(2026, 11, 20, tzinfo=UTC))
        cpu = time.process_time() - cpu0
        records = result.records
        report("simulate_records", records, "records")
        report("simulate_records_per_s", records / result.seconds, "records/s")
        report("simulate_events_per_s", result.events / result.seconds, "events/s")
        report("simulate_records_per_cpu_s", records / cpu, "records/cpu-s")

        cpu0, t0 = time.process_time(), time.perf_counter()
        _faker_loop(Path(tmp) / "faker.jsonl", records)
        peer_wall, peer_cpu = time.perf_counter() - t0, time.process_time() - cpu0
        report("faker_loop_records_per_s", records / peer_wall, "records/s")
        report("faker_loop_records_per_cpu_s", records / peer_cpu, "records/cpu-s")
        ratio(
            "simulate_vs_faker_loop_cpu",
            records / cpu,
            records / peer_cpu,
            "faker_loop_records_per_cpu_s",
        )


if __name__ == "__main__":
    main()
