"""The Dagster code location of the local stack: lakehouse definitions configured from omnicx
settings. `dagster asset materialize -m omnicx.dagster_defs --select '*' --partition <day>`."""

from __future__ import annotations

from omnicx.settings import Settings, load_settings
from orchestration.definitions import LakehouseResource, build_definitions
from orchestration.erase import FeatureStoreResource


def resource_from_settings(settings: Settings) -> LakehouseResource:
    """The lakehouse resource as omnicx settings describe it."""
    return LakehouseResource(
        lake_dir=str(settings.lake_dir),
        kafka_bootstrap=settings.bootstrap,
        spark_master=settings.spark.master,
        spark_driver_memory=settings.spark.driver_memory,
        spark_local_dir=str(settings.spark.local_dir) if settings.spark.local_dir else None,
        sla_minutes=settings.sla_minutes,
    )


def feature_store_from_settings(settings: Settings) -> FeatureStoreResource:
    """The feature store resource (erase job) as omnicx settings describe it."""
    fs = settings.feature_store.resolved()
    return FeatureStoreResource(
        data_dir=str(fs.data_dir), online_store=fs.online_store, redis_address=fs.redis_address
    )


_settings = load_settings()
defs = build_definitions(resource_from_settings(_settings), feature_store_from_settings(_settings))
