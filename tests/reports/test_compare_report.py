"""The PDF report of a comparison at /compare/report.pdf?a=<trace_id>&b=<trace_id>: the one-line
summary, each run's figures and B's deltas, and the aligned steps with what changed in them."""

import pytest

from tests import helpers as h
from tests.compare.runs import llm, post_run, tool
from tests.reports.pdfs import pdf_of

pytestmark = pytest.mark.django_db


def test_the_comparison_pdf_prints_the_summary_figures_and_changed_steps(client):
    a = post_run(client, 1, llm(model="gpt-4o", prompt="Weather in Paris?", tokens=(1000, 200), cost=(0.0025, 0.002)),
                 tool())
    b = post_run(client, 2, llm(model="gpt-4o-mini", prompt="Weather in Berlin?", tokens=(1000, 200),
                                cost=(0.00015, 0.00012)), tool(), tool(name="get_forecast"))

    response = client.get("/compare/report.pdf", {"a": a, "b": b})
    printed = pdf_of(response)

    assert response["Content-Disposition"] == f'attachment; filename="compare-{a[:8]}-{b[:8]}.pdf"'
    assert (f"A weather agent {a}" in printed) and (f"B weather agent {b}" in printed)
    summary = client.get("/api/v1/compare", {"a": a, "b": b}).json()["summary"]
    assert summary.startswith("B took") and "step 2 switched from gpt-4o to gpt-4o-mini" in summary
    assert summary in printed
    assert "Tool calls 1 2 +1" in printed
    assert "chat gpt-4o → chat gpt-4o-mini" in printed
    assert "get_forecast only in B" in printed
    assert "Prompt changed" in printed and "ParisBerlin" in printed  # the removed word, then the added one


def test_the_comparison_pdf_answers_what_the_comparison_page_answers_for_bad_ids(client):
    a = post_run(client, 1, llm())

    malformed = client.get("/compare/report.pdf", {"a": a, "b": "nope"})
    unknown = client.get("/compare/report.pdf", {"a": a, "b": h.tid(9)})

    assert malformed.status_code == 400
    assert "b: a trace id is 32 hexadecimal digits" in malformed.text
    assert unknown.status_code == 404
    assert f"no trace {h.tid(9)}" in unknown.text


def test_the_comparison_page_links_its_report_and_the_print_stylesheet(client):
    a, b = post_run(client, 1, llm()), post_run(client, 2, llm())

    page = client.get("/compare", {"a": a, "b": b}).text

    assert f'<a class="report-link" href="/compare/report.pdf?a={a}&amp;b={b}" download>Download PDF</a>' in page
    assert '<link rel="stylesheet" href="/static/css/print.css" media="print">' in page
