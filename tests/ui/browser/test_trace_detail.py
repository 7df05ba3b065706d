"""The trace page in a browser: the timeline, the span tree, subtrees, the span panel and the errors.
What each row should show comes from the REST API's tree of the same trace."""

import re

import pytest
from playwright.sync_api import expect

from tests.ui.browser.support import api, listed, row_ids, wait_for_rows

TIMELINE_ROWS = "#trace-view .spans.timeline .body .row[data-nav-item]"
TREE_ROWS = "#trace-view .spans.tree .body .row[data-nav-item]"


def flatten(nodes):
    """The API's tree, depth first: the order both views draw their rows in."""
    result = []
    for node in nodes:
        result.append(node)
        result.extend(flatten(node["children"]))
    return result


def support_run(site, status):
    """A support_agent run that called tools (and, when it failed, whose tool timed out): (tree, rows)."""
    for trace_id in listed(site, workflow="support_agent", status=status):
        tree = api(site, f"/traces/{trace_id}/tree")
        nodes = flatten(tree["roots"])
        tools = [n for n in nodes if n["span"]["category"] == "tool"]
        if tools and (status == "ok" or tools[0]["span"]["status"]["code"] == "error"):
            return tree, nodes
    pytest.fail(f"the demo data has no {status} support_agent run with a tool call")


@pytest.fixture(scope="module")
def run(site):
    return support_run(site, "ok")


def fact(page, label):
    """The value beside a label in the trace's header."""
    return page.locator(".trace-head dl > div", has=page.locator("dt", has_text=re.compile(f"^{label}$"))).locator("dd")


def subtree_spans(row):
    """The tree view's "subtree spans" cell: the first of the subtree columns."""
    return row.locator(".c.sub").first


def node_named(nodes, prefix, last=False):
    found = [n for n in nodes if n["span"]["name"].startswith(prefix)]
    return found[-1 if last else 0]


def test_the_timeline_draws_every_span_in_tree_order_with_bars_on_the_time_axis(desktop, site, run):
    tree, nodes = run
    trace = tree["trace"]
    desktop.goto(f"/traces/{trace['trace_id']}")

    wait_for_rows(desktop, [n["span"]["span_id"] for n in nodes], rows=TIMELINE_ROWS)
    expect(desktop.get_by_role("heading", level=1)).to_have_text(trace["root_span_name"])
    start = min(n["span"]["start_time_unix_nano"] for n in nodes)
    total = max(n["span"]["end_time_unix_nano"] for n in nodes) - start
    rows = desktop.locator(TIMELINE_ROWS)
    for i, node in enumerate(nodes):
        row, span = rows.nth(i), node["span"]
        assert row.get_attribute("data-depth") == str(node["depth"])
        expect(row.locator(".nm a")).to_have_text(span["name"])
        lane, bar = row.locator(".ln").bounding_box(), row.locator(".bar").bounding_box()
        assert bar["width"] >= 1, f"{span['name']} has no visible bar"
        left = (bar["x"] - lane["x"]) / lane["width"]
        assert left == pytest.approx((span["start_time_unix_nano"] - start) / total, abs=0.01), span["name"]
        width = bar["width"] / lane["width"]
        if width > 0.02:  # the shortest spans get a minimum width to stay visible
            assert width == pytest.approx(span["duration_ms"] * 1e6 / total, abs=0.01), span["name"]
    kinds = {n["span"]["category"] for n in nodes}
    assert {"workflow", "llm", "retriever", "agent", "tool", "embedding"} <= kinds
    expect(rows.nth(0)).to_have_class(re.compile(r"\bk-workflow\b"))


def test_the_header_and_usage_table_sum_the_trace(desktop, site, run):
    tree, nodes = run
    trace = tree["trace"]
    desktop.goto(f"/traces/{trace['trace_id']}")

    expect(fact(desktop, "Spans")).to_have_text(str(trace["span_count"]))
    expect(fact(desktop, "Errors")).to_have_text("0")
    expect(fact(desktop, "Service")).to_have_text("support-bot")
    expect(fact(desktop, "Session").get_by_role("link", name=trace["session_id"])).to_be_visible()
    expect(fact(desktop, "Session").get_by_role("link", name="conversation")).to_have_attribute(
        "href", f"/sessions/{trace['session_id']}")
    expect(fact(desktop, "Tokens in / out")).to_have_text(f"{trace['input_tokens']:,} / {trace['output_tokens']:,}")
    usage = desktop.locator(".usage table")
    calls = [n["span"] for n in nodes if n["span"]["category"] in ("llm", "embedding")]
    for model in {s["model"] for s in calls}:
        row = usage.locator("tbody tr", has=desktop.locator("td", has_text=re.compile(f"^{re.escape(model)}$")))
        expect(row.locator("td[data-label=Calls]")).to_have_text(str(sum(1 for s in calls if s["model"] == model)))
    expect(usage.locator("tfoot td[data-label=Calls]")).to_have_text(str(len(calls)))


def test_the_tree_view_opens_without_a_reload_and_sums_each_subtree(desktop, site, run):
    tree, nodes = run
    desktop.goto(f"/traces/{tree['trace']['trace_id']}")
    desktop.evaluate("window.notReloaded = true")

    desktop.get_by_role("tab", name="Tree").click()

    wait_for_rows(desktop, [n["span"]["span_id"] for n in nodes], rows=TREE_ROWS)
    assert desktop.evaluate("window.notReloaded") is True
    expect(desktop).to_have_url(re.compile(r"\?view=tree$"))
    expect(desktop.get_by_role("tab", name="Tree")).to_have_attribute("aria-selected", "true")
    root = desktop.locator(TREE_ROWS).first
    expect(subtree_spans(root)).to_have_text(str(len(nodes)))
    resolver = node_named(nodes, "invoke_agent")
    row = desktop.locator(f"#s-{resolver['span']['span_id']}")
    expect(subtree_spans(row)).to_have_text(str(resolver["subtree_spans"]))

    desktop.get_by_role("tab", name="Timeline").click()

    wait_for_rows(desktop, [n["span"]["span_id"] for n in nodes], rows=TIMELINE_ROWS)
    assert desktop.evaluate("window.notReloaded") is True


def test_collapsing_a_subtree_hides_its_spans_and_opening_it_shows_them_again(desktop, site, run):
    tree, nodes = run
    desktop.goto(f"/traces/{tree['trace']['trace_id']}")
    resolver = node_named(nodes, "invoke_agent")
    inside = {n["span"]["span_id"] for n in flatten(resolver["children"])}
    assert len(inside) == resolver["subtree_spans"] - 1 >= 3
    toggle = desktop.locator(f"#s-{resolver['span']['span_id']} .tg")
    expect(toggle).to_have_attribute("aria-expanded", "true")

    toggle.click()

    expect(toggle).to_have_attribute("aria-expanded", "false")
    visible = desktop.locator(TIMELINE_ROWS + ":visible")
    expect(visible).to_have_count(len(nodes) - len(inside))
    assert not inside & set(row_ids(desktop, TIMELINE_ROWS + ":visible"))

    toggle.click()

    expect(visible).to_have_count(len(nodes))


def test_a_chat_span_shows_its_transcript_and_esc_closes_the_panel(desktop, site, run):
    tree, nodes = run
    trace_url = f"/traces/{tree['trace']['trace_id']}"
    final = node_named(nodes, "chat ", last=True)["span"]  # the reply, after the tool results
    root = next(s for s in api(site, trace_url)["spans"] if not s["parent_span_id"])
    question, answer = root["attributes"]["input.value"], root["attributes"]["output.value"]
    desktop.goto(trace_url)

    desktop.locator(f"#s-{final['span_id']} .nm a").click()

    panel = desktop.locator("#span-panel")
    expect(panel.get_by_role("heading", level=2)).to_have_text(final["name"])
    expect(desktop).to_have_url(re.compile(f"/spans/{final['span_id']}$"))
    prompt = panel.locator("section[aria-labelledby=sp-prompt] .chat .msg")
    roles = [text.split("·")[0].strip() for text in prompt.locator(".role").all_text_contents()]
    assert roles[:2] == ["system", "user"] and {"assistant", "tool"} <= set(roles[2:])
    expect(prompt.nth(1)).to_contain_text(question)
    expect(prompt.locator(".tool-call").first).to_contain_text("calls")
    completion = panel.locator("section[aria-labelledby=sp-completion] .chat .msg")
    expect(completion.locator(".role")).to_contain_text("assistant")
    expect(completion).to_contain_text(answer)
    expect(panel.locator("section[aria-labelledby=sp-llm]")).to_contain_text(final["model"])

    desktop.keyboard.press("Escape")

    expect(panel.locator("article")).to_have_count(0)
    expect(desktop).to_have_url(re.compile(f"{trace_url}$"))


def test_the_errors_section_names_each_failed_span_with_its_exception(desktop, site):
    tree, nodes = support_run(site, "error")
    failed = [n["span"] for n in nodes if n["span"]["status"]["code"] == "error"]
    desktop.goto(f"/traces/{tree['trace']['trace_id']}")

    section = desktop.locator("section.errors")
    expect(section.locator("h2 .badge")).to_have_text(str(len(failed)))
    entries = section.locator(".error-entry")
    expect(entries).to_have_count(len(failed))
    tool = next(s for s in failed if s["category"] == "tool")
    entry = entries.filter(has=desktop.get_by_role("link", name=tool["name"]))
    expect(entry.locator(".status-message")).to_have_text(tool["status"]["message"])
    expect(entry.locator(".exc-type")).to_have_text("TimeoutError")
    entry.locator("details.stack summary").click()
    expect(entry.locator("details.stack pre")).to_contain_text("Traceback (most recent call last)")
    expect(desktop.locator(f"#s-{tool['span_id']}")).to_have_class(re.compile(r"\berr\b"))

    entry.get_by_role("link", name=tool["name"]).click()

    panel = desktop.locator("#span-panel")
    expect(panel.get_by_role("heading", level=2)).to_have_text(tool["name"])
    expect(panel.locator(".events .exc-type")).to_have_text("TimeoutError")


def test_a_trace_of_about_300_spans_draws_every_row(desktop, site):
    biggest = listed(site, sort="-spans", limit=1)[0]
    nodes = flatten(api(site, f"/traces/{biggest}/tree")["roots"])
    assert len(nodes) > 250

    desktop.goto(f"/traces/{biggest}")

    wait_for_rows(desktop, [n["span"]["span_id"] for n in nodes], rows=TIMELINE_ROWS)
