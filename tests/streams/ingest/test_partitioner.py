"""`KeyHashPartitioner` chooses exactly kafka-python's DefaultPartitioner partition (pure)."""

from __future__ import annotations

import random

import pytest
from kafka.partitioner import DefaultPartitioner

from streams.ingest.kafka import KeyHashPartitioner

pytestmark = pytest.mark.unit


class _Cluster:
    """The two ClusterMetadata calls the partitioners make."""

    def __init__(self, partitions: int) -> None:
        self._partitions = set(range(partitions))

    def topics(self) -> set[str]:
        return {"t"}

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        return set(self._partitions) if topic == "t" else None

    def available_partitions_for_topic(self, topic: str) -> set[int] | None:
        return self.partitions_for_topic(topic)


@pytest.mark.parametrize("partitions", [1, 3, 6, 12])
def test_same_partition_as_kafka_python_default(partitions: int) -> None:
    rng = random.Random(partitions)
    cluster = _Cluster(partitions)
    ours, default = KeyHashPartitioner(), DefaultPartitioner()
    keys = [rng.randbytes(rng.randint(1, 40)) for _ in range(500)]
    keys += [b"email:ana@example.com", b"phone:+34600000001"] * 3  # repeated keys hit the cache
    for key in keys:
        assert ours.partition("t", key, key, None, None, cluster) == default.partition(
            "t", key, key, None, None, cluster
        )


def test_unknown_topic_is_refused() -> None:
    with pytest.raises(ValueError, match="not found"):
        KeyHashPartitioner().partition("other", b"k", b"k", None, None, _Cluster(3))


def test_keyless_record_goes_to_a_partition_of_the_topic() -> None:
    assert KeyHashPartitioner().partition("t", None, None, b"v", b"v", _Cluster(3)) in {0, 1, 2}
