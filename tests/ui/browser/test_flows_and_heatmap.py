"""The latency heatmap, usage over time and workflow flows in a browser: a heatmap cell and a flow step
each open the trace list filtered to their traces; screenshots of each at desktop and phone width."""

import re

import pytest
from playwright.sync_api import expect

from tests.ui.browser.support import DEMO_TRACES, api, overflow, serve
from tests.ui.browser.test_screenshots import save

ROWS = "#results tr[data-nav-item]"


def test_a_heatmap_cell_opens_the_list_of_its_traces(desktop, site):
    desktop.goto("/")
    cell = desktop.locator("#latency-heatmap a.heat-cell").first
    count = int(re.search(r": (\d+) traces?", cell.locator("title").text_content()).group(1))

    cell.click()

    expect(desktop).to_have_url(re.compile(r"/traces\?group=trace&start=[^&]+&end=[^&]+&q=duration"))
    expect(desktop.locator(ROWS)).to_have_count(count)
    expect(desktop.locator("input[name=end]")).to_be_visible()  # the list says which range it shows


def test_a_flow_step_opens_the_list_of_the_traces_through_it(desktop, site):
    desktop.goto("/flows?workflow=support_agent&window=7d")
    expect(desktop.locator(".flow-chart")).to_be_visible()
    step = desktop.locator("a.flow-label").first  # its name, as a person would click it
    name = step.get_attribute("data-step")

    step.click()

    expect(desktop).to_have_url(re.compile(r"/traces\?group=trace&q=step%3A"))
    expect(desktop.locator("#search")).to_have_value(f'step:"{name}"')
    expected = api(site, "/traces", q=f'step:"{name}"', workflow="support_agent", start="7d", limit=100)["total"]
    expect(desktop.locator(ROWS)).to_have_count(min(expected, 50))


def test_the_usage_chart_switches_dimension_in_place(desktop, site):
    desktop.goto("/")
    panel = desktop.locator("#usage-over-time")
    panel.get_by_role("link", name="Workflow").click()

    expect(panel.locator("nav a[aria-current]")).to_have_text("Workflow")
    largest = api(site, "/stats/usage-over-time", by="workflow", window="24h")["stacks"][0]["name"]
    expect(panel.locator(".chart-usage .legend-item").first).to_have_text(largest)
    assert "usage=workflow" in desktop.url


@pytest.fixture(scope="module")
def showcase(tmp_path_factory, static_root):
    """The demo data alone (the shared site also holds what other tests posted), for the screenshots."""
    with serve(tmp_path_factory.mktemp("showcase"), static_root, demo_traces=DEMO_TRACES,
               access_control=True) as server:
        yield server


def scroll_to(page, selector):
    """The panel at the top of the screen, just below the top bar (sticky on a desktop)."""
    page.evaluate("""selector => {
        const top = document.querySelector(selector).getBoundingClientRect().top + window.scrollY;
        const bar = getComputedStyle(document.querySelector(".topbar")).position === "sticky"
            ? document.querySelector(".topbar").offsetHeight : 0;
        window.scrollTo(0, top - bar - 8); }""", selector)


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_screenshots(open_page, showcase, device):
    page = open_page(showcase, phone=device == "phone")
    page.goto("/")
    expect(page.locator("#latency-heatmap a.heat-cell").first).to_be_attached()
    assert overflow(page) <= 1
    scroll_to(page, "#latency-heatmap")
    save(page, f"heatmap-{device}")
    scroll_to(page, "#usage-over-time")
    save(page, f"usage-over-time-{device}")

    page.goto("/flows?workflow=support_agent&window=7d")
    expect(page.locator(".flow-chart")).to_be_visible()
    assert overflow(page) <= 1
    save(page, f"flows-{device}")
