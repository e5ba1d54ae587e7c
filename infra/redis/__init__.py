"""A local Redis server (Debian's `redis-server`) for the Feast Redis online store."""

from infra.redis.server import LocalRedis, RedisConfig, ping

__all__ = ["LocalRedis", "RedisConfig", "ping"]
