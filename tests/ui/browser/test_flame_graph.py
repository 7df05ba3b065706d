"""The flame graph and the critical path in a browser: the Flame graph tab, zooming into a box (which
opens its span) and back out by the breadcrumbs, the measure switch, the critical path marked on the
timeline and the graph; screenshots of both at desktop and phone width for the docs."""

import re
import time

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from playwright.sync_api import expect

from tests import helpers as h
from tests.ui.browser.support import overflow, post_otlp, serve
from tests.ui.browser.test_screenshots import save

TRACE = 0xF1A3E
AGENT = {"gen_ai.operation.name": "invoke_agent"}
TOOL = {"gen_ai.operation.name": "execute_tool"}


def support_run():
    """A 4.2 s support flow: a triage agent (with 12 cache lookups of a millisecond), a research agent
    whose two tools run side by side (the slower one searching, the faster one failing), and a reply."""
    spans = [
        h.span(trace=TRACE, span=1, name="support flow", start_ms=0, duration_ms=4200, attributes={"span.type": "flow"}),
        h.span(trace=TRACE, span=2, parent=1, name="triage agent", start_ms=20, duration_ms=880, attributes=AGENT),
        h.span(trace=TRACE, span=3, parent=2, name="chat gpt-4o-mini", start_ms=60, duration_ms=760,
               model="gpt-4o-mini", tokens=(900, 60), cost=(0.000135, 0.000036)),
        h.span(trace=TRACE, span=4, parent=1, name="research agent", start_ms=920, duration_ms=2380, attributes=AGENT),
        h.span(trace=TRACE, span=5, parent=4, name="chat gpt-4o", start_ms=940, duration_ms=760, model="gpt-4o",
               tokens=(2400, 180), cost=(0.006, 0.0018)),
        h.span(trace=TRACE, span=6, parent=4, name="search_docs", start_ms=1720, duration_ms=780, attributes=TOOL),
        h.span(trace=TRACE, span=7, parent=6, name="retrieve passages", start_ms=1740, duration_ms=560,
               attributes={"openinference.span.kind": "RETRIEVER"}),
        h.span(trace=TRACE, span=8, parent=6, name="embed query", start_ms=2320, duration_ms=160,
               attributes={"gen_ai.operation.name": "embeddings", "gen_ai.request.model": "text-embedding-3-small",
                           "gen_ai.usage.input_tokens": 14}),
        h.span(trace=TRACE, span=9, parent=4, name="lookup_order", start_ms=1720, duration_ms=380, attributes=TOOL,
               error="order service timed out"),
        h.span(trace=TRACE, span=10, parent=4, name="chat gpt-4o", start_ms=2520, duration_ms=760, model="gpt-4o",
               tokens=(3100, 240), cost=(0.00775, 0.0024)),
        h.span(trace=TRACE, span=11, parent=1, name="compose reply", start_ms=3320, duration_ms=860, attributes=AGENT),
        h.span(trace=TRACE, span=12, parent=11, name="chat gpt-4o", start_ms=3340, duration_ms=800, model="gpt-4o",
               tokens=(3500, 320), cost=(0.00875, 0.0032)),
        h.span(trace=TRACE, span=13, parent=11, name="guardrail check", start_ms=4145, duration_ms=30),
    ]
    spans += [h.span(trace=TRACE, span=20 + i, parent=2, name="cache lookup", start_ms=22 + 3 * i, duration_ms=1)
              for i in range(12)]
    # The run ends a second ago, so that its page reads like a fresh one.
    shift = time.time_ns() - 1_000_000_000 - max(span.end_time_unix_nano for span in spans)
    for span in spans:
        span.start_time_unix_nano += shift
        span.end_time_unix_nano += shift
    message = ExportTraceServiceRequest()
    message.ParseFromString(h.body(*spans, service="support-bot"))
    return message


@pytest.fixture(scope="module")
def flame_site(tmp_path_factory, static_root):
    with serve(tmp_path_factory.mktemp("flame"), static_root, workers=1) as server:
        post_otlp(server, support_run())
        server.page = f"/traces/{h.trace_id(TRACE).hex()}"
        yield server


def span_hex(n):
    return h.span_id(n).hex()


def test_the_flame_graph_zooms_into_a_box_opens_its_span_and_zooms_back_out(open_page, flame_site):
    page = open_page(flame_site)
    page.goto(flame_site.page)
    # The critical path on the timeline: every span but the faster of the two tools side by side (the
    # cache lookups ran one after another before the triage's model call).
    critical = page.locator("#trace-view .spans .row.crit")
    expect(critical).to_have_count(24)
    expect(page.locator(f"#s-{span_hex(9)}")).not_to_have_class(re.compile(r"\bcrit\b"))
    expect(page.locator(".panel.critical h2")).to_have_text("Critical path 4.20 s")
    expect(page.locator(".cp-top li")).to_have_text(["chat gpt-4o 800 ms · 19%", "chat gpt-4o-mini 760 ms · 18.1%",
                                                     "chat gpt-4o 760 ms · 18.1%"])

    page.get_by_role("tab", name="Flame graph").click()
    expect(page).to_have_url(re.compile(r"\?view=flame$"))
    boxes = page.locator(".flame-graph .fb")
    expect(boxes).to_have_count(14)  # 13 spans, and the 12 cache lookups as one box
    expect(page.locator(".flame-graph .fb.k-more title")).to_contain_text(
        "12 more spans too narrow to draw (12 with their subtrees) · 12 ms · 0.286% · 12 on the critical path")
    expect(page.locator(".flame-graph .fb.crit")).to_have_count(13)
    expect(page.locator(f'.fb[data-span-id="{span_hex(9)}"] title')).to_have_text(
        "lookup_order · 380 ms · 9.048% · error")

    page.locator(f'.fb[data-span-id="{span_hex(4)}"] a').click()
    expect(page).to_have_url(re.compile(rf"/spans/{span_hex(4)}\?view=flame&measure=duration&focus={span_hex(4)}$"))
    expect(page.locator("#span-panel h2")).to_contain_text("research agent")
    expect(boxes).to_have_count(7)
    focused = page.locator(f'.fb[data-span-id="{span_hex(4)}"]')
    assert (focused.get_attribute("x"), focused.get_attribute("width")) == ("0%", "100%")
    expect(page.locator(".flame-crumbs a")).to_have_text(["All spans", "support flow"])
    expect(page.locator('.flame-crumbs [aria-current="page"]')).to_have_text("research agent")

    page.get_by_role("link", name="Tokens").click()
    expect(page).to_have_url(re.compile(rf"\?view=flame&measure=tokens&focus={span_hex(4)}$"))
    expect(page.locator('.flame-measures [aria-current="true"]')).to_have_text("Tokens")
    expect(page.locator(".flame-total")).to_have_text("5,934 tokens")

    page.locator(".flame-crumbs a", has_text="All spans").click()
    expect(page).to_have_url(re.compile(r"\?view=flame&measure=tokens$"))
    expect(page.locator(".flame-total")).to_have_text("10.7k tokens")

    # Going back reloads the zoomed page the address bar showed, panel open.
    page.go_back()
    expect(page).to_have_url(re.compile(rf"focus={span_hex(4)}$"))
    expect(page.locator(f'.fb[data-span-id="{span_hex(4)}"]')).to_have_attribute("width", "100%")


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_screenshots(open_page, flame_site, device):
    page = open_page(flame_site, phone=device == "phone")
    page.goto(flame_site.page + "?view=flame&measure=duration")
    expect(page.locator(".flame-graph .fb")).to_have_count(14)
    assert overflow(page) <= 1
    save(page, f"flame-graph-{device}")

    page.goto(flame_site.page)
    expect(page.locator("#trace-view .spans .row.crit")).to_have_count(24)
    scroll_below_the_top_bar(page, ".panel.critical" if device == "phone" else "#trace-view")
    assert overflow(page) <= 1
    save(page, f"critical-path-{device}")


def scroll_below_the_top_bar(page, selector):
    page.evaluate("""selector => {
        const top = document.querySelector(selector).getBoundingClientRect().top + window.scrollY;
        window.scrollTo(0, top - document.querySelector('.topbar').offsetHeight - 8);
    }""", selector)
