"""The brokers' JVM options follow `KafkaConfig.jvm` (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.kafka.broker import (
    KAFKA_JVM_OPTIONS,
    SMALL_JVM_OPTIONS,
    KafkaConfig,
    LocalKafka,
    jvm_options,
)

pytestmark = pytest.mark.unit


def test_the_small_profile_is_the_default_and_kafka_s_own_can_be_chosen(tmp_path: Path) -> None:
    small = LocalKafka(KafkaConfig(data_dir=tmp_path))._java_argv(1, "kafka.Kafka")
    own = LocalKafka(KafkaConfig(data_dir=tmp_path, jvm="kafka"))._java_argv(1, "kafka.Kafka")
    for option in SMALL_JVM_OPTIONS:
        assert option in small and option not in own
    for option in KAFKA_JVM_OPTIONS:
        assert option in own and option not in small
    # One collector each, and the options come before the main class.
    assert sum("GC" in a and a.startswith("-XX:+Use") for a in small) == 1
    assert sum("GC" in a and a.startswith("-XX:+Use") for a in own) == 1
    assert small.index("-XX:+UseParallelGC") < small.index("kafka.Kafka")
    assert jvm_options("kafka") == KAFKA_JVM_OPTIONS


def test_an_unknown_profile_is_refused() -> None:
    with pytest.raises(ValueError, match="jvm"):
        KafkaConfig(jvm="huge")  # type: ignore[arg-type]
