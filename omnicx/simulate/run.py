"""One simulator run: people are generated one at a time, their records serialised at once and
kept per output file in bounded, time-sorted spools that spill to disk; at the end each file is
written by merging its spools in time order. Memory stays bounded by `spill_records` whatever
the number of customers or days.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import random
import shutil
import struct
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from omnicx.simulate import serialize
from omnicx.simulate.channels import (
    APP_FILE,
    CHAT_FILE,
    CTR_FILE,
    TWCS_FILE,
    TWEETS_V2_FILE,
    PersonSim,
)
from omnicx.simulate.config import SimulateConfig
from omnicx.simulate.journeys import Journey, Outage, live, pick_journey, plan_outages
from omnicx.simulate.records import Rec
from omnicx.simulate.world import World, iso_ms

MANIFEST = "manifest.json"
CHANNEL_DIRS = ("email", "social", "app", "phone", "chat")
PEOPLE_PER_JOURNEY = 200  # people listed per scripted journey in the manifest
_HEAD = struct.Struct("<qqI")  # ts, seq, length of the entry that follows


class OutputDirError(ValueError):
    """The output directory holds files that are not an earlier simulator run."""


@dataclass
class FileStats:
    """What one output file holds; `records` is what an adapter reads from it."""

    channel: str
    fmt: str
    records: int = 0
    malformed: int = 0
    events: int = 0  # canonical events the well-formed records should become
    malformed_by_kind: Counter[str] = field(default_factory=Counter)

    def as_manifest(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "format": self.fmt,
            "records": self.records,
            "malformed": self.malformed,
            "well_formed": self.records - self.malformed,
            "expected_events": self.events,
            "malformed_by_kind": dict(sorted(self.malformed_by_kind.items())),
        }


class Spool:
    """Entries of one output file, in time order, with spilled sorted runs on disk."""

    def __init__(self, tmp: Path, name: str) -> None:
        self.tmp = tmp
        self.name = name.replace("/", "_")
        self.buffer: list[tuple[int, int, str]] = []
        self.runs: list[Path] = []

    def add(self, ts: int, seq: int, text: str) -> None:
        self.buffer.append((ts, seq, text))

    def spill(self) -> None:
        if not self.buffer:
            return
        self.buffer.sort()
        path = self.tmp / f"{self.name}.{len(self.runs)}.run"
        with path.open("wb") as fh:
            for ts, seq, text in self.buffer:
                data = text.encode()
                fh.write(_HEAD.pack(ts, seq, len(data)))
                fh.write(data)
        self.runs.append(path)
        self.buffer = []

    def merged(self) -> Iterator[str]:
        self.buffer.sort()
        streams = [_read_run(p) for p in self.runs]
        streams.append(iter(self.buffer))
        for _, _, text in heapq.merge(*streams):
            yield text


def _read_run(path: Path) -> Iterator[tuple[int, int, str]]:
    with path.open("rb") as fh:
        while head := fh.read(_HEAD.size):
            ts, seq, size = _HEAD.unpack(head)
            yield ts, seq, fh.read(size).decode()


@dataclass
class RunResult:
    """A finished run: the manifest written next to the files, and how long it took."""

    out: Path
    manifest: dict[str, Any]
    seconds: float

    @property
    def records(self) -> int:
        return int(self.manifest["totals"]["records"])

    @property
    def events(self) -> int:
        return int(self.manifest["totals"]["expected_events"])


ProgressFn = Callable[[str, int, int], None]  # phase, done, total


class Writer:
    """Serialises records into spools (or .eml files), picks the malformed ones, counts."""

    def __init__(self, config: SimulateConfig, world: World, out: Path, tmp: Path) -> None:
        self.config = config
        self.world = world
        self.out = out
        self.tmp = tmp
        self.channels = {c.value for c in config.channels}
        self.spools: dict[str, Spool] = {}
        self.stats: dict[str, FileStats] = {}
        self.buffered = 0
        self.seq = 0
        self.malformed_rng = random.Random(f"malformed:{config.seed}")
        self.malformed_per_channel: Counter[str] = Counter()
        self.malformed_list: list[dict[str, str]] = []
        self.journey_people: Counter[str] = Counter()
        self.journey_records: Counter[str] = Counter()
        self.people: dict[str, list[dict[str, Any]]] = defaultdict(list)

    # --- per person ------------------------------------------------------------------------

    def add_person(self, sim: PersonSim, journey: Journey) -> None:
        end = self.world.end_ms
        kept = [
            r for r in sim.recs if r.channel in self.channels and r.ts < end and r.last_ts <= end
        ]
        kept_ids = {id(r) for r in kept}
        self.journey_people[journey.value] += 1
        refs: dict[str, list[str]] = defaultdict(list)
        for rec in kept:
            malformed = self._malformation(rec)
            self._write(rec, malformed, kept_ids)
            if rec.scripted:
                self.journey_records[journey.value] += 1
                refs[rec.channel].append(rec.ref)
            else:
                self.journey_records[Journey.BACKGROUND.value] += 1
        if journey is not Journey.BACKGROUND and len(self.people[journey]) < PEOPLE_PER_JOURNEY:
            p = sim.person
            self.people[journey.value].append(
                {
                    "pid": p.pid,
                    "tenant": p.brand.tenant,
                    "name": p.name,
                    "email": p.email,
                    "phone": p.phone,
                    "phone_as_typed": p.phone_display,
                    "twitter": p.handle,
                    "app_user_id": p.user_id,
                    "web_anonymous_id": p.web_anonymous_id,
                    "device_id": p.device_id,
                    "platform": p.platform,
                    "records": {ch: refs[ch] for ch in sorted(refs)},
                }
            )
        if self.buffered >= self.config.spill_records:
            for spool in self.spools.values():
                spool.spill()
            self.buffered = 0

    def _malformation(self, rec: Rec) -> str | None:
        """Background records only, and only ones nothing else depends on: a malformed record
        must be refused on its own, never drag a well-formed one down with it."""
        if rec.scripted:
            return None
        if rec.fmt == "twcs" and (not rec.data.inbound or rec.data.responses):
            return None
        if rec.fmt == "email" and not rec.touches[0].inbound:
            return None
        draw = self.malformed_rng.random()
        forced = self.malformed_per_channel[rec.channel] < self.config.malformed_min
        if not forced and draw >= self.config.malformed_rate:
            return None
        kinds = serialize.MALFORMATIONS[rec.fmt]
        kind = kinds[self.malformed_per_channel[rec.channel] % len(kinds)]
        self.malformed_per_channel[rec.channel] += 1
        self.malformed_list.append(
            {"channel": rec.channel, "file": rec.file, "kind": kind, "ref": rec.ref}
        )
        return kind

    def _stats(self, file: str, rec: Rec) -> FileStats:
        stats = self.stats.get(file)
        if stats is None:
            stats = self.stats[file] = FileStats(rec.channel, rec.fmt)
        return stats

    def _count(self, file: str, rec: Rec, malformed: str | None, fmt: str | None = None) -> None:
        stats = self._stats(file, rec)
        if fmt:
            stats.fmt = fmt
        stats.records += 1
        if malformed:
            stats.malformed += 1
            stats.malformed_by_kind[malformed] += 1
        else:
            stats.events += rec.events

    def _spool(self, file: str, ts: int, text: str) -> None:
        spool = self.spools.get(file)
        if spool is None:
            spool = self.spools[file] = Spool(self.tmp, file)
        self.seq += 1
        spool.add(ts, self.seq, text)
        self.buffered += 1

    def _write(self, rec: Rec, malformed: str | None, kept_ids: set[int]) -> None:
        fmt = rec.fmt
        if fmt == "segment":
            self._spool(rec.file, rec.ts, serialize.segment_line(rec, malformed))
        elif fmt == "ctr":
            self._spool(rec.file, rec.ts, serialize.ctr_line(rec, malformed))
        elif fmt == "chat":
            self._spool(rec.file, rec.ts, serialize.chat_line(rec, malformed))
        elif fmt == "twcs":
            responses = [r.data.tweet_id for r in rec.data.responses if id(r) in kept_ids]
            self._spool(rec.file, rec.ts, serialize.twcs_row(rec, responses, malformed))
            if self.config.twitter_v2:
                self._spool(TWEETS_V2_FILE, rec.ts, serialize.tweet_v2_line(rec, malformed))
                self._count(TWEETS_V2_FILE, rec, "truncated_json" if malformed else None, "v2")
        elif fmt == "email" and self.config.email_format == "eml":
            name = hashlib.sha1(rec.ref.encode()).hexdigest()[:16]
            stamp = iso_ms(rec.ts).replace(":", "").replace("-", "").replace(".", "")
            path = self.out / rec.file / f"{stamp}-{name}.eml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(serialize.eml_bytes(rec, malformed))
        else:
            self._spool(rec.file, rec.ts, serialize.mbox_entry(rec, malformed))
        self._count(rec.file, rec, malformed)

    # --- the end ---------------------------------------------------------------------------

    def finish(self, progress: ProgressFn | None) -> None:
        """Merge every spool into its file, in time order."""
        total = sum(self.stats[f].records for f in self.spools)
        done = 0
        for file in sorted(self.spools):
            path = self.out / file
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("w", encoding="utf-8", newline="") as fh:
                if file == TWCS_FILE:
                    fh.write(",".join(serialize.TWCS_HEADER) + "\n")
                done = _copy(self.spools[file].merged(), fh, done, total, progress)
        # A selected channel with no records still gets its (empty) file, so readers find it.
        for file, channel, fmt in EMPTY_FILES:
            if channel in self.channels and file not in self.stats:
                path = self.out / file
                path.parent.mkdir(parents=True, exist_ok=True)
                header = ",".join(serialize.TWCS_HEADER) + "\n" if fmt == "twcs" else ""
                path.write_text(header, encoding="utf-8")
                self.stats[file] = FileStats(channel, fmt)
        if progress is not None:
            progress("writing", total, total)


EMPTY_FILES = (
    (APP_FILE, "app", "segment"),
    (CTR_FILE, "phone", "ctr"),
    (CHAT_FILE, "chat", "chat"),
    (TWCS_FILE, "social", "twcs"),
)


def _copy(
    texts: Iterator[str], fh: IO[str], done: int, total: int, progress: ProgressFn | None
) -> int:
    for text in texts:
        fh.write(text)
        done += 1
        if progress is not None and done % 5_000 == 0:
            progress("writing", done, total)
    return done


def prepare_out(out: Path) -> None:
    """Empty the output directory of an earlier run; refuse to touch anything else."""
    if out.exists():
        entries = list(out.iterdir())
        if entries and not (out / MANIFEST).exists():
            raise OutputDirError(
                f"{out} is not empty and holds no {MANIFEST}; refusing to overwrite it"
            )
        for name in CHANNEL_DIRS:
            shutil.rmtree(out / name, ignore_errors=True)
        (out / MANIFEST).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)


def simulate(
    config: SimulateConfig,
    *,
    now: datetime | None = None,
    progress: ProgressFn | None = None,
) -> RunResult:
    """Generate the configured traffic into `config.out` and write its manifest.

    Args:
        config: what to simulate.
        now: the current time (the period is clipped to it); default: the clock.
        progress: called as `progress(phase, done, total)`; phases are "people", "writing".

    Returns:
        The manifest and the wall time of the run.
    """
    began = time.perf_counter()
    start, end = config.window(now)
    out = config.out
    prepare_out(out)
    world = World(config, start, end)
    outages = plan_outages(config, world)
    with tempfile.TemporaryDirectory(prefix="omnicx-simulate-") as tmp:
        writer = Writer(config, world, out, Path(tmp))
        for idx in range(config.customers):
            rng = random.Random(f"person:{config.seed}:{idx}")
            person = world.person(idx, rng)
            journey = pick_journey(rng, config.journeys)
            sim = PersonSim(world, person, rng)
            live(sim, journey, outages)
            writer.add_person(sim, journey)
            if progress is not None and (idx + 1) % 100 == 0:
                progress("people", idx + 1, config.customers)
        if progress is not None:
            progress("people", config.customers, config.customers)
        writer.finish(progress)
    manifest = build_manifest(config, world, writer, outages, start, end)
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return RunResult(out, manifest, time.perf_counter() - began)


def build_manifest(
    config: SimulateConfig,
    world: World,
    writer: Writer,
    outages: list[Outage],
    start: datetime,
    end: datetime,
) -> dict[str, Any]:
    """Everything a reader of the output needs: the business's own addresses and handles (to
    tell direction), counts per file, channel and journey, and which records are malformed."""
    files = {f: writer.stats[f].as_manifest() for f in sorted(writer.stats)}
    channels: dict[str, dict[str, Any]] = {}
    for ch in (c.value for c in config.channels):
        mine = {f: s for f, s in files.items() if s["channel"] == ch}
        kinds: Counter[str] = Counter()
        for s in mine.values():
            kinds.update(s["malformed_by_kind"])
        channels[ch] = {
            "files": sorted(mine),
            "records": sum(s["records"] for s in mine.values()),
            "malformed": sum(s["malformed"] for s in mine.values()),
            "expected_events": sum(s["expected_events"] for s in mine.values()),
            "malformed_by_kind": dict(sorted(kinds.items())),
        }
    brands = world.brands
    return {
        "generator": "omnicx simulate",
        "manifest_version": 1,
        "seed": config.seed,
        "customers": config.customers,
        "days": config.days,
        "start": start.isoformat().replace("+00:00", "Z"),
        "end": end.isoformat().replace("+00:00", "Z"),
        "config": config.model_dump(mode="json", exclude={"out", "spill_records"}),
        "business": {
            "brands": [b.as_manifest() for b in brands],
            # The shape of the ingest adapters' configuration, ready to pass on.
            "own_email_domains": sorted({b.domain for b in brands}),
            "own_email_addresses": sorted({b.support_address for b in brands}),
            "own_social_handles": sorted({b.handle for b in brands}),
            "own_social_user_ids": sorted({b.twitter_user_id for b in brands}),
            "own_phone_numbers": sorted({b.phone for b in brands}),
        },
        "channels": channels,
        "files": files,
        "totals": {
            "records": sum(c["records"] for c in channels.values()),
            "malformed": sum(c["malformed"] for c in channels.values()),
            "expected_events": sum(c["expected_events"] for c in channels.values()),
        },
        "journeys": {
            j.value: {
                "people": writer.journey_people.get(j.value, 0),
                "records": writer.journey_records.get(j.value, 0),
            }
            for j in Journey
        },
        "outages": [
            {
                "tenant": brands[o.brand_index].tenant,
                "start": iso_ms(o.start_ms),
                "end": iso_ms(o.end_ms),
            }
            for o in outages
            if o.start_ms < world.end_ms
        ],
        "malformed_records": writer.malformed_list,
        "people": {j: writer.people[j] for j in sorted(writer.people)},
    }
