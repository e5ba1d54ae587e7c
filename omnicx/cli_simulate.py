"""`omnicx simulate`: write realistic native channel traffic (see docs/simulator.md)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from omnicx.settings import load_settings
from omnicx.simulate.config import BrandSpec, Scale, SimulateConfig

if TYPE_CHECKING:
    from omnicx.simulate.run import RunResult

console = Console()
err_console = Console(stderr=True)


def simulate_command(
    customers: Annotated[
        int | None, typer.Option("--customers", "-n", help="Simulated customers.")
    ] = None,
    days: Annotated[int | None, typer.Option("--days", help="Simulated days.")] = None,
    start: Annotated[
        str | None,
        typer.Option("--start", help="First day, YYYY-MM-DD (UTC); default: `days` days ago."),
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Same seed, same bytes (default 7).")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Output directory; default <OMNICX_HOME>/simulated."),
    ] = None,
    scale: Annotated[
        Scale, typer.Option("--scale", help="Preset for customers, days and app traffic.")
    ] = Scale.DEMO,
    channels: Annotated[
        str | None, typer.Option("--channels", help="Comma list, e.g. email,social.")
    ] = None,
    email_format: Annotated[
        str | None,
        typer.Option("--email-format", help="mbox (one file per brand, default) or eml."),
    ] = None,
    twitter_v2: Annotated[
        bool | None,
        typer.Option("--twitter-v2/--no-twitter-v2", help="Also write API v2 JSON (default on)."),
    ] = None,
    malformed_rate: Annotated[
        float | None, typer.Option("--malformed-rate", help="Share of malformed records.")
    ] = None,
    brand: Annotated[
        list[str] | None,
        typer.Option(
            "--brand",
            help="The business's own identity, repeatable: slug,Name,TwitterHandle,domain"
            "[,support address].",
        ),
    ] = None,
    config_file: Annotated[
        Path | None,
        typer.Option("--config", help="JSON file of SimulateConfig fields (flags win)."),
    ] = None,
) -> None:
    """Write native channel payloads (mbox/eml, twcs CSV + Twitter v2 JSON, Segment, Amazon
    Connect CTR and chat transcripts) plus manifest.json with counts and malformed records."""
    try:
        values: dict[str, object] = {}
        if config_file is not None:
            values.update(json.loads(config_file.read_text()))
        flags: dict[str, object] = {
            "customers": customers,
            "days": days,
            "start": date.fromisoformat(start) if start else None,
            "seed": seed,
            "out": out,
            "channels": channels,
            "email_format": email_format,
            "twitter_v2": twitter_v2,
            "malformed_rate": malformed_rate,
        }
        # Flags left unset keep the config file's value (and then the preset's).
        values.update({k: v for k, v in flags.items() if v is not None})
        values.setdefault("out", load_settings().home / "simulated")
        if brand:
            values["brand_specs"] = [BrandSpec.parse(b) for b in brand]
        config = SimulateConfig.for_scale(scale, **values)
        result = _run(config)
    except (ValidationError, ValueError, OSError) as exc:  # OutputDirError is a ValueError
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    _print_summary(result)


def _run(config: SimulateConfig) -> RunResult:
    # Imported here: Faker and VADER take a second to load, and other commands do not need them.
    from omnicx.simulate.run import simulate

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        tasks: dict[str, TaskID] = {}

        def on_progress(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                label = "simulating customers" if phase == "people" else "writing files"
                tasks[phase] = progress.add_task(label, total=total)
            progress.update(tasks[phase], completed=done, total=total)

        return simulate(config, progress=on_progress)


def _print_summary(result: RunResult) -> None:
    m = result.manifest
    table = Table(title=f"simulated traffic in {result.out} ({m['start']} to {m['end']})")
    for col in ("channel", "files", "records", "malformed", "expected events"):
        table.add_column(col, justify="left" if col in ("channel", "files") else "right")
    for name, ch in m["channels"].items():
        table.add_row(
            name,
            ", ".join(ch["files"]),
            f"{ch['records']:,}",
            f"{ch['malformed']:,}",
            f"{ch['expected_events']:,}",
        )
    console.print(table)
    journeys = ", ".join(
        f"{k} {v['people']}" for k, v in m["journeys"].items() if k != "background"
    )
    console.print(f"journeys (people): {journeys}; outages: {len(m['outages'])}")
    secs = max(result.seconds, 1e-9)
    console.print(
        f"{result.records:,} records ({result.events:,} expected events) in {secs:.1f} s: "
        f"[bold]{result.records / secs:,.0f} records/s[/bold], "
        f"{result.events / secs:,.0f} events/s; manifest: {result.out / 'manifest.json'}"
    )
