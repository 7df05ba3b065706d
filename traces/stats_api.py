"""The REST API's charts over many traces, beside /stats: the latency heatmap, usage over time, the top
spenders and workflow flows. They take the same filters as /stats (TraceFilters) and its window."""

from datetime import datetime, timedelta, timezone
from typing import Literal

from ninja import Field, Query, Router, Schema

from traces import flows as trace_flows
from traces import heatmap as trace_heatmap
from traces import stats as trace_stats
from traces.api import Error, InvalidParameter, QueryErrorOut, TraceFilters, _moment, _time_limited
from traces.models import Trace
from traces.timeframe import window_start

router = Router(tags=["stats"])


class HeatmapCell(Schema):
    start: datetime = Field(description="the cell's traces started at or after this (the window's start at most)")
    end: datetime = Field(description="... and before this")
    min_duration_ms: float | None = Field(description="the cell's traces took at least this long; null: no lower bound")
    max_duration_ms: float | None = Field(description="... and less than this; null: no upper bound")
    traces: int
    errors: int = Field(description="traces with a failed span")


class HeatmapOut(Schema):
    start: datetime | None
    end: datetime | None
    bucket_seconds: int | None
    duration_edges_ms: list[float] = Field(description="the duration buckets' edges, on a 1-2-5 log scale")
    cells: list[HeatmapCell] = Field(description="the cells holding a trace; empty ones are left out")


class FlowNode(Schema):
    step: str = Field(description="the module, tool or agent name, else the model, else the span name")
    kind: str
    spans: int
    errors: int
    error_rate: float
    avg_duration_ms: float
    total_tokens: int
    cost: float


class FlowEdge(Schema):
    source: str | None = Field(description="the step before; null: the start of a run")
    target: str | None = Field(description="the step after; null: the end of a run")
    count: int
    errors: int = Field(description="failed spans among the targets")
    error_rate: float


class FlowOut(Schema):
    start: datetime | None
    end: datetime | None
    runs: int = Field(description="runs read, the latest first, with at least one step")
    sample_limit: int = Field(description="at most this many runs are read")
    nodes: list[FlowNode]
    edges: list[FlowEdge]


class UsageStack(Schema):
    name: str
    other: bool = Field(description="true: every name outside the largest spenders, together")
    total_tokens: int
    cost: float


class UsageValue(Schema):
    tokens: int
    cost: float


class UsagePoint(Schema):
    start: datetime
    values: list[UsageValue] = Field(description="one per stack, in the order of stacks")


class UsageOut(Schema):
    start: datetime | None
    end: datetime | None
    by: str
    bucket_seconds: int | None
    stacks: list[UsageStack]
    points: list[UsagePoint]


class Spender(Schema):
    name: str
    traces: int
    total_tokens: int
    cost: float


class SpendersOut(Schema):
    start: datetime
    users: list[Spender]
    workflows: list[Spender]


Window = Literal["1h", "24h", "7d", "30d", "all"]


def _window(filters, window):
    """(traces, start, end) of the stats endpoints: the filters over the window, or from filters.start."""
    now = datetime.now(timezone.utc)
    start = _moment(filters.start, "start") or window_start(window, now)
    end = _moment(filters.end, "end") or now
    if start is not None and start >= end:
        raise InvalidParameter("start: must be before end")
    return filters.apply(Trace.objects.all(), default_start=start), start, end


@router.get("/stats/heatmap", response={200: HeatmapOut, 400: QueryErrorOut, 422: Error, 503: Error})
@_time_limited
def get_heatmap(request, filters: Query[TraceFilters],
                window: Window = Query("24h", description="ignored when start is given")):
    """Traces counted by start time (the buckets of /stats' series) and duration (1-2-5 log buckets)."""
    traces, start, end = _window(filters, window)
    if not traces.exists():
        return {"start": start, "end": end, "bucket_seconds": None, "duration_edges_ms": trace_heatmap.EDGES_MS,
                "cells": []}
    grid = trace_heatmap.heatmap(traces, start, end)
    return {"start": start, "end": end, "bucket_seconds": grid["bucket_seconds"],
            "duration_edges_ms": trace_heatmap.EDGES_MS, "cells": grid["cells"]}


@router.get("/stats/usage-over-time", response={200: UsageOut, 400: QueryErrorOut, 422: Error, 503: Error})
@_time_limited
def get_usage_over_time(request, filters: Query[TraceFilters],
                        by: Literal["model", "workflow", "service", "user"] = "model",
                        window: Window = Query("24h", description="ignored when start is given")):
    """Tokens and cost per time bucket, stacked by model, workflow, service or user: the largest spenders
    by name, the rest as one "other" stack. Each bucket adds up to the /stats series' tokens and cost."""
    traces, start, end = _window(filters, window)
    if not traces.exists():
        return {"start": start, "end": end, "by": by, "bucket_seconds": None, "stacks": [], "points": []}
    return {"start": start, "end": end} | trace_stats.usage_over_time(traces, by, start, end)


@router.get("/stats/top-spenders", response={200: SpendersOut, 400: QueryErrorOut, 422: Error, 503: Error})
@_time_limited
def get_top_spenders(request, filters: Query[TraceFilters],
                     days: int = Query(7, ge=1, le=366, description="over the last this many days")):
    """The users and workflows with the highest cost (the filters' start and end are not used)."""
    start = datetime.now(timezone.utc) - timedelta(days=days)
    traces = filters.model_copy(update={"start": None, "end": None}).apply(Trace.objects.all()).between(start)
    return {"start": start, "users": trace_stats.top_spenders(traces, "user_id"),
            "workflows": trace_stats.top_spenders(traces, "workflow_name")}


@router.get("/flows", response={200: FlowOut, 400: QueryErrorOut, 422: Error, 503: Error})
@_time_limited
def get_flows(request, filters: Query[TraceFilters],
              window: Window = Query("24h", description="ignored when start is given"),
              runs: int = Query(trace_flows.FLOW_RUNS, ge=1, le=trace_flows.FLOW_RUNS,
                                description="read at most this many runs, the latest first")):
    """Which step follows which in the latest runs of the filtered traces (usually one workflow or service):
    steps in start order within each run, from a virtual start (source null) to a virtual end (target null)."""
    traces, start, end = _window(filters, window)
    return {"start": start, "end": end} | trace_flows.flow(traces, runs)
