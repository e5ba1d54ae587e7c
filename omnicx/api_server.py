"""Run the Customer API with every area's routes: `python -m omnicx.api_server` (what
`omnicx up` starts, passing its settings; without `--settings` they come from the
environment like every omnicx command)."""

from __future__ import annotations

import argparse

import uvicorn

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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m omnicx.api_server")
    parser.add_argument("--settings", help="Settings as JSON (omnicx up passes its own)")
    args = parser.parse_args(argv)
    settings = Settings.model_validate_json(args.settings) if args.settings else load_settings()
    app = create_app(settings.api, extensions(settings))
    uvicorn.run(app, host=settings.api.host, port=settings.api.port, log_level="warning")


if __name__ == "__main__":
    main()
