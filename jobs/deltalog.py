"""Read a Delta table's commit log without Spark.

Bronze ingestion keeps its Kafka position in the commit that writes the rows (as the commit's
`userMetadata`), so the position and the data become visible atomically. Sensors and the
ingestion planner read that record from the JSON commit files, which the Delta protocol defines
(`_delta_log/<version>.json`, one action per line); this needs no SparkSession, so a Dagster
sensor can look at the lake every few seconds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_COMMIT_FILE = re.compile(r"^(\d{20})\.json$")


def log_dir(table: Path) -> Path:
    return table / "_delta_log"


def is_delta_table(table: Path) -> bool:
    """True when `table` has at least one commit."""
    return latest_version(table) is not None


def commit_versions(table: Path) -> list[int]:
    """Versions whose JSON commit file is still in the log, ascending."""
    directory = log_dir(table)
    if not directory.is_dir():
        return []
    found = (_COMMIT_FILE.match(p.name) for p in directory.iterdir())
    return sorted(int(m.group(1)) for m in found if m)


def latest_version(table: Path) -> int | None:
    versions = commit_versions(table)
    return versions[-1] if versions else None


def read_commit(table: Path, version: int) -> list[dict[str, Any]]:
    """The actions of one commit."""
    path = log_dir(table) / f"{version:020d}.json"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def commit_info(table: Path, version: int) -> dict[str, Any]:
    for action in read_commit(table, version):
        if "commitInfo" in action:
            return dict(action["commitInfo"])
    return {}


def iter_user_metadata(
    table: Path, max_version: int | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(version, parsed userMetadata) of commits that carry JSON metadata, newest first."""
    for version in reversed(commit_versions(table)):
        if max_version is not None and version > max_version:
            continue
        raw = commit_info(table, version).get("userMetadata")
        if not raw:
            continue
        try:
            parsed = json.loads(raw)
        except ValueError:
            continue
        if isinstance(parsed, dict):
            yield version, parsed


def find_user_metadata(
    table: Path, match: Callable[[dict[str, Any]], bool], max_version: int | None = None
) -> tuple[int, dict[str, Any]] | None:
    """The newest commit (at or before `max_version`) whose metadata satisfies `match`."""
    for version, meta in iter_user_metadata(table, max_version):
        if match(meta):
            return version, meta
    return None


def last_commit_time(table: Path) -> datetime | None:
    """When the newest commit was made (UTC), or None for a missing table."""
    version = latest_version(table)
    if version is None:
        return None
    millis = commit_info(table, version).get("timestamp")
    if millis is None:
        return None
    return datetime.fromtimestamp(int(millis) / 1000, tz=UTC)
