"""Workflow flows: which step follows which across the latest runs of a workflow or service.

A step is a span of a kind of work that does something (STEP_CATEGORIES: module, agent, tool, retriever
and model calls), named by traces.models.step_name(). Within a run (its traces stitched together,
traces.runs) the steps are put in start order (ties by id), nested ones included: "A is followed by B"
when B is the next step to start after A. Every run begins at a virtual start and finishes at a virtual
end, so each step has as many edges in as out, and the start's edges count the runs.

The window can hold any number of runs: only the latest FLOW_RUNS of them are read, in one query that
numbers each run's steps with window functions and groups the transitions in the database."""

from django.db import connection
from django.db.models import Case, F, Q, Value, When, Window
from django.db.models.functions import Coalesce, Lag, Lead

from traces.models import FAILED, STEP_CATEGORIES, USAGE_CATEGORIES, Span, Trace, step_name
from traces.stats import _sum_sql

FLOW_RUNS = 2000


def flow(traces, runs=FLOW_RUNS):
    """Nodes and edges of the steps of the latest `runs` runs among `traces` (already narrowed to the
    window, workflow and service): {"runs", "sample_limit", "nodes": [...], "edges": [...]}. An edge's
    source None is the start of a run, its target None the end; its errors are the failed spans it
    leads to. Tokens and cost follow the usage rule (model calls only), as every other figure does."""
    latest = traces.runs().order_by("-started_at", "-id").values("pk")[:runs]
    order = [F("start_ns").asc(), F("id").asc()]
    run = Coalesce(F("trace__run_root_id"), F("trace_id"))
    usage = Q(category__in=USAGE_CATEGORIES)
    members = Trace.objects.filter(Q(pk__in=latest) | Q(run_root_id__in=latest)).values("pk")
    steps = (
        # The spans are found through their traces (the (trace_id, span_id) index), never by kind: an index
        # on the kind would read that kind's spans in the whole store. Hence the kind as an expression.
        Span.objects.filter(trace__in=members)
        .alias(work=Coalesce(F("category"), Value("")))
        .filter(work__in=STEP_CATEGORIES)
        .annotate(
            step=step_name(),
            previous=Window(Lag(step_name()), partition_by=[run], order_by=order),
            next=Window(Lead(step_name()), partition_by=[run], order_by=order),
            failed=Case(When(FAILED, then=1), default=0),
            usage_tokens=Case(When(usage, then=F("total_tokens")), default=None),
            usage_cost=Case(When(usage, then=F("total_cost")), default=None),
        )
        .order_by()
        .values("step", "previous", "next", "category", "failed", "duration_ns", "usage_tokens", "usage_cost")
    )
    inner, params = steps.query.sql_with_params()
    total = _sum_sql()
    sql = f"""
        SELECT previous, step, CASE WHEN next IS NULL THEN 1 ELSE 0 END AS last, MIN(category), COUNT(*),
               SUM(failed), {total}(duration_ns), {total}(usage_tokens), SUM(usage_cost)
        FROM ({inner}) AS steps
        GROUP BY previous, step, CASE WHEN next IS NULL THEN 1 ELSE 0 END
    """  # noqa: S608 - every value is a parameter
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return _graph(rows, runs)


def _graph(rows, limit):
    nodes, edges, ends = {}, {}, {}
    for previous, step, last, category, count, failed, duration_ns, tokens, cost in rows:
        node = nodes.setdefault(step, {"step": step, "kind": category, "spans": 0, "errors": 0, "duration_ns": 0.0,
                                       "total_tokens": 0, "cost": 0.0})
        node["kind"] = min(node["kind"], category)
        node["spans"] += count
        node["errors"] += int(failed or 0)
        node["duration_ns"] += float(duration_ns or 0)
        node["total_tokens"] += int(tokens or 0)
        node["cost"] += cost or 0.0
        edge = edges.setdefault((previous, step), {"source": previous, "target": step, "count": 0, "errors": 0})
        edge["count"] += count
        edge["errors"] += int(failed or 0)
        if last:
            end = ends.setdefault(step, {"source": step, "target": None, "count": 0, "errors": 0})
            end["count"] += count
    for node in nodes.values():
        node["error_rate"] = node["errors"] / node["spans"]
        node["avg_duration_ms"] = node.pop("duration_ns") / node["spans"] / 1e6
    edges = list(edges.values()) + list(ends.values())
    for edge in edges:
        edge["error_rate"] = edge["errors"] / edge["count"]
    edges.sort(key=lambda edge: (-edge["count"], edge["source"] or "", edge["target"] or ""))
    return {
        "runs": sum(edge["count"] for edge in edges if edge["source"] is None),
        "sample_limit": limit,
        "nodes": sorted(nodes.values(), key=lambda node: (-node["spans"], node["step"])),
        "edges": edges,
    }
