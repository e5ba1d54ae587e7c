"""The pure parts of `make bench`: BENCH lines, ratios naming their figures, the results table,
JSON and charts, and the runner keeping a failed module's figures while failing the run.
No timing is asserted anywhere."""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path

import pytest

from bench import common, run
from bench.common import Figure, format_bench_line
from bench.results import (
    ModuleOutcome,
    RunRecord,
    markdown,
    parse_bench_line,
    rows,
    to_json,
    write_results,
)

pytestmark = pytest.mark.unit
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_parse_bench_line_reads_figures_and_ignores_other_output() -> None:
    fig = parse_bench_line("BENCH stream_events_per_s 232 events/s\n", area="streams")
    assert fig == Figure("stream_events_per_s", 232.0, "events/s", area="streams")
    assert parse_bench_line("  BENCH freshness_ms_p99 19.625 ms  ").value == 19.625  # type: ignore[union-attr]
    assert math.isnan(parse_bench_line("BENCH x nan ratio").value)  # type: ignore[union-attr]
    assert parse_bench_line("== streams done in 40s") is None
    assert parse_bench_line("BENCH missing_unit 3") is None
    assert parse_bench_line("BENCH bad_value fast events/s") is None
    assert parse_bench_line("[2026-11-23 14:00] BENCH inside a log line 3 s") is None


def test_format_and_parse_round_trip() -> None:
    assert format_bench_line("a", 12.34567, "ms") == "BENCH a 12.346 ms"
    assert format_bench_line("b", 12345.6, "rows/s") == "BENCH b 12346 rows/s"
    fig = parse_bench_line(format_bench_line("a", 12.34567, "ms"))
    assert fig is not None and fig.value == 12.346


@pytest.fixture
def figures(monkeypatch: pytest.MonkeyPatch) -> list[Figure]:
    fresh: list[Figure] = []
    monkeypatch.setattr(common, "FIGURES", fresh)
    monkeypatch.setattr(common, "PRIOR", {})
    monkeypatch.setattr(common, "AREA", "kafka")
    return fresh


def test_ratio_names_its_figures(figures: list[Figure], capsys: pytest.CaptureFixture) -> None:
    common.report("produce.aiokafka", 30000.0, "msgs/s")
    common.report("produce.kafka_python", 20000.0, "msgs/s")
    common.ratio("produce_aiokafka_vs_kafka_python", 30000.0, 20000.0, "kafka-python")
    r = figures[-1]
    assert (r.name, r.value, r.unit, r.area) == (
        "produce_aiokafka_vs_kafka_python",
        1.5,
        "ratio",
        "kafka",
    )
    assert (r.ours, r.peer_figure, r.peer) == (
        "produce.aiokafka",
        "produce.kafka_python",
        "kafka-python",
    )
    assert (
        capsys.readouterr().out.splitlines()[-1]
        == "BENCH produce_aiokafka_vs_kafka_python 1.500 ratio"
    )


def test_ratio_against_a_figure_of_an_earlier_module(figures: list[Figure]) -> None:
    common.PRIOR["stream_events_per_s"] = Figure(
        "stream_events_per_s", 40.0, "events/s", area="streams"
    )
    assert common.prior("stream_events_per_s").value == 40.0  # type: ignore[union-attr]
    assert common.prior("nothing") is None
    common.report("quix_events_per_s", 8000.0, "events/s")
    common.ratio(
        "stream_vs_quix", 40.0, 8000.0, "quix_events_per_s", ours_name="stream_events_per_s"
    )
    assert (figures[-1].ours, figures[-1].peer_figure, figures[-1].value) == (
        "stream_events_per_s",
        "quix_events_per_s",
        0.005,
    )


def _run_figures() -> list[Figure]:
    return [
        Figure("produce.aiokafka", 30000.0, "msgs/s", area="kafka"),
        Figure("produce.kafka_python", 20000.0, "msgs/s", area="kafka"),
        Figure(
            "produce_ratio",
            1.5,
            "ratio",
            "kafka-python",
            "kafka",
            "produce.aiokafka",
            "produce.kafka_python",
        ),
        Figure("broker_cold_start_s", 7.25, "s", area="kafka"),
        Figure("stream_events_per_s", 40.0, "events/s", area="streams"),
        Figure("quix_events_per_s", 8000.0, "events/s", area="quix"),
        Figure(
            "stream_vs_quix",
            0.005,
            "ratio",
            "quix_events_per_s",
            "quix",
            "stream_events_per_s",
            "quix_events_per_s",
        ),
        Figure("orphan_ratio", float("nan"), "ratio", "some loop", "quix"),
    ]


def test_rows_put_each_figure_beside_its_peer() -> None:
    table = rows(_run_figures())
    got = [(r.area, r.figure, r.peer_figure, r.peer_value, r.ratio) for r in table]
    assert got == [
        ("kafka", "produce.aiokafka", "produce.kafka_python", 20000.0, 1.5),
        ("kafka", "broker_cold_start_s", "", None, None),
        # the ratio's row sits in the area that measured the peer
        ("quix", "stream_events_per_s", "quix_events_per_s", 8000.0, 0.005),
        ("quix", "orphan_ratio", "some loop", None, None),
    ]


def _record() -> RunRecord:
    record = RunRecord(
        started_at="2026-11-23T14:00:00+00:00",
        machine={"host": "vm", "cpus": 2, "memory_gib": 23.5, "load_average": [3.5, 2.0, 1.0]},
        figures=_run_figures(),
        finished_at="2026-11-23T14:10:00+00:00",
    )
    record.modules = [
        ModuleOutcome("kafka", True, 60.0, (3.5, 2.0, 1.0), (4.0, 2.5, 1.2)),
        ModuleOutcome("quix", False, 10.0, (4.0, 2.5, 1.2), (4.1, 2.5, 1.2), "quix: exit 1\nBoom"),
    ]
    return record


def test_markdown_has_the_machine_the_modules_and_one_table_per_area() -> None:
    md = markdown(_record(), ["kafka.png"])
    assert "2 CPUs, 23.5 GiB" in md and "Load average at start: 3.50, 2.00, 1.00." in md
    assert "| quix | **FAILED** | 10 | 4.00 | 4.10 |" in md
    assert "| produce.aiokafka | 30,000 | msgs/s | produce.kafka_python | 20,000 | 1.500 |" in md
    assert "| stream_events_per_s | 40.000 | events/s | quix_events_per_s | 8,000 | 0.005 |" in md
    assert "| broker_cold_start_s | 7.250 | s |  |  |  |" in md
    assert md.index("## kafka") < md.index("## quix") < md.index("## quix failed")
    assert "Boom" in md and "![kafka.png](kafka.png)" in md


def test_json_is_strict_json_with_nan_as_null() -> None:
    doc = json.loads(to_json(_record()))  # json.loads would accept NaN; check the text too
    assert "NaN" not in to_json(_record())
    assert doc["ok"] is False
    assert [m["name"] for m in doc["modules"]] == ["kafka", "quix"]
    orphan = next(f for f in doc["figures"] if f["name"] == "orphan_ratio")
    assert orphan["value"] is None
    assert len(doc["table"]) == 4


def test_write_results_writes_table_json_and_charts(tmp_path: Path) -> None:
    written = write_results(_record(), tmp_path / "bench")
    names = sorted(p.name for p in written)
    # a chart for each area with a pair (kafka; quix holds stream_vs_quix), and every ratio
    assert names == ["kafka.png", "quix.png", "ratios.png", "results.json", "results.md"]
    for png in (p for p in written if p.suffix == ".png"):
        assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 5000
    assert "![ratios.png](ratios.png)" in (tmp_path / "bench" / "results.md").read_text()


FAKE_OK = """
from bench.common import ratio, report

def main():
    report("ours_per_s", 300.0, "events/s")
    report("peer_per_s", 100.0, "events/s")
    ratio("ours_vs_peer", 300.0, 100.0, "peer_per_s")
"""
FAKE_BOOM = """
from bench.common import prior, report

def main():
    earlier = prior("ours_per_s")
    report("seen_before", earlier.value if earlier else -1.0, "events/s")
    raise RuntimeError("the broker caught fire")
"""


def test_a_failed_module_keeps_the_others_figures_and_fails_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pkg = tmp_path / "fakebench"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "aaa_bench.py").write_text(textwrap.dedent(FAKE_BOOM))
    (pkg / "zzz_bench.py").write_text(textwrap.dedent(FAKE_OK))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    out = tmp_path / "out"

    # the failing module runs after the other one only when asked in that order
    assert run.areas(["zzz", "aaa_bench"], "fakebench") == ["aaa", "zzz"]
    with pytest.raises(SystemExit):
        run.areas(["nope"], "fakebench")

    assert run.main(["--package", "fakebench", "--out", str(out)]) == 1
    doc = json.loads((out / "results.json").read_text())
    assert [(m["name"], m["ok"]) for m in doc["modules"]] == [("aaa", False), ("zzz", True)]
    assert "the broker caught fire" in doc["modules"][0]["error"]
    by_name = {f["name"]: f for f in doc["figures"]}
    # printed before the error, so kept; no earlier module had measured ours_per_s
    assert by_name["seen_before"]["value"] == -1.0 and by_name["seen_before"]["area"] == "aaa"
    assert by_name["ours_vs_peer"]["value"] == 3.0
    assert (by_name["ours_vs_peer"]["ours"], by_name["ours_vs_peer"]["peer_figure"]) == (
        "ours_per_s",
        "peer_per_s",
    )
    assert (out / "zzz.png").exists()


def test_later_modules_see_earlier_figures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "fakebench2"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a_bench.py").write_text(textwrap.dedent(FAKE_OK))
    (pkg / "b_bench.py").write_text(textwrap.dedent(FAKE_BOOM).replace("raise", "# raise"))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    assert run.main(["--package", "fakebench2", "--out", str(tmp_path / "out")]) == 0
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    assert {f["name"]: f["value"] for f in doc["figures"]}["seen_before"] == 300.0


def test_ours_is_better_reads_the_direction_from_the_unit() -> None:
    from bench.results import ours_is_better

    faster = Figure("r", 2.0, "ratio")
    slower = Figure("r", 0.5, "ratio")
    assert ours_is_better(faster, "events/s") and not ours_is_better(slower, "events/s")
    # for latencies and durations, a ratio below 1 means ours takes less time
    assert ours_is_better(slower, "ms") and not ours_is_better(faster, "s")
