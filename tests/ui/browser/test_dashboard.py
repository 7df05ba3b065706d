"""The dashboard in a browser: its figures agree with the stats API, and it follows new traces live."""

import re

from playwright.sync_api import expect

from tests.ui.browser.support import api, fresh_trace, listed, post_otlp, query

LATEST = 8


def card(page, label):
    return page.locator(".stat", has=page.locator(".stat-label", has_text=re.compile(f"^{label}$")))


def number(page, label):
    return int(card(page, label).locator(".stat-value").inner_text().replace(",", ""))


def latest_names(page, section):
    table = page.locator(".latest", has=page.locator("h2", has_text=section))
    return table.locator("tbody .col-name a").all_inner_texts()


def names(site, ids):
    return [api(site, f"/traces/{trace_id}")["root_span_name"] for trace_id in ids]


def test_the_cards_and_latest_tables_agree_with_the_stats_api(desktop, site):
    desktop.goto("/")
    stats = api(site, "/stats", window="24h")

    assert number(desktop, "Traces") == stats["total_traces"] > 40
    assert number(desktop, "Spans") == stats["total_spans"]
    assert number(desktop, "Errors") == stats["traces_with_errors"] > 0
    expect(card(desktop, "Error rate").locator(".stat-value")).to_have_text(f"{stats['error_rate'] * 100:.1f}%")
    expect(card(desktop, "Cost").locator(".stat-value")).to_have_text(f"${stats['total_cost']:.2f}")
    assert latest_names(desktop, "Latest traces") == names(site, listed(site, start="24h", limit=LATEST))
    errors = listed(site, start="24h", status="error", limit=LATEST)
    assert latest_names(desktop, "Latest errors") == names(site, errors)
    models = desktop.locator(".model-chart .model-name").all_inner_texts()
    assert set(models) == {m["model"] for m in stats["by_model"]} >= {"gpt-4o", "claude-3-5-sonnet", "o3-mini"}


def test_a_trace_ingested_after_the_page_loaded_shows_up_at_the_next_refresh(desktop, site):
    desktop.clock.install()
    desktop.goto("/")
    traces, errors = number(desktop, "Traces"), number(desktop, "Errors")
    message, _, name = fresh_trace(error="ValueError: bad tool arguments")
    post_otlp(site, message)

    desktop.clock.fast_forward("00:11")  # the figures refresh every 10 seconds

    expect(card(desktop, "Traces").locator(".stat-value")).to_have_text(str(traces + 1))
    expect(card(desktop, "Errors").locator(".stat-value")).to_have_text(str(errors + 1))
    assert latest_names(desktop, "Latest traces")[0] == name
    assert latest_names(desktop, "Latest errors")[0] == name
    assert desktop.url.endswith("/")  # a refresh is not a navigation


def test_the_window_buttons_change_the_figures_and_the_url(desktop, site):
    desktop.goto("/")

    desktop.get_by_role("navigation", name="Time window").get_by_role("link", name="1h").click()

    expect(desktop).to_have_url(re.compile(r"\?window=1h$"))
    expect(card(desktop, "Traces").locator(".stat-sub")).to_have_text("in the last hour")
    stats = api(site, "/stats", window="1h")
    assert number(desktop, "Traces") == stats["total_traces"] < api(site, "/stats", window="24h")["total_traces"]
    assert query(desktop) == {"window": "1h"}
    card(desktop, "Traces").click()
    expect(desktop).to_have_url(re.compile(r"/traces\?start="))
    assert len(desktop.locator("#results tr[data-nav-item]").all()) == stats["total_traces"]


def test_an_empty_server_shows_how_to_send_traces_then_turns_into_the_dashboard(open_page, empty_site):
    page = open_page(empty_site)
    page.clock.install()
    page.goto("/")

    expect(page.get_by_role("heading", name="Waiting for your first trace")).to_be_visible()
    expect(page.locator(".first-run")).to_contain_text(f"MSGTRACE_OTLP_ENDPOINT={empty_site.url}/api/v1/traces/export")
    expect(page.locator(".first-run")).to_contain_text(f"OTEL_EXPORTER_OTLP_ENDPOINT={empty_site.url}")
    expect(page.locator(".stat")).to_have_count(0)
    message, _, name = fresh_trace()
    post_otlp(empty_site, message)

    page.clock.fast_forward("00:11")

    expect(card(page, "Traces").locator(".stat-value")).to_have_text("1")
    expect(page.locator(".first-run")).to_have_count(0)
    assert latest_names(page, "Latest traces") == [name]
