"""Comparing two runs in a browser: two demo runs of one workflow checked in the trace list, the Compare
button that appears for exactly two, and the comparison it opens, with its summary and a word diff of a
prompt; screenshots of the comparison at desktop and phone width for the docs."""

from playwright.sync_api import expect

from tests.ui.browser.support import api, overflow
from tests.ui.browser.test_screenshots import save


def two_runs_with_a_changed_prompt(server):
    """(workflow, trace id A, trace id B, the API's comparison): the first two demo runs of a workflow,
    the earlier as A, whose comparison shows a prompt that changed."""
    runs = api(server, "/traces", group="run", limit=100)["traces"]
    workflows = dict.fromkeys(run["workflow_name"] for run in runs if run["workflow_name"])
    for workflow in workflows:
        mine = sorted((run for run in runs if run["workflow_name"] == workflow), key=lambda run: run["started_at"])
        for earlier, later in zip(mine, mine[1:]):
            result = api(server, "/compare", a=earlier["trace_id"], b=later["trace_id"])
            if any(step["prompt"] and any(op != "same" for op, _ in step["prompt"]) for step in result["steps"]):
                return workflow, earlier["trace_id"], later["trace_id"], result
    raise AssertionError("no two demo runs of one workflow with a changed prompt")


def test_two_checked_rows_open_their_comparison_with_a_summary_and_a_word_diff(open_page, site):
    workflow, a, b, result = two_runs_with_a_changed_prompt(site)
    page = open_page(site)
    page.goto(f"/traces?workflow={workflow}")

    compare = page.locator("#compare-form button")
    expect(compare).to_be_hidden()
    page.locator(f"#trace-{a} input[data-compare-pick]").check()
    expect(compare).to_be_hidden()  # one checked is not a pair
    page.locator(f"#trace-{b} input[data-compare-pick]").check()
    expect(compare).to_be_visible()
    compare.click()

    expect(page).to_have_url(f"{site.url}/compare?a={a}&b={b}")
    expect(page.locator("#compare-summary")).to_have_text(result["summary"])
    changed = next(step for step in result["steps"]
                   if step["prompt"] and any(op != "same" for op, _ in step["prompt"]))
    removed = [text for op, text in changed["prompt"] if op == "del"]
    added = [text for op, text in changed["prompt"] if op == "ins"]
    prompt = page.locator(f"#step-{changed['number']} details.diff", has_text="Prompt").locator("pre.words")
    expect(prompt.locator("del")).to_have_text(removed)
    expect(prompt.locator("ins")).to_have_text(added)
    expect(page.locator(".figures tbody tr")).to_have_count(6)
    save(page, "compare-desktop")

    phone = open_page(site, phone=True)
    phone.goto(f"/compare?a={a}&b={b}")
    expect(phone.locator("#compare-summary")).to_have_text(result["summary"])
    assert overflow(phone) <= 0, "the comparison scrolls sideways on a phone"
    save(phone, "compare-phone")
