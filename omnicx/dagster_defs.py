"""The Dagster code location of the local stack: lakehouse definitions configured from omnicx
settings. `dagster asset materialize -m omnicx.dagster_defs --select '*' --partition <day>`."""

from __future__ import annotations

from omnicx.lake_dagster import resource_from_settings
from omnicx.settings import load_settings
from orchestration.definitions import build_definitions

__all__ = ["defs", "resource_from_settings"]

defs = build_definitions(resource_from_settings(load_settings()))
