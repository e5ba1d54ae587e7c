"""The `omnicx` command line."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from infra.errors import InfraError
from omnicx import cli_ingest
from omnicx.cli_features import features_app
from omnicx.cli_lakehouse import register as register_lakehouse
from omnicx.cli_simulate import simulate_command
from omnicx.erase import erase_command
from omnicx.errors import OmnicxError
from omnicx.settings import Settings, load_settings

app = typer.Typer(
    name="omnicx",
    help="Omnichannel customer-experience data platform: local stack, ingestion, reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
topics_app = typer.Typer(help="Kafka topics of the registry.", no_args_is_help=True)
app.add_typer(topics_app, name="topics")
apikey_app = typer.Typer(help="API keys of the Customer API.", no_args_is_help=True)
app.add_typer(apikey_app, name="apikey")
cli_ingest.register(app)  # `omnicx schemas ...`, `omnicx ingest ...`
app.add_typer(features_app, name="features")
app.command("simulate")(simulate_command)

console = Console()
err_console = Console(stderr=True)


def settings() -> Settings:
    return load_settings()


@app.command()
def up(
    with_dagster: Annotated[
        bool, typer.Option("--with-dagster", help="Also start the Dagster webserver and daemon.")
    ] = False,
) -> None:
    """Start the local stack and apply the topic registry."""
    from omnicx.stack import LocalStack

    stack = LocalStack(settings(), with_dagster=with_dagster)
    with console.status("starting the local stack") as status:
        statuses = stack.up(on_start=lambda name: status.update(f"starting {name}"))
    _print_status(statuses)


@app.command()
def down(
    purge: Annotated[
        bool, typer.Option("--purge", help="Also delete local state (broker data, lake).")
    ] = False,
) -> None:
    """Stop the local stack (data is kept unless --purge)."""
    from omnicx.stack import LocalStack

    LocalStack(settings(), with_dagster=True).down(purge=purge)
    console.print("stack stopped" + (" and its data deleted" if purge else ""))


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show each component of the local stack, its address, and whether it answers."""
    from omnicx.stack import LocalStack

    statuses = LocalStack(settings(), with_dagster=True).status()
    if as_json:
        print(json.dumps({s.name: s.as_json() for s in statuses}, indent=2))
        return
    _print_status(statuses)


@topics_app.command("apply")
def topics_apply() -> None:
    """Create or update the registry's topics (idempotent)."""
    from omnicx.topics import apply_topics

    s = settings()
    changes = apply_topics(s.bootstrap)
    table = Table("topic", "action", "details", title=f"topics at {s.bootstrap}")
    for change in changes:
        table.add_row(change.name, change.action, "; ".join(change.details))
    console.print(table)


@apikey_app.command("create")
def apikey_create(
    scopes: Annotated[
        str, typer.Option("--scopes", help="Comma-separated, e.g. read:timeline,read:signals.")
    ],
    name: Annotated[str, typer.Option("--name", help="Who or what the key is for.")] = "",
) -> None:
    """Print a new API key (shown once; only its hash is stored)."""
    from streams.api.auth import ApiKeyStore, UnknownScope

    store = ApiKeyStore(settings().api.keys_file)
    try:
        key = store.create([s.strip() for s in scopes.split(",") if s.strip()], name=name)
    except UnknownScope as exc:
        raise OmnicxError(str(exc)) from exc
    print(key)


@apikey_app.command("list")
def apikey_list() -> None:
    """List API keys (ids, names, scopes; never the secrets)."""
    from streams.api.auth import ApiKeyStore

    table = Table("key id", "name", "scopes", "created")
    for key in ApiKeyStore(settings().api.keys_file).list():
        table.add_row(key.key_id, key.name, ",".join(sorted(key.scopes)), key.created_at)
    console.print(table)


@app.command()
def demo(
    down_after: Annotated[
        bool, typer.Option("--down", help="Stop the stack when the demo ends.")
    ] = False,
    customers: Annotated[
        int, typer.Option("--customers", "-n", help="Simulated customers (a day of traffic).")
    ] = 1_500,
    seed: Annotated[int, typer.Option("--seed", help="Simulator seed.")] = 7,
    skip: Annotated[
        list[str] | None,
        typer.Option("--skip", help="A step not to run, e.g. --skip lakehouse (repeatable)."),
    ] = None,
) -> None:
    """Run the main job end to end on embedded defaults and show what happened."""
    from omnicx.demo import DemoOptions, run_demo

    options = DemoOptions(
        customers=customers, seed=seed, down_after=down_after, skip=frozenset(skip or ())
    )
    run_demo(settings(), console=console, options=options)


def _print_status(statuses: list) -> None:
    table = Table("component", "address", "up", "details")
    for s in statuses:
        extra = ""
        if "nodes" in s.info:
            extra = ", ".join(
                f"node {n['node_id']} {'up' if n['up'] else 'down'}" for n in s.info["nodes"]
            )
        table.add_row(s.name, s.address, "[green]yes[/]" if s.up else "[red]no[/]", extra)
    console.print(table)


register_lakehouse(app)  # lake run, report
app.command("erase")(erase_command)  # right to be forgotten, every store


def main() -> None:
    """Entry point: run the CLI, turning our errors into one clear line and exit status 1."""
    try:
        app()
    except (InfraError, OmnicxError) as exc:
        message = exc.message if isinstance(exc, InfraError) else str(exc)
        err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
        detail = getattr(exc, "detail", "")
        if detail:
            err_console.print(f"[dim]{detail}[/]", highlight=False, soft_wrap=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
