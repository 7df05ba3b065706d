"""The latency heatmap and usage over time (traces.heatmap, traces.stats.usage_over_time), their API
endpoints and their panels on the dashboard: exact counts per cell, links that list exactly a cell's
traces, and stacked usage that adds up to the dashboard's totals to the cent."""

import html
import re
from datetime import datetime, timezone

import pytest

from tests import helpers as h
from tests.helpers import ago, tid

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def timed(client):
    """Traces of known durations: four started 100 minutes ago within one second, one a day and a half
    ago (outside 24 hours), and one 5 minutes ago.

        11  100 min ago    55 ms  ok
        12  100 min ago    80 ms  error
        13  100 min ago   150 ms  ok
        14  100 min ago  3000 ms  error
        15  36 h ago       55 ms  ok
        16  5 min ago      55 ms  ok
    """
    start = ago(100) // 60_000 * 60_000  # a whole minute: the four share their 30-minute bucket
    for n, at, duration, error in [(11, start, 55, None), (12, start + 100, 80, "x"), (13, start + 200, 150, None),
                                   (14, start + 300, 3000, "x"), (15, ago(36 * 60), 55, None), (16, ago(5), 55, None)]:
        h.post(client, h.body(h.span(trace=n, span=n, name=f"t{n}", start_ms=at, duration_ms=duration, error=error)))
    return client


def cells(answer):
    return {(c["start"], c["min_duration_ms"], c["max_duration_ms"]): (c["traces"], c["errors"]) for c in answer["cells"]}


def test_the_heatmap_counts_traces_by_time_and_duration_with_their_errors(timed):
    answer = timed.get("/api/v1/stats/heatmap", {"window": "24h"}).json()

    assert answer["bucket_seconds"] == 1800
    assert answer["duration_edges_ms"][:8] == [1, 2, 5, 10, 20, 50, 100, 200]
    counted = sorted((c["min_duration_ms"], c["max_duration_ms"], c["traces"], c["errors"]) for c in answer["cells"])
    assert counted == [(50, 100, 1, 0), (50, 100, 2, 1), (100, 200, 1, 0), (2000, 5000, 1, 1)]
    # the three traces of 100 minutes ago share a column; the 5-minute-old one is in another
    column = [c for c in answer["cells"] if c["min_duration_ms"] == 100][0]["start"]
    assert cells(answer)[(column, 50, 100)] == (2, 1)
    assert sum(c["traces"] for c in answer["cells"]) == timed.get("/api/v1/stats").json()["total_traces"] == 5


def test_a_cell_links_to_exactly_its_traces(timed):
    page = html.unescape(timed.get("/").text)
    links = re.findall(r'<a class="heat-cell" href="([^"]+)">\s*<title>([^<]+)</title>', page)

    assert len(links) == 4
    titled = {title.split(", ", 1)[1]: href for href, title in links}
    assert set(titled) == {"50 ms – 100 ms: 2 traces, 1 error", "50 ms – 100 ms: 1 trace", "100 ms – 200 ms: 1 trace",
                           "2 s – 5 s: 1 trace, 1 error"}
    href = titled["50 ms – 100 ms: 2 traces, 1 error"]
    assert "group=trace" in href and "duration%3A%3E%3D50ms+duration%3A%3C100ms" in href and "end=" in href
    listed = timed.get(href).text
    assert [n for n in range(11, 17) if tid(n) in listed] == [11, 12]
    listed = timed.get(titled["2 s – 5 s: 1 trace, 1 error"]).text
    assert [n for n in range(11, 17) if tid(n) in listed] == [14]
    # the errors are outlined
    assert page.count("has-errors") == 2


def test_the_first_cell_starts_at_the_window_not_before_it(timed):
    answer = timed.get("/api/v1/stats/heatmap", {"start": "2h"}).json()
    starts = [datetime.fromisoformat(c["start"]) for c in answer["cells"]]
    now = datetime.now(timezone.utc)

    assert all((now - start).total_seconds() <= 2 * 3600 + 5 for start in starts)


def test_the_heatmap_endpoint_refuses_bad_parameters(timed):
    assert timed.get("/api/v1/stats/heatmap", {"window": "1y"}).status_code == 422
    answer = timed.get("/api/v1/stats/heatmap", {"start": "1h", "end": "2h"})
    assert answer.status_code == 422 and answer.json()["detail"] == "start: must be before end"
    assert timed.get("/api/v1/stats/heatmap", {"q": "duration:>"}).status_code == 400


def test_an_empty_window_has_no_cells(client):
    answer = client.get("/api/v1/stats/heatmap").json()
    assert answer["cells"] == [] and answer["bucket_seconds"] is None


def test_the_trace_list_takes_an_end(timed):
    cut = datetime.fromtimestamp((h.T0 // h.MS + ago(60)) / 1000, timezone.utc).isoformat()

    listed = timed.get("/traces", {"group": "trace", "end": cut, "start": "24h"}).text

    assert [n for n in range(11, 17) if tid(n) in listed] == [11, 12, 13, 14]
    assert 'name="end" value="' in listed
    assert "not a time" in timed.get("/traces", {"end": "soon"}).text


# --- usage over time -------------------------------------------------------------------------


@pytest.mark.parametrize("by", ["model", "workflow", "service", "user"])
def test_stacked_usage_adds_up_to_the_dashboard_totals_to_the_cent(five_traces, by):
    stats = five_traces.get("/api/v1/stats", {"window": "7d"}).json()
    usage = five_traces.get("/api/v1/stats/usage-over-time", {"window": "7d", "by": by}).json()

    assert usage["bucket_seconds"] == stats["series"]["bucket_seconds"]
    assert len(usage["points"]) == len(stats["series"]["points"])
    cost = sum(value["cost"] for point in usage["points"] for value in point["values"])
    tokens = sum(value["tokens"] for point in usage["points"] for value in point["values"])
    assert round(cost, 2) == round(stats["total_cost"], 2) and cost == pytest.approx(stats["total_cost"])
    assert tokens == stats["total_tokens"] == 4640
    # and bucket by bucket, as the series has them
    for point, series_point in zip(usage["points"], stats["series"]["points"]):
        assert sum(v["tokens"] for v in point["values"]) == series_point["total_tokens"]
        assert sum(v["cost"] for v in point["values"]) == pytest.approx(series_point["cost"])


def test_usage_is_stacked_by_the_largest_spenders_first(five_traces):
    usage = five_traces.get("/api/v1/stats/usage-over-time", {"window": "7d", "by": "model"}).json()

    assert [(s["name"], s["total_tokens"], round(s["cost"], 6)) for s in usage["stacks"]] == [
        ("gpt-4o", 1310, 0.00485), ("claude-3-5-haiku", 2500, 0.0036), ("gpt-4o-mini", 830, 0.00019)]
    by_user = five_traces.get("/api/v1/stats/usage-over-time", {"window": "7d", "by": "user"}).json()
    assert [s["name"] for s in by_user["stacks"]] == ["alice", "carol", "bob", ""]  # "": the trace of no user


def test_past_the_largest_spenders_the_rest_is_other(five_traces):
    from traces.models import Trace
    from traces.stats import usage_over_time

    usage = usage_over_time(Trace.objects.all(), "user", keys=1)

    assert [(s["name"], s["other"]) for s in usage["stacks"]] == [("alice", False), ("other", True)]
    assert sum(s["total_tokens"] for s in usage["stacks"]) == 4640


def test_usage_refuses_an_unknown_dimension(five_traces):
    assert five_traces.get("/api/v1/stats/usage-over-time", {"by": "colour"}).status_code == 422


def test_top_spenders_of_the_week(five_traces):
    answer = five_traces.get("/api/v1/stats/top-spenders").json()

    assert [(u["name"], u["traces"], round(u["cost"], 6)) for u in answer["users"]] == [
        ("alice", 2, 0.00845), ("carol", 1, 0.00011), ("bob", 1, 0.00008)]
    assert [(w["name"], w["traces"]) for w in answer["workflows"]] == [("support", 3), ("research", 1)]
    assert five_traces.get("/api/v1/stats/top-spenders", {"days": "0"}).status_code == 422


def test_the_dashboard_stacks_usage_by_the_chosen_dimension(five_traces):
    page = html.unescape(five_traces.get("/", {"window": "7d", "usage": "workflow"}).text)

    usage = page.split('id="usage-over-time"')[1].split("</section>")[0]
    assert '<a href="?window=7d&usage=workflow"' in usage and 'aria-current="true">Workflow</a>' in usage
    assert re.findall(r'<span class="swatch swatch-(usage-[^"]+)"></span>([^<]+)</span>', usage)[:3] == [
        ("usage-0", "support"), ("usage-1", "research"), ("usage-2", "(no workflow)")]
    assert 'aria-label="Cost over time by workflow"' in usage and 'aria-label="Tokens over time by workflow"' in usage
    # the live poll and the window links keep the dimension
    assert 'hx-get="/?window=7d&usage=workflow"' in page and 'href="?window=24h&usage=workflow"' in page


def test_the_dashboard_lists_the_week_s_top_spenders(five_traces):
    page = html.unescape(five_traces.get("/").text)

    users = page.split("<h2>Top users this week</h2>")[1].split("</table>")[0]
    assert re.findall(r'<a href="[^"]+">([^<]+)</a>', users) == ["alice", "carol", "bob"]
    assert 'href="/traces?group=trace&start=7d&q=user%3A%22alice%22"' in users
    workflows = page.split("<h2>Top workflows this week</h2>")[1].split("</table>")[0]
    assert 'href="/flows?workflow=support&window=7d"' in workflows


def test_hostile_names_stay_text_in_the_usage_panels(client):
    hostile = "<script>alert(1)</script>"
    h.post(client, h.body(h.span(trace=7, span=7, start_ms=ago(3), model=hostile, tokens=(1, 1), cost=(0.5, 0.5),
                                 attributes={"user.id": hostile, "workflow.name": hostile})))

    page = client.get("/").text

    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_with_a_saved_view_the_cells_count_and_list_only_its_traces(timed):
    from saved_views.models import SavedView

    view = SavedView.objects.create(name="errors", owner=None, shared=True, params={"q": "error:true"})

    page = html.unescape(timed.get("/", {"view": view.pk}).text)

    links = re.findall(r'<a class="heat-cell" href="([^"]+)">\s*<title>([^<]+)</title>', page)
    assert sorted(title.split(", ", 1)[1] for _, title in links) == [
        "2 s – 5 s: 1 trace, 1 error", "50 ms – 100 ms: 1 trace, 1 error"]
    for href, title in links:
        assert "q=%28error%3Atrue%29+duration" in href
        listed = timed.get(href).text
        assert [n for n in range(11, 17) if tid(n) in listed] == ([12] if "50 ms" in title else [14])
