"""GET /api/v1/ingest/health: what each client's requests brought over a window, and why spans were lost."""

from datetime import datetime, timezone
from typing import Literal

from ninja import Query, Router, Schema

from ingest_health.report import ingest_health
from traces.timeframe import window_start

router = Router(tags=["ingest health"])


class RejectionOut(Schema):
    at: datetime
    spans: int  # 0: the whole request was refused
    status: int
    message: str
    explanation: str


class ClientOut(Schema):
    client: str
    service_name: str
    sdk_name: str
    sdk_version: str
    user_agent: str
    requests: int
    failed_requests: int
    spans_stored: int
    duplicates: int
    rejected: int
    truncated: int
    last_request_at: datetime
    last_rejections: list[RejectionOut]


class UnpricedModelOut(Schema):
    model: str
    spans: int
    tokens: int


class ServiceOut(Schema):
    service_name: str
    rootless_traces: int
    stitched_runs: int | None  # null: this server does not stitch runs
    unpriced_models: list[UnpricedModelOut] | None  # null: spans carry no cost source


class IngestHealthOut(Schema):
    window: str
    start: datetime | None
    end: datetime
    clients: list[ClientOut]
    services: list[ServiceOut]


class Error(Schema):
    detail: str


@router.get("/ingest/health", response={200: IngestHealthOut, 422: Error})
def get_ingest_health(request, window: Literal["1h", "24h", "7d", "30d", "all"] = Query("24h")):
    """Per client (service name plus SDK, or User-Agent): requests, spans stored, duplicates, rejected
    spans with the last rejection messages, truncated attribute values and the last request; per service:
    traces still without a root 10 minutes after they started, stitched runs and unpriced models."""
    now = datetime.now(timezone.utc)
    start = window_start(window, now)
    return {"window": window, "start": start, "end": now, **ingest_health(start, now)}
