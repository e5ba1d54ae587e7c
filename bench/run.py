"""`make bench`: run every benchmark module, print BENCH lines, write .omnicx/bench/.

    python -m bench.run                  # every bench/*_bench.py
    python -m bench.run streams quix     # a subset, by area (or module) name

Each module runs in a child process of its own (`python -m bench.run --child AREA`), one at a
time so they do not compete for the two cores; a crash, a hang (OMNICX_BENCH_MODULE_TIMEOUT
seconds, default 1800) or a leaked JVM of one cannot hide the others' figures. The child's
output is shown as it comes; its figures come back as JSON (with their peers), or, if it died
before writing them, from the BENCH lines it printed. Figures of earlier modules are handed to
later ones (`bench.common.prior`), so the Quix Streams peer is divided by the stream worker's
figure of the same run. Any failed module makes the exit status 1, after the results of the
others are written.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from bench import common
from bench.common import Figure
from bench.results import ModuleOutcome, RunRecord, machine_facts, parse_bench_line, write_results

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / ".omnicx" / "bench"
# Cheap and independent first; the peers of `streams` figures (api_peers, freshness_peers,
# quix) after it, as they divide its figures of the same run.
ORDER = ["kafka", "simulate", "features_logic", "ingest", "features", "streams", "api_peers"]
ORDER += ["freshness_peers", "quix"]
ORDER += ["lakehouse"]
ENV_FIGURES = "OMNICX_BENCH_FIGURES_OUT"
ENV_PRIOR = "OMNICX_BENCH_PRIOR"


def areas(wanted: list[str], package: str = "bench") -> list[str]:
    """The areas to run, in ORDER then name order; `wanted` filters by area or module name.
    `package`: where the `*_bench.py` modules are (another one in tests)."""
    where = Path(importlib.import_module(package).__path__[0])
    found = sorted(p.stem.removesuffix("_bench") for p in where.glob("*_bench.py"))
    ordered = [a for a in ORDER if a in found] + [a for a in found if a not in ORDER]
    if not wanted:
        return ordered
    names = {w.removesuffix("_bench") for w in wanted}
    unknown = names - set(found)
    if unknown:
        raise SystemExit(f"no such bench module: {', '.join(sorted(unknown))} (have: {found})")
    return [a for a in ordered if a in names]


def _figures_from_json(path: Path) -> list[Figure]:
    return [Figure(**d) for d in json.loads(path.read_text())]


def run_child(area: str, package: str = "bench") -> int:
    """In the child: run one module's main() and write its figures for the parent."""
    common.AREA = area

    def on_term(signum: int, _frame: object) -> None:
        # Unwind instead of dying at once, so `finally` blocks stop the brokers, workers and
        # servers the module started (they run in sessions of their own).
        raise SystemExit(f"bench module {area} stopped by signal {signum}")

    signal.signal(signal.SIGTERM, on_term)
    prior = os.environ.get(ENV_PRIOR)
    if prior and Path(prior).exists():
        common.PRIOR.update({f.name: f for f in _figures_from_json(Path(prior))})
    out = os.environ.get(ENV_FIGURES)
    try:
        importlib.import_module(f"{package}.{area}_bench").main()
    finally:
        # Written on failure too: the figures measured before the error still count.
        if out:
            Path(out).write_text(json.dumps([asdict(f) for f in common.FIGURES]))
    return 0


def _run_one(
    area: str, package: str, done: list[Figure], work: Path, console: Console, timeout: float
) -> tuple[list[Figure], ModuleOutcome]:
    figures_out = work / f"{area}.json"
    prior = work / "prior.json"
    prior.write_text(json.dumps([asdict(f) for f in done]))
    env = os.environ | {
        ENV_FIGURES: str(figures_out),
        ENV_PRIOR: str(prior),
        "PYTHONUNBUFFERED": "1",
    }
    load_start = os.getloadavg()
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.run", "--child", area, "--package", package],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
        start_new_session=True,  # its own process group: a timeout kills brokers it started
    )
    tail: deque[str] = deque(maxlen=40)
    printed: list[Figure] = []
    timed_out = threading.Event()

    def stop() -> None:
        timed_out.set()
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            time.sleep(60)  # time to stop what it started
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass  # it ended on the TERM

    watchdog = threading.Timer(timeout, stop)
    watchdog.daemon = True
    watchdog.start()
    assert proc.stdout is not None
    for line in proc.stdout:
        line = line.rstrip("\n")
        tail.append(line)
        if "[Stage " not in line:  # Spark's console progress bars: noise in a log
            console.print(f"  [{area}] {line}", markup=False, highlight=False)
        fig = parse_bench_line(line, area)
        if fig:
            printed.append(fig)
    rc = proc.wait()
    watchdog.cancel()
    seconds = time.monotonic() - t0
    figures = _figures_from_json(figures_out) if figures_out.exists() else printed
    ok = rc == 0 and not timed_out.is_set()
    error = ""
    if not ok:
        why = f"timed out after {timeout:.0f}s" if timed_out.is_set() else f"exit status {rc}"
        error = f"{area}: {why}\n" + "\n".join(tail)
    return figures, ModuleOutcome(area, ok, seconds, load_start, os.getloadavg(), error)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("areas", nargs="*", help="bench areas to run (default: all)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="where results go")
    parser.add_argument("--package", default="bench", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return run_child(args.child, args.package)

    chosen = areas(args.areas, args.package)
    timeout = float(os.environ.get("OMNICX_BENCH_MODULE_TIMEOUT", "1800"))
    record = RunRecord(
        started_at=datetime.now(UTC).isoformat(timespec="seconds"), machine=machine_facts()
    )
    console = Console(soft_wrap=True)  # a long BENCH line stays one line in logs
    m = record.machine
    console.print(
        f"bench: {', '.join(chosen)} on {m['cpus']} CPUs, {m.get('memory_gib', '?')} GiB; "
        f"load average {' '.join(f'{x:.2f}' for x in m['load_average'])}",
        highlight=False,
    )
    with (
        tempfile.TemporaryDirectory(prefix="omnicx-bench-run-") as tmp,
        Progress(
            TextColumn("[bold]bench[/bold] {task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} modules"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress,
    ):
        task = progress.add_task("", total=len(chosen))
        for area in chosen:
            progress.update(task, description=area)
            figures, outcome = _run_one(
                area, args.package, record.figures, Path(tmp), progress.console, timeout
            )
            record.figures += figures
            record.modules.append(outcome)
            status = "ok" if outcome.ok else "FAILED"
            progress.console.print(
                f"== {area}: {status} in {outcome.seconds:.0f}s, {len(figures)} figures, "
                f"load average {outcome.load_end[0]:.2f}",
                highlight=False,
            )
            progress.advance(task)
    record.finished_at = datetime.now(UTC).isoformat(timespec="seconds")
    written = write_results(record, args.out)
    console.print(f"results: {', '.join(str(p) for p in written)}", highlight=False)
    failed = [mod for mod in record.modules if not mod.ok]
    for mod in failed:
        console.print(f"\n[bold red]bench module {mod.name} failed[/]\n", end="")
        console.print(mod.error, markup=False, highlight=False)
    if failed:
        console.print(
            f"[bold red]{len(failed)} of {len(record.modules)} bench modules failed:[/] "
            f"{', '.join(mod.name for mod in failed)}"
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
