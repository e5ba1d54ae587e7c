"""The KPI report: gold tables as JSON, PNG charts and an HTML page, on a small hand-worked lake
(real Spark + Delta), through the library and through `omnicx report --json`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jobs.gold.kpis import refresh_kpis
from jobs.silver.identity import refresh_identity_graph
from jobs.silver.timeline import refresh_timeline
from omnicx.lake_report import _plain, write_report
from tests.lakehouse_helpers import at, event, local_config, write_bronze

ANN = [("email", "ann@example.com")]


def _social(record: str, minutes: float, handle: str, brand: str, conv: str, inbound: bool):  # type: ignore[no-untyped-def]
    return event(
        record,
        at(minutes),
        channel="social",
        direction="inbound" if inbound else "outbound",
        ids=[("social_handle", handle)],
        conversation=conv,
        tenant=brand,
    )


EVENTS = [
    # AcmeCare answers in 10 and 30 minutes; SlowCo in 3 hours, and not at all.
    _social("s1", 0, "amy", "AcmeCare", "s1", True),
    _social("s1r", 10, "amy", "AcmeCare", "s1", False),
    _social("s2", 60, "ben", "AcmeCare", "s2", True),
    _social("s2r", 90, "ben", "AcmeCare", "s2", False),
    _social("s3", 0, "cat", "SlowCo", "s3", True),
    _social("s3r", 180, "cat", "SlowCo", "s3", False),
    _social("s4", 5, "dan", "SlowCo", "s4", True),
    # Ann: an email answered in 30 min on day 0; on day 1 an unanswered email, then a phone call.
    event("e1", at(0), ids=ANN, conversation="e1"),
    event("e1r", at(30), ids=ANN, conversation="e1", direction="outbound"),
    event("e2", at(0, day=1), ids=ANN, conversation="e2"),
    event("p1", at(10, day=1), ids=ANN, channel="phone", conversation="p1"),
]


@pytest.fixture(scope="module")
def lake(spark, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    config = local_config(tmp_path_factory.mktemp("report") / "lake")
    write_bronze(spark, config, EVENTS)
    refresh_identity_graph(spark, config)
    refresh_timeline(spark, config)
    refresh_kpis(spark, config)
    return config


@pytest.mark.integration
def test_report_files_hold_the_gold_numbers(spark, lake, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    files = write_report(spark, lake, tmp_path / "report")
    tables = json.loads(files.json.read_text())

    # kpis_daily is gold.cx_kpis_daily row for row, value for value.
    gold = spark.read.format("delta").load(str(lake.table_path("gold/cx_kpis_daily")))
    rows = [
        {k: _plain(v) for k, v in r.asDict().items()}
        for r in gold.orderBy("day", "channel", "tenant").collect()
    ]
    assert tables["kpis_daily"] == rows
    assert len(rows) == 5  # social x2 brands, email day 0 and 1, phone day 1
    assert tables["period"] == {"first_day": "2024-03-04", "last_day": "2024-03-05"}

    # by_channel: gold's counts summed (hand-checked), rates from the sums, exact percentiles.
    by = {r["channel"]: r for r in tables["by_channel"]}
    for channel, row in by.items():
        for column in ("contacts", "answered", "answered_within_sla", "journeys"):
            assert row[column] == sum(r[column] for r in rows if r["channel"] == channel)
    social, email = by["social"], by["email"]
    assert (social["contacts"], social["answered"], social["answered_within_sla"]) == (4, 3, 2)
    assert social["sla_attainment"] == 0.5
    assert social["first_response_p50_s"] == 1800.0  # of 600, 1800, 10800
    assert social["first_response_p90_s"] == pytest.approx(9000.0)  # 1800 + 0.8 * 9000
    assert (email["contacts"], email["answered"], email["first_response_p50_s"]) == (2, 1, 1800.0)
    # Ann's email journeys: day 0 contained, day 1 not (she phoned).
    assert (email["journeys"], email["contained_journeys"]) == (2, 1)
    assert email["digital_containment_rate"] == 0.5
    assert email["fallback_to_phone"] == 1
    assert by["phone"]["digital_containment_rate"] is None

    # The league: AcmeCare p50 of 600/1800 s = 1200, p90 = 600 + 0.9 * 1200 = 1680.
    assert tables["brand_league"] == [
        {
            "brand": "AcmeCare",
            "contacts": 2,
            "answered": 2,
            "first_response_p50_s": 1200.0,
            "first_response_p90_s": pytest.approx(1680.0),
        },
        {
            "brand": "SlowCo",
            "contacts": 2,
            "answered": 1,
            "first_response_p50_s": 10800.0,
            "first_response_p90_s": 10800.0,
        },
    ]

    # Charts as PNG files, each embedded in the page, which also shows the league.
    names = {p.stem for p in files.charts}
    assert {"reply_time_by_channel", "reply_time_by_brand", "sla_by_channel"} <= names
    assert {"contacts_per_customer", "containment", "contacts_per_day"} <= names
    for png in files.charts:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 1000
    page = files.html.read_text()
    assert page.count("data:image/png;base64,") == len(files.charts)
    assert "<td>AcmeCare</td>" in page and "<td>SlowCo</td>" in page


@pytest.mark.integration
def test_report_command_prints_the_tables(spark, lake, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from omnicx.cli import app

    out = tmp_path / "cli-report"
    result = CliRunner().invoke(
        app,
        ["report", "--json", "--out", str(out)],
        env={"OMNICX_HOME": str(tmp_path / "home"), "OMNICX_LAKE_DIR": str(lake.lake_dir)},
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    written = json.loads((out / "cx-report.json").read_text())
    assert printed["brand_league"] == written["brand_league"]
    assert [r["brand"] for r in printed["brand_league"]] == ["AcmeCare", "SlowCo"]
    assert printed["kpis_daily"] == written["kpis_daily"] and len(written["kpis_daily"]) == 5
    assert (out / "cx-report.html").exists() and (out / "charts" / "sla_by_channel.png").exists()
