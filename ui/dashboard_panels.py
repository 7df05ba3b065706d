"""The dashboard's panels beside its figures: the latency heatmap, usage over time stacked by a dimension,
and the week's top spenders. Each reads the same traces as the figures, on the series' time buckets."""

from datetime import timedelta
from urllib.parse import urlencode

from django.urls import reverse

from traces import heatmap, stats
from traces.query import quoted

USAGE_TABS = {"model": "Model", "workflow": "Workflow", "service": "Service", "user": "User"}
SPENDERS_DAYS = 7


def panels(traces, figures, by, filters, start, now):
    """Context for the panels; no query when the window holds no trace (the week's spenders aside)."""
    grid = stats.grid_of(figures["series"]) if figures["total_traces"] else None
    week = traces.model.objects.search(**filters) if filters else traces.model.objects
    week = week.between(now - timedelta(days=SPENDERS_DAYS))
    return {
        "heatmap": heatmap.heatmap(traces, start, now, grid=grid) if grid else None,
        "usage": stats.usage_over_time(traces, by, grid_=grid) if grid else None,
        "usage_by": by, "usage_tabs": USAGE_TABS.items(), "list_filters": filters,
        "top_users": [spender | {"href": _user_url(spender["name"])} for spender in stats.top_spenders(week, "user_id")],
        "top_workflows": [spender | {"href": _flows_url(spender["name"])}
                          for spender in stats.top_spenders(week, "workflow_name")],
    }


def _user_url(user):
    return reverse("traces") + "?" + urlencode({"group": "trace", "start": f"{SPENDERS_DAYS}d", "q": f"user:{quoted(user)}"})


def _flows_url(workflow):
    return reverse("flows") + "?" + urlencode({"workflow": workflow, "window": f"{SPENDERS_DAYS}d"})
