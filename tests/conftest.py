"""Shared fixtures: real services on free ports in temporary directories.

Every integration test talks to a real Kafka broker started from the Maven jars and a real
SparkSession with Delta. If a service cannot start, the fixture raises and the tests fail:
nothing is skipped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.kafka import KafkaConfig, LocalKafka
from infra.procs import free_port
from infra.spark import SparkConfig

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_TWEETS = REPO_ROOT / "data" / "samples" / "twcs_sample.csv"


def free_kafka_config(data_dir: Path, nodes: int = 1) -> KafkaConfig:
    """A KafkaConfig whose client and controller ports are all free right now."""
    while True:
        port, controller = free_port(), free_port()
        wanted = [port + i for i in range(nodes)] + [controller + i for i in range(nodes)]
        if len(set(wanted)) == len(wanted) and all(_is_free(p) for p in wanted):
            return KafkaConfig(
                port=port, controller_port=controller, nodes=nodes, data_dir=data_dir, heap_mb=384
            )


def _is_free(port: int) -> bool:
    from infra.procs import port_is_free

    return port_is_free("127.0.0.1", port)


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    """One real single-node broker for the whole test session."""
    broker = LocalKafka(free_kafka_config(tmp_path_factory.mktemp("kafka")))
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def bootstrap(kafka: LocalKafka) -> str:
    return kafka.bootstrap


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """One real local SparkSession with Delta for the whole test session."""
    from infra.spark import build_spark_session

    # Test data is a few rows: one shuffle partition (and default parallelism 1) avoids
    # scheduling empty tasks on two shared cores.
    session = build_spark_session(
        SparkConfig(
            local_dir=tmp_path_factory.mktemp("spark-local"),
            driver_memory="1g",
            shuffle_partitions=1,
            # Delta's VACUUM lists files with this many tasks (default 10000): minutes of empty
            # tasks per table on a test lake of a few files.
            extra_conf={"spark.sql.sources.parallelPartitionDiscovery.parallelism": "2"},
        )
    )
    yield session
    session.stop()


@pytest.fixture
def omnicx_env(tmp_path: Path) -> dict[str, str]:
    """Environment for running the `omnicx` CLI against its own home and free ports."""
    config = free_kafka_config(tmp_path / "home" / "kafka")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNICX_")}
    env.update(
        OMNICX_HOME=str(tmp_path / "home"),
        OMNICX_KAFKA__PORT=str(config.port),
        OMNICX_KAFKA__CONTROLLER_PORT=str(config.controller_port),
        OMNICX_KAFKA__HEAP_MB="384",
        OMNICX_API__PORT=str(free_port()),
        OMNICX_STREAMS__WEB_PORT=str(free_port()),
    )
    return env
