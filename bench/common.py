"""Shared helpers for benchmarks: figures are printed as `BENCH <name> <value> <unit>` and
collected so `bench.run` can write them to .omnicx/bench/."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from infra.kafka import KafkaConfig, LocalKafka
from infra.procs import free_port, port_is_free


@dataclass
class Figure:
    """One measured figure. A ratio figure names the two figures it divides, where known."""

    name: str
    value: float
    unit: str
    peer: str = ""  # what this figure is compared with, as the bench module described it
    area: str = ""  # the bench module that measured it (`kafka` for bench/kafka_bench.py)
    ours: str = ""  # for a ratio: the figure on top (ours)
    peer_figure: str = ""  # for a ratio: the figure below (the peer)


FIGURES: list[Figure] = []
# The area of the module being run; `bench.run` sets it before calling the module's main().
AREA = ""
# Figures measured earlier in the same `make bench` run, by name (other modules, other
# processes), so a module can put its peer beside a figure measured elsewhere in the run.
PRIOR: dict[str, Figure] = {}


def report(name: str, value: float, unit: str, peer: str = "") -> None:
    """Print one figure in the BENCH format and remember it."""
    FIGURES.append(Figure(name, value, unit, peer, area=AREA))
    print(format_bench_line(name, value, unit), flush=True)


def format_bench_line(name: str, value: float, unit: str) -> str:
    """`BENCH <name> <value> <unit>`: 3 decimals below 100, none above."""
    shown = f"{value:.3f}" if abs(value) < 100 else f"{value:.0f}"
    return f"BENCH {name} {shown} {unit}"


def _figure_with_value(value: float, exclude: str = "") -> str:
    # The figure a ratio's operand came from: the latest of this process with exactly that
    # value (modules pass the variable they reported, so the float is the same object value).
    for f in reversed(FIGURES):
        if f.unit != "ratio" and f.value == value and f.name != exclude:
            return f.name
    return ""


def ratio(name: str, ours: float, peer: float, peer_name: str, ours_name: str = "") -> None:
    """Report ours/peer as a ratio next to the two figures.

    The names of the two figures are recorded for the results table: `ours_name`, or else the
    latest figure reported with the value `ours`; `peer_name` when it names a reported
    figure, or else the latest with the value `peer`.
    """
    known = {f.name for f in FIGURES} | set(PRIOR)
    ours_fig = ours_name or _figure_with_value(ours)
    peer_fig = peer_name if peer_name in known else _figure_with_value(peer, exclude=ours_fig)
    report(name, ours / peer if peer else float("nan"), "ratio", peer=peer_name)
    FIGURES[-1].ours, FIGURES[-1].peer_figure = ours_fig, peer_fig


def prior(name: str) -> Figure | None:
    """A figure of the same run measured before this module (see `PRIOR`), or None."""
    for f in reversed(FIGURES):
        if f.name == name:
            return f
    return PRIOR.get(name)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1)))))
    return ordered[k]


def median(values: list[float]) -> float:
    return statistics.median(values)


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
