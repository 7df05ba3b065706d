"""The dashboard at /: figures over a window, charts, the latest traces and errors, its live refresh,
and the first-run page of an empty store."""

import html
import re
from datetime import datetime, timedelta, timezone

import pytest
from django.test import Client

from tests import helpers as h
from tests.helpers import ago, tid
from traces.models import Trace
from ui.templatetags.dashboard_charts import _segments, latency_chart, nice_scale

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def card(page, label):
    """The value and the line beneath it on the card with this label."""
    match = re.search(rf'<span class="stat-label">{label}</span>\s*<span class="stat-value">([^<]*)</span>\s*'
                      rf'<span class="stat-sub">([^<]*)</span>', page)
    assert match, f"no card {label}"
    return match.group(1), html.unescape(match.group(2))


def section(page, title):
    match = re.search(rf"<h2>{title}</h2>.*?(</table>|</p>)", page, re.S)
    assert match, title
    return match.group(0)


# --- first run -------------------------------------------------------------------------------


def test_an_empty_store_shows_how_to_send_the_first_trace_here(client):
    page = html.unescape(client.get("/").text)

    assert "Waiting for your first trace" in page
    assert "msgtrace is running at <code>http://testserver/</code>" in page
    assert ('data-copy="export MSGTRACE_TELEMETRY_ENABLED=true\n'
            "export MSGTRACE_OTLP_ENDPOINT=http://testserver/api/v1/traces/export\n"
            'export MSGTRACE_SERVICE_NAME=my-agent"') in page
    assert ('data-copy="export OTEL_EXPORTER_OTLP_ENDPOINT=http://testserver:4317\n'
            'export OTEL_SERVICE_NAME=my-agent"') in page
    assert ("OTLP over gRPC, the SDKs' default. OTLP/HTTP works too: the endpoint http://testserver "
            "with OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf.") in page
    assert "before the program starts" in page
    assert "curl -X POST http://testserver/v1/traces -H 'Content-Type: application/json'" in page
    assert 'class="stat-value"' not in page  # no figures yet


def test_the_instructions_use_the_address_the_browser_reached(client, settings):
    settings.ALLOWED_HOSTS = ["traces.example.com"]
    page = html.unescape(client.get("/", HTTP_HOST="traces.example.com:8080").text)

    assert "MSGTRACE_OTLP_ENDPOINT=http://traces.example.com:8080/api/v1/traces/export" in page
    assert "OTEL_EXPORTER_OTLP_ENDPOINT=http://traces.example.com:4317\n" in page
    assert "the endpoint http://traces.example.com:8080 with" in page


def test_with_grpc_off_the_sdk_instructions_use_otlp_http(client, settings):
    settings.MSGTRACE_GRPC_PORT = 0
    page = html.unescape(client.get("/").text)

    assert ('data-copy="export OTEL_EXPORTER_OTLP_ENDPOINT=http://testserver\n'
            "export OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf\n"
            'export OTEL_SERVICE_NAME=my-agent"') in page
    assert "4317" not in page


def test_with_ingest_keys_the_instructions_say_how_to_send_one(client, settings):
    settings.MSGTRACE_INGEST_KEYS = ["secret"]
    page = html.unescape(client.get("/").text)

    assert "OTEL_EXPORTER_OTLP_HEADERS=authorization=Bearer <your ingest key>" in page
    assert "secret" not in page


def test_the_first_run_page_keeps_polling_and_turns_into_the_dashboard(client):
    page = client.get("/").text
    assert 'id="figures" class="dashboard" hx-get="/?window=24h" hx-trigger="every 2s, live-now"' in page

    h.post(client, h.body(h.span(trace=1, span=1, name="first", start_ms=ago(1))))
    refreshed = client.get("/?window=24h", **HTMX).text

    assert "Waiting for your first trace" not in refreshed
    assert card(refreshed, "Traces")[0] == "1"


def test_the_curl_example_really_sends_a_trace(client):
    """The JSON the first-run page offers, with the shell's $(date +%s) filled in, is accepted."""
    command = html.unescape(re.search(r'<pre class="code wrap"><code>([^<]+)</code>', client.get("/").text).group(1))
    body = re.search(r"-d '(.*)'$", command).group(1).replace("'$(date +%s)'", str(int(datetime.now().timestamp())))
    h.post(client, body.encode(), content_type=h.JSON)

    assert Trace.objects.get().root_span_name == "hello from curl"
    assert "Waiting for your first trace" not in client.get("/").text


def test_an_empty_window_is_not_an_empty_store(client):
    h.post(client, h.body(h.span(trace=1, span=1, name="old", start_ms=ago(60 * 24 * 3))))
    page = client.get("/?window=1h").text

    assert "Waiting for your first trace" not in page
    assert card(page, "Traces") == ("0", "in the last hour")
    assert "No traces in this window" in page and "No errors in this window." in page


# --- figures ---------------------------------------------------------------------------------


def test_the_cards_add_up_the_last_24_hours_by_default(client, five_traces):
    page = client.get("/").text

    assert card(page, "Traces") == ("4", "in the last 24 hours")
    assert card(page, "Spans") == ("8", "2 failed")
    assert card(page, "Errors")[0] == "2"
    assert card(page, "Error rate")[0] == "50.0%"
    assert card(page, "Avg duration") == ("3.34 s", "p50 500 ms")
    assert card(page, "p95 duration") == ("12.00 s", "p99 12.00 s")
    assert card(page, "Tokens") == ("3,440", "2,800 in · 640 out")
    assert card(page, "Cost")[0] == "$0.0041"
    assert 'aria-current="page">Dashboard<' in page


@pytest.mark.parametrize("window, traces", [("1h", "3"), ("24h", "4"), ("7d", "5"), ("30d", "5"), ("all", "5")])
def test_each_window(client, five_traces, window, traces):
    page = client.get(f"/?window={window}").text
    assert card(page, "Traces")[0] == traces
    link = f'<a href="?window={window}" hx-get="/?window={window}" hx-push-url="?window={window}"'
    assert link + '\n         aria-current="true">' in page


def test_an_unknown_window_falls_back_to_24_hours(client, five_traces):
    assert card(client.get("/?window=1y").text, "Traces") == ("4", "in the last 24 hours")


def test_cards_open_the_trace_list_over_the_same_window(client, five_traces):
    page = client.get("/?window=7d").text
    assert '<a class="stat" href="/traces?start=7d">' in page
    assert 'href="/traces?start=7d&amp;status=error"' in page
    assert '<a class="stat" href="/traces">' in client.get("/?window=all").text


def test_the_latest_traces_and_errors_link_to_their_pages(client, five_traces):
    page = client.get("/").text

    latest = section(page, "Latest traces")
    assert re.findall(r'href="/traces/([0-9a-f]{32})"', latest) == [tid(5), tid(4), tid(3), tid(2)]
    errors = section(page, "Latest errors")
    assert re.findall(r'href="/traces/([0-9a-f]{32})"', errors) == [tid(4), tid(2)]
    assert "healthcheck" in errors and "support flow" in errors


# --- charts ----------------------------------------------------------------------------------


def test_the_charts_are_inline_svg_with_a_title_for_every_bucket(client, five_traces):
    page = html.unescape(client.get("/").text)
    assert page.count('<svg viewBox="0 0 1000 200" preserveAspectRatio="none" role="img"') == 5
    page = page.split("<h2>Latency heatmap</h2>")[0]  # the activity and latency charts; the others are tested apart

    assert page.count('<svg viewBox="0 0 1000 200" preserveAspectRatio="none" role="img"') == 2
    assert 'aria-label="Traces and errors over time"' in page
    assert 'aria-label="Trace duration p50 and p95 over time"' in page
    # 24 hours in 30-minute buckets: 48 or 49 of them, each with a hover title, in both charts.
    titles = re.findall(r'<title data-time="[^"]+" data-detail="([^"]+)">', page)
    assert len(titles) in (2 * 48, 2 * 49)
    activity = titles[: len(titles) // 2]
    assert sum(int(t.split(" trace")[0]) for t in activity) == 4
    assert "1 trace, 1 error" in activity and "0 traces, 0 errors" in activity
    assert any(", p95 12.00 s, " in t for t in titles)
    # y axes labelled with round numbers, the latency one as durations
    busiest = max(int(t.split(" trace")[0]) for t in activity)
    assert f'<span style="bottom: 100.0%">{busiest}</span>' in page and '<span style="bottom: 0.0%">0</span>' in page
    assert '<span style="bottom: 100.0%">15.00 s</span>' in page
    assert page.count('data-format="time"') >= 4  # x axes: clock times over a day


def test_tokens_and_cost_by_model(client, five_traces):
    page = html.unescape(client.get("/").text)

    models = re.findall(r'<span role="cell" class="model-name" title="([^"]+)">', page)
    assert models == ["gpt-4o-mini", "claude-3-5-haiku", "gpt-4o"]
    assert "<title>gpt-4o-mini: 830 tokens (700 in, 130 out) over 2 calls</title>" in page
    assert "<title>claude-3-5-haiku: 2,500 tokens (2,000 in, 500 out) over 1 call</title>" in page
    assert 'class="fill tokens" width="100.0"' in page  # claude used the most


def test_nice_scales_are_round():
    assert nice_scale(4, integer=True) == (4, 1)
    assert nice_scale(7, integer=True) == (8, 2)
    assert nice_scale(12000) == (15000, 5000)
    assert nice_scale(0.3) == (0.3, 0.1)
    assert nice_scale(0.31) == (0.4, 0.1)
    assert nice_scale(0) == (1.0, 0.25)


def test_latency_lines_break_where_a_bucket_had_no_traces():
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    values = [100, 200, None, 300, None, None]
    points = [{"start": start + timedelta(minutes=i), "traces": 1, "errors": 0, "p50_duration_ms": v,
               "p95_duration_ms": v} for i, v in enumerate(values)]
    chart = latency_chart({"bucket_seconds": 60, "points": points})

    p95 = chart["lines"][0]["segments"]
    assert len(p95) == 2  # 100-200, then 300 alone, drawn as a short dash across its bucket
    assert p95[0].count(",") == 2 and p95[1].count(",") == 2
    assert [tick["label"] for tick in chart["y_ticks"]] == ["0", "100 ms", "200 ms", "300 ms"]
    assert _segments([], "p50", 1) == []


# --- live refresh ----------------------------------------------------------------------------


def test_htmx_gets_only_the_figures(client, five_traces):
    response = client.get("/?window=7d", **HTMX)

    assert "<html" not in response.text
    assert response.text.lstrip().startswith('<div id="figures" class="dashboard" hx-get="/?window=7d"')
    assert 'hx-trigger="every 2s, live-now"' in response.text
    assert card(response.text, "Traces")[0] == "5"
    assert "HX-Request" in response["Vary"]


def test_a_history_restore_gets_the_whole_page(client, five_traces):
    assert "<html" in client.get("/", HTTP_HX_HISTORY_RESTORE_REQUEST="true", **HTMX).text


def test_otlp_posts_to_the_root_still_ingest_without_a_csrf_token():
    exporter = Client(enforce_csrf_checks=True)
    response = h.post(exporter, h.body(h.span(trace=3, span=1, name="posted to /")), path="/")
    assert response.status_code == 200 and Trace.objects.get().root_span_name == "posted to /"


# --- queries ---------------------------------------------------------------------------------


def test_the_dashboard_costs_a_fixed_number_of_queries(client, five_traces, django_assert_num_queries):
    for n in range(10, 30):
        h.post(client, h.body(h.span(trace=n, span=1, name=f"t{n}", start_ms=ago(n), error="x" if n % 2 else None,
                                    attributes={"gen_ai.request.model": f"m{n}"})))
    # the store's version (ui.live), totals, percentiles, by model, by workflow, by service, series, the heatmap,
    # usage by model, the week's top users and workflows, the saved views of the "View" select, latest, latest errors
    with django_assert_num_queries(14):
        client.get("/")
    # usage by a trace field: its largest spenders, then its buckets
    with django_assert_num_queries(15):
        client.get("/?window=1h&usage=user", **HTMX)
    # "all" has no start: the series first finds the first and last trace (the other charts take its buckets)
    with django_assert_num_queries(15):
        client.get("/?window=all", **HTMX)


def test_the_first_run_page_costs_little(client, django_assert_num_queries):
    # the store's version, the window's totals and breakdowns, then the check that the store is empty
    with django_assert_num_queries(6):
        client.get("/", **HTMX)
