"""The offline side of the push sources: every pushed row, kept as parquet for training.

Each push source's batch source is a `SparkSource(path=..., file_format="parquet")` over a
directory. Feast's own offline write for it (`PushMode.ONLINE_AND_OFFLINE` through `store.push`
or the feature server's /push) starts a Spark job per call, which the stream workers cannot
afford on every update; the client instead buffers pushed rows and appends them as parquet part
files to the same directory, which Spark reads as one table. Files are written under a hidden
name and renamed, so readers never see half a file.

The buffer is bounded by rows and age, and flushed on `flush()`/`close()` and before a training
set is read; rows still buffered when a process dies are lost from the log (the online store
has them, and a replay of the Kafka topics rebuilds both).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from feature_store.values import CleanRow, ViewSpec, rows_to_arrow

SEED_FILE = "part-00000-seed.parquet"


class PushLog:
    """The parquet log of one push source.

    Args:
        spec: the view the push source feeds.
        directory: the batch source's path.
        flush_rows: write once this many rows are buffered.
        flush_interval_s: write once the oldest buffered row is this old (checked on append).
    """

    def __init__(
        self, spec: ViewSpec, directory: Path, flush_rows: int, flush_interval_s: float
    ) -> None:
        self.spec = spec
        self.directory = directory
        self.flush_rows = flush_rows
        self.flush_interval_s = flush_interval_s
        self._buffer: list[CleanRow] = []
        self._oldest = 0.0
        self._lock = threading.Lock()

    def seed(self) -> None:
        """Make the directory a readable empty table: Spark cannot infer a schema from an empty
        directory, and Feast's offline write reads the existing schema first."""
        self.directory.mkdir(parents=True, exist_ok=True)
        if not any(self.directory.glob("*.parquet")):
            self._write(self.spec.arrow_schema().empty_table(), SEED_FILE)

    def append(self, rows: Iterable[CleanRow]) -> None:
        """Buffer rows; write them when the buffer is full or old enough."""
        with self._lock:
            if not self._buffer:
                self._oldest = time.monotonic()
            self._buffer.extend(rows)
            due = len(self._buffer) >= self.flush_rows or (
                time.monotonic() - self._oldest >= self.flush_interval_s
            )
            if due:
                self._flush_locked()

    def flush(self) -> int:
        """Write buffered rows now; returns how many were written."""
        with self._lock:
            return self._flush_locked()

    def pending(self) -> int:
        return len(self._buffer)

    def _flush_locked(self) -> int:
        if not self._buffer:
            return 0
        rows, self._buffer = self._buffer, []
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        self._write(rows_to_arrow(self.spec, rows), f"part-{stamp}-{uuid.uuid4().hex[:8]}.parquet")
        return len(rows)

    def _write(self, table: pa.Table, name: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        # A leading dot hides the file from Spark until it is complete.
        tmp = self.directory / f".{name}.tmp"
        pq.write_table(table, tmp)
        tmp.replace(self.directory / name)

    def delete(self, entity_ids: Iterable[str]) -> set[str]:
        """Remove every row of these entities from the log (buffer and files); returns the ids
        that had rows. Files are rewritten in place, atomically, one by one."""
        wanted = set(entity_ids)
        found: set[str] = set()
        key = self.spec.entity_key
        with self._lock:
            kept = []
            for row in self._buffer:
                if row.entity_id in wanted:
                    found.add(row.entity_id)
                else:
                    kept.append(row)
            self._buffer = kept
            if not self.directory.exists():
                return found
            values = pa.array(sorted(wanted), pa.string())
            for path in sorted(self.directory.glob("*.parquet")):
                table = pq.read_table(path)
                hit = pc.is_in(table[key], value_set=values)
                if not pc.any(hit).as_py():
                    continue
                found.update(table.filter(hit)[key].unique().to_pylist())
                remaining = table.filter(pc.invert(hit))
                self._write(remaining, path.name)
        return found
