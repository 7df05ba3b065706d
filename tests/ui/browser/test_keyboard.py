"""The keyboard: / focuses the search, j and k select rows, Enter opens one, ? shows help, Esc closes."""

import re

from playwright.sync_api import expect

from tests.ui.browser.support import ROWS, listed, wait_for_rows

SELECTED = ROWS + ".is-selected"


def focused_id(page):
    return page.evaluate("document.activeElement && document.activeElement.id")


def test_slash_focuses_the_search_box_of_the_page(desktop, site):
    desktop.goto("/traces")
    desktop.keyboard.press("/")
    assert focused_id(desktop) == "search"
    desktop.keyboard.type("error:true")
    expect(desktop.locator("#search")).to_have_value("error:true")  # the slash itself is not typed
    desktop.keyboard.press("Escape")
    assert focused_id(desktop) != "search"

    desktop.goto("/")
    desktop.keyboard.press("/")
    assert focused_id(desktop) == "global-search"


def test_j_and_k_move_the_selection_and_enter_opens_the_selected_trace(desktop, site):
    ids = listed(site, limit=50)
    desktop.goto("/traces")
    wait_for_rows(desktop, ids)

    desktop.keyboard.press("j")
    expect(desktop.locator(SELECTED)).to_have_attribute("id", f"trace-{ids[0]}")
    desktop.keyboard.press("j")
    desktop.keyboard.press("j")
    expect(desktop.locator(SELECTED)).to_have_attribute("id", f"trace-{ids[2]}")
    desktop.keyboard.press("k")
    expect(desktop.locator(SELECTED)).to_have_attribute("id", f"trace-{ids[1]}")
    expect(desktop.locator(SELECTED)).to_have_count(1)

    desktop.keyboard.press("Enter")

    expect(desktop).to_have_url(re.compile(f"/traces/{ids[1]}$"))


def test_question_mark_opens_the_help_and_esc_closes_it(desktop, site):
    desktop.goto("/traces")
    dialog = desktop.locator("#keys-dialog")
    expect(dialog).to_be_hidden()

    desktop.keyboard.press("?")

    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading")).to_have_text("Keyboard shortcuts")
    expect(dialog).to_contain_text("move down and up the list")

    desktop.keyboard.press("Escape")

    expect(dialog).to_be_hidden()


def test_on_the_trace_page_enter_opens_the_selected_span_and_esc_closes_it(desktop, site):
    trace_id = listed(site, workflow="text_to_sql", status="ok", limit=1)[0]
    desktop.goto(f"/traces/{trace_id}")
    rows = desktop.locator("#trace-view .row[data-nav-item]")
    expect(rows.first).to_be_visible()

    desktop.keyboard.press("j")
    desktop.keyboard.press("j")
    expect(rows.nth(1)).to_have_class(re.compile(r"\bis-selected\b"))
    name = rows.nth(1).locator(".nm a").inner_text()
    desktop.keyboard.press("Enter")

    panel = desktop.locator("#span-panel")
    expect(panel.get_by_role("heading", level=2)).to_have_text(name)

    desktop.keyboard.press("Escape")

    expect(panel.locator("article")).to_have_count(0)
    expect(desktop).to_have_url(re.compile(f"/traces/{trace_id}$"))


def test_on_the_trace_page_arrow_keys_close_and_open_the_selected_subtree(desktop, site):
    trace_id = listed(site, workflow="text_to_sql", status="ok", limit=1)[0]
    desktop.goto(f"/traces/{trace_id}")
    rows = desktop.locator("#trace-view .row[data-nav-item]")
    expect(rows.first).to_be_visible()
    count = rows.count()
    assert count >= 4
    desktop.keyboard.press("j")  # the root

    desktop.keyboard.press("ArrowLeft")

    expect(desktop.locator("#trace-view .row[data-nav-item]:visible")).to_have_count(1)
    expect(rows.first.locator(".tg")).to_have_attribute("aria-expanded", "false")

    desktop.keyboard.press("ArrowRight")

    expect(desktop.locator("#trace-view .row[data-nav-item]:visible")).to_have_count(count)
