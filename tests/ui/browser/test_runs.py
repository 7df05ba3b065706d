"""Runs in a browser: a msgflux agent call, sent as msgtrace-sdk 1.2.0 sends it (one trace per span),
is one row of the trace list and one run on the trace page, its stitched edges dashed and labelled;
screenshots of the run at desktop and phone width for the docs."""

import time

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from playwright.sync_api import expect

from tests.helpers import CORPUS
from tests.ui.browser.support import api, overflow, post_otlp, serve
from tests.ui.browser.test_screenshots import save

# tests/corpus/msgflux/004.bin: "Forecast Agent" encloses two Generator > openai.chat steps and a
# Tool Library > scatter_gather > Get Forecast step, 8 one-span traces in all.
CAPTURE = CORPUS / "msgflux" / "004.bin"
AGENT = "1fd310bc"  # the first digits of Forecast Agent's trace id
TOOL = "bb1506a1"  # Get Forecast's, three levels down


def send_agent_call(server):
    """The capture's spans, moved to end a second ago (so that the run leads the list), one request
    per span in end order, as the SDK exports them; (the agent's trace id, Get Forecast's)."""
    capture = ExportTraceServiceRequest.FromString(CAPTURE.read_bytes())
    spans = [
        (resource_spans.resource, scope_spans.scope, span)
        for resource_spans in capture.resource_spans
        for scope_spans in resource_spans.scope_spans
        for span in scope_spans.spans
    ]
    shift = time.time_ns() - 1_000_000_000 - max(span.end_time_unix_nano for *_, span in spans)
    for resource, scope, span in sorted(spans, key=lambda item: item[2].end_time_unix_nano):
        span.start_time_unix_nano += shift
        span.end_time_unix_nano += shift
        one = ExportTraceServiceRequest()
        one.resource_spans.add(resource=resource).scope_spans.add(scope=scope).spans.append(span)
        post_otlp(server, one)
    ids = {span.trace_id.hex()[:8]: span.trace_id.hex() for *_, span in spans}
    return ids[AGENT], ids[TOOL]


def test_the_agent_call_is_one_row_of_the_list_and_one_run_with_inferred_edges(open_page, site):
    agent, tool = send_agent_call(site)
    page = open_page(site)
    page.goto("/traces")

    row = page.locator(f"#trace-{agent}")
    expect(row).to_contain_text("Forecast Agent")
    expect(row.locator(".run-count")).to_have_text("+7 stitched")
    expect(row.locator('[data-label="Spans"]')).to_have_text("8")
    for member in ("Generator", "scatter_gather", "Get Forecast"):  # stitched in: no rows of their own
        expect(page.locator("#results a.trace-link", has_text=member)).to_have_count(0)
    item = next(item for item in api(site, "/traces", group="run")["traces"] if item["trace_id"] == agent)
    assert (item["run_trace_count"], item["run_span_count"]) == (8, 8)

    row.locator("a.trace-link").click()
    expect(page).to_have_url(f"{site.url}/traces/{agent}")
    expect(page.locator(".run-note")).to_contain_text("Part of a run of 8 traces")
    rows = page.locator("#trace-view .spans .row")
    expect(rows).to_have_count(8)
    inferred = page.locator("#trace-view .spans .row.inferred")
    expect(inferred).to_have_count(7)  # every edge but the agent's own row
    labels = inferred.locator(".flag.inferred")
    expect(labels).to_have_count(7)
    expect(labels.first).to_be_visible()
    expect(labels.first).to_have_text("inferred from timing")
    assert inferred.first.locator(".nm").evaluate("el => getComputedStyle(el).borderLeftStyle") == "dashed"
    expect(page.locator("#trace-view .spans .row:not(.inferred)")).to_contain_text("Forecast Agent")

    # Any member's page shows the same run.
    page.goto(f"/traces/{tool}")
    expect(page.locator(".run-note")).to_contain_text("outermost: Forecast Agent")
    expect(page.locator("#trace-view .spans .row")).to_have_count(8)


@pytest.fixture(scope="module")
def run_site(tmp_path_factory, static_root):
    """A server holding the one agent call alone, for the screenshots."""
    with serve(tmp_path_factory.mktemp("run"), static_root, workers=1) as server:
        server.agent, server.tool = send_agent_call(server)
        yield server


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_screenshot(open_page, run_site, device):
    page = open_page(run_site, phone=device == "phone")
    page.goto(f"/traces/{run_site.agent}")
    expect(page.locator("#trace-view .spans .row.inferred")).to_have_count(7)
    # The label sits beside each stitched name where there is room; a phone shows the dashed edges alone.
    expect(page.locator("#trace-view .spans .row.inferred .flag.inferred").first).to_be_visible(visible=device == "desktop")

    assert overflow(page) <= 1
    save(page, f"run-{device}")
