"""The dashboard's charts as inline SVG, laid out here so that the templates only loop.

The plot area is an SVG drawn in a 1000 x 200 box and stretched to whatever width the page gives it
(preserveAspectRatio="none", strokes that do not scale); the axis labels are HTML placed by percent
beside it, so text keeps its size from a phone to a wide screen. Times are labelled in UTC here and
put in the reader's time zone by dashboard.js (`data-time`)."""

import math
from urllib.parse import urlencode

from django import template
from django.urls import reverse

from traces.formatting import cost, duration, model_label, tokens
from traces.heatmap import duration_query as heatmap_query

register = template.Library()

WIDTH, HEIGHT = 1000, 200
BAR_FILL = 0.72  # of each bucket's width; the rest is the gap between bars
X_LABELS = 6
# Round distances between time labels, in seconds: 5, 10, 15, 30 min, 1, 2, 3, 6, 12 h, 1, 2, 7 days.
LABEL_STEPS = [300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 2 * 86400, 7 * 86400]
MODELS_SHOWN = 8


def nice_scale(high, ticks=4, integer=False):
    """(top, step): a round top at or above `high`, divided into about `ticks` round steps."""
    if not high or high <= 0:
        return (ticks, 1) if integer else (1.0, 0.25)
    raw = high / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    if integer:
        step = max(1, math.ceil(step))
    return round(step * math.ceil(high / step - 1e-9), 9), step  # rounded: 3 * 0.1 is 0.30000000000000004


def _r(value):
    """Coordinates with two decimals: plenty for a 1000-unit box, and short in the HTML."""
    return round(value, 2)


def _y_ticks(top, step, label):
    count = round(top / step)
    return [{"pct": _r(100 * i / count), "y": _r(HEIGHT - HEIGHT * i / count), "label": label(i * step)}
            for i in range(count + 1)]


def time_format(series):
    """How a bucket's start reads: clock time for a day or two, the date beyond."""
    points = series["points"]
    if len(points) < 2:
        return "datetime"
    return "time" if (points[-1]["start"] - points[0]["start"]).total_seconds() <= 36 * 3600 else "date"


def _utc_text(moment, fmt):
    return moment.strftime({"time": "%H:%M", "date": "%b %d", "datetime": "%b %d %H:%M"}[fmt])


def _x_labels(series, fmt):
    """About X_LABELS labels, each where its bucket starts, on round times (every 10 min, 3 h, 1 day...)
    when the buckets allow, else simply evenly spaced."""
    points, bucket = series["points"], series["bucket_seconds"]
    count = len(points)
    if not count:
        return []
    span = count * (bucket or 1)
    step = next((s for s in LABEL_STEPS if s >= span / X_LABELS and bucket and s % bucket == 0), None)
    if step:
        indexes = [i for i, point in enumerate(points) if int(point["start"].timestamp()) % step == 0]
    else:
        indexes = range(0, count, max(1, math.ceil(count / X_LABELS)))
    return [
        {"pct": _r(100 * index / count), "time": points[index]["start"].isoformat(),
         "format": fmt, "text": _utc_text(points[index]["start"], fmt)}
        for index in indexes
    ]


def _buckets(series):
    """Each bucket's slot: x, width, centre, and the time its hover title starts with."""
    points = series["points"]
    slot = WIDTH / len(points) if points else WIDTH
    return [
        {"point": point, "x": _r(index * slot), "width": _r(slot), "centre": (index + 0.5) * slot,
         "time": point["start"].isoformat(), "text": _utc_text(point["start"], "datetime") + " UTC"}
        for index, point in enumerate(points)
    ]


def _plural(count, word):
    return f"{count:,} {word}{'' if count == 1 else 's'}"


@register.inclusion_tag("ui/partials/_chart_series.html")
def activity_chart(series):
    """Traces per bucket as bars, the failed ones in red at the foot of each bar."""
    points = series["points"]
    top, step = nice_scale(max((p["traces"] for p in points), default=0), integer=True)
    bars = []
    for bucket in _buckets(series):
        point = bucket["point"]
        total_h = HEIGHT * point["traces"] / top
        error_h = HEIGHT * point["errors"] / top
        width = bucket["width"] * BAR_FILL
        bucket |= {
            "bar_x": _r(bucket["x"] + (bucket["width"] - width) / 2), "bar_width": _r(width),
            "rects": [
                {"class": "ok", "y": _r(HEIGHT - total_h), "height": _r(total_h - error_h)},
                {"class": "err", "y": _r(HEIGHT - error_h), "height": _r(error_h)},
            ],
            "detail": f"{_plural(point['traces'], 'trace')}, {_plural(point['errors'], 'error')}",
        }
        bars.append(bucket)
    return {
        "kind": "activity", "label": "Traces and errors over time", "width": WIDTH, "height": HEIGHT,
        "buckets": bars, "lines": [], "y_ticks": _y_ticks(top, step, lambda v: f"{v:,.0f}"),
        "x_labels": _x_labels(series, time_format(series)), "empty": not any(p["traces"] for p in points),
        "legend": [("ok", "traces"), ("err", "errors")],
    }


@register.inclusion_tag("ui/partials/_chart_series.html")
def latency_chart(series):
    """p50 and p95 trace duration per bucket as two lines, broken where a bucket had no traces."""
    points = series["points"]
    high = max((p["p95_duration_ms"] or 0 for p in points), default=0)
    top, step = nice_scale(high)
    buckets = _buckets(series)
    lines = [{"class": key, "segments": _segments(buckets, key, top)} for key in ("p95", "p50")]
    for bucket in buckets:
        point = bucket["point"]
        bucket["detail"] = (
            f"p50 {duration(point['p50_duration_ms'])}, p95 {duration(point['p95_duration_ms'])}, "
            f"{_plural(point['traces'], 'trace')}"
        )
    return {
        "kind": "latency", "label": "Trace duration p50 and p95 over time", "width": WIDTH, "height": HEIGHT,
        "buckets": buckets, "lines": lines, "y_ticks": _y_ticks(top, step, lambda v: duration(v) if v else "0"),
        "x_labels": _x_labels(series, time_format(series)), "empty": not high,
        "legend": [("p50", "p50"), ("p95", "p95")],
    }


def _segments(buckets, key, top):
    """Polyline point lists over runs of buckets that have a value; a lone value becomes a short dash."""
    segments, run = [], []
    for bucket in buckets + [None]:
        value = bucket["point"][f"{key}_duration_ms"] if bucket else None
        if value is not None:
            run.append((bucket, HEIGHT - HEIGHT * value / top))
            continue
        if len(run) == 1:
            (only, y), half = run[0], run[0][0]["width"] * 0.3
            run = [({"centre": only["centre"] - half}, y), ({"centre": only["centre"] + half}, y)]
        if run:
            segments.append(" ".join(f"{b['centre']:.1f},{y:.1f}" for b, y in run))
        run = []
    return segments


@register.inclusion_tag("ui/partials/_chart_models.html")
def model_chart(by_model):
    """Tokens and cost per model as two bars each, scaled to the largest, most-called models first."""
    shown = by_model[:MODELS_SHOWN]
    most_tokens = max((m["total_tokens"] for m in shown), default=0) or 1
    most_cost = max((m["cost"] for m in shown), default=0) or 1
    rows = [
        {
            "model": model_label(m["model"]), "calls": f"{m['calls']:,}", "errors": m["errors"],
            "tokens": tokens(m["total_tokens"]), "tokens_pct": round(100 * m["total_tokens"] / most_tokens, 1),
            "tokens_title": f"{model_label(m['model'])}: {m['total_tokens']:,} tokens ({m['input_tokens']:,} in, "
                            f"{m['output_tokens']:,} out) over {_plural(m['calls'], 'call')}",
            "cost": cost(m["cost"]), "cost_pct": round(100 * m["cost"] / most_cost, 1),
            "cost_title": f"{model_label(m['model'])}: {cost(m['cost'])} over {_plural(m['calls'], 'call')}, "
                          f"avg {duration(m['avg_duration_ms'])} per call",
        }
        for m in shown
    ]
    return {"rows": rows, "hidden": max(0, len(by_model) - len(shown))}


# --- latency heatmap -------------------------------------------------------------------------------

HEAT_LEVELS = 6  # colour steps, on a log scale of the busiest cell


def _heat_level(count, most):
    if most <= 1:
        return HEAT_LEVELS
    return 1 + min(HEAT_LEVELS - 1, int((HEAT_LEVELS - 1) * math.log(count) / math.log(most) + 0.5))


def _list_link(**params):
    query = urlencode({name: value for name, value in params.items() if value not in (None, "")})
    return reverse("traces") + "?" + query


def _cell_filters(filters, cell_query):
    """The saved view's filters with the cell's query added to its own."""
    q = filters.get("q", "").strip()
    return filters | {"q": f"({q}) {cell_query}" if q else cell_query}


@register.inclusion_tag("ui/partials/_chart_heatmap.html")
def heatmap_chart(heatmap, filters=None):
    """Traces by start time (columns, the series' buckets) and duration (rows, slowest on top), shaded by
    count; a cell with failed traces is outlined in red. Each cell links to the trace list over its time
    and duration range, one row per trace as the heatmap counts them."""
    filters = filters or {}
    times, rows = heatmap["times"], heatmap["durations"]
    width = WIDTH / len(times) if times else WIDTH
    height = HEIGHT / len(rows) if rows else HEIGHT
    top = rows[-1]["index"] if rows else 0
    cells = []
    for cell in heatmap["cells"]:
        terms = heatmap_query(cell["duration"])
        when = _utc_text(cell["start"], "datetime")
        cells.append({
            "x": _r(cell["time"] * width), "y": _r((top - cell["duration"]) * height),
            "width": _r(width), "height": _r(height), "level": _heat_level(cell["traces"], heatmap["max_traces"]),
            "errors": cell["errors"],
            "href": _list_link(group="trace", start=cell["start"].isoformat(), end=cell["end"].isoformat(),
                               **_cell_filters(filters, terms)),
            "title": f"{when} UTC, {_duration_row(rows, cell['duration'])}: {_plural(cell['traces'], 'trace')}"
                     + (f", {_plural(cell['errors'], 'error')}" if cell["errors"] else ""),
        })
    series = {"points": [{"start": moment} for moment in times], "bucket_seconds": heatmap["bucket_seconds"]}
    y_labels = [{"pct": _r(100 * (position + 0.5) / len(rows)), "label": row["label"]}
                for position, row in enumerate(rows)]
    return {
        "width": WIDTH, "height": HEIGHT, "cells": cells, "y_labels": y_labels, "empty": not cells,
        "x_labels": _x_labels(series, time_format(series)),
        "legend": [f"heat-{level}" for level in range(1, HEAT_LEVELS + 1)], "most": f"{heatmap['max_traces']:,}",
    }


def _duration_row(rows, index):
    return next(row["label"] for row in rows if row["index"] == index)


# --- usage over time ------------------------------------------------------------------------------

USAGE_METRICS = {"cost": ("cost", cost, "Cost"), "tokens": ("tokens", tokens, "Tokens")}


def usage_label(stack, by):
    if stack["other"]:
        return "other"
    if by == "model":
        return model_label(stack["name"])
    return stack["name"] or {"workflow": "(no workflow)", "service": "(no service)", "user": "(no user)"}[by]


@register.inclusion_tag("ui/partials/_chart_series.html")
def usage_chart(usage, metric):
    """Cost or tokens per bucket as bars stacked by the usage's dimension, the largest spender at the foot."""
    key, formatted, label = USAGE_METRICS[metric]
    points = usage["points"]
    totals = [sum(value[key] for value in point["values"]) for point in points]
    top, step = nice_scale(max(totals, default=0), integer=metric == "tokens")
    names = [usage_label(stack, usage["by"]) for stack in usage["stacks"]]
    classes = [("usage-other" if stack["other"] else f"usage-{position}") for position, stack in
               enumerate(usage["stacks"])]
    bars = []
    series = {"points": points, "bucket_seconds": usage["bucket_seconds"]}
    for bucket, total in zip(_buckets(series), totals):
        width = bucket["width"] * BAR_FILL
        rects, base = [], HEIGHT
        for css, value in zip(classes, bucket["point"]["values"]):
            high = HEIGHT * value[key] / top
            base -= high
            rects.append({"class": css, "y": _r(base), "height": _r(high)})
        parts = [f"{name} {formatted(value[key])}" for name, value in zip(names, bucket["point"]["values"]) if value[key]]
        bucket |= {"bar_x": _r(bucket["x"] + (bucket["width"] - width) / 2), "bar_width": _r(width), "rects": rects,
                   "detail": f"{formatted(total)}" + (f": {', '.join(parts)}" if parts else "")}
        bars.append(bucket)
    return {
        "kind": "usage", "label": f"{label} over time by {usage['by']}", "width": WIDTH, "height": HEIGHT,
        "buckets": bars, "lines": [], "y_ticks": _y_ticks(top, step, lambda v: formatted(v) if v else "0"),
        "x_labels": _x_labels(series, time_format(series)), "empty": not any(totals),
        "legend": list(zip(classes, names)), "empty_text": "No model usage in this window",
    }
