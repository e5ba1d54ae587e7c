"""Feature-store fixtures: an applied Feast repo per online store, and a real Redis server.

Applying the repo runs the real `feast apply` (10-30 s), so each store's repo is applied once per
test session and every test uses its own customer ids.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from feature_store.client import FeatureStoreClient
from feature_store.config import FeatureStoreConfig
from infra.procs import free_port
from infra.redis import LocalRedis, RedisConfig
from infra.spark import SparkConfig, spark_conf


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRedis]:
    """A real Debian redis-server on a free port; a failing start fails the test."""
    server = LocalRedis(
        RedisConfig(port=free_port(), data_dir=tmp_path_factory.mktemp("redis"), appendonly=False)
    )
    server.start()
    yield server
    server.stop()


def make_config(
    base: Path,
    online_store: str = "sqlite",
    redis: LocalRedis | None = None,
    lake_dir: Path | None = None,
) -> FeatureStoreConfig:
    """A feature-store config with all state under `base` (fresh registry, stores and lake)."""
    return FeatureStoreConfig(
        data_dir=base / "fs",
        lake_dir=lake_dir or base / "lake",
        online_store=online_store,  # type: ignore[arg-type]
        redis_address=redis.address if redis else "127.0.0.1:1",
        spark_conf=spark_conf(
            SparkConfig(local_dir=base / "spark-local", driver_memory="1g", shuffle_partitions=2)
        ),
        # Tests read what they just pushed: no caching of the registry.
        registry_cache_ttl_s=0,
    )


@pytest.fixture(scope="session")
def shared_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One lake, read by the clients of both online stores (written once)."""
    return tmp_path_factory.mktemp("lake")


@pytest.fixture(scope="session", params=["sqlite", "redis"])
def client(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, shared_lake: Path
) -> Iterator[FeatureStoreClient]:
    """An applied client on each online store (Redis: the session's real server)."""
    store = request.param
    redis = request.getfixturevalue("redis_server") if store == "redis" else None
    base = tmp_path_factory.mktemp(f"fs-{store}")
    fs = FeatureStoreClient(make_config(base, store, redis, lake_dir=shared_lake))
    fs.apply()
    yield fs
    fs.close()


def customer_row(customer_id: str, at: datetime, **values: Any) -> dict[str, Any]:
    """A complete real-time customer row; `values` override the defaults."""
    row: dict[str, Any] = {
        "customer_id": customer_id,
        "event_timestamp": at,
        "contacts_1h": 1,
        "contacts_24h": 2,
        "contacts_7d": 3,
        "channels_24h": 1,
        "last_contact_at": at,
        "last_channel": "email",
        "open_conversations": 1,
        "oldest_unanswered_s": 30.0,
        "first_response_s_last": None,
        "sentiment_last": 0.25,
        "sentiment_avg_24h": 0.1,
        "digital_to_phone_24h": 0,
    }
    row.update(values)
    return row


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]
