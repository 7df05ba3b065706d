"""The REST API under /api/v1: trace and span queries, statistics and export."""

import csv
import functools
import io
import json
from datetime import datetime, timezone
from typing import Literal

from django.http import StreamingHttpResponse
from ninja import Field, Query, Router, Schema, Status

from accounts.access import caller_of
from traces import critical_path as path_of
from traces import flame, runs
from traces import stats as trace_stats
from traces import tree as span_tree
from traces.export import otlp_json, spreadsheet_safe
from traces.models import RunLink, Span, SpanKind, StatusCode, Trace, is_error, stored_text
from traces.pagination import encode_cursor, page
from traces.parameters import check_cursor, moment
from traces.query_limits import QueryTimeout, time_limit
from traces.signals import Deletion
from traces.timeframe import datetime_from_ns, window_start
from traces.ingest import export_traces

router = Router(tags=["traces"])

SortField = Literal[
    "start_time", "-start_time", "duration", "-duration", "spans", "-spans", "tokens", "-tokens", "cost", "-cost"
]


# --- schemas -----------------------------------------------------------------------------------


class Error(Schema):
    detail: str


class QueryErrorOut(Schema):
    detail: str
    column: int | None = None


class TraceSummary(Schema):
    trace_id: str
    root_span_name: str
    has_root: bool = Field(description="False while the parentless span has not arrived")
    service_name: str
    workflow_name: str
    started_at: datetime
    ended_at: datetime
    duration_ms: float
    span_count: int
    error_count: int
    input_tokens: int
    output_tokens: int
    total_tokens: int
    total_cost: float
    estimated_cost: float = Field(description="the part of total_cost that msgtrace estimated from tokens")
    unpriced_spans: int = Field(description="model calls with tokens but no known price (not in total_cost)")
    models: list[str]
    user_id: str
    session_id: str
    status: Literal["ok", "error"]

    run_trace_count: int = Field(description="traces in the run this trace is the outermost of (traces.runs); 1 alone, "
                                             "0 when the trace is stitched into another's run")
    # The figures the trace list's row shows for a run (group=run): the run's sums on its outermost trace.
    run_span_count: int | None = Field(description="spans of the run this trace is the outermost of; null when the "
                                                   "trace is stitched into another's run (counted there)")
    run_error_count: int | None = Field(description="error spans of the run; null as run_span_count")
    run_total_tokens: int | None = Field(description="tokens of the run; null as run_span_count")
    run_total_cost: float | None = Field(description="cost of the run; null as run_span_count")

    @staticmethod
    def resolve_models(trace):
        return trace.models_used

    @staticmethod
    def resolve_run_trace_count(trace):
        return 0 if trace.run_link == RunLink.STITCHED else trace.run_trace_count

    @staticmethod
    def resolve_run_span_count(trace):
        return None if trace.run_link == RunLink.STITCHED else trace.run_spans

    @staticmethod
    def resolve_run_error_count(trace):
        return None if trace.run_link == RunLink.STITCHED else trace.run_errors

    @staticmethod
    def resolve_run_total_tokens(trace):
        return None if trace.run_link == RunLink.STITCHED else trace.run_tokens

    @staticmethod
    def resolve_run_total_cost(trace):
        return None if trace.run_link == RunLink.STITCHED else trace.run_cost


# Counting every match costs what reading every match costs: past this many, the total says "at least".
TOTAL_LIMIT = 1000
# Far past any store (a page there is empty) and far below 2**63, where offset + limit overflows SQL's integers.
MAX_OFFSET = 10**12


class TraceList(Schema):
    traces: list[TraceSummary]
    total: int | None = Field(
        description=f"matching traces, counted up to {TOTAL_LIMIT:,}; null when include_total=false"
    )
    total_exact: bool | None = Field(None, description="false when more than `total` traces match")
    limit: int
    offset: int
    next_cursor: str | None = Field(description="pass as cursor for the next page; null on the last page")


class EventOut(Schema):
    name: str
    time: datetime
    time_unix_nano: int
    attributes: dict
    dropped_attributes_count: int


class LinkOut(Schema):
    trace_id: str
    span_id: str
    trace_state: str
    flags: int
    attributes: dict
    dropped_attributes_count: int


class ResourceOut(Schema):
    attributes: dict
    dropped_attributes_count: int
    schema_url: str


class ScopeOut(Schema):
    name: str
    version: str
    attributes: dict
    dropped_attributes_count: int
    schema_url: str


class SpanStatus(Schema):
    code: Literal["unset", "ok", "error"]
    message: str


class SpanSummary(Schema):
    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: Literal["unspecified", "internal", "server", "client", "producer", "consumer"]
    start_time: datetime
    end_time: datetime
    start_time_unix_nano: int
    end_time_unix_nano: int
    duration_ms: float
    status: SpanStatus
    service_name: str
    category: str = Field(description="kind of work: llm, tool, agent, retriever, embedding, workflow, ...")
    model: str
    response_model: str
    provider: str
    operation: str
    input_tokens: int | None
    output_tokens: int | None
    total_tokens: int | None
    input_cost: float | None
    output_cost: float | None
    total_cost: float | None
    currency: str
    cost_source: Literal["", "reported", "estimated", "unpriced"] = Field(
        description="model calls: reported by the client, estimated from tokens, or unpriced (unknown model)"
    )
    price_version: str = Field(description="the price table an estimate came from")
    workflow_name: str
    module_name: str
    module_type: str
    tool_name: str
    agent_name: str
    user_id: str
    session_id: str

    @staticmethod
    def resolve_trace_id(span):
        return span.trace.trace_id

    @staticmethod
    def resolve_kind(span):
        return SpanKind(span.kind).label if span.kind in SpanKind.values else "unspecified"

    @staticmethod
    def resolve_start_time(span):
        return datetime_from_ns(span.start_ns)

    @staticmethod
    def resolve_end_time(span):
        return datetime_from_ns(span.end_ns)

    @staticmethod
    def resolve_start_time_unix_nano(span):
        return span.start_ns

    @staticmethod
    def resolve_end_time_unix_nano(span):
        return span.end_ns

    @staticmethod
    def resolve_status(span):
        code = StatusCode(span.status_code).label if span.status_code in StatusCode.values else "unset"
        return {"code": code, "message": span.status_message}


class SpanOut(SpanSummary):
    trace_state: str
    flags: int
    attributes: dict
    dropped_attributes_count: int
    dropped_events_count: int
    dropped_links_count: int
    events: list[EventOut]
    links: list[LinkOut]
    resource: ResourceOut
    scope: ScopeOut

    @staticmethod
    def resolve_events(span):
        return [
            {
                "name": event.name,
                "time": datetime_from_ns(event.time_ns),
                "time_unix_nano": event.time_ns,
                "attributes": event.attributes,
                "dropped_attributes_count": event.dropped_attributes_count,
            }
            for event in span.events.all()
        ]

    @staticmethod
    def resolve_links(span):
        return [
            {
                "trace_id": link.linked_trace_id,
                "span_id": link.linked_span_id,
                "trace_state": link.trace_state,
                "flags": link.flags,
                "attributes": link.attributes,
                "dropped_attributes_count": link.dropped_attributes_count,
            }
            for link in span.links.all()
        ]


class SpanSearchItem(SpanSummary):
    attributes: dict | None = Field(None, description="only with include_attributes=true")

    @staticmethod
    def resolve_attributes(span):
        # Deferred unless asked for: a prompt attribute alone can be a megabyte.
        return span.attributes if span.with_attributes else None


class SpanList(Schema):
    spans: list[SpanSearchItem]
    next_cursor: str | None


class TraceDetail(TraceSummary):
    spans: list[SpanOut]

    @staticmethod
    def resolve_spans(trace):
        return trace.spans.for_display().in_start_order()


class TreeNode(Schema):
    span: SpanSummary
    orphan: bool = Field(description="the span's parent never arrived")
    depth: int
    subtree_spans: int
    subtree_errors: int
    subtree_tokens: int
    subtree_cost: float
    children: list["TreeNode"]


class TraceTree(Schema):
    trace: TraceSummary
    roots: list[TreeNode]


class RunNode(Schema):
    trace_id: str
    span_id: str
    name: str
    start_time_unix_nano: int
    end_time_unix_nano: int
    duration_ms: float
    category: str
    model: str
    total_tokens: int | None
    total_cost: float | None
    status: Literal["ok", "error"]
    inferred: bool = Field(description="the parent edge was inferred from timing: the trace was stitched under it")
    orphan: bool = Field(description="the span's parent never arrived")
    children: list["RunNode"]


class RunTotals(Schema):
    trace_count: int
    span_count: int
    error_count: int
    total_tokens: int
    total_cost: float


class RunOut(Schema):
    root_trace_id: str
    trace_ids: list[str] = Field(description="the run's traces: the outermost first, then in start order")
    ambiguous_trace_ids: list[str] = Field(description="traces inside the run's time marked ambiguous, not stitched")
    totals: RunTotals
    roots: list[RunNode]


class PathStep(Schema):
    trace_id: str
    span_id: str
    name: str
    category: str
    kind: Literal["llm", "tool", "retriever", "agent", "other"] = Field(description="the breakdown's kind of work")
    start_time_unix_nano: int = Field(description="where the span's part of the path starts")
    end_time_unix_nano: int = Field(description="where the span's part of the path ends")
    own_ms: float = Field(description="the span's own time on the path: its part less the children it waited on")


class KindTime(Schema):
    kind: Literal["llm", "tool", "retriever", "agent", "other"]
    ms: float
    share: float = Field(description="of the path's total, a fraction")


class CriticalPathOut(Schema):
    trace_id: str
    total_ms: float = Field(description="the end-to-end latency the path explains: first start to last end")
    untraced_ms: float = Field(description="the part of total_ms no top-level span covers (counted as other)")
    spans: list[PathStep] = Field(description="the path in the order it runs, a parent before its children")
    breakdown: list[KindTime]
    top: list[PathStep] = Field(description="the three spans with the most own time on the path: shortening "
                                            "them would help most")


class FlameBox(Schema):
    span_id: str | None = Field(description="null for a box standing for several spans too narrow to draw")
    trace_id: str | None
    name: str
    category: str | None
    status: Literal["ok", "error"] | None
    depth: int
    x: float = Field(description="the box's left edge, a fraction of the graph's width")
    width: float = Field(description="a fraction of the graph's width")
    value: float = Field(description="the measure: ns for duration and self, tokens, or cost")
    span_count: int = Field(description="spans the box stands for: 1, or the narrow siblings it merges")


class FlameOut(Schema):
    trace_id: str
    measure: Literal["duration", "self", "tokens", "cost"]
    total: float = Field(description="the measure over the whole width")
    boxes: list[FlameBox] = Field(description="breadth first, a parent before its children")


class ModelStats(Schema):
    model: str
    calls: int
    errors: int
    input_tokens: int
    output_tokens: int
    total_tokens: int
    cost: float
    avg_duration_ms: float


class WorkflowStats(Schema):
    workflow: str
    traces: int
    errors: int
    avg_duration_ms: float | None
    total_tokens: int
    cost: float


class ServiceStats(Schema):
    service: str
    traces: int
    errors: int
    avg_duration_ms: float | None
    total_tokens: int
    cost: float


class SeriesPoint(Schema):
    start: datetime
    traces: int
    errors: int
    total_tokens: int
    cost: float
    p50_duration_ms: float | None
    p95_duration_ms: float | None


class Series(Schema):
    bucket_seconds: int | None
    points: list[SeriesPoint]


class StatsOut(Schema):
    start: datetime | None
    end: datetime | None
    total_traces: int
    traces_with_errors: int
    error_rate: float = Field(description="traces with errors / traces, a fraction")
    total_spans: int
    error_spans: int
    avg_duration_ms: float | None
    p50_duration_ms: float | None
    p95_duration_ms: float | None
    p99_duration_ms: float | None
    input_tokens: int
    output_tokens: int
    total_tokens: int
    total_cost: float
    estimated_cost: float = Field(description="the part of total_cost that msgtrace estimated from tokens")
    unpriced_spans: int = Field(description="model calls with tokens but no known price")
    by_model: list[ModelStats]
    by_workflow: list[WorkflowStats]
    by_service: list[ServiceStats]
    series: Series


class TraceFilters(Schema):
    q: str | None = Field(None, description="query language, e.g. duration:>2s AND model:gpt-4o")
    service: str | None = None
    workflow: str | None = None
    model: str | None = None
    status: Literal["ok", "error"] | None = None
    min_duration_ms: float | None = Field(None, ge=0)
    max_duration_ms: float | None = Field(None, ge=0)
    start: str | None = Field(None, description="ISO-8601, or relative to now: 15m, 1h, 7d")
    end: str | None = Field(None, description="ISO-8601, or relative to now: 15m, 1h, 7d")
    user_id: str | None = None
    session_id: str | None = None
    trace_id: str | None = Field(None, description="trace id prefix")
    # The first msgtrace API's names, still understood.
    service_name: str | None = Field(None, description="same as service")
    workflow_name: str | None = Field(None, description="same as workflow")
    has_errors: bool | None = Field(None, description="true: status=error; false: status=ok")

    def apply(self, traces, default_start=None):
        status = self.status
        if status is None and self.has_errors is not None:
            status = "error" if self.has_errors else "ok"
        return traces.search(
            q=self.q,
            service=self.service or self.service_name,
            workflow=self.workflow or self.workflow_name,
            model=self.model,
            status=status,
            min_duration_ms=self.min_duration_ms,
            max_duration_ms=self.max_duration_ms,
            start=_moment(self.start, "start") or default_start,
            end=_moment(self.end, "end"),
            user_id=self.user_id,
            session_id=self.session_id,
            trace_id=self.trace_id,
        )


class InvalidParameter(ValueError):
    """A parameter that validates as a type but not as a value: answered 422."""


def _moment(text, name):
    if not text:
        return None
    try:
        return moment(text)
    except ValueError as exc:
        raise InvalidParameter(f"{name}: {exc}") from None


def _time_limited(endpoint):
    """The endpoint's reads stop at MSGTRACE_QUERY_TIMEOUT_SECONDS; one that would run longer is answered 503."""

    @functools.wraps(endpoint)
    def limited(request, *args, **kwargs):
        try:
            with time_limit():
                return endpoint(request, *args, **kwargs)
        except QueryTimeout as timeout:
            return Status(503, {"detail": str(timeout)})

    return limited


# --- endpoints ---------------------------------------------------------------------------------


@router.get("/traces", response={200: TraceList, 400: QueryErrorOut, 422: Error, 503: Error})
@_time_limited
def list_traces(
    request,
    filters: Query[TraceFilters],
    sort: SortField = "-start_time",
    limit: int = Query(50, ge=1, le=1000),
    cursor: str | None = None,
    offset: int = Query(0, ge=0, le=MAX_OFFSET, description="the first API's paging; prefer cursor"),
    include_total: bool = True,
    group: Literal["trace", "run"] = Query("trace", description="run: one item per run, its outermost trace"),
):
    """Trace summaries, newest first by default. Page with `next_cursor` (stable while traces arrive)
    or, as the first msgtrace API did, with `offset`."""
    traces = Trace.objects.runs() if group == "run" else Trace.objects.all()
    ordered = filters.apply(traces).sorted_by(sort)
    field = ordered.query.order_by[0].lstrip("-")
    if cursor:
        check_cursor(cursor, Trace, field)
    total = total_exact = None
    if include_total:
        # Counted in the page's order and capped: the cost of reading a few pages, whatever the store's size.
        counted = ordered[: TOTAL_LIMIT + 1].count()
        total, total_exact = min(counted, TOTAL_LIMIT), counted <= TOTAL_LIMIT
    if offset and not cursor:
        rows = list(ordered[offset : offset + limit + 1])
        next_cursor = encode_cursor(getattr(rows[limit - 1], field), rows[limit - 1].pk) if len(rows) > limit else None
        rows = rows[:limit]
    else:
        rows, next_cursor = page(ordered, field, sort.startswith("-"), cursor, limit)
    return {"traces": rows, "total": total, "total_exact": total_exact, "limit": limit, "offset": offset,
            "next_cursor": next_cursor}


@router.get("/traces/export", response={200: None, 400: QueryErrorOut, 422: Error}, url_name="traces-export")
def export_trace_summaries(
    request, filters: Query[TraceFilters], format: Literal["csv", "jsonl"] = "jsonl", sort: SortField = "-start_time"
):
    """Every matching trace summary, streamed as CSV or JSON lines without loading them all in memory."""
    traces = filters.apply(Trace.objects.all()).sorted_by(sort)
    rows = (TraceSummary.from_orm(trace).model_dump() for trace in traces.iterator(chunk_size=2000))
    if format == "csv":
        response = StreamingHttpResponse(_csv_lines(rows), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="traces.csv"'
    else:
        response = StreamingHttpResponse(
            (json.dumps(row, default=str) + "\n" for row in rows), content_type="application/x-ndjson"
        )
        response["Content-Disposition"] = 'attachment; filename="traces.jsonl"'
    return response


@router.post("/traces/export", include_in_schema=False)
def ingest(request):
    """The path msgtrace-sdk and msgflux export OTLP to, shared with the GET above."""
    return export_traces(request)


def _csv_lines(rows):
    buffer = io.StringIO()
    writer = None
    for row in rows:
        row["models"] = ";".join(row["models"])
        if writer is None:
            writer = csv.DictWriter(buffer, fieldnames=list(row))
            writer.writeheader()
        writer.writerow({key: spreadsheet_safe(value) for key, value in row.items()})
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if writer is None:
        yield ",".join(TraceSummary.model_fields) + "\r\n"


@router.get("/traces/{trace_id}", response={200: TraceDetail, 404: Error})
def get_trace(request, trace_id: str):
    """A trace's summary and every span, in start order, with attributes, events, links, resource and scope."""
    trace = Trace.objects.with_trace_id(trace_id)
    if trace is None:
        return Status(404, {"detail": f"no trace {trace_id}"})
    return trace


@router.get("/traces/{trace_id}/tree", response={200: TraceTree, 404: Error})
def get_trace_tree(request, trace_id: str):
    """The nested span tree; spans whose parent never arrived sit at the top level, flagged as orphans."""
    trace = Trace.objects.with_trace_id(trace_id)
    if trace is None:
        return Status(404, {"detail": f"no trace {trace_id}"})
    spans = list(trace.spans.in_start_order().defer("attributes").select_related("trace"))
    roots = span_tree.build(spans)
    return {"trace": trace, "roots": [_node(node) for node in roots]}


@router.get("/traces/{trace_id}/run", response={200: RunOut, 404: Error})
def get_trace_run(request, trace_id: str):
    """The run the trace belongs to (traces.runs): its outermost trace, its traces, and one span tree
    across them in which a stitched trace's root span hangs under its enclosing trace's root span,
    with `inferred: true` on that edge."""
    trace = Trace.objects.with_trace_id(trace_id)
    if trace is None:
        return Status(404, {"detail": f"no trace {trace_id}"})
    members = Trace.objects.run_members(trace)
    rows, inferred = runs.run_outline(members)
    hex_ids = {member.pk: member.trace_id for member in members}
    roots = span_tree.build(rows)
    root = members[0]
    ambiguous = Trace.objects.filter(run_parent_id__in=list(hex_ids), run_link=RunLink.AMBIGUOUS)
    totals = {"trace_count": len(members), "span_count": sum(m.span_count for m in members),
              "error_count": sum(m.error_count for m in members), "total_tokens": sum(m.total_tokens for m in members),
              "total_cost": sum(m.total_cost for m in members)}
    return {"root_trace_id": root.trace_id, "trace_ids": [m.trace_id for m in members],
            "ambiguous_trace_ids": sorted(ambiguous.values_list("trace_id", flat=True)), "totals": totals,
            "roots": [_run_node(node, hex_ids, inferred) for node in roots]}


def _run_tree(trace):
    """(the span tree of the whole run the trace belongs to, as traces.tree.build's roots; each span's
    hex trace id by span id): a trace alone is its own run, as on its page."""
    members = Trace.objects.run_members(trace)
    if len(members) == 1:
        spans = list(trace.spans.outline())
        return span_tree.build(spans), dict.fromkeys((span.span_id for span in spans), trace.trace_id)
    spans, _ = runs.run_outline(members)
    hex_ids = {member.pk: member.trace_id for member in members}
    return span_tree.build(spans), {span.span_id: hex_ids[span.trace_id] for span in spans}


@router.get("/traces/{trace_id}/critical-path", response={200: CriticalPathOut, 404: Error})
def get_critical_path(request, trace_id: str):
    """The chain of spans that sets the latency of the trace's whole run (traces.critical_path): each
    with its own time on the path, the time by kind of work, and the three spans to shorten first."""
    trace = Trace.objects.with_trace_id(trace_id)
    if trace is None:
        return Status(404, {"detail": f"no trace {trace_id}"})
    roots, trace_ids = _run_tree(trace)
    path = path_of.critical_path(roots)

    def step(step):
        span = step.span
        return {"trace_id": trace_ids[span.span_id], "span_id": span.span_id, "name": span.name,
                "category": span.category, "kind": step.kind, "start_time_unix_nano": step.start_ns,
                "end_time_unix_nano": step.end_ns, "own_ms": step.own_ns / 1e6}

    total = path.total_ns
    return {"trace_id": trace.trace_id, "total_ms": total / 1e6, "untraced_ms": path.untraced_ns / 1e6,
            "spans": [step(s) for s in path.steps], "top": [step(s) for s in path.top],
            "breakdown": [{"kind": kind, "ms": ns / 1e6, "share": ns / total if total else 0.0}
                          for kind, ns in path.breakdown]}


@router.get("/traces/{trace_id}/flamegraph", response={200: FlameOut, 404: Error, 422: Error})
def get_flamegraph(request, trace_id: str, measure: Literal["duration", "self", "tokens", "cost"] = "duration"):
    """The flame graph of the trace's whole run (traces.flame): one box per span, as wide as its measure,
    narrow siblings merged into one box, the number of boxes capped."""
    trace = Trace.objects.with_trace_id(trace_id)
    if trace is None:
        return Status(404, {"detail": f"no trace {trace_id}"})
    roots, trace_ids = _run_tree(trace)
    graph = flame.layout(roots, measure)

    def box(box):
        span = box.node.span if box.node is not None else None
        return {"span_id": span and span.span_id, "trace_id": span and trace_ids[span.span_id],
                "name": span.name if span else f"{box.count} more", "category": span and span.category,
                "status": span and ("error" if is_error(span.status_code) else "ok"), "depth": box.depth,
                "x": box.x, "width": box.w, "value": box.value, "span_count": box.count}

    return {"trace_id": trace.trace_id, "measure": measure, "total": graph.total, "boxes": [box(b) for b in graph.boxes]}


def _run_node(node, hex_ids, inferred):
    span = node.span
    return {
        "trace_id": hex_ids[span.trace_id], "span_id": span.span_id, "name": span.name,
        "start_time_unix_nano": span.start_ns, "end_time_unix_nano": span.end_ns, "duration_ms": span.duration_ns / 1e6,
        "category": span.category, "model": span.model, "total_tokens": span.total_tokens,
        "total_cost": span.total_cost, "status": "error" if is_error(span.status_code) else "ok",
        "inferred": span.span_id in inferred, "orphan": node.orphan,
        "children": [_run_node(child, hex_ids, inferred) for child in node.children],
    }


def _node(node):
    return {
        "span": node.span,
        "orphan": node.orphan,
        "depth": node.depth,
        "subtree_spans": node.subtree_spans,
        "subtree_errors": node.subtree_errors,
        "subtree_tokens": node.subtree_tokens,
        "subtree_cost": node.subtree_cost,
        "children": [_node(child) for child in node.children],
    }


@router.get("/traces/{trace_id}/export", response={200: dict, 404: Error})
def export_trace(request, trace_id: str):
    """The trace as OTLP/JSON: posted to /v1/traces of an empty msgtrace, it recreates the same trace."""
    trace = Trace.objects.with_trace_id(trace_id)
    if trace is None:
        return Status(404, {"detail": f"no trace {trace_id}"})
    return otlp_json(trace.spans.for_display().in_start_order())


@router.delete("/traces/{trace_id}", response={204: None, 404: Error})
def delete_trace(request, trace_id: str):
    """Removes the trace with its spans, events and links."""
    trace = Trace.objects.with_trace_id(trace_id)
    deleted = 0
    if trace is not None:
        with Deletion(caller_of(request).name, via="api", request=request) as deletion:
            deleted = Trace.objects.filter(pk=trace.pk).delete_with_spans(deletion=deletion)
    if not deleted:
        return Status(404, {"detail": f"no trace {trace_id}"})
    return Status(204, None)


@router.get("/spans", response={200: SpanList, 400: QueryErrorOut, 422: Error, 503: Error})
@_time_limited
def list_spans(
    request,
    q: str | None = Query(None, description="query language, e.g. kind:llm AND model:gpt-4o AND duration:>2s"),
    start: str | None = None,
    end: str | None = None,
    trace_id: str | None = None,
    limit: int = Query(50, ge=1, le=1000),
    cursor: str | None = None,
    include_attributes: bool = False,
):
    """Spans across traces, newest first."""
    spans = Span.objects.matching(q).between(_moment(start, "start"), _moment(end, "end")).select_related("trace")
    if trace_id:
        spans = spans.filter(trace__trace_id=stored_text(trace_id.lower()))
    if not include_attributes:
        spans = spans.defer("attributes")
    if cursor:
        check_cursor(cursor, Span, "start_ns")
    rows, next_cursor = page(spans.order_by("-start_ns", "-id"), "start_ns", True, cursor, limit)
    for span in rows:
        span.with_attributes = include_attributes
    return {"spans": rows, "next_cursor": next_cursor}


@router.get("/stats", response={200: StatsOut, 400: QueryErrorOut, 422: Error, 503: Error})
@_time_limited
def get_stats(
    request,
    filters: Query[TraceFilters],
    window: Literal["1h", "24h", "7d", "30d", "all"] = Query("24h", description="ignored when start is given"),
):
    """Totals, latency percentiles, breakdowns by model, workflow and service, and a time series."""
    now = datetime.now(timezone.utc)
    start = _moment(filters.start, "start") or window_start(window, now)
    traces = filters.apply(Trace.objects.all(), default_start=start)
    return trace_stats.summarize(traces, start, _moment(filters.end, "end") or now)
