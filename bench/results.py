"""The results of one `make bench` run: the BENCH-line parser, machine facts, and the files
written under .omnicx/bench/ (results.json, results.md, one PNG chart per area and one of all
ratios).

Pure functions of a list of `Figure`s and module outcomes; `bench.run` does the running.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import Figure

_BENCH_LINE = re.compile(r"^BENCH (\S+) (\S+) (\S+)\s*$")
# Units where a smaller figure is the better one; everything else is a rate.
LOWER_IS_BETTER = {"ms", "s"}


def parse_bench_line(line: str, area: str = "") -> Figure | None:
    """The figure of one `BENCH <name> <value> <unit>` output line, or None for other lines
    (log output, progress); `nan`/`inf` values parse as floats."""
    match = _BENCH_LINE.match(line.strip())
    if not match:
        return None
    name, raw, unit = match.groups()
    try:
        value = float(raw)
    except ValueError:
        return None
    return Figure(name, value, unit, area=area)


@dataclass
class ModuleOutcome:
    """How one bench module's run went."""

    name: str  # the area: `kafka` for bench/kafka_bench.py
    ok: bool
    seconds: float
    load_start: tuple[float, float, float]
    load_end: tuple[float, float, float]
    error: str = ""  # the last lines of its output when it failed


@dataclass
class RunRecord:
    """Everything one `make bench` run measured."""

    started_at: str
    machine: dict[str, Any]
    figures: list[Figure] = field(default_factory=list)
    modules: list[ModuleOutcome] = field(default_factory=list)
    finished_at: str = ""

    @property
    def ok(self) -> bool:
        return all(m.ok for m in self.modules)


def machine_facts() -> dict[str, Any]:
    """Facts that explain the figures: CPUs, memory, load average, versions, git commit."""
    facts: dict[str, Any] = {
        "host": platform.node(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average": list(os.getloadavg()),
        "utc": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    try:
        meminfo = Path("/proc/meminfo").read_text().splitlines()
        kb = {line.split(":")[0]: int(line.split()[1]) for line in meminfo if line.split()}
        facts["memory_gib"] = round(kb["MemTotal"] / 2**20, 1)
        facts["memory_available_gib"] = round(kb["MemAvailable"] / 2**20, 1)
    except (OSError, KeyError, ValueError, IndexError):
        pass  # not Linux: the other facts still stand
    try:
        facts["git_commit"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return facts


@dataclass
class Row:
    """One line of the results table: a figure, and its peer and ratio where it has one."""

    area: str
    figure: str
    value: float
    unit: str
    peer_figure: str = ""
    peer_value: float | None = None
    ratio: float | None = None
    ratio_name: str = ""


def rows(figures: list[Figure]) -> list[Row]:
    """The table's rows, in the order measured: each figure once, beside its peer and the
    ratio when a ratio names it as ours (a figure with several peers gets a row per peer);
    a figure that is only a peer appears in its ours' row; a ratio whose figures are unknown
    gets a row of its own."""
    by_name = {f.name: f for f in figures}
    ratios = [f for f in figures if f.unit == "ratio"]
    as_ours: dict[str, list[Figure]] = {}
    peers: set[str] = set()
    for r in ratios:
        if r.ours in by_name:
            as_ours.setdefault(r.ours, []).append(r)
            peers.add(r.peer_figure)
    out: list[Row] = []
    for f in figures:
        if f.unit == "ratio":
            if f.ours not in by_name:
                out.append(Row(f.area, f.name, f.value, "ratio", peer_figure=f.peer))
            continue
        if f.name in as_ours:
            for r in as_ours[f.name]:
                peer = by_name.get(r.peer_figure)
                out.append(
                    Row(
                        r.area or f.area,
                        f.name,
                        f.value,
                        f.unit,
                        peer_figure=r.peer_figure or r.peer,
                        peer_value=peer.value if peer else None,
                        ratio=r.value,
                        ratio_name=r.name,
                    )
                )
        elif f.name not in peers:
            out.append(Row(f.area, f.name, f.value, f.unit))
    return out


def _num(value: float | None) -> str:
    if value is None:
        return ""
    if math.isnan(value) or math.isinf(value):
        return str(value)
    return f"{value:.3f}" if abs(value) < 100 else f"{value:,.0f}"


def ours_is_better(ratio: Figure, ours_unit: str) -> bool:
    """Whether a ratio (ours / peer) favours ours, given the unit of the figures divided."""
    return ratio.value < 1 if ours_unit in LOWER_IS_BETTER else ratio.value > 1


def markdown(record: RunRecord, charts: list[str] | None = None) -> str:
    """results.md: machine facts, modules, then one table per area."""
    m = record.machine
    load = ", ".join(f"{x:.2f}" for x in m.get("load_average", []))
    lines = [
        "# omnicx benchmark results",
        "",
        f"Run {record.started_at} to {record.finished_at or '?'} on {m.get('host', '?')}: "
        f"{m.get('cpus', '?')} CPUs, {m.get('memory_gib', '?')} GiB, Python "
        f"{m.get('python', '?')}, commit {m.get('git_commit', '?')}. "
        f"Load average at start: {load}.",
        "",
        "Every ratio is ours / peer, both measured in this run on this machine. For rates "
        "(events/s, rows/s) a ratio above 1 means ours is faster; for latencies and durations "
        "(ms, s) a ratio below 1 does.",
        "",
        "| module | result | seconds | load average at start | at end |",
        "|---|---|---:|---|---|",
    ]
    for mod in record.modules:
        lines.append(
            f"| {mod.name} | {'ok' if mod.ok else '**FAILED**'} | {mod.seconds:.0f} | "
            f"{mod.load_start[0]:.2f} | {mod.load_end[0]:.2f} |"
        )
    table = rows(record.figures)
    for area in dict.fromkeys(r.area for r in table):
        lines += [
            "",
            f"## {area or 'other'}",
            "",
            "| figure | value | unit | peer figure | peer value | ratio |",
            "|---|---:|---|---|---:|---:|",
        ]
        for r in (r for r in table if r.area == area):
            lines.append(
                f"| {r.figure} | {_num(r.value)} | {r.unit} | {r.peer_figure} | "
                f"{_num(r.peer_value)} | {_num(r.ratio)} |"
            )
    failed = [mod for mod in record.modules if not mod.ok]
    for mod in failed:
        lines += ["", f"## {mod.name} failed", "", "```", mod.error.rstrip(), "```"]
    if charts:
        lines += ["", "## Charts", ""] + [f"![{c}]({c})" for c in charts]
    return "\n".join(lines) + "\n"


def to_json(record: RunRecord) -> str:
    """results.json: the run record as JSON (NaN written as null)."""

    def clean(x: Any) -> Any:
        if isinstance(x, float) and (math.isnan(x) or math.isinf(x)):
            return None
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, list | tuple):
            return [clean(v) for v in x]
        return x

    doc = {
        "started_at": record.started_at,
        "finished_at": record.finished_at,
        "ok": record.ok,
        "machine": record.machine,
        "modules": [asdict(mod) for mod in record.modules],
        "figures": [asdict(f) for f in record.figures],
        "table": [asdict(r) for r in rows(record.figures)],
    }
    return json.dumps(clean(doc), indent=2)


def charts(record: RunRecord, out_dir: Path) -> list[str]:
    """One PNG per area with figure-vs-peer bars (one panel per pair, since units differ),
    and `ratios.png` with every ratio on a log scale; returns the file names written."""
    import matplotlib

    matplotlib.use("Agg")  # no display on the machine; and no window for a test run
    import matplotlib.pyplot as plt

    load = record.machine.get("load_average", [float("nan")])[0]
    note = (
        f"{record.machine.get('cpus', '?')} CPUs, load average {load:.2f} at start, "
        f"{record.started_at}"
    )
    written: list[str] = []
    pairs = [r for r in rows(record.figures) if r.peer_value is not None and r.ratio is not None]
    for area in dict.fromkeys(r.area for r in pairs):
        mine = [r for r in pairs if r.area == area]
        cols = min(3, len(mine))
        nrows = math.ceil(len(mine) / cols)
        fig, axes = plt.subplots(nrows, cols, figsize=(4.6 * cols, 3.4 * nrows), squeeze=False)
        for ax, r in zip(axes.flat, mine, strict=False):
            values = [r.value, r.peer_value or 0.0]
            bars = ax.bar(["ours", "peer"], values, color=["#1f77b4", "#aaaaaa"])
            ax.bar_label(bars, labels=[_num(v) for v in values], fontsize=8)
            better = "lower" if r.unit in LOWER_IS_BETTER else "higher"
            ax.set_title(f"{r.figure}\nvs {r.peer_figure}", fontsize=7)
            ax.set_ylabel(f"{r.unit} ({better} is better)", fontsize=7)
            ax.tick_params(labelsize=7)
            ax.margins(y=0.15)
        for ax in list(axes.flat)[len(mine) :]:
            ax.axis("off")
        fig.suptitle(f"{area}: ours vs peer, same run ({note})", fontsize=9)
        fig.tight_layout()
        name = f"{area or 'other'}.png"
        fig.savefig(out_dir / name, dpi=110)
        plt.close(fig)
        written.append(name)
    finite = [
        f for f in record.figures if f.unit == "ratio" and math.isfinite(f.value) and f.value > 0
    ]
    if finite:
        units = {f.name: f.unit for f in record.figures}
        # Green where ours is the better one: above 1 for rates, below 1 for ms and s.
        colours = [
            "#2ca02c" if ours_is_better(f, units.get(f.ours, "")) else "#d62728" for f in finite
        ]
        fig, ax = plt.subplots(figsize=(10, 0.32 * len(finite) + 1.6))
        ax.barh([f.name for f in finite], [f.value for f in finite], color=colours)
        ax.axvline(1.0, color="black", linewidth=0.8)
        ax.set_xscale("log")
        ax.invert_yaxis()
        ax.tick_params(labelsize=7)
        ax.set_xlabel("ours / peer (log scale; 1 = same; green: ours better)", fontsize=8)
        ax.set_title(f"Every ratio of the run\n({note})", fontsize=9)
        fig.tight_layout()
        fig.savefig(out_dir / "ratios.png", dpi=110)
        plt.close(fig)
        written.append("ratios.png")
    return written


def write_results(record: RunRecord, out_dir: Path) -> list[Path]:
    """Write results.json, results.md and the charts into `out_dir`; returns the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    pngs = charts(record, out_dir)
    (out_dir / "results.json").write_text(to_json(record))
    (out_dir / "results.md").write_text(markdown(record, pngs))
    return [out_dir / "results.md", out_dir / "results.json"] + [out_dir / p for p in pngs]
