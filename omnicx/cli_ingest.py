"""`omnicx schemas ...` and `omnicx ingest ...`: the event contract and channel ingestion."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from omnicx.errors import OmnicxError

schemas_app = typer.Typer(
    help="The canonical event contract: JSON Schema files and their compatibility.",
    no_args_is_help=True,
)

console = Console()


def register(app: typer.Typer) -> None:
    """Add this area's commands to the `omnicx` app."""
    app.add_typer(schemas_app, name="schemas")


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
