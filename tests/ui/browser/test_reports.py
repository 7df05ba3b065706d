"""The PDF reports in a browser: "Download PDF" on a trace page and on a comparison downloads a PDF of
what the page shows; the trace page printed by the browser itself (print media) leaves out its
controls. docs/screenshots/report-pdf.png is page 1 of a demo trace's PDF, drawn by pypdfium2."""

import pypdfium2 as pdfium
from playwright.sync_api import expect

from tests.reports.pdfs import Pdf
from tests.ui.browser.support import api, listed
from tests.ui.browser.test_compare import two_runs_with_a_changed_prompt
from tests.ui.browser.test_screenshots import FOLDER, save


def failed_research_run(site):
    """A failed deep_research run of about twenty spans: model calls, tools and a stack trace on one page."""
    for trace_id in listed(site, workflow="deep_research", status="error", sort="spans"):
        return trace_id, api(site, "/traces", trace_id=trace_id)["traces"][0]
    raise AssertionError("the demo data has no failed deep_research run")


def downloaded(page, link):
    with page.expect_download() as started:
        link.click()
    download = started.value
    return download.suggested_filename, download.path().read_bytes()


def test_download_pdf_on_a_trace_page_saves_the_traces_report(desktop, site):
    trace_id, trace = failed_research_run(site)
    desktop.goto(f"/traces/{trace_id}")

    filename, data = downloaded(desktop, desktop.get_by_role("link", name="Download PDF"))

    assert filename == f"trace-{trace_id}.pdf"
    printed = Pdf(data)
    assert f"{trace['root_span_name']} {trace['error_count']} errors" in printed
    assert f"Trace {trace_id}" in printed
    page_one = FOLDER / "report-pdf.png"
    document = pdfium.PdfDocument(data)
    try:
        document[0].render(scale=1.6).to_pil().save(page_one)
    finally:
        document.close()
    assert page_one.stat().st_size > 30_000, "page 1 of the report is nearly blank"


def test_download_pdf_on_a_comparison_saves_its_report_with_the_summary(desktop, site):
    _, a, b, result = two_runs_with_a_changed_prompt(site)
    desktop.goto(f"/compare?a={a}&b={b}")

    filename, data = downloaded(desktop, desktop.get_by_role("link", name="Download PDF"))

    assert filename == f"compare-{a[:8]}-{b[:8]}.pdf"
    assert result["summary"] in Pdf(data)


def test_the_trace_page_prints_without_its_navigation_and_controls(desktop, site):
    trace_id, trace = failed_research_run(site)
    desktop.emulate_media(media="print")
    desktop.goto(f"/traces/{trace_id}")

    expect(desktop.locator(".trace-head h1")).to_have_text(trace["root_span_name"])
    for control in (".topbar", ".view-bar .tabs", ".view-tools", ".live-bar", "details.share", ".report-link"):
        expect(desktop.locator(control).first).to_be_hidden()
    expect(desktop.locator("#trace-view .spans.timeline .row").first).to_be_visible()
    expect(desktop.locator("section.errors .error-entry").first).to_be_visible()
    save(desktop, "trace-print-desktop")
