"""The KPI report (`omnicx report`): the gold tables as JSON, PNG charts and one HTML page.

What it holds (the JSON's keys; the HTML shows the same):

- `kpis_daily`: every row of gold.cx_kpis_daily (day x channel x tenant), as stored;
- `by_channel`: per channel over the whole period, the gold counts summed and the rates
  recomputed from the sums (SLA attainment, digital containment, contacts per customer-day);
  first-response p50/p90 per channel come from the conversations themselves, since percentiles
  of days cannot be combined;
- `brand_league`: the reply-time league of the social brand accounts over the whole period
  (`jobs.gold.kpis.brand_league`): brand, contacts, answered, first_response_p50_s,
  first_response_p90_s, fastest median first.

Charts (PNG files under `charts/`, also embedded in the HTML so the page travels alone): contacts
per day and channel, reply time by channel, reply time by brand, SLA attainment, contacts per
customer, digital containment.
"""

from __future__ import annotations

import base64
import html
import json
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobs.config import LakehouseConfig

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

HTML_NAME = "cx-report.html"
JSON_NAME = "cx-report.json"
# Summed per channel over the period; the rates below are recomputed from these sums.
SUMMED = [
    "contacts",
    "customers",
    "conversations_opened",
    "answered",
    "answered_within_sla",
    "repeat_customers",
    "journeys",
    "contained_journeys",
    "fallback_to_phone",
    "inbound_messages",
]
LEAGUE_CHART_BRANDS = 20
HTML_DAILY_ROWS = 500


@dataclass
class ReportFiles:
    """Where `write_report` put things."""

    html: Path
    json: Path
    charts: list[Path]
    tables: dict[str, Any]


def _plain(value: Any) -> Any:
    """A JSON-friendly copy of a gold cell (dates and times as ISO text, NaN as null)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def report_tables(spark: SparkSession, config: LakehouseConfig) -> dict[str, Any]:
    """The report's tables (see the module docstring) from the lake as it is now."""
    from pyspark.sql import functions as F

    from jobs.gold.kpis import brand_league, conversations
    from jobs.tables import GOLD_CX_KPIS_DAILY_SPEC, SILVER_CUSTOMER_TIMELINE_SPEC, ensure_table

    gold = spark.read.format("delta").load(ensure_table(spark, config, GOLD_CX_KPIS_DAILY_SPEC))
    kpis_daily = [
        {k: _plain(v) for k, v in row.asDict().items()}
        for row in gold.orderBy("day", "channel", "tenant").collect()
    ]
    timeline = spark.read.format("delta").load(
        ensure_table(spark, config, SILVER_CUSTOMER_TIMELINE_SPEC)
    )
    reply = {
        r.channel: (r.p50, r.p90)
        for r in conversations(timeline)
        .groupBy("channel")
        .agg(
            F.percentile("first_response_s", 0.5).alias("p50"),
            F.percentile("first_response_s", 0.9).alias("p90"),
        )
        .collect()
    }
    by_channel = []
    for channel in sorted({r["channel"] for r in kpis_daily}):
        rows = [r for r in kpis_daily if r["channel"] == channel]
        sums = {k: sum(int(r[k] or 0) for r in rows) for k in SUMMED}
        p50, p90 = reply.get(channel, (None, None))
        by_channel.append(
            {
                "channel": channel,
                **sums,
                "contacts_per_customer": _ratio(sums["contacts"], sums["customers"]),
                "sla_attainment": _ratio(sums["answered_within_sla"], sums["conversations_opened"]),
                "digital_containment_rate": None
                if channel == "phone"
                else _ratio(sums["contained_journeys"], sums["journeys"]),
                "first_response_p50_s": p50,
                "first_response_p90_s": p90,
            }
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
    days = [r["day"] for r in kpis_daily]
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "lake_dir": str(config.lake_dir),
        "sla_minutes": config.sla_minutes,
        "period": {"first_day": min(days, default=None), "last_day": max(days, default=None)},
        "kpis_daily": kpis_daily,
        "by_channel": by_channel,
        "brand_league": league,
    }


def render_charts(tables: dict[str, Any], out_dir: Path) -> list[Path]:
    """PNG charts of the report's tables under `out_dir` (none for an empty lake)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def save(fig: Any, name: str) -> None:
        path = out_dir / f"{name}.png"
        fig.savefig(path, format="png", dpi=90, bbox_inches="tight")
        plt.close(fig)
        written.append(path)

    daily = tables["kpis_daily"]
    channels = tables["by_channel"]
    if daily:
        days = sorted({r["day"] for r in daily})
        names = sorted({r["channel"] for r in daily})
        fig, ax = plt.subplots(figsize=(8, 3.5))
        bottom = [0] * len(days)
        for channel in names:
            heights = [
                sum(r["contacts"] for r in daily if r["day"] == d and r["channel"] == channel)
                for d in days
            ]
            ax.bar(days, heights, bottom=bottom, label=channel)
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
        ax.set_title("Contacts per day and channel")
        ax.set_ylabel("contacts")
        ax.legend(fontsize=8)
        ax.tick_params(axis="x", labelrotation=30)
        save(fig, "contacts_per_day")
    if channels:
        labels = [c["channel"] for c in channels]
        fig, ax = plt.subplots(figsize=(7, 3.2))
        x = range(len(labels))
        for offset, field, label in (
            (-0.2, "first_response_p50_s", "p50"),
            (0.2, "first_response_p90_s", "p90"),
        ):
            ax.bar(
                [i + offset for i in x],
                [(c[field] or 0) / 60 for c in channels],
                width=0.4,
                label=label,
            )
        ax.set_xticks(list(x), labels)
        ax.set_ylabel("minutes")
        ax.set_title("First-response time by channel")
        ax.legend(fontsize=8)
        save(fig, "reply_time_by_channel")
        for key, title, name in (
            ("sla_attainment", f"Answered within {tables['sla_minutes']} min", "sla_by_channel"),
            ("contacts_per_customer", "Contacts per customer-day", "contacts_per_customer"),
            ("digital_containment_rate", "Digital containment (no phone that day)", "containment"),
        ):
            fig, ax = plt.subplots(figsize=(6, 3))
            ax.bar(labels, [c[key] or 0 for c in channels])
            if key != "contacts_per_customer":
                ax.set_ylim(0, 1)
            ax.set_title(title)
            save(fig, name)
    answered = [r for r in tables["brand_league"] if r["first_response_p50_s"] is not None]
    answered = answered[:LEAGUE_CHART_BRANDS]
    if answered:
        fig, ax = plt.subplots(figsize=(7, 0.35 * len(answered) + 1.2))
        brands = [r["brand"] for r in answered][::-1]
        ax.barh(brands, [r["first_response_p90_s"] / 60 for r in answered][::-1], label="p90")
        ax.barh(brands, [r["first_response_p50_s"] / 60 for r in answered][::-1], label="p50")
        ax.set_xlabel("first response (minutes)")
        ax.set_title("Reply-time league of the brand accounts (social)")
        ax.legend(fontsize=8)
        save(fig, "reply_time_by_brand")
    return written


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return html.escape(str(value))


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_cell(r.get(c))}</td>" for c in columns) + "</tr>" for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def render_html(tables: dict[str, Any], charts: list[Path]) -> str:
    """One self-contained page: charts embedded as PNG data, then the tables."""
    images = "".join(
        f'<figure><img alt="{p.stem}" src="data:image/png;base64,'
        f'{base64.b64encode(p.read_bytes()).decode()}"/><figcaption>{p.stem}</figcaption>'
        "</figure>"
        for p in charts
    )
    period = tables["period"]
    daily = tables["kpis_daily"]
    daily_cols = [
        "day",
        "channel",
        "tenant",
        "contacts",
        "customers",
        "answered",
        "first_response_p50_s",
        "first_response_p90_s",
        "sla_attainment",
        "repeat_contact_rate",
        "digital_containment_rate",
        "fallback_to_phone",
        "avg_sentiment",
    ]
    more = (
        f"<p>first {HTML_DAILY_ROWS} of {len(daily):,} rows; all are in {JSON_NAME}</p>"
        if len(daily) > HTML_DAILY_ROWS
        else ""
    )
    style = (
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
        "figure{display:inline-block;margin:0.5em}"
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>omnicx CX report</title>"
        f"<style>{style}</style></head><body><h1>omnicx customer-experience report</h1>"
        f"<p>generated {tables['generated_at']} from {html.escape(tables['lake_dir'])}; "
        f"days {period['first_day']} to {period['last_day']}; SLA {tables['sla_minutes']} min"
        f"</p>{images}<h2>By channel (whole period)</h2>"
        + _table(
            tables["by_channel"],
            [
                "channel",
                "contacts",
                "conversations_opened",
                "answered",
                "first_response_p50_s",
                "first_response_p90_s",
                "sla_attainment",
                "contacts_per_customer",
                "digital_containment_rate",
                "fallback_to_phone",
            ],
        )
        + "<h2>Reply-time league (social brand accounts, seconds)</h2>"
        + _table(
            tables["brand_league"],
            ["brand", "contacts", "answered", "first_response_p50_s", "first_response_p90_s"],
        )
        + "<h2>gold.cx_kpis_daily</h2>"
        + _table(daily[:HTML_DAILY_ROWS], daily_cols)
        + more
        + "</body></html>"
    )


def write_report(spark: SparkSession, config: LakehouseConfig, out_dir: Path) -> ReportFiles:
    """Write `cx-report.html`, `cx-report.json` and `charts/*.png` under `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = report_tables(spark, config)
    charts = render_charts(tables, out_dir / "charts")
    json_path = out_dir / JSON_NAME
    json_path.write_text(json.dumps(tables, indent=2) + "\n", encoding="utf-8")
    html_path = out_dir / HTML_NAME
    html_path.write_text(render_html(tables, charts), encoding="utf-8")
    return ReportFiles(html=html_path, json=json_path, charts=charts, tables=tables)
