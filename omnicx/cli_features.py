"""`omnicx features apply | materialize | serve`: the Feast repo, driven from omnicx settings.

Each command renders `<home>/feature_store/feature_store.yaml` from the settings and runs Feast
on `feature_store/repo/`, so the registry, the SQLite store and the push logs stay under the
omnicx home, never in the source tree. The equivalent raw Feast command is printed where it
helps (`feast -c feature_store/repo -f <home>/feature_store/feature_store.yaml ...`).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console

from feature_store.config import FeatureStoreConfig, feast_argv, feast_environment
from feature_store.errors import FeatureStoreError
from omnicx.errors import OmnicxError
from omnicx.settings import Settings, load_settings

features_app = typer.Typer(
    help="The Feast feature store: register the repo, load the online store, serve it over HTTP.",
    no_args_is_help=True,
)
console = Console()


def feature_store_config(settings: Settings, with_spark: bool = False) -> FeatureStoreConfig:
    """The feature store's config from the settings; with the Spark conf of the offline store
    when the command reads the lake (`materialize`).

    Raises:
        ResolutionError: with_spark and the Spark/Delta jars are not resolved (`make setup`).
    """
    config = settings.feature_store
    if with_spark:
        from infra.spark import spark_conf

        config = config.model_copy(update={"spark_conf": spark_conf(settings.spark)})
    return config


def _client(config: FeatureStoreConfig):  # type: ignore[no-untyped-def]
    from feature_store.client import FeatureStoreClient

    return FeatureStoreClient(config)


def _parse_time(value: str, what: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise OmnicxError(
            f"{what}: {value!r} is not an ISO-8601 time (2026-11-23T00:00:00)"
        ) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@features_app.command("apply")
def apply() -> None:
    """Register the repo's entities, sources, views and services (`feast apply`); idempotent."""
    config = feature_store_config(load_settings())
    with console.status(f"feast apply ({config.online_store} online store)"):
        try:
            output = _client(config).apply()
        except FeatureStoreError as exc:
            raise OmnicxError(exc.message) from exc
    for line in output.splitlines():
        if line.strip() and "Warning" not in line and "warnings.warn" not in line:
            console.print(line, highlight=False)
    console.print(f"registry: {config.registry_path}")


@features_app.command("materialize")
def materialize(
    start: Annotated[
        str | None, typer.Argument(help="Start of the window (ISO-8601, UTC if no zone).")
    ] = None,
    end: Annotated[str | None, typer.Argument(help="End of the window (default: now).")] = None,
    incremental: Annotated[
        bool,
        typer.Option("--incremental", help="From where the last run stopped up to END (or now)."),
    ] = False,
    views: Annotated[
        list[str] | None,
        typer.Option("--view", "-v", help="Feature view to load (repeatable; default: batch)."),
    ] = None,
) -> None:
    """Load the latest offline values into the online store (feast materialize[-incremental]).

    By default only the batch views (the gold table); the real-time views are fed by push.
    """
    if incremental:
        if end is None:
            end, start = start, None
        if start is not None:
            raise OmnicxError(
                "--incremental takes only END: omnicx features materialize --incremental [END]"
            )
    elif start is None:
        raise OmnicxError(
            "give START and END (omnicx features materialize 2026-11-01 2026-11-23) or "
            "--incremental [END]"
        )
    from feature_store.client import BATCH_VIEWS

    end_time = _parse_time(end, "END") if end else datetime.now(UTC)
    config = feature_store_config(load_settings(), with_spark=True)
    client = _client(config)
    chosen = views or list(BATCH_VIEWS)
    with console.status(f"materializing {', '.join(chosen)} up to {end_time:%Y-%m-%d %H:%M:%S}"):
        try:
            if incremental:
                client.materialize_incremental(end_time, chosen)
            else:
                assert start is not None
                client.materialize(_parse_time(start, "START"), end_time, chosen)
        except FeatureStoreError as exc:
            raise OmnicxError(exc.message) from exc
        finally:
            client.close()
    console.print(f"materialized {', '.join(chosen)} into the {config.online_store} online store")


@features_app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option("--host", help="Interface to bind.")] = None,
    port: Annotated[int | None, typer.Option("--port", "-p", help="Port to listen on.")] = None,
) -> None:
    """Run Feast's own feature server on the repo (HTTP /get-online-features, /push, /health).

    Runs in the foreground until interrupted.
    """
    config = feature_store_config(load_settings())
    if not config.resolved().registry_path.exists():
        raise OmnicxError("the feature registry does not exist yet: run 'omnicx features apply'")
    argv = feast_argv(
        config,
        "serve",
        "--host",
        host or config.serve_host,
        "--port",
        str(port or config.serve_port),
        "--registry_ttl_sec",
        str(max(config.registry_cache_ttl_s, 1)),
    )
    console.print(
        f"Feast feature server on http://{host or config.serve_host}:{port or config.serve_port}"
        f" ({config.online_store} online store); Ctrl-C stops it",
        highlight=False,
    )
    env = feast_environment(config)
    try:
        # exec: the server gets our pid, so signals and exit status are Feast's own.
        os.execve(argv[0], argv, env)
    except OSError as exc:  # pragma: no cover - only when the feast script is missing
        raise OmnicxError(f"cannot run {argv[0]}: {exc}") from exc
