"""Shared helpers for benchmarks: figures are printed as `BENCH <name> <value> <unit>` and
collected so `bench.run` can write them to .omnicx/bench/."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from infra.kafka import KafkaConfig, LocalKafka
from infra.procs import free_port, port_is_free


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    peer: str = ""  # the figure this one is compared with, if any


FIGURES: list[Figure] = []


def report(name: str, value: float, unit: str, peer: str = "") -> None:
    """Print one figure in the BENCH format and remember it."""
    FIGURES.append(Figure(name, value, unit, peer))
    shown = f"{value:.3f}" if abs(value) < 100 else f"{value:.0f}"
    print(f"BENCH {name} {shown} {unit}", flush=True)


def ratio(name: str, ours: float, peer: float, peer_name: str) -> None:
    """Report ours/peer as a ratio next to the two figures."""
    report(name, ours / peer if peer else float("nan"), "ratio", peer=peer_name)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1)))))
    return ordered[k]


def median(values: list[float]) -> float:
    return statistics.median(values)


def write_results(out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "results.json"
    path.write_text(json.dumps([asdict(f) for f in FIGURES], indent=2))
    lines = ["| figure | value | unit | compared with |", "|---|---:|---|---|"]
    lines += [f"| {f.name} | {f.value:.3f} | {f.unit} | {f.peer} |" for f in FIGURES]
    (out_dir / "results.md").write_text("\n".join(lines) + "\n")
    return path


@contextmanager
def local_broker(data_dir: Path, nodes: int = 1) -> Iterator[tuple[LocalKafka, float]]:
    """A fresh broker on free ports; yields it and its cold-start seconds (format + JVM start
    + first metadata answer)."""
    while True:
        port, controller = free_port(), free_port()
        ports = [port + i for i in range(nodes)] + [controller + i for i in range(nodes)]
        if len(set(ports)) == len(ports) and all(port_is_free("127.0.0.1", p) for p in ports):
            break
    kafka = LocalKafka(
        KafkaConfig(port=port, controller_port=controller, nodes=nodes, data_dir=data_dir)
    )
    t0 = time.perf_counter()
    kafka.start()
    cold = time.perf_counter() - t0
    try:
        yield kafka, cold
    finally:
        kafka.stop()
