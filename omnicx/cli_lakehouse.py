"""Lakehouse commands: `omnicx lake run`, `omnicx report` (`omnicx erase`: omnicx/erase.py)."""

from __future__ import annotations

import base64
import io
import json
from datetime import UTC, datetime
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


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode()


def build_report(spark: SparkSession, config: LakehouseConfig) -> tuple[str, list[dict[str, Any]]]:
    """(HTML page with embedded PNG charts, per-brand league rows) from the gold/silver tables."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from jobs.gold.kpis import brand_league
    from jobs.tables import GOLD_CX_KPIS_DAILY_SPEC, SILVER_CUSTOMER_TIMELINE_SPEC, ensure_table

    kpis: Any = (
        spark.read.format("delta")
        .load(ensure_table(spark, config, GOLD_CX_KPIS_DAILY_SPEC))
        .toPandas()
    )
    timeline = spark.read.format("delta").load(
        ensure_table(spark, config, SILVER_CUSTOMER_TIMELINE_SPEC)
    )
    league = [
        {
            "brand": r.brand,
            "contacts": int(r.contacts),
            "answered": int(r.answered),
            "first_response_p50_s": r.first_response_p50_s,
            "first_response_p90_s": r.first_response_p90_s,
        }
        for r in brand_league(timeline).collect()
    ]
    charts: list[tuple[str, str]] = []
    if not kpis.empty:
        by_day = kpis.groupby(["day", "channel"])["contacts"].sum().unstack(fill_value=0)
        fig, ax = plt.subplots(figsize=(8, 3.5))
        by_day.plot(ax=ax, kind="bar", stacked=True)
        ax.set_title("Contacts per day and channel")
        ax.set_ylabel("contacts")
        charts.append(("Contacts", _png(fig)))
        plt.close(fig)
        sla = kpis.groupby("channel").apply(
            lambda g: g["answered_within_sla"].sum() / max(1, g["conversations_opened"].sum()),
            include_groups=False,
        )
        fig, ax = plt.subplots(figsize=(6, 3))
        sla.plot(ax=ax, kind="bar", ylim=(0, 1))
        ax.set_title(f"Share answered within {config.sla_minutes} min")
        charts.append(("SLA", _png(fig)))
        plt.close(fig)
    answered = [row for row in league if row["first_response_p50_s"] is not None]
    if answered:
        fig, ax = plt.subplots(figsize=(7, 0.35 * len(answered) + 1))
        ax.barh(
            [r["brand"] for r in answered][::-1],
            [r["first_response_p50_s"] / 60 for r in answered][::-1],
        )
        ax.set_xlabel("median first response (minutes)")
        ax.set_title("Brand reply-time league (social)")
        charts.append(("League", _png(fig)))
        plt.close(fig)
    rows = "".join(
        f"<tr><td>{r['brand']}</td><td>{r['answered']}</td>"
        f"<td>{_minutes(r['first_response_p50_s'])}</td><td>{_minutes(r['first_response_p90_s'])}</td></tr>"
        for r in league
    )
    images = "".join(
        f'<h2>{title}</h2><img alt="{title}" src="data:image/png;base64,{data}"/>'
        for title, data in charts
    )
    html = (
        "<!doctype html><html><head><meta charset='utf-8'><title>omnicx CX report</title></head>"
        f"<body><h1>omnicx CX report</h1><p>generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{len(kpis)} KPI rows</p>{images}<h2>Reply-time league</h2><table border='1'>"
        "<tr><th>brand</th><th>answered</th><th>p50 (min)</th><th>p90 (min)</th></tr>"
        f"{rows}</table></body></html>"
    )
    return html, league


def _minutes(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 60:.1f}"


def report(
    out: Annotated[Path, typer.Option("--out", help="Where to write the HTML report.")] = Path(
        "omnicx-report.html"
    ),
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the per-brand reply-time league as JSON.")
    ] = False,
    refresh: Annotated[
        bool, typer.Option("--refresh", help="Run bronze, silver and gold first.")
    ] = False,
) -> None:
    """Write an HTML report with charts of the gold KPIs (or the brand league as JSON)."""
    settings = load_settings()
    config = lake_config(settings)
    quiet = Console(stderr=True)
    with quiet.status("starting Spark") as status:
        spark = _spark(settings)
        if refresh:
            run_all(spark, config, lambda m: status.update(f"refreshing {m}"))
        status.update("building the report")
        html, league = build_report(spark, config)
    if as_json:
        print(json.dumps(league, indent=2))
        return
    out.write_text(html, encoding="utf-8")
    table = Table("brand", "answered", "p50 s", "p90 s")
    for r in league:
        table.add_row(
            r["brand"],
            str(r["answered"]),
            str(r["first_response_p50_s"]),
            str(r["first_response_p90_s"]),
        )
    console.print(table)
    console.print(f"report written to {out}")


def register(app: typer.Typer) -> None:
    """Add the lakehouse commands to the `omnicx` app."""
    from omnicx.erase import erase_command

    app.add_typer(lake_app, name="lake")
    app.command()(report)
    # `omnicx erase` lives in omnicx/erase.py (every store); `lake erase` is kept as its alias.
    lake_app.command("erase", help="Alias of `omnicx erase` (erases every store).")(erase_command)
