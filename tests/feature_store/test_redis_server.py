"""The local Redis server of the Redis online store, as `omnicx up` runs it."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.errors import ConfigurationError
from infra.procs import free_port
from infra.redis import LocalRedis, RedisConfig, ping
from omnicx.settings import Settings
from omnicx.stack import RedisComponent, build_components

pytestmark = pytest.mark.integration


def test_stack_runs_redis_only_when_selected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMNICX_HOME", str(tmp_path / "home"))
    assert "redis" not in [c.name for c in build_components(Settings())]
    port = free_port()
    monkeypatch.setenv("OMNICX_ONLINE_STORE", "redis")
    monkeypatch.setenv("OMNICX_REDIS__PORT", str(port))
    settings = Settings()
    assert settings.feature_store.redis_address == f"127.0.0.1:{port}"
    components = build_components(settings)
    assert [c.name for c in components][:2] == ["kafka", "redis"]
    redis = components[1]
    assert isinstance(redis, RedisComponent)
    redis.start()
    try:
        status = redis.status()
        assert status.up and status.address == f"127.0.0.1:{port}" and ping("127.0.0.1", port)
        assert status.info["data_dir"] == str(tmp_path / "home" / "redis")
        redis.start()  # idempotent: already running
    finally:
        redis.stop(purge=True)
    assert not redis.status().up and not (tmp_path / "home" / "redis").exists()


def test_port_taken_is_a_clear_error(tmp_path: Path, redis_server: LocalRedis) -> None:
    port = int(redis_server.address.rpartition(":")[2])
    other = LocalRedis(RedisConfig(port=port, data_dir=tmp_path / "other"))
    with pytest.raises(ConfigurationError, match="already in use"):
        other.start()


def test_missing_executable_is_a_clear_error(tmp_path: Path) -> None:
    server = LocalRedis(
        RedisConfig(port=free_port(), data_dir=tmp_path, executable="no-such-redis-server")
    )
    with pytest.raises(ConfigurationError, match="make setup"):
        server.start()
