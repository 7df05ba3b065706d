"""The PDF report of a trace at /traces/<trace_id>/report.pdf: its header and totals, the timeline and
tree, errors with their stack traces, cost per model and the model calls' transcripts; a run printed
whole; a big trace summarized within fixed bounds; span content printed as text, never fetched."""

import json
import re
from datetime import datetime, timezone

import pytest
from django.contrib.auth.models import User
from django.db.models import Count, Sum

from accounts.roles import Role, assign_role
from bench.trace_page import agent_run
from reports import pdf, report
from tests import helpers as h
from tests.reports.pdfs import Pdf, pdf_of
from tests.traces.test_runs import send, span_requests
from traces import demo, otlp, semconv
from traces.formatting import cost, duration
from traces.models import USAGE_CATEGORIES, Span, SpanEvent, Trace
from traces.store import store
from ui import span_panel

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 14, 15, 9, 26, tzinfo=timezone.utc)
HOSTILE = '<img src="http://127.0.0.1:9/pixel.png"><script>alert(1)</script>'


@pytest.fixture
def failed_demo_trace():
    """A failed deep_research run of the demo data: model calls with transcripts, tools, and a
    researcher whose exception carries a stack trace."""
    demo.load(now=NOW)
    failed = SpanEvent.objects.filter(name="exception", span__trace__workflow_name="deep_research",
                                      span__trace__status="error").values_list("span__trace", flat=True)
    return Trace.objects.get(pk=failed.first())


def test_the_pdf_of_a_demo_trace_prints_its_header_totals_spans_errors_costs_and_transcripts(client, failed_demo_trace):
    trace = failed_demo_trace
    response = client.get(f"/traces/{trace.trace_id}/report.pdf")
    printed = pdf_of(response)

    assert response["Content-Disposition"] == f'attachment; filename="trace-{trace.trace_id}.pdf"'
    assert f"{trace.root_span_name} {trace.error_count} errors" in printed
    assert f"Trace {trace.trace_id}" in printed
    assert f"Duration {duration(trace.duration_ms)}" in printed
    assert f"Spans {trace.span_count}" in printed
    spans = Span.objects.filter(trace=trace)
    for name in set(spans.values_list("name", flat=True)):
        assert name in printed, name
    exception = SpanEvent.objects.filter(name="exception", span__trace=trace).first().attributes
    assert f"{exception['exception.type']}: {exception['exception.message']}" in printed
    assert exception["exception.stacktrace"] in printed
    usage = spans.filter(category__in=USAGE_CATEGORIES).values("model").annotate(calls=Count("id"),
                                                                                cost=Sum("total_cost"))
    for row in usage:
        assert f"{row['model']} {row['calls']}" in printed
        assert cost(row["cost"]) in printed
    first_call = spans.filter(category="llm").order_by("start_ns").first()
    prompt = span_panel.Content.of(semconv.prompt(first_call.attributes))
    assert f"{prompt.messages[0].role} {prompt.messages[0].content.text}" in printed
    assert "more spans not shown" not in printed


def test_a_trace_of_a_run_prints_the_whole_run(client):
    for capture in ("004", "006"):
        send(client, span_requests(h.CORPUS / "msgflux" / f"{capture}.bin"))
    member = Trace.objects.get(trace_id__startswith="bb1506a1")  # Get Forecast, one trace of eight

    printed = pdf_of(client.get(f"/traces/{member.trace_id}/report.pdf"))

    assert "Part of a run of 8 traces of one process, printed whole" in printed
    for name in ("Forecast Agent", "Forecastagent Tool Library", "scatter_gather", "Get Forecast", "openai.chat"):
        assert name in printed
    assert printed.count("inferred from timing") == 7


def test_a_5000_span_trace_prints_within_fixed_bounds_and_summarizes_what_it_left_out(client):
    body, trace_id = agent_run(5000)
    store(otlp.decode(body, otlp.PROTOBUF, 1 << 20))
    trace = Trace.objects.get(trace_id=trace_id)
    errors = trace.error_count
    assert trace.span_count == 5000 and 0 < errors <= report.ERROR_LIMIT

    printed = pdf_of(client.get(f"/traces/{trace_id}/report.pdf"))

    assert printed.pages <= 60
    assert printed.bytes <= 2_500_000
    found = re.search(r"([\d,]+) more spans not shown: ([\d,]+) errors \(listed under Errors\), ([\d,]+) model calls",
                      printed.text.replace("\r\n", " ").replace("\n", " "))
    assert found, printed.text[-3000:]
    left_out = int(found.group(1).replace(",", ""))
    assert 5000 - report.SPAN_LIMIT <= left_out < 5000
    # Every error is printed whatever the cut: each failed tool's exception, and its stack trace's last line.
    assert printed.count("TimeoutError: search backend timed out") == 2 * errors
    assert printed.count('File "app.py", line 12, in search') == errors
    assert f"{report_transcripts_left_out(trace)} more model calls not printed" in printed


def report_transcripts_left_out(trace):
    return Span.objects.filter(trace=trace, category="llm").count() - report.TRANSCRIPT_LIMIT


def test_a_long_conversation_prints_its_first_and_latest_messages_each_cut_to_a_bound(client):
    messages = [{"role": "system", "content": "You are terse."}]
    messages += [{"role": "user" if n % 2 else "assistant", "content": f"message {n:03d}"} for n in range(1, 100)]
    messages.append({"role": "user", "content": "x" * (report.MESSAGE_CHARS + 500)})
    h.post(client, h.body(h.span(span=1, name="chat gpt-4o", model="gpt-4o", tokens=(10, 2),
                                 attributes={"gen_ai.input.messages": json.dumps(messages)})))

    printed = pdf_of(client.get(f"/traces/{h.tid(1)}/report.pdf"))

    assert "system You are terse." in printed
    assert f"{101 - report.MESSAGE_LIMIT} earlier messages not printed" in printed
    assert "message 089" not in printed
    assert all(f"message {n:03d}" in printed for n in range(90, 100))
    assert "x" * report.MESSAGE_CHARS + "… 500 more characters not printed" in printed


def test_hostile_span_content_prints_as_text_and_nothing_is_fetched(client, monkeypatch):
    fetched = []
    real_fetch = pdf.OwnStylesheetOnly.fetch

    def recording(self, url, headers=None):
        fetched.append(url)
        return real_fetch(self, url, headers)

    monkeypatch.setattr(pdf.OwnStylesheetOnly, "fetch", recording)
    messages = [{"role": "user", "content": f'<link rel="stylesheet" href="file:///etc/passwd">{HOSTILE}'}]
    h.post(client, h.body(
        h.span(span=1, name=HOSTILE, error=f"<b>{HOSTILE}</b>"),
        h.span(span=2, parent=1, name="chat gpt-4o", model="gpt-4o", tokens=(10, 2),
               attributes={"gen_ai.input.messages": json.dumps(messages)}),
    ))

    printed = pdf_of(client.get(f"/traces/{h.tid(1)}/report.pdf"))

    assert HOSTILE in printed
    assert f"<b>{HOSTILE}</b>" in printed
    assert '<link rel="stylesheet" href="file:///etc/passwd">' in printed
    assert fetched == [pdf.stylesheet_url()]


def test_the_fetcher_serves_the_print_stylesheet_and_refuses_every_other_url():
    fetcher = pdf.OwnStylesheetOnly()
    html = (f'<link rel="stylesheet" href="{pdf.stylesheet_url()}"><link rel="stylesheet" href="file:///etc/passwd">'
            '<body class="report"><img src="http://127.0.0.1:9/pixel.png"><img src="/static/img/favicon.svg">'
            '<p style="background: url(data:image/png;base64,iVBORw0KGgo=)">text</p></body>')

    printed = Pdf(pdf.render(html, fetcher))

    assert "text" in printed
    assert fetcher.refused == ["file:///etc/passwd", "http://127.0.0.1:9/pixel.png",
                               pdf.BASE_URL + "static/img/favicon.svg", "data:image/png;base64,iVBORw0KGgo="]


# --- what it answers, and to whom ---------------------------------------------------------------------


def test_an_unknown_trace_answers_the_not_found_page_and_a_malformed_id_too(client):
    unknown = client.get(f"/traces/{'ab' * 16}/report.pdf")
    malformed = client.get("/traces/not-a-trace-id/report.pdf")

    assert unknown.status_code == malformed.status_code == 404
    assert unknown["Content-Type"].startswith("text/html")
    assert "ab" * 16 in unknown.text
    assert "not-a-trace-id" in malformed.text


def test_a_viewer_may_download_the_report_and_an_anonymous_visitor_is_sent_to_sign_in(client, access_control):
    h.post(client, h.body(h.span(span=1, name="checkout")))  # ingest stays open while no ingest key exists
    url = f"/traces/{h.tid(1)}/report.pdf"

    anonymous = client.get(url)
    viewer = User.objects.create_user("vera", password="a long passphrase 1")
    assign_role(viewer, Role.VIEWER)
    client.force_login(viewer)
    signed_in = client.get(url)

    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/signin")
    assert "checkout" in pdf_of(signed_in)


def test_the_trace_page_links_its_report_and_the_print_stylesheet(client):
    h.post(client, h.body(h.span(span=1, name="checkout")))
    trace_id = h.tid(1)

    page = client.get(f"/traces/{trace_id}").text

    assert f'<a class="report-link" href="/traces/{trace_id}/report.pdf" download>Download PDF</a>' in page
    assert '<link rel="stylesheet" href="/static/css/print.css" media="print">' in page
