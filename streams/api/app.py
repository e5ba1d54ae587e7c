"""The Customer API application factory."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, FastAPI, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from streams.api.auth import ApiKeyStore

API_VERSION = "1.0.0"


class ApiConfig(BaseModel):
    """Where the Customer API listens and where its keys are kept."""

    host: str = Field("127.0.0.1", description="Interface the API binds.")
    port: int = Field(18080, description="Port of the Customer API.")
    keys_file: Path = Field(Path(".omnicx/api_keys.json"), description="Hashed API keys.")
    workers: int = Field(1, ge=1, description="uvicorn worker processes.")

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@dataclass
class ApiExtension:
    """What a feature area adds to the API: routes, and optionally work to do at start-up and
    shut-down (open a Kafka producer, connect to a store), as an async context manager factory
    that receives the app."""

    router: APIRouter
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None


class MeasureRequests:
    """Counts and times each HTTP request by route template and status.

    A pure ASGI middleware rather than `@app.middleware("http")`: Starlette's
    BaseHTTPMiddleware runs each request through an extra task and memory streams, a large
    share of a millisecond read.
    """

    def __init__(self, app: ASGIApp, latency: Histogram, requests_total: Counter) -> None:
        self.app = app
        self.latency = latency
        self.requests_total = requests_total

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception before the response started

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            # The router records the matched route in the scope (the template, not the path,
            # so metrics stay low-cardinality).
            path = getattr(scope.get("route"), "path", "unmatched")
            self.latency.labels(scope["method"], path).observe(time.perf_counter() - started)
            self.requests_total.labels(scope["method"], path, str(status)).inc()


def create_app(config: ApiConfig, extensions: Sequence[ApiExtension] = ()) -> FastAPI:
    """Build the Customer API with `extensions` mounted next to /healthz and /metrics."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            for ext in extensions:
                if ext.lifespan is not None:
                    await stack.enter_async_context(ext.lifespan(app))
            yield

    app = FastAPI(
        title="omnicx Customer API",
        version=API_VERSION,
        description=(
            "A customer's unified timeline, real-time features and open outreach signals, "
            "identity lookups, channel reply-time estimates, and event ingestion. "
            "Authenticate with `Authorization: Bearer <key>` (`omnicx apikey create`)."
        ),
        lifespan=lifespan,
    )
    app.state.api_keys = ApiKeyStore(config.keys_file)
    app.state.config = config
    registry = CollectorRegistry()
    app.state.metrics_registry = registry
    requests_total = Counter(
        "omnicx_api_requests_total",
        "HTTP requests served",
        ["method", "route", "status"],
        registry=registry,
    )
    latency = Histogram(
        "omnicx_api_request_seconds",
        "HTTP request latency",
        ["method", "route"],
        registry=registry,
        buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
    )

    app.add_middleware(MeasureRequests, latency=latency, requests_total=requests_total)

    @app.get("/healthz", tags=["operations"], summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    for ext in extensions:
        app.include_router(ext.router)
    return app
