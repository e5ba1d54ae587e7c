"""The Dagster code location of the local stack: lakehouse definitions configured from omnicx
settings. `dagster asset materialize -m omnicx.dagster_defs --select '*' --partition <day>`."""

from __future__ import annotations

from omnicx.settings import Settings, load_settings
from orchestration.definitions import LakehouseResource, build_definitions


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


defs = build_definitions(resource_from_settings(load_settings()))
