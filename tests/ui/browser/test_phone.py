"""The pages on a 390 px phone: nothing scrolls the page sideways, the list turns into cards, and the
timeline scrolls inside its own box."""

import re

from playwright.sync_api import expect

from tests.ui.browser.support import ROWS, api, listed, overflow, wait_for_rows

WIDTH = 390
TOLERANCE = 1  # px: sub-pixel rounding


def test_the_dashboard_fits_the_screen(phone, site):
    phone.goto("/")

    expect(phone.locator(".stat")).to_have_count(8)
    assert overflow(phone) <= TOLERANCE
    for box in [phone.locator(selector).first.bounding_box() for selector in (".stat", ".chart-panel", ".latest")]:
        assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTH + TOLERANCE


def test_the_trace_list_becomes_cards_without_sideways_scrolling(phone, site):
    phone.goto("/traces")
    wait_for_rows(phone, listed(site, limit=50))

    assert overflow(phone) <= TOLERANCE
    expect(phone.locator("table.traces-table thead")).to_be_hidden()
    first = phone.locator(ROWS).first
    assert first.evaluate("row => getComputedStyle(row).display") != "table-row"
    box = first.bounding_box()
    assert box["width"] <= WIDTH and box["height"] > 60  # a card, several lines tall
    name = first.locator(".trace-link").bounding_box()
    duration = first.locator(".col-duration").bounding_box()
    assert duration["y"] > name["y"]  # the figures sit under the name, not beside it
    # each figure carries its label, drawn from data-label
    label = first.locator(".col-duration").evaluate("td => getComputedStyle(td, '::before').content")
    assert label == '"Duration"'
    newest = api(site, "/traces", limit=1)["traces"][0]
    expect(first.locator(".trace-link")).to_have_text(newest["root_span_name"])


def test_the_timeline_scrolls_inside_its_box_and_the_page_does_not(phone, site):
    biggest = listed(site, sort="-spans", limit=1)[0]
    phone.goto(f"/traces/{biggest}")
    spans = phone.locator("#trace-view .spans")
    expect(spans.locator(".row").first).to_be_visible()

    assert overflow(phone) <= TOLERANCE
    sizes = spans.evaluate(
        "el => ({scroll: el.scrollWidth, client: el.clientWidth, overflow: getComputedStyle(el).overflowX})"
    )
    assert sizes["scroll"] > sizes["client"] and sizes["overflow"] in ("auto", "scroll")
    assert spans.bounding_box()["width"] <= WIDTH

    spans.evaluate("el => { el.scrollLeft = 150; el.scrollTop = 400; }")

    assert spans.evaluate("el => [el.scrollLeft, el.scrollTop]") == [150, 400]
    assert phone.evaluate("[window.scrollX, document.documentElement.scrollLeft]") == [0, 0]


def test_the_span_panel_covers_the_screen_and_its_close_button_closes_it(phone, site):
    trace_id = listed(site, workflow="text_to_sql", status="ok", limit=1)[0]
    phone.goto(f"/traces/{trace_id}")
    link = phone.locator("#trace-view .row[data-nav-item] .nm a", has_text="ChatCompletion").first

    link.tap()

    panel = phone.locator("#span-panel")
    expect(panel.get_by_role("heading", level=2)).to_have_text("ChatCompletion")
    expect(panel.locator(".chat .msg").first).to_be_visible()
    box = panel.bounding_box()
    assert box["x"] <= TOLERANCE and box["width"] >= WIDTH - TOLERANCE
    assert overflow(phone) <= TOLERANCE

    panel.get_by_role("link", name="Close span details").tap()

    expect(panel.locator("article")).to_have_count(0)
    expect(phone).to_have_url(re.compile(f"/traces/{trace_id}$"))
