"""Live pages in a browser: a trace page grows in place while its spans arrive, the list shows a new
trace within seconds without moving what the reader looks at, and Pause stops asking."""

import re

import pytest
from playwright.sync_api import expect

from tests import helpers as h
from tests.servers import ROOT
from tests.ui.browser.support import MS, fresh_trace, overflow, post_otlp

TREE_ROWS = "#trace-view .spans.tree .body .row[data-nav-item]"
SHOTS = ROOT / "docs" / "screenshots"
pytestmark = pytest.mark.usefixtures("site")


def more_spans(message, names):
    """More spans of the trace in `message` (an ExportTraceServiceRequest from fresh_trace), each a
    model call under its root that started a moment after it."""
    root = message.resource_spans[0].scope_spans[0].spans[0]
    spans = []
    for n, name in enumerate(names, start=1):
        span = h.span(trace=int.from_bytes(root.trace_id, "big"), span=int.from_bytes(root.span_id, "big") + 100 + n,
                      parent=int.from_bytes(root.span_id, "big"), name=name)
        span.start_time_unix_nano = root.start_time_unix_nano + (100 + 50 * n) * MS
        span.end_time_unix_nano = span.start_time_unix_nano + 200 * MS
        spans.append(span)
    return h.request(*spans, service="browser-tests")


def facts(page, label):
    return page.locator("#trace-facts .facts > div", has=page.locator(f"dt:text-is('{label}')")).locator("dd")


def grow_in_place(page, site, shot=None):
    message, trace_id, name = fresh_trace(spans=2)
    post_otlp(site, message)
    page.goto(f"/traces/{trace_id}?view=tree")
    expect(page.locator(TREE_ROWS)).to_have_count(2)
    page.evaluate("window.loadedOnce = true")  # gone if the page reloads
    page.locator(TREE_ROWS).nth(1).locator("a[data-nav-open]").click()
    expect(page.locator("#span-panel h2")).to_contain_text("chat gpt-4o-mini")
    page.locator("#span-panel h2").blur()
    page.keyboard.press("j")  # the keyboard selection: the first row
    expect(page.locator(TREE_ROWS).first).to_have_class(re.compile(r"\bis-selected\b"))

    post_otlp(site, more_spans(message, ["search the web", "summarize the findings"]))

    expect(page.locator(TREE_ROWS)).to_have_count(4, timeout=6_000)
    expect(page.locator("#trace-view")).to_contain_text("summarize the findings")
    expect(facts(page, "Spans")).to_have_text("4")
    expect(page.locator(".live-bar [data-live-label]")).to_have_text("Live · receiving spans")
    assert page.evaluate("window.loadedOnce") is True
    expect(page.locator("#span-panel h2")).to_contain_text("chat gpt-4o-mini")  # the open panel is kept
    expect(page.locator(TREE_ROWS).nth(1)).to_have_class(re.compile(r"\bis-current\b"))
    expect(page.locator(TREE_ROWS).first).to_have_class(re.compile(r"\bis-selected\b"))
    if shot:  # the spans and the live indicator, the panel closed
        page.keyboard.press("Escape")
        expect(page.locator("#span-panel h2")).to_have_count(0)
        assert overflow(page) <= 1
        page.screenshot(path=SHOTS / f"{shot}.png", animations="disabled", caret="hide", scale="css")
    return trace_id


def test_a_trace_page_grows_in_place_and_keeps_its_span_panel(desktop, site):
    grow_in_place(desktop, site, shot="live-desktop")


def test_a_trace_page_grows_on_a_phone(phone, site):
    grow_in_place(phone, site, shot="live-phone")


def test_a_trace_looks_complete_once_its_root_arrived_and_nothing_new_came(desktop, site):
    desktop.clock.install()
    message, trace_id, _ = fresh_trace(spans=2)
    post_otlp(site, message)
    desktop.goto(f"/traces/{trace_id}")
    expect(desktop.locator(".live-bar [data-live-label]")).to_have_text("Live · receiving spans")
    desktop.clock.fast_forward("00:12")
    expect(desktop.locator(".live-bar [data-live-label]")).to_have_text("Looks complete")


def test_the_list_shows_a_new_trace_without_moving_what_the_reader_looks_at(desktop, site):
    desktop.goto("/traces")
    rows = desktop.locator("#results tr[data-nav-item]")
    expect(rows.first).to_be_visible()
    for _ in range(3):
        desktop.keyboard.press("j")  # the keyboard selection: the third row
    selected = desktop.locator("#results tr.is-selected").get_attribute("id")
    desktop.mouse.wheel(0, 500)
    desktop.wait_for_function("window.scrollY >= 400")
    watched = desktop.locator("#" + rows.nth(12).get_attribute("id"))
    before = watched.bounding_box()["y"]

    message, trace_id, name = fresh_trace()
    post_otlp(site, message)

    expect(rows.first).to_have_id(f"trace-{trace_id}", timeout=5_000)
    expect(rows.first).to_contain_text(name)
    assert abs(watched.bounding_box()["y"] - before) <= 1  # the rows the reader sees did not move
    assert desktop.locator("#results tr.is-selected").get_attribute("id") == selected


def test_pause_stops_asking_and_is_remembered(desktop, site):
    polls = []
    desktop.on("request", lambda request: "new_since=" in request.url and polls.append(request.url))
    desktop.goto("/traces")
    toggle = desktop.locator("[data-live-toggle]")
    expect(toggle).to_have_text("Pause")
    desktop.wait_for_timeout(2_500)
    assert polls, "the list did not poll while live"

    toggle.click()
    expect(toggle).to_have_text("Resume")
    expect(desktop.locator(".live-bar [data-live-label]")).to_have_text("Paused")
    desktop.wait_for_timeout(300)  # a poll already on its way
    asked = len(polls)
    message, trace_id, _ = fresh_trace()
    post_otlp(site, message)
    desktop.wait_for_timeout(4_500)
    assert len(polls) == asked
    expect(desktop.locator(f"#trace-{trace_id}")).to_have_count(0)

    desktop.reload()
    expect(desktop.locator("[data-live-toggle]")).to_have_text("Resume")
    desktop.locator("[data-live-toggle]").click()
    expect(desktop.locator("[data-live-toggle]")).to_have_text("Pause")
    message, trace_id, _ = fresh_trace()
    post_otlp(site, message)
    expect(desktop.locator("#results tr[data-nav-item]").first).to_have_id(f"trace-{trace_id}", timeout=5_000)


def test_a_page_in_a_background_tab_stops_asking(desktop, site):
    polls = []
    desktop.on("request", lambda request: "new_since=" in request.url and polls.append(request.url))
    desktop.goto("/traces")
    desktop.wait_for_timeout(2_500)
    assert polls, "the list did not poll while visible"

    desktop.evaluate("""() => {
        Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" });
        document.dispatchEvent(new Event("visibilitychange"));
    }""")
    desktop.wait_for_timeout(300)
    asked = len(polls)
    desktop.wait_for_timeout(4_500)
    assert len(polls) == asked

    message, trace_id, _ = fresh_trace()
    post_otlp(site, message)
    desktop.evaluate("""() => {
        Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "visible" });
        document.dispatchEvent(new Event("visibilitychange"));
    }""")
    # Back in front, it asks at once rather than at the next tick.
    expect(desktop.locator("#results tr[data-nav-item]").first).to_have_id(f"trace-{trace_id}", timeout=1_500)


def test_a_subtree_the_reader_closed_stays_closed_as_the_trace_grows(desktop, site):
    message, trace_id, _ = fresh_trace(spans=2)
    post_otlp(site, message)
    desktop.goto(f"/traces/{trace_id}?view=tree")
    rows = desktop.locator(TREE_ROWS)
    expect(rows).to_have_count(2)
    root_toggle = rows.first.locator(".tg[aria-expanded]")
    root_toggle.click()
    expect(root_toggle).to_have_attribute("aria-expanded", "false")

    post_otlp(site, more_spans(message, ["search the web"]))

    expect(facts(desktop, "Spans")).to_have_text("3", timeout=6_000)
    expect(rows).to_have_count(3)
    expect(rows.first.locator(".tg[aria-expanded]")).to_have_attribute("aria-expanded", "false")
    assert [row.is_visible() for row in rows.all()] == [True, False, False]
