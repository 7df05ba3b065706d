"""Screenshots of every page from the demo data, at desktop and phone width, for the docs:
docs/screenshots/<page>-<device>.png. Each is taken after the page is checked to show what it should."""

import pytest
from playwright.sync_api import expect

from tests.servers import ROOT
from tests.ui.browser.support import DEMO_TRACES, api, listed, overflow, serve

FOLDER = ROOT / "docs" / "screenshots"


@pytest.fixture(scope="module")
def showcase(tmp_path_factory, static_root):
    """A server with the demo data alone (the shared one also holds what other tests posted), with access
    control on as shipped: the pages are shot as a signed-in admin sees them."""
    with serve(tmp_path_factory.mktemp("showcase"), static_root, demo_traces=DEMO_TRACES,
               access_control=True) as server:
        yield server


def dashboard(page, site):
    page.goto("/")
    expect(page.locator(".stat")).to_have_count(8)


def traces(page, site):
    page.goto("/traces")
    expect(page.locator("#results tr[data-nav-item]")).to_have_count(50)


def research_run(site):
    """The middle-sized research run (about 75 spans): busy, but it fits a screen."""
    for trace_id in listed(site, workflow="deep_research", sort="-spans", limit=5):
        if 50 <= api(site, "/traces", trace_id=trace_id)["traces"][0]["span_count"] < 100:
            return trace_id
    pytest.fail("the demo data has no research run of 50 to 100 spans")


def timeline(page, site):
    page.goto(f"/traces/{research_run(site)}")
    expect(page.locator("#trace-view .spans.timeline .row").first).to_be_visible()


def tree(page, site):
    page.goto(f"/traces/{research_run(site)}?view=tree")
    expect(page.locator("#trace-view .spans.tree .row").first).to_be_visible()


def span_chat(page, site):
    """The support bot's final answer, after a tool call: the whole transcript in the panel."""
    for trace_id in listed(site, workflow="support_agent", status="ok"):
        spans = api(site, f"/traces/{trace_id}")["spans"]
        if any(s["category"] == "tool" for s in spans):
            last_chat = [s for s in spans if s["name"].startswith("chat gpt-4o") and s["model"] == "gpt-4o"][-1:]
            if last_chat:
                page.goto(f"/traces/{trace_id}/spans/{last_chat[0]['span_id']}")
                expect(page.locator("#span-panel .chat .msg").first).to_be_visible()
                # the transcript just below the panel's sticky header
                page.locator("#span-panel").evaluate("""panel => {
                    const prompt = panel.querySelector("section[aria-labelledby=sp-prompt]");
                    panel.scrollTop = prompt.offsetTop - panel.querySelector(".sp-head").offsetHeight; }""")
                return
    pytest.fail("no support_agent run with a gpt-4o reply after a tool call")


def errors(page, site):
    trace_id = listed(site, workflow="support_agent", status="error", limit=1)[0]
    page.goto(f"/traces/{trace_id}")
    section = page.locator("section.errors")
    section.locator("details.stack summary").first.click()
    section.scroll_into_view_if_needed()
    expect(section.locator(".error-entry").first).to_be_visible()


SHOTS = {"dashboard": dashboard, "traces": traces, "trace-timeline": timeline, "trace-tree": tree,
         "span-chat": span_chat, "trace-errors": errors}


def save(page, name):
    FOLDER.mkdir(parents=True, exist_ok=True)
    path = FOLDER / f"{name}.png"
    page.wait_for_load_state("networkidle")
    page.screenshot(path=path, animations="disabled", caret="hide", scale="css")
    assert path.stat().st_size > 10_000, f"{path.name} is nearly empty"
    return path


@pytest.mark.parametrize("device", ["desktop", "phone"])
@pytest.mark.parametrize("name", SHOTS)
def test_screenshot(open_page, showcase, name, device):
    page = open_page(showcase, phone=device == "phone")

    SHOTS[name](page, showcase)

    assert overflow(page) <= 1
    save(page, f"{name}-{device}")


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_screenshot_of_the_first_run(open_page, empty_site, device):
    page = open_page(empty_site, phone=device == "phone")
    page.goto("/")
    expect(page.get_by_role("heading", name="Waiting for your first trace")).to_be_visible()

    assert overflow(page) <= 1
    save(page, f"first-run-{device}")
