"""Run the Customer API with every area's routes: `python -m omnicx.api_server` (what
`omnicx up` starts, passing its settings; without `--settings` they come from the
environment like every omnicx command)."""

from __future__ import annotations

import argparse
import os

import uvicorn
from fastapi import FastAPI

from omnicx.settings import Settings, load_settings
from streams.api import ApiExtension, create_app
from streams.api.customers import customer_api, state_view_for


def extensions(settings: Settings) -> list[ApiExtension]:
    """The routes each area contributes (one line per area)."""
    from omnicx.cli_ingest import api_extension as ingest_api

    return [
        customer_api(state_view_for(settings.bootstrap, settings.streams)),
        ingest_api(settings),  # POST /v1/events/{channel}
    ]


# How worker processes get the settings the parent was given (not an OMNICX_* variable, so
# no settings loader mistakes it for a field).
SETTINGS_ENV = "_OMNICX_API_SERVER_SETTINGS"


def app_from_environment() -> FastAPI:
    """uvicorn's app factory in each worker process when `api.workers` > 1."""
    settings = Settings.model_validate_json(os.environ[SETTINGS_ENV])
    return create_app(settings.api, extensions(settings))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m omnicx.api_server")
    parser.add_argument("--settings", help="Settings as JSON (omnicx up passes its own)")
    args = parser.parse_args(argv)
    settings = Settings.model_validate_json(args.settings) if args.settings else load_settings()
    api = settings.api
    if api.workers > 1:
        # uvicorn starts workers from an import string. Each worker process runs the lifespans,
        # so each has its own Kafka producer, shared by all the requests that process serves.
        os.environ[SETTINGS_ENV] = settings.model_dump_json()
        uvicorn.run(
            "omnicx.api_server:app_from_environment",
            factory=True,
            workers=api.workers,
            host=api.host,
            port=api.port,
            log_level="warning",
        )
        return
    app = create_app(api, extensions(settings))
    uvicorn.run(app, host=api.host, port=api.port, log_level="warning")


if __name__ == "__main__":
    main()
