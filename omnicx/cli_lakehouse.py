"""Lakehouse commands: `omnicx lake run`, `omnicx report` (`omnicx erase`: omnicx/erase.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from jobs.config import LakehouseConfig
from omnicx.settings import Settings, load_settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

console = Console()
err_console = Console(stderr=True)
lake_app = typer.Typer(help="Spark + Delta lakehouse jobs.", no_args_is_help=True)


def lake_config(settings: Settings) -> LakehouseConfig:
    """The jobs' config from omnicx settings."""
    assert settings.lake_dir is not None  # set by Settings' validator
    return LakehouseConfig(
        lake_dir=settings.lake_dir,
        kafka_bootstrap=settings.bootstrap,
        sla_minutes=settings.sla_minutes,
    )


def _spark(settings: Settings) -> SparkSession:
    from infra.spark import build_spark_session

    return build_spark_session(settings.spark)


def run_all(spark: SparkSession, config: LakehouseConfig, say: Any) -> dict[str, Any]:
    """bronze -> silver -> gold, once; returns what each step did."""
    from jobs.bronze.ingest import ingest_interactions, ingest_rejections
    from jobs.gold.features import refresh_features
    from jobs.gold.kpis import refresh_kpis
    from jobs.silver.identity import refresh_identity_graph
    from jobs.silver.timeline import refresh_timeline

    out: dict[str, Any] = {}
    say("bronze.interactions")
    out["bronze.interactions"] = ingest_interactions(spark, config, progress=say).as_metadata()
    say("bronze.rejections")
    out["bronze.rejections"] = ingest_rejections(spark, config, progress=say).as_metadata()
    say("silver.identity_graph")
    out["silver.identity_graph"] = refresh_identity_graph(spark, config)
    say("silver.customer_timeline")
    out["silver.customer_timeline"] = refresh_timeline(spark, config)
    say("gold.cx_kpis_daily")
    out["gold.cx_kpis_daily"] = refresh_kpis(spark, config)
    say("gold.customer_features_daily")
    out["gold.customer_features_daily"] = refresh_features(spark, config)
    return out


@lake_app.command("run")
def lake_run() -> None:
    """Run bronze, silver and gold once over what Kafka holds now."""
    settings = load_settings()
    with console.status("starting Spark") as status:
        spark = _spark(settings)
        out = run_all(spark, lake_config(settings), lambda m: status.update(f"lakehouse: {m}"))
    console.print_json(json.dumps(out, default=str))


def build_report(spark: SparkSession, config: LakehouseConfig) -> tuple[str, list[dict[str, Any]]]:
    """(HTML page with embedded PNG charts, per-brand league rows) from the lake, without
    keeping files (`omnicx.lake_report.write_report` keeps them)."""
    import tempfile

    from omnicx.lake_report import write_report

    with tempfile.TemporaryDirectory(prefix="omnicx-report-") as tmp:
        files = write_report(spark, config, Path(tmp))
        return files.html.read_text(encoding="utf-8"), files.tables["brand_league"]


def _minutes(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 60:.1f}"


def report(
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Folder for the report (default <home>/report)."),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", help="Print the report's tables as JSON (the files are written too)."
        ),
    ] = False,
    refresh: Annotated[
        bool,
        typer.Option("--refresh", help="Materialise the lakehouse through Dagster first."),
    ] = False,
) -> None:
    """Write the KPI report (HTML with charts, JSON, PNGs) from the gold tables; print its path."""
    from omnicx.lake_report import write_report

    settings = load_settings()
    config = lake_config(settings)
    folder = (out or settings.home / "report").expanduser().resolve()
    quiet = Console(stderr=True)
    with quiet.status("starting Spark") as status:
        if refresh:
            from omnicx.lake_dagster import (
                dagster_instance,
                materialize_lakehouse,
                resource_from_settings,
            )

            materialize_lakehouse(
                resource_from_settings(settings),
                dagster_instance(settings),
                on_start=lambda name, done, total: status.update(
                    f"Dagster: materialising {name} ({done}/{total} runs done)"
                ),
            )
        status.update("building the report")
        files = write_report(_spark(settings), config, folder)
    if as_json:
        print(json.dumps(files.tables, indent=2))
        quiet.print(f"report written to {files.html}")
        return
    console.print(league_table(files.tables["brand_league"]))
    console.print(f"report written to {files.html}")
    console.print(f"  tables as JSON: {files.json}; charts: {files.html.parent / 'charts'}/")


def league_table(league: list[dict[str, Any]], limit: int = 15) -> Table:
    """The brand reply-time league as a rich table (minutes)."""
    table = Table(
        "brand", "contacts", "answered", "p50 (min)", "p90 (min)", title="reply-time league"
    )
    for col in table.columns[1:]:
        col.justify = "right"
    for r in league[:limit]:
        table.add_row(
            r["brand"],
            f"{r['contacts']:,}",
            f"{r['answered']:,}",
            _minutes(r["first_response_p50_s"]),
            _minutes(r["first_response_p90_s"]),
        )
    if len(league) > limit:
        table.caption = f"{limit} of {len(league)} brands; all in the JSON"
    return table


def register(app: typer.Typer) -> None:
    """Add the lakehouse commands to the `omnicx` app."""
    from omnicx.erase import erase_command

    app.add_typer(lake_app, name="lake")
    app.command()(report)
    # `omnicx erase` lives in omnicx/erase.py (every store); `lake erase` is kept as its alias.
    lake_app.command("erase", help="Alias of `omnicx erase` (erases every store).")(erase_command)
