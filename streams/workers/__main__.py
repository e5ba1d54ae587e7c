"""Run one stream worker: `python -m streams.workers --bootstrap HOST:PORT --worker N
--config '<StreamsConfig JSON>' --rules '<RulesConfig JSON>'` (what `omnicx up` starts)."""

from __future__ import annotations

import argparse
import gc
import logging
import time
from collections.abc import Awaitable, Callable

import faust

from streams.rules.config import RulesConfig
from streams.workers.app import build_app
from streams.workers.config import StreamsConfig
from streams.workers.topics import ensure_internal_topics

# The cyclic collector's thresholds in the worker (Python's default: 700, 10, 10).
GC_THRESHOLDS = (50_000, 20, 100)
# Every this many seconds: a full collection, then the survivors frozen out of later ones.
GC_FREEZE_EVERY_S = 60.0
# A periodic collection that held the worker at least this long is logged (a warning).
GC_PAUSE_LOGGED_S = 0.1

log = logging.getLogger(__name__)


def tune_gc(app: faust.App) -> Callable[[], Awaitable[None]]:
    """Make the cyclic garbage collector cheap for a worker; return what the timer runs.

    The worker's state (tables of decoded timelines, customer records, the identity graph) is
    long-lived and large, and each batch allocates thousands of short-lived containers: with
    Python's default thresholds a generation-0 pass ran every 700 allocations and the full
    passes walked all the state, 3.9 s in 1,543 collections over a 20,000-event replay (~23%
    of the worker). With these thresholds, and what survived a full collection frozen
    (`gc.freeze`: left out of every later collection) every `GC_FREEZE_EVERY_S`, the same
    replay spent 0.64 s in 12 collections. Reference cycles are still collected.
    """
    gc.set_threshold(*GC_THRESHOLDS)

    async def freeze_survivors() -> None:
        started = time.perf_counter()
        gc.collect()
        gc.freeze()
        took = time.perf_counter() - started
        if took >= GC_PAUSE_LOGGED_S:
            # The whole worker waits for it: a pause that long shows in freshness.
            log.warning(
                "gc: a full collection and freeze held the worker %.0f ms (%d frozen)",
                took * 1000,
                gc.get_freeze_count(),
            )

    app.timer(interval=GC_FREEZE_EVERY_S)(freeze_survivors)
    return freeze_survivors


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m streams.workers")
    parser.add_argument("--bootstrap", required=True, help="Kafka bootstrap servers")
    parser.add_argument("--worker", type=int, default=1, help="worker number (1-based)")
    parser.add_argument("--config", default="{}", help="StreamsConfig as JSON")
    parser.add_argument("--rules", default="{}", help="RulesConfig as JSON")
    args = parser.parse_args(argv)
    config = StreamsConfig.model_validate_json(args.config)
    rules = RulesConfig.model_validate_json(args.rules)
    ensure_internal_topics(args.bootstrap, config)
    app = build_app(config, args.bootstrap, worker=args.worker, rules=rules)
    tune_gc(app)
    worker = faust.Worker(app, loglevel=config.log_level, quiet=True)
    # No terminal spinner: to spin on every log record, faust sets the root logger to DEBUG
    # when the level is WARNING or above, and every produced record then builds a debug
    # LogRecord (~7% of a worker's time).
    worker.spinner = None
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
