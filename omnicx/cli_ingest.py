"""`omnicx schemas ...` and `omnicx ingest ...`: the event contract and channel ingestion."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from omnicx.errors import OmnicxError
from omnicx.settings import Settings, load_settings

if TYPE_CHECKING:
    from streams.api import ApiExtension
    from streams.ingest import BatchResult, IngestConfig

schemas_app = typer.Typer(
    help="The canonical event contract: JSON Schema files and their compatibility.",
    no_args_is_help=True,
)

console = Console()


def register(app: typer.Typer) -> None:
    """Add this area's commands to the `omnicx` app."""
    app.add_typer(schemas_app, name="schemas")
    app.command("ingest")(ingest)


@schemas_app.command("check")
def schemas_check(
    json_dir: Annotated[
        Path | None,
        typer.Option(
            "--dir", help="Directory of the checked-in schema files (default: schemas/json)."
        ),
    ] = None,
) -> None:
    """Compare the models with the checked-in JSON Schema files; fail on drift or on a change
    that breaks consumers without a schema_version bump."""
    from schemas.compat import JSON_DIR, check, describe_refusal

    results = check(json_dir or JSON_DIR)
    table = Table("model", "version", "file", "status", "changes")
    for r in results:
        colour = {"ok": "green", "new_version": "yellow"}.get(r.status, "red")
        table.add_row(
            r.name,
            str(r.version),
            r.file,
            f"[{colour}]{r.status}[/]",
            "\n".join(f"{'BREAKING ' if c.breaking else ''}{c}" for c in r.changes) or "-",
        )
    console.print(table)
    refused = [r for r in results if r.status == "breaking"]
    if refused:
        raise OmnicxError(describe_refusal(refused))
    stale = [r.file for r in results if r.status in ("drift", "missing", "new_version")]
    if stale:
        raise OmnicxError(
            f"schema files out of date ({', '.join(stale)}): run `omnicx schemas generate` and "
            "commit the files"
        )


@schemas_app.command("generate")
def schemas_generate(
    json_dir: Annotated[
        Path | None,
        typer.Option("--dir", help="Directory of the schema files (default: schemas/json)."),
    ] = None,
) -> None:
    """Write the JSON Schema files from the models (refused if the change breaks consumers
    without a schema_version bump)."""
    from schemas.compat import JSON_DIR, SchemaCheckError, generate

    try:
        written = generate(json_dir or JSON_DIR)
    except SchemaCheckError as exc:
        raise OmnicxError(str(exc)) from exc
    for path in written:
        console.print(f"wrote {path}")
    if not written:
        console.print("schema files are up to date")


def ingest_config(settings: Settings) -> IngestConfig:
    """The gateway's configuration from the composed settings (the business's own addresses
    and handles decide direction and who the customer is)."""
    from streams.adapters import AdapterConfig
    from streams.ingest import IngestConfig

    return IngestConfig(
        adapters=AdapterConfig(
            own_email_domains=settings.own_email_domains,
            own_email_addresses=settings.own_email_addresses,
            own_social_handles=settings.own_social_handles,
        )
    )


def api_extension(settings: Settings) -> ApiExtension:
    """`POST /v1/events/{channel}` for the Customer API, configured from the settings."""
    from streams.ingest.http import ingest_extension
    from streams.ingest.suppression import SuppressionFollower, follow_while

    # Erased customers' identifiers are refused (cx.erasures.v1, followed while the API runs).
    follower = SuppressionFollower(settings.bootstrap)
    return follow_while(
        follower, ingest_extension(settings.bootstrap, ingest_config(settings), suppressed=follower)
    )


def _files(paths: list[Path]) -> list[Path]:
    """The files named, directories expanded (recursively, hidden files skipped, sorted)."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out += sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        elif path.is_file():
            out.append(path)
        else:
            raise OmnicxError(f"{path}: no such file or directory")
    return out


def ingest(
    channel: Annotated[str, typer.Argument(help="phone, email, social, app or chat.")],
    paths: Annotated[
        list[Path], typer.Argument(help="Files (or directories of files) in the channel's format.")
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the summary as JSON (no progress bar).")
    ] = False,
) -> None:
    """Import files of a channel's native format: each record becomes canonical events on
    cx.interactions.v1 (raw bytes on cx.ingest.CHANNEL), or goes to cx.dlq.v1 with its reason.

    Formats: email .eml/mbox; social twcs CSV or Twitter API v2 JSON; app Segment JSON;
    phone Amazon Connect CTR JSON; chat Amazon Connect transcript JSON (one document, an array,
    or JSON lines).
    """
    from kafka.errors import KafkaError
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from omnicx.erase import suppression_list
    from schemas.topics import CHANNELS
    from streams.ingest import BatchResult, Ingestor, ProducerConfig, make_producer
    from streams.ingest.pipeline import IngestError

    if channel not in CHANNELS:
        raise OmnicxError(f"unknown channel {channel!r}; expected one of {', '.join(CHANNELS)}")
    files = _files(paths)
    settings = load_settings()
    try:
        # librdkafka: the same records as kafka-python for a fraction of the CPU per record.
        producer = make_producer(settings.bootstrap, ProducerConfig(client="librdkafka"))
    except (KafkaError, ConnectionError) as exc:
        raise OmnicxError(
            f"Kafka at {settings.bootstrap} does not answer ({type(exc).__name__}): start it "
            "with `omnicx up` or set OMNICX_KAFKA_BOOTSTRAP"
        ) from exc
    ingestor = Ingestor(producer, ingest_config(settings), suppressed=suppression_list(settings))
    total = BatchResult(channel)
    started = time.perf_counter()
    try:
        split = [(f, ingestor.split(channel, f.read_bytes(), str(f))) for f in files]
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("records"),
            TimeElapsedColumn(),
            console=console,
            disable=as_json,
            transient=False,
        ) as progress:
            task = progress.add_task(f"ingest {channel}", total=sum(len(r) for _, r in split))
            for path, records in split:
                progress.update(task, description=f"{channel}: {path.name}")
                result = ingestor.ingest_records(
                    channel,
                    records,
                    stage="ingest_file",
                    on_progress=lambda n: progress.advance(task, n),
                )
                total.merge(result)
    except IngestError as exc:
        raise OmnicxError(str(exc)) from exc
    finally:
        producer.close(timeout=10)
    total.check()
    elapsed = time.perf_counter() - started
    if as_json:
        print(json.dumps(_summary_json(total, files, elapsed), indent=2))
    else:
        _print_summary(total, len(files), elapsed)


def _summary_json(result: BatchResult, files: list[Path], elapsed: float) -> dict[str, object]:
    return {
        "channel": result.channel,
        "files": [str(f) for f in files],
        "read": result.read,
        "accepted": result.accepted,
        "rejected": result.rejected,
        "events": result.events,
        "rejected_by_reason": dict(result.by_reason.most_common()),
        "examples": result.examples,
        "event_ids": result.event_ids,
        "seconds": round(elapsed, 3),
    }


def _print_summary(result: BatchResult, n_files: int, elapsed: float) -> None:
    table = Table(title=f"ingest {result.channel}: {n_files} file(s) in {elapsed:.1f} s")
    table.add_column("records")
    table.add_column("count", justify="right")
    table.add_row("read", str(result.read))
    table.add_row("[green]accepted[/]", str(result.accepted))
    table.add_row("[red]rejected[/] (to cx.dlq.v1)", str(result.rejected))
    table.add_row("canonical events (to cx.interactions.v1)", str(result.events))
    console.print(table)
    if result.by_reason:
        reasons = Table("rejected because", "records", "first message", title="DLQ reasons")
        for name, count in result.by_reason.most_common():
            reasons.add_row(name, str(count), result.examples.get(name, ""))
        console.print(reasons)
