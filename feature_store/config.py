"""Configuration of the feature store and the `feature_store.yaml` rendered from it.

The repo's definitions live in `feature_store/repo/`; the configuration that says where the
registry, the online store and the offline data are (which differs per machine and per test)
is rendered from `FeatureStoreConfig` into `<data_dir>/feature_store.yaml` and handed to Feast
with `feast --feature-store-yaml` (`FeatureStore(fs_yaml_file=...)` in Python).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field

REPO_PATH = Path(__file__).resolve().parent / "repo"
PROJECT = "omnicx"


class FeatureStoreConfig(BaseModel):
    """Where the feature store keeps its state and which online store it uses."""

    repo_path: Path = Field(REPO_PATH, description="The Feast repo (definitions).")
    project: str = Field(PROJECT, description="Feast project name.")
    data_dir: Path = Field(
        Path(".omnicx/feature_store"),
        description="Registry, SQLite online store, push logs and the rendered yaml.",
    )
    lake_dir: Path = Field(
        Path(".omnicx/lake"), description="Root of the Delta lake (gold tables are read here)."
    )
    push_log_dir: Path | None = Field(
        None, description="Parquet logs of pushed rows (default <data_dir>/push_log)."
    )
    online_store: Literal["sqlite", "redis"] = Field(
        "sqlite", description="Online store: embedded SQLite, or Redis when scaling out."
    )
    redis_address: str = Field(
        "127.0.0.1:16379", description="host:port of Redis when online_store is redis."
    )
    spark_conf: dict[str, str] = Field(
        default_factory=dict,
        description="Spark conf for the offline store (jars, Delta extension, master).",
    )
    serve_host: str = Field("127.0.0.1", description="Interface of `omnicx features serve`.")
    serve_port: int = Field(16566, description="Port of `omnicx features serve`.")
    registry_cache_ttl_s: int = Field(
        60, ge=0, description="How long readers cache the registry before re-reading it."
    )
    offline_flush_rows: int = Field(
        1000, ge=1, description="Pushed rows buffered before they are written to the push log."
    )
    offline_flush_interval_s: float = Field(
        5.0, ge=0, description="Oldest buffered push-log row age that forces a write."
    )

    @property
    def registry_path(self) -> Path:
        return self.data_dir / "registry.db"

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "online.db"

    @property
    def yaml_path(self) -> Path:
        return self.data_dir / "feature_store.yaml"

    @property
    def push_logs(self) -> Path:
        return self.push_log_dir or self.data_dir / "push_log"

    @property
    def redis_host_port(self) -> tuple[str, int]:
        host, _, port = self.redis_address.rpartition(":")
        return host or "127.0.0.1", int(port)

    def resolved(self) -> FeatureStoreConfig:
        """A copy with every path absolute (Feast resolves relative paths against the repo)."""
        return self.model_copy(
            update={
                "repo_path": self.repo_path.expanduser().resolve(),
                "data_dir": self.data_dir.expanduser().resolve(),
                "lake_dir": self.lake_dir.expanduser().resolve(),
                "push_log_dir": self.push_logs.expanduser().resolve(),
            }
        )


def feature_store_yaml(config: FeatureStoreConfig) -> dict[str, Any]:
    """The content of feature_store.yaml for `config`, as a dict."""
    c = config.resolved()
    online: dict[str, Any]
    if c.online_store == "redis":
        online = {"type": "redis", "connection_string": c.redis_address}
    else:
        online = {"type": "sqlite", "path": str(c.sqlite_path)}
    return {
        "project": c.project,
        "provider": "local",
        "registry": {
            "registry_type": "file",
            "path": str(c.registry_path),
            "cache_ttl_seconds": c.registry_cache_ttl_s,
        },
        "online_store": online,
        "offline_store": {"type": "spark", "spark_conf": dict(c.spark_conf)},
        "entity_key_serialization_version": 3,
        "auth": {"type": "no_auth"},
    }


def render_feature_store_yaml(config: FeatureStoreConfig) -> str:
    """feature_store.yaml for `config`, as text."""
    header = (
        "# Rendered by omnicx from its settings (feature_store/config.py); edits are "
        "overwritten.\n# Use it with: feast -c <repo> -f <this file> <command>\n"
    )
    return header + yaml.safe_dump(feature_store_yaml(config), sort_keys=False)


def write_feature_store_yaml(config: FeatureStoreConfig) -> Path:
    """Write `<data_dir>/feature_store.yaml` for `config` (only if it changed) and return it."""
    c = config.resolved()
    text = render_feature_store_yaml(c)
    path = c.yaml_path
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        tmp = path.with_suffix(".yaml.tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return path


def feast_environment(config: FeatureStoreConfig) -> dict[str, str]:
    """Environment for a `feast` process: where the repo's data sources point (read by
    repo/data_sources.py when `feast apply` imports it) and the Python that Spark runs."""
    c = config.resolved()
    env = {k: v for k, v in os.environ.items()}
    env.update(
        OMNICX_LAKE_DIR=str(c.lake_dir),
        OMNICX_FEATURE_STORE__PUSH_LOG_DIR=str(c.push_logs),
        PYSPARK_PYTHON=env.get("PYSPARK_PYTHON", sys.executable),
    )
    return env


def feast_argv(config: FeatureStoreConfig, *args: str) -> list[str]:
    """The command line of `feast` for this repo and rendered yaml: `feast -c REPO -f YAML ...`."""
    c = config.resolved()
    feast = Path(sys.executable).with_name("feast")
    return [str(feast), "-c", str(c.repo_path), "-f", str(c.yaml_path), *args]
