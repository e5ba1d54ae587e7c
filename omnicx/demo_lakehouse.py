"""The demo's lakehouse step: bronze -> silver -> gold -> the Feast online store materialised
through Dagster (runs in the stack's Dagster instance under `<home>/dagster`, so `omnicx up
--with-dagster` shows them), then the KPI table and the HTML report (`omnicx.lake_report`).

Registered after "stream processing" by importing this module from `omnicx/demo.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.table import Table

from omnicx.demo import DemoRun, _progress, add_step
from omnicx.lake_dagster import AssetRun
from omnicx.lake_report import ReportFiles

_ATTR = "_omnicx_lakehouse"


@dataclass
class LakehouseOutcome:
    """What the lakehouse step did: one Dagster run per asset (and gold range), the report."""

    runs: list[AssetRun]
    report: ReportFiles
    dagster_home: str
    seconds: dict[str, float] = field(default_factory=dict)


def outcome(run: DemoRun) -> LakehouseOutcome:
    """The lakehouse step's outcome of a demo run (after the step ran)."""
    found: LakehouseOutcome = getattr(run, _ATTR)
    return found


def _minutes(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 60:,.1f}"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def kpi_table(tables: dict[str, Any]) -> Table:
    """The KPIs per channel over the whole period (from gold), as the report shows them."""
    table = Table(
        "channel",
        "contacts",
        "answered",
        "reply p50 (min)",
        "reply p90 (min)",
        f"within {tables['sla_minutes']} min",
        "contacts / customer-day",
        "digital containment",
        "fallbacks to phone",
        title="gold.cx_kpis_daily, whole period",
    )
    for col in table.columns[1:]:
        col.justify = "right"
    for r in tables["by_channel"]:
        table.add_row(
            r["channel"],
            f"{r['contacts']:,}",
            f"{r['answered']:,}",
            _minutes(r["first_response_p50_s"]),
            _minutes(r["first_response_p90_s"]),
            _share(r["sla_attainment"]),
            "-" if r["contacts_per_customer"] is None else f"{r['contacts_per_customer']:.2f}",
            _share(r["digital_containment_rate"]),
            f"{r['fallback_to_phone']:,}",
        )
    return table


def _runs_table(runs: list[AssetRun]) -> Table:
    table = Table("asset", "days", "seconds", "what it did", "checks", title="Dagster runs")
    for r in runs:
        shown = {
            k: v
            for k, v in r.metadata.items()
            if k
            in (
                "read",
                "accepted",
                "rejected",
                "identifiers",
                "inserted",
                "updated",
                "rows",
                "customers",
            )
        }
        passed = sum(r.checks.values())
        table.add_row(
            r.asset,
            "-" if r.partitions is None else f"{r.partitions[0]}..{r.partitions[1]}",
            f"{r.seconds:.1f}",
            ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}" for k, v in shown.items()),
            f"{passed}/{len(r.checks)} passed" if r.checks else "-",
        )
    return table


def _feast_line(runs: list[AssetRun]) -> str:
    """What the Feast run put into the online store, in one line."""
    feast = next((r for r in runs if r.asset == "feast/online_features"), None)
    if feast is None:
        return "  Feast          nothing materialised (silver holds no days)"
    m = feast.metadata
    checked = "checked against gold" if all(feast.checks.values()) else "CHECK FAILED"
    return (
        f"  Feast          {m.get('views')}: {m.get('customers', 0):,} customers' newest daily "
        f"features materialised into the {m.get('online_store')} online store (event times "
        f"{str(m.get('window_start'))[:10]} .. {str(m.get('window_end'))[:10]}; {checked})"
    )


def run_lakehouse(run: DemoRun) -> None:
    """Materialise the lakehouse through Dagster, then write and show the KPI report."""
    import time

    from omnicx.cli_lakehouse import league_table
    from omnicx.dagster_defs import feature_store_from_settings
    from omnicx.lake_dagster import (
        dagster_home,
        dagster_instance,
        materialize_lakehouse,
        resource_from_settings,
    )
    from omnicx.lake_report import write_report

    settings, console = run.settings, run.console
    # A day for a few thousand customers is small data for Spark (see SMALL_DATA_SPARK_CONF);
    # settings' own Spark conf still wins.
    lakehouse = resource_from_settings(settings, small_data=True)
    seconds: dict[str, float] = {}
    t0 = time.monotonic()
    with _progress(console) as progress:
        task = progress.add_task("Dagster: starting Spark", total=None)

        def on_start(name: str, done: int, total: int) -> None:
            progress.update(task, description=f"Dagster: {name}", completed=done, total=total)

        runs = materialize_lakehouse(
            lakehouse,
            dagster_instance(settings),
            on_start,
            tags={"omnicx/demo": "true"},
            feature_store=feature_store_from_settings(settings),
        )
    seconds["materialise"] = time.monotonic() - t0
    console.print(_runs_table(runs))
    console.print(_feast_line(runs), soft_wrap=True)
    t0 = time.monotonic()
    with console.status("writing the KPI report (charts, JSON, HTML)"):
        files = write_report(lakehouse.spark(), lakehouse.config(), settings.home / "report")
    seconds["report"] = time.monotonic() - t0
    console.print(kpi_table(files.tables))
    console.print(league_table(files.tables["brand_league"], limit=10))
    port = settings.dagster_port
    console.print(
        f"  KPI report     {files.html}  (open it in a browser: file://{files.html})\n"
        f"  as JSON        {files.json}; charts in {files.html.parent / 'charts'}/\n"
        f"  lake           {settings.lake_dir}  (Delta tables: bronze/, silver/, gold/)\n"
        f"  Dagster        these {len(runs)} runs and the asset checks are in "
        f"{dagster_home(settings)}; the UI is started at the end (http://127.0.0.1:{port})\n"
        "  again by hand  `omnicx report --refresh`",
        soft_wrap=True,
    )
    setattr(
        run,
        _ATTR,
        LakehouseOutcome(runs, files, str(dagster_home(settings)), seconds),
    )


def start_dagster_ui(run: DemoRun) -> None:
    """The Dagster webserver and daemon on the stack's instance (`omnicx up --with-dagster`),
    so the runs, the asset graph and its checks can be opened when the demo ends; not with
    `--down`, which stops the stack."""
    from omnicx.stack import DagsterComponent

    settings, console = run.settings, run.console
    url = f"http://127.0.0.1:{settings.dagster_port}"
    if run.options.down_after:
        console.print(f"  --down: not started; `omnicx up --with-dagster` serves it at {url}")
        return
    component = DagsterComponent(settings, settings.dagster_port)
    with console.status("starting the Dagster webserver and daemon"):
        component.start()
    console.print(
        f"  Dagster UI     {url}  (asset graph: {url}/asset-groups; the demo's runs: {url}/runs)"
        f"\n  its logs       {settings.run_dir}/dagster-*.log; `omnicx down` stops it too",
        soft_wrap=True,
    )


add_step("lakehouse", run_lakehouse, after="stream processing")
add_step("Dagster UI", start_dagster_ui, after="report")
