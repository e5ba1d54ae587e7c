"""`POST /v1/events/{channel}`: the HTTP way in, as an `ApiExtension` of the Customer API.

The body is what the channel's system sends: one JSON payload, a JSON array or JSON lines
(a batch), a CSV (social, twcs layout), or RFC 5322 message(s) for email (`message/rfc822`, an
mbox, or a JSON string / array of strings). Every item is accepted (202, with its event ids) or
refused into cx.dlq.v1 and listed in `rejections` with its item number and reason.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from schemas.topics import CHANNELS
from streams.adapters import RawRecord
from streams.api import ApiExtension, require_scope
from streams.api.auth import ApiKey
from streams.ingest.kafka import ProducerConfig, make_producer
from streams.ingest.pipeline import (
    STAGE_HTTP,
    BatchResult,
    DeliveryFailed,
    IngestConfig,
    Ingestor,
    SuppressionCheck,
)


class HttpIngestConfig(BaseModel):
    """Limits of the HTTP ingest endpoint."""

    max_body_bytes: int = Field(
        16 * 1024 * 1024, ge=1024, description="Largest request body (413 above)."
    )


class Rejected(BaseModel):
    """One refused item of a request (it is on cx.dlq.v1 with these details)."""

    item: int | None = Field(description="1-based item number in the request, in order")
    record_id: str = Field(description="the record's id in its system, or its content hash")
    error_class: str = Field(description="MissingIdentity, InvalidTimestamp, ...")
    message: str = Field(description="why, in words")


class IngestResponse(BaseModel):
    """What became of a request's items: read == accepted + rejected."""

    channel: str
    read: int
    accepted: int
    rejected: int
    event_ids: list[str] = Field(description="ids of the canonical events produced")
    rejections: list[Rejected]


def _response(result: BatchResult) -> IngestResponse:
    return IngestResponse(
        channel=result.channel,
        read=result.read,
        accepted=result.accepted,
        rejected=result.rejected,
        event_ids=result.event_ids,
        rejections=[
            Rejected(
                item=o.record.line,
                record_id=o.record_id,
                error_class=o.error.error_class if o.error else "",
                message=o.error.message if o.error else "",
            )
            for o in result.rejections
        ],
    )


def ingest_extension(
    bootstrap: str,
    config: IngestConfig | None = None,
    *,
    http: HttpIngestConfig | None = None,
    producer: ProducerConfig | None = None,
    suppressed: SuppressionCheck | None = None,
) -> ApiExtension:
    """The ingest router and the lifespan that opens (and closes) its Kafka producer."""
    http = http or HttpIngestConfig()
    router = APIRouter(tags=["ingestion"])

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        kafka = await run_in_threadpool(
            make_producer,
            bootstrap,
            producer or ProducerConfig(client_id="omnicx-http-ingest", client="librdkafka"),
        )
        app.state.ingestor = Ingestor(kafka, config, suppressed=suppressed)
        try:
            yield
        finally:
            await run_in_threadpool(kafka.close, 10)

    @router.post(
        "/v1/events/{channel}",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=IngestResponse,
        summary="Send one payload or a batch in a channel's native format",
        responses={
            401: {"description": "missing or invalid API key"},
            403: {"description": "the key lacks the write:events scope"},
            404: {"description": "unknown channel (the body is on cx.dlq.v1)"},
            413: {"description": "body larger than the limit (nothing was read)"},
            503: {"description": "Kafka did not acknowledge; retry (event ids are stable)"},
        },
    )
    async def post_events(
        channel: str,
        request: Request,
        key: ApiKey = Depends(require_scope("write:events")),  # noqa: B008
    ) -> Any:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > http.max_body_bytes:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, _too_large(http))
        body = await request.body()
        if len(body) > http.max_body_bytes:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, _too_large(http))
        ingestor: Ingestor = request.app.state.ingestor
        content_type = request.headers.get("content-type")
        try:
            # kafka-python blocks: run the batch in a worker thread, off the event loop.
            result = await run_in_threadpool(
                _ingest_body, ingestor, channel, body, content_type, key.key_id
            )
        except DeliveryFailed as exc:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE, str(exc), headers={"Retry-After": "5"}
            ) from exc
        response = _response(result)
        if channel not in CHANNELS:
            return JSONResponse(
                status_code=status.HTTP_404_NOT_FOUND,
                content={
                    "detail": f"unknown channel {channel!r}; expected one of {', '.join(CHANNELS)}",
                    **response.model_dump(),
                },
            )
        return response

    return ApiExtension(router=router, lifespan=lifespan)


def _ingest_body(
    ingestor: Ingestor, channel: str, body: bytes, content_type: str | None, key_id: str
) -> BatchResult:
    source = f"POST /v1/events/{channel} key={key_id}"
    records = ingestor.split(channel, body, source, content_type)
    # A request's items are numbered 1..n in order (a file's records keep their line numbers).
    records = [
        RawRecord(r.data, r.source, number, r.content_type)
        for number, r in enumerate(records, start=1)
    ]
    return ingestor.ingest_records(channel, records, stage=STAGE_HTTP)


def _too_large(http: HttpIngestConfig) -> str:
    return f"request body exceeds {http.max_body_bytes:,} bytes; split the batch"
