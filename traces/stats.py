"""Figures over a set of traces: totals, latency percentiles, breakdowns and a time series.

Percentiles are nearest-rank, computed in the database with window functions, which SQLite and
PostgreSQL both have, so neither loads the traces into Python."""

from datetime import datetime, timedelta, timezone

from django.db import connection
from django.db.models.functions import Coalesce
from django.db.models import (
    Avg, BigIntegerField, Case, CharField, Count, ExpressionWrapper, F, Max, Min, Q, Sum, Value, When,
)

from traces.models import FAILED, USAGE_CATEGORIES, Span
from traces.timeframe import datetime_from_ns

# Bucket widths for the time series, chosen so that a window has at most about 60 points.
BUCKETS = [60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 7 * 86400, 30 * 86400]
_NS = 1_000_000_000


class Total(Sum):
    """SUM that cannot overflow. SQLite's SUM of integers fails past 2**63 where its TOTAL answers
    a float; PostgreSQL sums bigint into numeric already. Read the result through `_whole`."""

    def as_sqlite(self, compiler, connection, **extra_context):
        return super().as_sql(compiler, connection, function="TOTAL", **extra_context)


def _whole(value):
    return int(value or 0)


def _sum_sql():
    return "TOTAL" if connection.vendor == "sqlite" else "SUM"


def bucket_seconds_for(span_seconds):
    for seconds in BUCKETS:
        if span_seconds / seconds <= 60:
            return seconds
    return BUCKETS[-1]


def _percentile_rows(traces, origin_ns, bucket_ns):
    """[(bucket, traces, errors, tokens, cost, p50, p95, p99)] grouped by bucket (0 when bucket_ns is None)."""
    inner, params = (
        traces.order_by().values("start_ns", "duration_ms", "status", "total_tokens", "total_cost").query.sql_with_params()
    )
    bucket = "(start_ns - %s) / %s" if bucket_ns else "0"
    bucket_params = [origin_ns, bucket_ns] if bucket_ns else []
    sql = f"""
        SELECT bucket, COUNT(*), SUM(CASE WHEN status = 'error' THEN 1 ELSE 0 END), {_sum_sql()}(total_tokens),
               SUM(total_cost), MIN(CASE WHEN rn >= 0.50 * n THEN duration_ms END),
               MIN(CASE WHEN rn >= 0.95 * n THEN duration_ms END), MIN(CASE WHEN rn >= 0.99 * n THEN duration_ms END)
        FROM (
            SELECT bucket, status, total_tokens, total_cost, duration_ms,
                   ROW_NUMBER() OVER (PARTITION BY bucket ORDER BY duration_ms) AS rn,
                   COUNT(*) OVER (PARTITION BY bucket) AS n
            FROM (SELECT {bucket} AS bucket, status, total_tokens, total_cost, duration_ms FROM ({inner}) AS t) AS b
        ) AS ranked
        GROUP BY bucket ORDER BY bucket
    """  # noqa: S608 - every value is a parameter
    with connection.cursor() as cursor:
        cursor.execute(sql, bucket_params + list(params))
        return cursor.fetchall()


def duration_percentiles(traces):
    """(p50, p95, p99) of the traces' durations in ms, nearest-rank; Nones when there are none."""
    rows = _percentile_rows(traces, 0, None)
    return tuple(rows[0][5:8]) if rows else (None, None, None)


def summarize(traces, start=None, end=None):
    """Everything the stats endpoint and the dashboard show, for traces already filtered to the window."""
    totals = traces.aggregate(
        traces=Count("pk"),
        errors=Count("pk", filter=Q(status="error")),
        spans=Total("span_count"),
        error_spans=Total("error_count"),
        avg_duration=Avg("duration_ms"),
        input_tokens=Total("input_tokens"),
        output_tokens=Total("output_tokens"),
        total_tokens=Total("total_tokens"),
        cost=Sum("total_cost"),
        estimated_cost=Sum("estimated_cost"),
        unpriced_spans=Total("unpriced_spans"),
    )
    count = totals["traces"]
    percentiles = _percentile_rows(traces, 0, None) if count else []
    p50, p95, p99 = percentiles[0][5:8] if percentiles else (None, None, None)
    return {
        "start": start,
        "end": end,
        "total_traces": count,
        "traces_with_errors": totals["errors"],
        "error_rate": (totals["errors"] / count) if count else 0.0,
        "total_spans": _whole(totals["spans"]),
        "error_spans": _whole(totals["error_spans"]),
        "avg_duration_ms": totals["avg_duration"],
        "p50_duration_ms": p50,
        "p95_duration_ms": p95,
        "p99_duration_ms": p99,
        "input_tokens": _whole(totals["input_tokens"]),
        "output_tokens": _whole(totals["output_tokens"]),
        "total_tokens": _whole(totals["total_tokens"]),
        "total_cost": totals["cost"] or 0.0,
        "estimated_cost": totals["estimated_cost"] or 0.0,
        "unpriced_spans": _whole(totals["unpriced_spans"]),
        "by_model": by_model(traces),
        "by_workflow": _breakdown(traces, "workflow_name", "workflow"),
        "by_service": _breakdown(traces, "service_name", "service"),
        "series": series(traces, start, end) if count else {"bucket_seconds": None, "points": []},
    }


def by_model(traces):
    """Usage per model over the traces' model calls (SpanQuerySet.usage(): what the traces' totals count,
    so the rows add up to them), most calls first. A call that named no model is listed under ""."""
    rows = (
        Span.objects.usage()
        .filter(trace__in=traces.order_by().values("pk"))
        .values("model")
        .annotate(
            calls=Count("pk"),
            errors=Count("pk", filter=FAILED),
            input_tokens=Total("input_tokens"),
            output_tokens=Total("output_tokens"),
            total_tokens=Total("total_tokens"),
            cost=Sum("total_cost"),
            avg_duration_ns=Avg("duration_ns"),
        )
        .order_by("-calls", "model")
    )
    return [
        {
            "model": row["model"],
            "calls": row["calls"],
            "errors": row["errors"],
            "input_tokens": _whole(row["input_tokens"]),
            "output_tokens": _whole(row["output_tokens"]),
            "total_tokens": _whole(row["total_tokens"]),
            "cost": row["cost"] or 0.0,
            "avg_duration_ms": (row["avg_duration_ns"] or 0) / 1e6,
        }
        for row in rows
    ]


def _breakdown(traces, field, label, limit=50):
    rows = (
        traces.order_by()
        .values(field)
        .annotate(
            traces=Count("pk"),
            errors=Count("pk", filter=Q(status="error")),
            avg_duration_ms=Avg("duration_ms"),
            total_tokens=Total("total_tokens"),
            cost=Sum("total_cost"),
        )
        .order_by("-traces", field)[:limit]
    )
    return [
        {
            label: row[field],
            "traces": row["traces"],
            "errors": row["errors"],
            "avg_duration_ms": row["avg_duration_ms"],
            "total_tokens": _whole(row["total_tokens"]),
            "cost": row["cost"] or 0.0,
        }
        for row in rows
    ]


def grid(traces, start=None, end=None):
    """(origin, bucket_seconds, buckets): the time buckets of the series over [start, end), aligned to the
    clock; a missing bound is the first or last trace's start. Every chart over time uses these."""
    if start is None or end is None:
        bounds = traces.order_by().aggregate(low=Min("start_ns"), high=Max("start_ns"))
        start = start or datetime_from_ns(bounds["low"] or 0)
        end = end or datetime_from_ns(bounds["high"] or 0) + timedelta(seconds=1)
    seconds = bucket_seconds_for(max(1.0, (end - start).total_seconds()))
    origin = int(start.timestamp()) // seconds * seconds  # buckets aligned to the clock, not to "now"
    return origin, seconds, int((end.timestamp() - origin) // seconds) + 1


def grid_of(series):
    """The grid a series was drawn on, so that the charts beside it share its buckets without asking again."""
    points = series["points"]
    if not points:
        return None
    return int(points[0]["start"].timestamp()), series["bucket_seconds"], len(points)


def bucket_of(origin, seconds, column="start_ns"):
    """The series bucket of a row, in SQL: whole buckets since `origin` (unix seconds) of its start."""
    return ExpressionWrapper((F(column) - Value(origin * _NS)) / Value(seconds * _NS), output_field=BigIntegerField())


def series(traces, start=None, end=None):
    """Bucketed counts, errors, p50/p95 duration, tokens and cost, with empty buckets filled in."""
    origin, seconds, count = grid(traces, start, end)
    rows = {row[0]: row for row in _percentile_rows(traces, origin * _NS, seconds * _NS)}
    points = []
    for index in range(0, count):
        row = rows.get(index)
        points.append(
            {
                "start": datetime.fromtimestamp(origin + index * seconds, timezone.utc),
                "traces": row[1] if row else 0,
                "errors": row[2] if row else 0,
                "total_tokens": _whole(row[3]) if row else 0,
                "cost": (row[4] or 0.0) if row else 0.0,
                "p50_duration_ms": row[5] if row else None,
                "p95_duration_ms": row[6] if row else None,
            }
        )
    return {"bucket_seconds": seconds, "points": points}


# --- usage over time -----------------------------------------------------------------------------

# What usage can be broken down by: the model of each call, or a field of the trace.
USAGE_DIMENSIONS = {"model": "model", "workflow": "workflow_name", "service": "service_name", "user": "user_id"}
USAGE_KEYS = 6  # the largest spenders each get a colour; the rest are summed as "other"
SPENDERS = 5


def _usage_rows(traces, by):
    """A queryset of the usage `by` a dimension: model calls (SpanQuerySet.usage()) for "model", else the
    traces themselves. Either way their tokens and cost add up to the traces' totals (the one usage rule)."""
    if by == "model":
        # SpanQuerySet.usage(), with the kind as an expression: the spans are found through the window's
        # traces (the (trace_id, span_id) index), not through the kind's index over every call in the store.
        spans = Span.objects.filter(trace__in=traces.order_by().values("pk"))
        spans = spans.alias(work=Coalesce(F("category"), Value(""))).filter(work__in=USAGE_CATEGORIES)
        return spans.order_by(), "model", "trace__start_ns"
    return traces.order_by(), USAGE_DIMENSIONS[by], "start_ns"


def usage_over_time(traces, by, start=None, end=None, grid_=None, keys=USAGE_KEYS):
    """Tokens and cost per time bucket, stacked by `by` (a USAGE_DIMENSIONS key): the `keys` largest
    spenders in the window by name, the others together under other=True. Usage is placed in the
    bucket its trace started in, as the series places the trace, so each bucket adds up to the series'
    point. By model one query (a window's models are few); by a trace field two: the largest spenders,
    then the buckets."""
    if by not in USAGE_DIMENSIONS:
        raise ValueError(f"unknown dimension {by!r}: use one of {', '.join(USAGE_DIMENSIONS)}")
    origin, seconds, count = grid_ or grid(traces, start, end)
    rows, field, start_column = _usage_rows(traces, by)
    if by == "model":
        top, cells = _by_model_cells(rows, origin, seconds, keys)
    else:
        top = list(
            rows.values(field).annotate(cost=Sum("total_cost"), tokens=Total("total_tokens"))
            .order_by("-cost", "-tokens", field).values_list(field, flat=True)[: keys + 1]
        )
        key = Case(When(**{f"{field}__in": top[:keys]}, then=F(field)), default=Value(None), output_field=CharField())
        buckets = (
            rows.annotate(bucket=bucket_of(origin, seconds, start_column), key=key)
            .values("bucket", "key").annotate(cost=Sum("total_cost"), tokens=Total("total_tokens"))
        ) if top else []
        cells = {(row["bucket"], row["key"]): row for row in buckets}
    named = top[:keys]
    stacks = [{"name": name, "other": False} for name in named]
    if len(top) > keys:
        stacks.append({"name": "other", "other": True})
    points = []
    for index in range(count):
        values = []
        for stack in stacks:
            row = cells.get((index, None if stack["other"] else stack["name"]))
            values.append({"tokens": _whole(row and row["tokens"]), "cost": (row and row["cost"]) or 0.0})
        points.append({"start": datetime.fromtimestamp(origin + index * seconds, timezone.utc), "values": values})
    for position, stack in enumerate(stacks):
        stack["total_tokens"] = sum(point["values"][position]["tokens"] for point in points)
        stack["cost"] = sum(point["values"][position]["cost"] for point in points)
    return {"by": by, "bucket_seconds": seconds, "stacks": stacks, "points": points}


def _by_model_cells(spans, origin, seconds, keys):
    """(top, cells) for usage by model in one query: the models of a window are few, so every (bucket,
    model) comes back and the largest are picked here, the others summed per bucket under None."""
    rows = (
        spans.annotate(bucket=bucket_of(origin, seconds, "trace__start_ns"))
        .values("bucket", "model").annotate(cost=Sum("total_cost"), tokens=Total("total_tokens"))
    )
    totals, by_bucket = {}, []
    for row in rows:
        cost, tokens = row["cost"] or 0.0, _whole(row["tokens"])
        spent = totals.setdefault(row["model"], [0.0, 0])
        spent[0], spent[1] = spent[0] + cost, spent[1] + tokens
        by_bucket.append((row["bucket"], row["model"], cost, tokens))
    top = sorted(totals, key=lambda model: (-totals[model][0], -totals[model][1], model))[: keys + 1]
    named, cells = set(top[:keys]), {}
    for bucket, model, cost, tokens in by_bucket:
        cell = cells.setdefault((bucket, model if model in named else None), {"cost": 0.0, "tokens": 0})
        cell["cost"] += cost
        cell["tokens"] += tokens
    return top, cells


def top_spenders(traces, field, limit=SPENDERS):
    """The `limit` values of a trace field (user_id, workflow_name) with the highest cost, blanks left out."""
    rows = (
        traces.order_by().exclude(**{field: ""}).values(field)
        .annotate(traces=Count("pk"), cost=Sum("total_cost"), total_tokens=Total("total_tokens"))
        .filter(cost__gt=0).order_by("-cost", field)[:limit]
    )
    return [{"name": row[field], "traces": row["traces"], "cost": row["cost"],
             "total_tokens": _whole(row["total_tokens"])} for row in rows]
