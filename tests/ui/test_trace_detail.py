"""The trace page at /traces/<trace_id>: header, timeline, span tree, errors, usage per model, the
subtrees a big trace leaves closed, and what it all costs in queries."""

import html
import re

import pytest

from tests import helpers as h
from traces.models import Trace
from ui import timeline

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
TRACE = h.trace_id(1).hex()
TRACE_URL = f"/traces/{TRACE}"
STACK = 'Traceback (most recent call last):\n  File "tools.py", line 7, in get_weather\nConnectionError: HTTP 503\n'


def llm(model, input_tokens, output_tokens, cost=None, **more):
    attributes = {"gen_ai.operation.name": "chat", "gen_ai.request.model": model, **more,
                  "gen_ai.usage.input_tokens": input_tokens, "gen_ai.usage.output_tokens": output_tokens}
    if cost is not None:
        attributes["gen_ai.usage.cost.input_tokens"], attributes["gen_ai.usage.cost.output_tokens"] = cost
    return attributes


def post_agent_run(client):
    """One 100 ms agent run: a flow, an agent with two model calls and a failing tool, an embedding,
    and a span whose parent never arrived."""
    h.post(client, h.body(
        h.span(span=1, name="support flow", start_ms=0, duration_ms=100,
               attributes={"span.type": "flow", "user.id": "alice", "session.id": "s-42"}),
        h.span(span=2, parent=1, name="weather agent", start_ms=10, duration_ms=80,
               attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "weather"}),
        h.span(span=3, parent=2, name="chat gpt-4o", start_ms=15, duration_ms=30,
               attributes=llm("gpt-4o", 100, 20, cost=(0.001, 0.002))),
        h.span(span=4, parent=2, name="get_weather", start_ms=50, duration_ms=20, error="HTTP 503 from weather API",
               attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "get_weather"},
               events=[{"name": "exception", "at_ms": 69, "attributes": {"exception.type": "ConnectionError",
                                                                          "exception.message": "HTTP 503",
                                                                          "exception.stacktrace": STACK}}]),
        h.span(span=5, parent=2, name="chat gpt-4o", start_ms=72, duration_ms=16,
               attributes=llm("gpt-4o", 150, 30, cost=(0.0015, 0.003))),
        h.span(span=6, parent=1, name="embed query", start_ms=92, duration_ms=3,
               attributes={"gen_ai.operation.name": "embeddings", "gen_ai.request.model": "text-embedding-3-small",
                           "gen_ai.usage.input_tokens": 12}),
        h.span(span=7, parent=99, name="late child", start_ms=96, duration_ms=2),
        service="support-bot",
    ))
    return client


def rows(text):
    """(span name, depth) of every drawn row, in page order."""
    pattern = r'<div class="row[^"]*" id="s-[0-9a-f]{16}" data-depth="(\d+)".*?data-nav-open>([^<]*)</a>'
    found = re.findall(pattern, text)
    return [(html.unescape(name), int(depth)) for depth, name in found]


def row(text, span_id):
    match = re.search(rf'<div class="row[^"]*" id="s-{h.span_id(span_id).hex()}".*?</div></div>', text, re.S)
    assert match, f"span {span_id} has no row"
    return match.group(0)


# --- the timeline --------------------------------------------------------------------------------


def test_the_timeline_draws_one_row_per_span_in_tree_order_indented_by_depth(client):
    page = post_agent_run(client).get(TRACE_URL)

    assert page.status_code == 200
    assert rows(page.text) == [
        ("support flow", 0), ("weather agent", 1), ("chat gpt-4o", 2), ("get_weather", 2), ("chat gpt-4o", 2),
        ("embed query", 1), ("late child", 0),
    ]
    assert 'style="--d:2;' in row(page.text, 3)


def test_each_bar_is_placed_by_its_start_and_sized_by_its_duration(client):
    h.post(client, h.body(h.span(span=1, name="root", start_ms=0, duration_ms=200),
                          h.span(span=2, parent=1, name="middle half", start_ms=50, duration_ms=100),
                          h.span(span=3, parent=2, name="late tenth", start_ms=170, duration_ms=20)))
    page = client.get(TRACE_URL).text

    assert "--x:0%;--w:100%" in row(page, 1)
    assert "--x:25%;--w:50%" in row(page, 2)  # 50-150 ms of 0-200 ms
    assert "--x:85%;--w:10%" in row(page, 3)
    assert 'title="middle half · 100 ms"' in row(page, 2)  # name and duration on hover
    assert '<span class="lbl ">100 ms</span>' in row(page, 2)


def test_bars_take_the_colour_of_their_kind_of_work_and_errors_are_red(client):
    page = post_agent_run(client).get(TRACE_URL).text

    # (crit: on the critical path, which every span but the late orphan is; tests/ui/test_flame_graph.py)
    assert 'class="row k-workflow crit"' in row(page, 1)
    assert 'class="row k-agent crit"' in row(page, 2)
    assert 'class="row k-llm crit"' in row(page, 3)
    assert 'class="row k-tool err crit"' in row(page, 4)
    assert 'class="row k-embedding crit"' in row(page, 6)
    assert 'class="row k-other"' in row(page, 7)


def test_the_time_axis_has_round_ticks():
    assert [(t.x, t.label) for t in timeline.ticks(100 * h.MS)] == [
        ("0", "0"), ("20", "20 ms"), ("40", "40 ms"), ("60", "60 ms"), ("80", "80 ms"), ("100", "100 ms")]
    assert [t.label for t in timeline.ticks(1_100_000)] == ["0", "0.25 ms", "0.5 ms", "0.75 ms", "1 ms"]
    assert [t.label for t in timeline.ticks(740_000)] == ["0", "200 µs", "400 µs", "600 µs"]
    assert [t.label for t in timeline.ticks(12 * 10**9)][-1] == "10 s"
    assert [t.label for t in timeline.ticks(10 * 60 * 10**9)] == ["0", "2m", "4m", "6m", "8m", "10m"]
    assert [t.label for t in timeline.ticks(150 * 60 * 10**9)] == ["0", "30m", "1h", "1h 30m", "2h", "2h 30m"]
    assert [t.label for t in timeline.ticks(0)] == ["0"]


def test_the_page_draws_the_axis_and_its_grid(client):
    page = post_agent_run(client).get(TRACE_URL).text

    assert 'style="--tick:20%"' in page
    assert re.findall(r'<span class="[a-z]*" style="--x:(\d+)%">([^<]+)</span>', page) == [
        ("0", "0"), ("20", "20 ms"), ("40", "40 ms"), ("60", "60 ms"), ("80", "80 ms"), ("100", "100 ms")]


def test_every_subtree_of_a_small_trace_is_drawn_open(client):
    page = post_agent_run(client).get(TRACE_URL).text

    assert 'aria-expanded="true" aria-label="2 child spans"' in row(page, 1)
    assert 'aria-expanded="true" aria-label="3 child spans"' in row(page, 2)
    assert "aria-expanded" not in row(page, 3)  # a leaf has no toggle
    assert "data-load" not in page


def test_a_span_whose_parent_never_arrived_is_shown_at_the_top_level_and_flagged(client):
    page = post_agent_run(client).get(TRACE_URL).text

    assert 'data-depth="0"' in row(page, 7)
    assert f'title="Its parent span {h.span_id(99).hex()} never arrived">orphan</span>' in row(page, 7)
    assert "orphan" not in row(page, 1)


def test_each_name_opens_its_span_in_the_panel_and_also_works_as_a_link(client):
    page = post_agent_run(client).get(TRACE_URL).text
    url = f"/traces/{TRACE}/spans/{h.span_id(3).hex()}"

    assert f'<a href="{url}" hx-get="{url}" data-nav-open>chat gpt-4o</a>' in row(page, 3)
    assert 'data-nav-list hx-target="#span-panel" hx-swap="innerHTML" hx-push-url="true"' in page
    assert '<aside id="span-panel" class="span-panel" aria-label="Span details" aria-live="polite"></aside>' in page


# --- the header, errors, usage ---------------------------------------------------------------------


def test_the_header_sums_up_the_trace(client):
    page = post_agent_run(client).get(TRACE_URL).text
    facts = dict(re.findall(r"<div><dt>([^<]+)</dt><dd[^>]*>(.*?)</dd></div>", page, re.S))

    assert "<h1>support flow</h1>" in page
    assert facts["Duration"] == "100 ms"
    assert facts["Spans"] == "7"
    assert facts["Errors"] == "1"
    assert facts["Tokens in / out"] == '262 <span class="muted">/</span> 50'
    # The embedding call reports tokens and names no provider its model could be priced with.
    assert facts["Cost"] == '$0.0075 <span class="muted cost-unpriced">· 1 unpriced call</span>'
    assert '<a class="badge" href="/traces?model=gpt-4o">gpt-4o</a>' in facts["Models"]
    assert "text-embedding-3-small" in facts["Models"]
    assert facts["Service"] == '<a href="/traces?service=support-bot">support-bot</a>'
    assert facts["Workflow"] == '<a href="/traces?workflow=support+flow">support flow</a>'
    assert facts["User"] == (
        '<a href="/traces?q=user%3A%22alice%22">alice</a> <a class="conv-link" href="/users/alice">user page</a>')
    assert facts["Session"] == (
        '<a href="/traces?q=session%3A%22s-42%22">s-42</a> <a class="conv-link" href="/sessions/s-42">conversation</a>')
    assert '<time datetime="2026-01-01T00:00:00.000Z"' in page and 'data-moment="absolute"' in page
    assert f'data-copy="{TRACE}"' in page
    assert 'class="badge error">1 error</span>' in page


def test_a_trace_without_its_root_says_so(client):
    h.post(client, h.body(h.span(span=2, parent=1, name="child first")))
    assert "root span missing" in client.get(TRACE_URL).text


def test_costs_in_several_currencies_are_not_added_up(client):
    h.post(client, h.body(
        h.span(span=1, name="usd call", attributes=llm("gpt-4o", 10, 1, cost=(0.001, 0.001))),
        h.span(span=2, name="eur call", start_ms=20, attributes=llm("gpt-4o", 10, 1, cost=(0.002, 0.002),
                                                                    **{"gen_ai.usage.cost.currency": "EUR"})),
    ))
    facts = dict(re.findall(r"<div><dt>([^<]+)</dt><dd[^>]*>(.*?)</dd></div>", client.get(TRACE_URL).text, re.S))
    assert facts["Cost"] == 'EUR 0.0040 <span class="muted">+</span> $0.0020'


def test_the_errors_section_shows_each_exception_with_its_stack_trace(client):
    page = post_agent_run(client).get(TRACE_URL).text
    section = page[page.index('aria-labelledby="errors-title"') : page.index('aria-labelledby="usage-title"')]

    assert f'href="/traces/{TRACE}/spans/{h.span_id(4).hex()}"' in section and ">get_weather</a>" in section
    assert '<p class="status-message">HTTP 503 from weather API</p>' in section
    assert '<strong class="exc-type">ConnectionError</strong>: <span class="exc-message">HTTP 503</span>' in section
    assert f'<details class="stack"><summary>Stack trace</summary><pre>{html.escape(STACK)}</pre></details>' in section
    assert section.count('class="error-entry"') == 1


def test_an_exception_recorded_on_a_span_without_error_status_is_listed_as_handled(client):
    h.post(client, h.body(h.span(span=1, name="retrying call", events=[
        {"name": "exception", "attributes": {"exception.type": "TimeoutError", "exception.message": "retrying"}},
    ])))
    page = client.get(TRACE_URL).text

    assert ">handled</span>" in page and "TimeoutError" in page


def test_a_doubly_recorded_exception_is_shown_once(client):
    exception = {"name": "exception", "attributes": {"exception.type": "ValueError", "exception.message": "bad"}}
    h.post(client, h.body(h.span(span=1, name="msgflux module", error="bad", events=[exception, exception])))
    assert client.get(TRACE_URL).text.count('class="exc-type">ValueError<') == 1


def test_no_errors_is_said_plainly(client):
    h.post(client, h.body(h.span(span=1, name="fine")))
    assert "No span reported an error." in client.get(TRACE_URL).text


def test_usage_is_broken_down_per_model_with_a_total(client):
    page = post_agent_run(client).get(TRACE_URL).text
    section = page[page.index('aria-labelledby="usage-title"') :]
    table = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", section, re.S)]

    assert table[:6] == ["Model", "Calls", "Input", "Output", "Total", "Cost"]
    assert table[6:12] == ["gpt-4o", "2", "250", "50", "300", "$0.0075"]
    assert table[12:18] == ["text-embedding-3-small", "1", "12", "0", "12", "–"]
    assert table[18:24] == ["Total", "3", "262", "50", "312", "$0.0075"]


def test_agents_repeating_their_calls_usage_are_not_counted_twice(client):
    h.post(client, h.body(
        h.span(span=1, name="agent", attributes={"gen_ai.operation.name": "invoke_agent",
                                                 "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 100,
                                                 "gen_ai.usage.output_tokens": 10}),
        h.span(span=2, parent=1, name="call", attributes=llm("gpt-4o", 100, 10)),
    ))
    page = client.get(TRACE_URL).text
    assert re.search(r"<td data-label=\"Model\">gpt-4o</td>\s*<td class=\"num\" data-label=\"Calls\">1</td>", page)


# --- the tree view and the tabs ----------------------------------------------------------------------


def test_the_tree_shows_each_spans_figures_and_its_subtrees_sums(client):
    page = post_agent_run(client).get(TRACE_URL + "?view=tree").text

    def cells(span):
        found = re.findall(r'<div class="c[^"]*">(.*?)</div>', row(page, span))
        return [re.sub(r"<[^>]+>", "", cell) for cell in found]

    assert rows(page)[:3] == [("support flow", 0), ("weather agent", 1), ("chat gpt-4o", 2)]
    # duration, tokens, cost; then the subtree's spans, tokens and cost
    assert cells(1) == ["100 ms", "–", "–", "6", "312", "$0.0075"]
    assert cells(2) == ["80 ms", "–", "–", "4", "300", "$0.0075"]
    assert cells(3) == ["30 ms", "120", "$0.0030", "", "", ""]
    assert cells(4)[:3] == ["20 ms", "–", "–"]
    assert 'aria-selected="true">Tree</a>' in page


def test_a_subtree_without_a_priced_call_has_no_cost_sum(client):
    h.post(client, h.body(h.span(span=1, name="tool", duration_ms=10), h.span(span=2, parent=1, name="lookup")))
    tree = client.get(TRACE_URL + "?view=tree").text
    assert '<div class="c num sub">2</div><div class="c num sub">–</div><div class="c num sub">–</div>' in row(tree, 1)


def test_fractions_of_a_cent_keep_two_significant_digits(client):
    cheap = llm("gpt-4o-mini", 100, 10, cost=(0.000015, 0.000006))
    h.post(client, h.body(h.span(span=1, name="cheap call", attributes=cheap)))
    tree = client.get(TRACE_URL + "?view=tree").text

    assert '<div class="c num">$0.000021</div>' in row(tree, 1)  # not "$0.0000"
    assert "<td class=\"num\" data-label=\"Cost\">$0.000021</td>" in tree


def test_the_tabs_are_links_that_htmx_swaps_in_place(client):
    page = post_agent_run(client).get(TRACE_URL).text

    tree = f"{TRACE_URL}?view=tree"
    assert f'href="{tree}" hx-get="{tree}" hx-target="#trace-view" hx-swap="outerHTML" hx-push-url="true"' in page
    assert 'aria-selected="true">Timeline</a>' in page


def test_a_tab_asked_for_by_htmx_gets_only_the_view(client):
    fragment = post_agent_run(client).get(TRACE_URL + "?view=tree", **HTMX).text

    assert fragment.lstrip().startswith('<section id="trace-view"')
    assert "<html" not in fragment and "Errors" not in fragment
    assert rows(fragment)[0] == ("support flow", 0) and 'class="spans tree"' in fragment


def test_going_back_gets_the_whole_page_even_from_htmx(client):
    page = post_agent_run(client).get(TRACE_URL + "?view=tree", HTTP_HX_HISTORY_RESTORE_REQUEST="true", **HTMX)
    assert "<html" in page.text and 'class="spans tree"' in page.text


def test_an_unknown_view_falls_back_to_the_timeline(client):
    assert 'class="spans timeline"' in post_agent_run(client).get(TRACE_URL + "?view=gantt").text


def test_an_unknown_trace_is_a_404_page(client):
    for trace_id in ("0" * 32, "not-a-trace-id", "ab" * 20):
        response = client.get(f"/traces/{trace_id}")
        assert response.status_code == 404
        assert "<html" in response.text and "No trace <code>" in response.text


def test_trace_ids_are_found_in_any_case(client):
    post_agent_run(client)
    assert client.get(TRACE_URL.upper().replace("/TRACES/", "/traces/")).status_code == 200


# --- big traces ---------------------------------------------------------------------------------------


def post_wide_trace(client, steps=30, calls=20):
    """A root with `steps` children of `calls` children each (1 + steps * (1 + calls) spans)."""
    spans = [h.span(span=1, name="root", duration_ms=10_000)]
    n = 2
    for step in range(steps):
        step_id = n
        spans.append(h.span(span=step_id, parent=1, name=f"step {step}", start_ms=step * 300, duration_ms=290))
        n += 1
        for call in range(calls):
            spans.append(h.span(span=n, parent=step_id, name=f"call {step}.{call}", start_ms=step * 300 + call * 10,
                                duration_ms=8, attributes=llm("gpt-4o-mini", 10, 2)))
            n += 1
    h.post(client, h.body(*spans))
    return n - 1


def test_a_big_trace_draws_its_outline_first_and_leaves_the_rest_to_load(client):
    total = post_wide_trace(client)  # 631 spans
    page = client.get(TRACE_URL).text
    drawn = rows(page)
    step = lambda k: 2 + 21 * k  # noqa: E731  (the span id of step k)
    subtree = f"/traces/{TRACE}/subtree/{h.span_id(step(0)).hex()}?view=timeline"

    assert total == 631 and len(drawn) <= timeline.ROW_BUDGET
    assert drawn[:2] == [("root", 0), ("step 0", 1)]
    assert [name for name, depth in drawn if depth == 1] == [f"step {i}" for i in range(30)]  # every step is there
    opened = [name for name, depth in drawn if depth == 2]
    assert len(opened) == 20 * ((timeline.ROW_BUDGET - 31) // 20)  # as many whole steps as fit
    assert f'aria-expanded="false" data-load="{subtree}"' not in page  # step 0 was drawn open
    closed_step = h.span_id(step(29)).hex()  # the last step
    assert f'aria-expanded="false" data-load="/traces/{TRACE}/subtree/{closed_step}?view=timeline"' in page
    assert '<span class="hidden-count">+20</span>' in row(page, step(29))


def test_a_closed_subtree_is_fetched_as_rows_only(client):
    post_wide_trace(client)
    last_step = 2 + 21 * 29
    fragment = client.get(f"/traces/{TRACE}/subtree/{h.span_id(last_step).hex()}?view=timeline", **HTMX).text

    assert "<html" not in fragment and "trace-view" not in fragment
    assert rows(fragment) == [(f"call 29.{i}", 2) for i in range(20)]
    tree_fragment = client.get(f"/traces/{TRACE}/subtree/{h.span_id(last_step).hex()}?view=tree", **HTMX).text
    assert len(rows(tree_fragment)) == 20 and 'class="c num"' in tree_fragment


def test_subtrees_deeper_than_the_collapse_depth_wait_to_be_opened(client, monkeypatch):
    monkeypatch.setattr(timeline, "ROW_BUDGET", 6)
    spans = [h.span(span=i, parent=i - 1 if i > 1 else None, name=f"level {i - 1}", start_ms=i, duration_ms=100 - i)
             for i in range(1, 9)]
    h.post(client, h.body(*spans))
    page = client.get(TRACE_URL).text

    assert rows(page) == [(f"level {i}", i) for i in range(timeline.COLLAPSE_DEPTH + 1)]
    assert f'data-load="/traces/{TRACE}/subtree/{h.span_id(4).hex()}?view=timeline"' in page
    fragment = client.get(f"/traces/{TRACE}/subtree/{h.span_id(4).hex()}").text
    assert rows(fragment) == [(f"level {i}", i) for i in range(4, 8)]


def test_a_level_wider_than_the_budget_comes_in_slices(client, monkeypatch):
    monkeypatch.setattr(timeline, "ROW_BUDGET", 10)
    h.post(client, h.body(h.span(span=1, name="root", duration_ms=1000),
                          *[h.span(span=i, parent=1, name=f"child {i}", start_ms=i)
                            for i in range(2, 27)]))
    page = client.get(TRACE_URL).text
    assert rows(page) == [("root", 0)] and 'aria-expanded="false"' in page

    first = client.get(f"/traces/{TRACE}/subtree/{h.span_id(1).hex()}?view=timeline", **HTMX).text
    assert [name for name, _ in rows(first)] == [f"child {i}" for i in range(2, 12)]
    more = f"/traces/{TRACE}/subtree/{h.span_id(1).hex()}?view=timeline&amp;offset=10"
    swap = 'hx-target="closest .row" hx-swap="outerHTML" hx-push-url="false"'
    assert f'hx-get="{more}" {swap}>Show 15 more spans<' in first
    second = client.get(html.unescape(more), **HTMX).text
    assert [name for name, _ in rows(second)] == [f"child {i}" for i in range(12, 22)] and "Show 5 more spans" in second


def test_top_level_orphans_beyond_the_budget_come_in_slices_too(client, monkeypatch):
    monkeypatch.setattr(timeline, "ROW_BUDGET", 5)
    h.post(client, h.body(*[h.span(span=i, parent=100 + i, name=f"orphan {i}", start_ms=i) for i in range(1, 9)]))
    page = client.get(TRACE_URL).text

    assert len(rows(page)) == 5 and f'hx-get="/traces/{TRACE}/subtree?view=timeline&amp;offset=5"' in page
    assert len(rows(client.get(f"/traces/{TRACE}/subtree?view=timeline&offset=5").text)) == 3


def test_an_unknown_subtree_is_a_404(client):
    post_agent_run(client)
    assert client.get(f"/traces/{TRACE}/subtree/{h.span_id(55).hex()}", **HTMX).status_code == 404
    assert client.get(f"/traces/{'0' * 32}/subtree/{h.span_id(1).hex()}", **HTMX).status_code == 404


def test_the_1201_span_corpus_trace_shows_every_step(client):
    for name in ("009.bin", "010.bin", "011.bin"):
        assert h.post_corpus(client, f"msgtrace-sdk/{name}").status_code == 200
    trace = Trace.objects.get(span_count=1201)
    drawn = rows(client.get(f"/traces/{trace.trace_id}").text)

    assert drawn[0] == ("bulk_flow", 0)
    assert [name for name, depth in drawn if depth == 1] == [f"step_{i:02d}" for i in range(40)]
    assert len(drawn) <= timeline.ROW_BUDGET


def test_the_nested_corpus_run_is_drawn_as_its_client_nested_it(client):
    h.post_corpus(client, "msgtrace-sdk/007.bin")
    page = client.get("/traces/e3ef0dee08535b055f577d8d3b1dd0d3").text

    assert rows(page) == [
        ("support_flow", 0), ("weather_agent", 1), ("chat gpt-5", 2), ("get_weather", 2), ("chat gpt-5", 2),
        ("embeddings text-embedding-3-small", 2), ("get_forecast", 2),
    ]
    assert "ConnectionError" in page and "HTTP 503 from weather API" in page


# --- queries -------------------------------------------------------------------------------------------


def test_the_page_and_its_fragments_cost_a_fixed_number_of_queries(client, django_assert_num_queries):
    post_agent_run(client)
    # the trace, its spans (no attributes), its exception events, the previous run of its workflow
    with django_assert_num_queries(4):
        client.get(TRACE_URL)
    with django_assert_num_queries(4):
        client.get(TRACE_URL + "?view=tree")
    with django_assert_num_queries(2):  # the tab: the trace and its spans
        client.get(TRACE_URL + "?view=tree", **HTMX)
    with django_assert_num_queries(2):
        client.get(f"/traces/{TRACE}/subtree/{h.span_id(2).hex()}", **HTMX)
    with django_assert_num_queries(0):  # an id that cannot exist never reaches the database
        client.get("/traces/nope")


def big_trace(total):
    """`total` spans: a root, 50 agents, and model calls with tool calls (with an exception) under them."""
    spans = [h.span(trace=2, span=1, name="root", duration_ms=total * 10)]
    agents = list(range(2, 52))
    spans += [h.span(trace=2, span=a, parent=1, name=f"agent {a}", start_ms=a, duration_ms=total * 5) for a in agents]
    for n in range(52, total + 1):
        spans.append(h.span(trace=2, span=n, parent=agents[n % 50], name=f"call {n}", start_ms=n, duration_ms=5,
                            attributes=llm("gpt-4o-mini", 10, 2, **{"gen_ai.input.messages": "[]" + " " * 500}),
                            error="boom" if n % 100 == 0 else None,
                            events=[{"name": "exception", "at_ms": n, "attributes": {"exception.type": "E"}}]
                            if n % 100 == 0 else ()))
    return spans


def test_a_5000_span_trace_costs_the_queries_of_a_10_span_one(client, django_assert_num_queries):
    spans = big_trace(5000)
    for start in range(0, 5000, 1000):
        h.post(client, h.body(*spans[start : start + 1000]))
    chain = [h.span(trace=3, span=i, parent=i - 1 if i > 1 else None, start_ms=i) for i in range(1, 11)]
    h.post(client, h.body(*chain, service="other"))  # another process: not stitched into the big trace's run
    big, small = f"/traces/{h.trace_id(2).hex()}", f"/traces/{h.trace_id(3).hex()}"
    assert Trace.objects.get(trace_id=h.trace_id(2).hex()).span_count == 5000

    for url in (small, big):
        with django_assert_num_queries(3):
            page = client.get(url)
        with django_assert_num_queries(3):
            client.get(url + "?view=tree")
        with django_assert_num_queries(2):
            client.get(url + "?view=tree", **HTMX)
    assert len(rows(page.text)) <= timeline.ROW_BUDGET
    assert page.text.count('class="error-entry"') == 50
