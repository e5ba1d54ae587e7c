"""Run one stream worker: `python -m streams.workers --bootstrap HOST:PORT --worker N
--config '<StreamsConfig JSON>' --rules '<RulesConfig JSON>'` (what `omnicx up` starts)."""

from __future__ import annotations

import argparse

import faust

from streams.rules.config import RulesConfig
from streams.workers.app import build_app
from streams.workers.config import StreamsConfig
from streams.workers.topics import ensure_internal_topics


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
    worker = faust.Worker(app, loglevel=config.log_level, quiet=True)
    # No terminal spinner: to spin on every log record, faust sets the root logger to DEBUG
    # when the level is WARNING or above, and every produced record then builds a debug
    # LogRecord (~7% of a worker's time).
    worker.spinner = None
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
