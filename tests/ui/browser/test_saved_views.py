"""Saved views in a browser: a search saved from the trace list's sidebar survives a reload and, applied
from the sidebar, shows exactly the traces the REST API lists for its filters; screenshots of the sidebar
at desktop and phone width for the docs."""

import re
import time

import pytest
from playwright.sync_api import expect

from tests.ui.browser.support import api, listed, overflow, query, wait_for_rows
from tests.ui.browser.test_screenshots import save

Q = "model:gpt-4o-mini AND error:true"


def test_a_view_saved_from_the_list_is_applied_from_the_sidebar(desktop, site):
    name = f"Failed mini calls {time.time_ns() % 10**6}"
    expected = listed(site, q=Q, group="trace")
    assert expected
    desktop.goto("/traces")
    desktop.fill("#search", Q)
    desktop.press("#search", "Enter")
    wait_for_rows(desktop, listed(site, q=Q))  # the search's rows are in: the toggle below is theirs
    desktop.get_by_role("link", name="List every trace").click()
    expect(desktop).to_have_url(re.compile(r"group=trace"))

    desktop.fill("#save-view-name", name)
    desktop.locator("#save-view button[type=submit]").click()
    expect(desktop).to_have_url(re.compile(r"/traces\?q="))
    assert query(desktop) == {"q": Q, "group": "trace"}

    desktop.goto("/traces")  # the plain list, after a reload
    wait_for_rows(desktop, listed(site, limit=50))
    mine = desktop.locator(".saved-views .view-list").first
    mine.get_by_role("link", name=name).click()

    expect(desktop).to_have_url(re.compile(r"group=trace"))
    assert query(desktop) == {"q": Q, "group": "trace"}
    expect(desktop.locator("#search")).to_have_value(Q)
    wait_for_rows(desktop, expected)


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_screenshot(open_page, site, device):
    page = open_page(site, phone=device == "phone")
    page.goto("/traces?status=error")
    if not page.locator(".view-link", has_text="Errors, newest first").count():
        page.fill("#save-view-name", "Errors, newest first")
        page.locator("#save-view label.check input").check()
        page.locator("#save-view button[type=submit]").click()
        expect(page.locator(".view-link", has_text="Errors, newest first")).to_be_visible()

    panel = page.locator(".saved-views")
    expect(panel).to_be_visible()
    # Above the list, as wide as it: beside it the table would not fit the screen.
    box, results = panel.bounding_box(), page.locator("#results").bounding_box()
    assert box["y"] + box["height"] <= results["y"] and abs(box["width"] - results["width"]) < 2
    assert overflow(page) <= 0
    save(page, f"saved-views-{device}")


def test_a_wide_screen_shows_the_views_beside_the_list(open_page, site):
    page = open_page(site)
    page.set_viewport_size({"width": 1700, "height": 900})
    page.goto("/traces")

    box, results = page.locator(".saved-views").bounding_box(), page.locator("#results").bounding_box()
    assert box["x"] + box["width"] <= results["x"] and box["y"] < results["y"]
    assert overflow(page) <= 0


def test_the_dashboard_applies_a_view_from_its_select(open_page, site, tmp_path):
    name = f"Support bot {time.time_ns() % 10**6}"
    page = open_page(site)
    page.goto("/traces?service=support-bot")
    page.fill("#save-view-name", name)
    page.locator("#save-view button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"service=support-bot"))
    expected = api(site, "/stats", window="24h", service="support-bot")["total_traces"]

    page.goto("/")
    page.select_option("#dashboard-view", label=name)
    page.get_by_role("button", name="Apply").click()

    expect(page).to_have_url(re.compile(r"view=\d+"))
    expect(page.locator(".stat-cards .stat").first.locator(".stat-value")).to_have_text(f"{expected:,}")
    expect(page.locator("#dashboard-view option:checked")).to_have_text(name)
    assert overflow(page) <= 0
    page.screenshot(path=tmp_path / "dashboard.png")
