"""The Dagster code location of the local stack: lakehouse definitions configured from omnicx
settings. `dagster asset materialize -m omnicx.dagster_defs --select '*' --partition <day>`."""

from __future__ import annotations

from omnicx.lake_dagster import resource_from_settings
from omnicx.settings import Settings, load_settings
from orchestration.definitions import build_definitions
from orchestration.feast import FeatureStoreResource

__all__ = ["defs", "resource_from_settings"]


def feature_store_from_settings(settings: Settings) -> FeatureStoreResource:
    """The feature store resource (Feast materialisation, erase job) as omnicx settings
    describe it."""
    fs = settings.feature_store.resolved()
    return FeatureStoreResource(
        data_dir=str(fs.data_dir),
        online_store=fs.online_store,
        redis_address=fs.redis_address,
        lake_dir=str(fs.lake_dir),
    )


_settings = load_settings()
defs = build_definitions(resource_from_settings(_settings), feature_store_from_settings(_settings))
