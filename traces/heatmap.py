"""The latency heatmap: traces counted by when they started (the series' time buckets) and how long they
took (duration buckets on a 1-2-5 log scale), with the failed ones counted in each cell. One GROUP BY in
the database, whatever the number of traces; each cell names the filters that list exactly its traces."""

from datetime import datetime, timedelta, timezone

from django.db.models import Case, Count, IntegerField, Q, Value, When

from traces import stats
from traces.models import Status

# Upper edges of the duration buckets, in milliseconds: bucket i holds [EDGES[i-1], EDGES[i]); the first
# everything under 1 ms, the last everything from 500 s on.
EDGES_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000,
            200_000, 500_000]


def duration_bucket():
    """The duration bucket of a trace, in SQL."""
    whens = [When(duration_ms__lt=edge, then=Value(index)) for index, edge in enumerate(EDGES_MS)]
    return Case(*whens, default=Value(len(EDGES_MS)), output_field=IntegerField())


def bounds_ms(index):
    """(low, high) of a duration bucket in ms; low is None for the first, high None for the last."""
    low = EDGES_MS[index - 1] if index > 0 else None
    high = EDGES_MS[index] if index < len(EDGES_MS) else None
    return low, high


def duration_label(ms):
    return f"{ms:g} ms" if ms < 1000 else f"{ms / 1000:g} s"


def duration_query(index):
    """The query-language terms for a duration bucket: `duration:>=100ms duration:<200ms`."""
    low, high = bounds_ms(index)
    terms = ([f"duration:>={low:g}ms"] if low is not None else []) + ([f"duration:<{high:g}ms"] if high else [])
    return " ".join(terms)


def heatmap(traces, start=None, end=None, grid=None):
    """Counts per (time bucket, duration bucket) over `traces` (already narrowed to the window).

    Rows are the duration buckets from the fastest to the slowest that holds a trace; cells with no trace
    are left out. Each cell has the time range [start, end) it covers, clamped to the window's start,
    so that listing the traces that started in it with its duration range finds exactly `traces`."""
    origin, seconds, count = grid or stats.grid(traces, start, end)
    rows = (
        traces.order_by()
        .annotate(time=stats.bucket_of(origin, seconds), duration=duration_bucket())
        .values("time", "duration")
        .annotate(traces=Count("pk"), errors=Count("pk", filter=Q(status=Status.ERROR)))
    )
    cells = []
    for row in rows:
        cell_start = datetime.fromtimestamp(origin + row["time"] * seconds, timezone.utc)
        low, high = bounds_ms(row["duration"])
        cells.append({
            "time": row["time"], "duration": row["duration"], "traces": row["traces"], "errors": row["errors"],
            "start": max(cell_start, start) if start else cell_start, "end": cell_start + timedelta(seconds=seconds),
            "min_duration_ms": low, "max_duration_ms": high,
        })
    cells.sort(key=lambda cell: (cell["duration"], cell["time"]))
    used = [cell["duration"] for cell in cells]
    durations = [
        {"index": index, "min_ms": bounds_ms(index)[0], "max_ms": bounds_ms(index)[1], "label": _row_label(index)}
        for index in (range(min(used), max(used) + 1) if used else [])
    ]
    return {
        "bucket_seconds": seconds,
        "times": [datetime.fromtimestamp(origin + index * seconds, timezone.utc) for index in range(count)],
        "durations": durations,
        "cells": cells,
        "max_traces": max((cell["traces"] for cell in cells), default=0),
    }


def _row_label(index):
    low, high = bounds_ms(index)
    if low is None:
        return f"< {duration_label(high)}"
    if high is None:
        return f"≥ {duration_label(low)}"
    return f"{duration_label(low)} – {duration_label(high)}"
