"""The flame graph: its boxes for each measure (traces.flame), the trace page's Flame graph view
(?view=flame&measure=...&focus=...), the critical path marked on it and on the timeline with its
summary box, the flamegraph API, and what it all costs on a 5,000-span trace."""

import html
import re
from collections import namedtuple

import pytest

from tests import helpers as h
from traces import flame
from traces.tree import build

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
MS = 1_000_000
TRACE = h.trace_id(1).hex()
PAGE = f"/traces/{TRACE}"
S = namedtuple("S", "span_id parent_span_id name start_ns end_ns status_code category total_tokens total_cost")


def tree(*rows):
    """(name, parent name or None, start ms, end ms[, category, tokens, cost]) -> the roots of the tree."""
    spans = []
    for name, parent, start, end, *more in rows:
        category, tokens, cost = (more + ["other", None, None][len(more):])[:3]
        spans.append(S(name, parent or "", name, start * MS, end * MS, 0, category, tokens, cost))
    return build(sorted(spans, key=lambda span: span.start_ns))


def widths(graph):
    """{span id or "N more": (x, width)} rounded to a thousandth of the graph."""
    return {box.node.span.span_id if box.node else f"{box.count} more": (round(box.x, 3), round(box.w, 3))
            for box in graph.boxes}


# --- the boxes -----------------------------------------------------------------------------------


def test_duration_gives_a_child_its_share_of_its_parents_width_side_by_side_in_start_order():
    graph = flame.layout(tree(("root", None, 0, 100), ("a", "root", 0, 25), ("b", "root", 60, 110)))
    assert widths(graph) == {"root": (0, 1), "a": (0, 0.25), "b": (0.25, 0.5)}
    assert graph.total == 100 * MS and graph.depth == 2


def test_parallel_children_longer_together_than_their_parent_are_narrowed_to_fit_inside_it():
    graph = flame.layout(tree(("root", None, 0, 100), ("a", "root", 0, 80), ("b", "root", 20, 80)))
    assert widths(graph) == {"root": (0, 1), "a": (0, 0.571), "b": (0.571, 0.429)}


def test_self_time_makes_each_box_as_wide_as_the_work_done_in_its_subtree():
    graph = flame.layout(tree(("root", None, 0, 100), ("a", "root", 0, 25), ("b", "root", 50, 100),
                              ("c", "b", 50, 60)), "self")
    # self times: root 25, a 25, b 40, c 10; b's box holds b and c.
    assert widths(graph) == {"root": (0, 1), "a": (0, 0.25), "b": (0.25, 0.5), "c": (0.25, 0.1)}
    assert graph.total == 100 * MS


def test_self_time_does_not_count_overlapping_children_twice():
    graph = flame.layout(tree(("root", None, 0, 100), ("a", "root", 10, 60), ("b", "root", 40, 70)), "self")
    # the children cover 10..70 together: the root's self time is 40, of 120 (40 + 50 + 30) in all.
    assert graph.total == 120 * MS
    assert widths(graph)["root"] == (0, 1) and widths(graph)["a"] == (0, round(50 / 120, 3))


def test_tokens_count_model_calls_only_so_an_agent_repeating_its_calls_usage_adds_nothing():
    graph = flame.layout(tree(("agent", None, 0, 100, "agent", 400), ("chat 1", "agent", 0, 40, "llm", 300),
                              ("chat 2", "agent", 50, 90, "llm", 100), ("tool", "agent", 90, 95, "tool")), "tokens")
    assert graph.total == 400
    assert widths(graph) == {"agent": (0, 1), "chat 1": (0, 0.75), "chat 2": (0.75, 0.25)}


def test_cost_gives_each_call_its_share_of_the_cost():
    graph = flame.layout(tree(("root", None, 0, 100), ("cheap", "root", 0, 40, "llm", 10, 0.01),
                              ("dear", "root", 50, 90, "llm", 10, 0.03)), "cost")
    assert widths(graph) == {"root": (0, 1), "cheap": (0, 0.25), "dear": (0.25, 0.75)}


def test_children_too_narrow_to_draw_are_merged_into_one_n_more_box():
    rows = [("root", None, 0, 1000), ("big", "root", 0, 700)]
    rows += [(f"tiny {i}", "root", 700 + i, 701 + i) for i in range(300)]
    graph = flame.layout(tree(*rows))
    assert widths(graph) == {"root": (0, 1), "big": (0, 0.7), "300 more": (0.7, 0.3)}
    more = graph.boxes[-1]
    assert (more.more, more.count, more.spans, more.value) == (True, 300, 300, 300 * MS)


def test_the_box_budget_keeps_the_outline_and_merges_what_is_left():
    rows = [("root", None, 0, 1000)] + [(f"step {i}", "root", i * 100, i * 100 + 100) for i in range(10)]
    rows += [(f"call {i}.{j}", f"step {i}", i * 100 + j * 10, i * 100 + j * 10 + 10) for i in range(10) for j in range(10)]
    graph = flame.layout(tree(*rows), max_boxes=30)
    assert len(graph.boxes) == 30
    assert [box.depth for box in graph.boxes[:11]] == [0] + [1] * 10
    # 19 boxes left for ten steps of ten calls: one step drawn whole, then each step's calls as one box.
    assert [box.count for box in graph.boxes[11:]] == [1] * 10 + [10] * 9


def test_a_zoomed_subtree_fills_the_width():
    roots = tree(("root", None, 0, 100), ("a", "root", 0, 40), ("b", "a", 0, 10))
    graph = flame.layout([roots[0].children[0]])
    assert widths(graph) == {"a": (0, 1), "b": (0, 0.25)}


def test_an_instantaneous_or_unused_trace_draws_no_box_and_divides_by_nothing():
    for measure in flame.MEASURES:
        graph = flame.layout(tree(("root", None, 5, 5), ("child", "root", 5, 5)), measure)
        assert (graph.boxes, graph.total) == ([], 0)
    assert flame.layout(tree(("root", None, 0, 100)), "tokens").boxes == []
    assert flame.layout([], "duration").boxes == []


def test_an_unknown_measure_is_refused():
    with pytest.raises(ValueError):
        flame.layout(tree(("root", None, 0, 1)), "calls")


# --- the page --------------------------------------------------------------------------------------


def post_agent_run(client):
    """A 100 ms agent: a model call (60 ms), then two tools side by side, the slower one failing."""
    h.post(client, h.body(
        h.span(span=1, name="weather agent", start_ms=0, duration_ms=100,
               attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "weather"}),
        h.span(span=2, parent=1, name="chat gpt-4o", start_ms=0, duration_ms=60, model="gpt-4o", tokens=(300, 100),
               cost=(0.003, 0.001)),
        h.span(span=3, parent=1, name="get_forecast", start_ms=60, duration_ms=15,
               attributes={"gen_ai.operation.name": "execute_tool"}),
        h.span(span=4, parent=1, name="get_weather", start_ms=60, duration_ms=35, error="HTTP 503",
               attributes={"gen_ai.operation.name": "execute_tool"}),
    ))


def boxes(text):
    """{span name or "N more": (x, width, classes)} of every box drawn, in page order."""
    found = {}
    for match in re.finditer(r'<svg class="fb ([^"]*)" x="([\d.]+)%" y="\d+" width="([\d.]+)%".*?<text[^>]*>([^<]*)'
                             r'</text>|<svg class="fb ([^"]*)" x="([\d.]+)%" y="\d+" width="([\d.]+)%".*?<title>([^<]*)'
                             r'</title>', text):
        classes, x, w, name = match.group(1, 2, 3, 4) if match.group(1) else match.group(5, 6, 7, 8)
        found[html.unescape(name).split(" · ")[0]] = (float(x), float(w), classes.split())
    return found


def svg(text):
    return re.search(r'<svg class="flame-graph".*?</svg>\s*</svg>', text, re.S).group(0)


def test_the_flame_view_draws_each_span_as_wide_as_its_duration_coloured_by_kind(client):
    post_agent_run(client)
    page = client.get(PAGE + "?view=flame").text
    assert boxes(svg(page)) == {
        "weather agent": (0, 100, ["k-agent", "crit"]),
        "chat gpt-4o": (0, 54.545, ["k-llm", "crit"]),  # 60 + 15 + 35 ms of children fit in 100
        "get_forecast": (54.545, 13.636, ["k-tool"]),
        "get_weather": (68.182, 31.818, ["k-tool", "err", "crit"]),
    }
    assert 'aria-selected="true">Flame graph</a>' in page


def test_each_measure_has_its_own_widths(client):
    post_agent_run(client)
    # self times: the agent 5 ms (its children cover 0 to 95 ms), the calls 60, 15 and 35: 115 ms in all
    by_self = boxes(svg(client.get(PAGE + "?view=flame&measure=self").text))
    assert {name: box[:2] for name, box in by_self.items()} == {
        "weather agent": (0, 100), "chat gpt-4o": (0, 52.174), "get_forecast": (52.174, 13.043),
        "get_weather": (65.217, 30.435)}
    by_tokens = boxes(svg(client.get(PAGE + "?view=flame&measure=tokens").text))
    assert {name: box[:2] for name, box in by_tokens.items()} == {"weather agent": (0, 100), "chat gpt-4o": (0, 100)}
    by_cost = client.get(PAGE + "?view=flame&measure=cost").text
    assert "chat gpt-4o · $0.0040 · 100%" in html.unescape(by_cost)


def test_hovering_a_box_names_it_with_its_value_and_its_share(client):
    post_agent_run(client)
    page = html.unescape(client.get(PAGE + "?view=flame").text)
    assert "<title>get_weather · 35 ms · 35% · on the critical path · error</title>" in page
    assert "<title>get_forecast · 15 ms · 15%</title>" in page


def test_the_measure_switch_and_each_box_link_to_shareable_urls(client):
    post_agent_run(client)
    page = client.get(PAGE + "?view=flame&measure=self").text
    span = h.span_id(4).hex()
    assert f'href="{PAGE}?view=flame&amp;measure=tokens"' in page
    assert re.search(rf'href="{PAGE}\?view=flame&amp;measure=self"[^>]*aria-current="true">Self time<', page)
    assert (f'<a href="{PAGE}/spans/{span}?view=flame&amp;measure=self&amp;focus={span}" '
            f'data-zoom="{PAGE}?view=flame&amp;measure=self&amp;focus={span}" '
            f'data-panel="{PAGE}/spans/{span}?view=flame">') in page


def test_focus_zooms_into_a_subtree_with_breadcrumbs_back_out(client):
    post_agent_run(client)
    span = h.span_id(4).hex()
    page = client.get(f"{PAGE}?view=flame&focus={span.upper()}").text
    assert list(boxes(svg(page))) == ["get_weather"] and boxes(svg(page))["get_weather"][:2] == (0, 100)
    crumbs = re.search(r'<nav class="flame-crumbs".*?</nav>', page, re.S).group(0)
    assert re.findall(r'<a href="([^"]*)"[^>]*>([^<]*)</a>', crumbs) == [
        (f"{PAGE}?view=flame&amp;measure=duration", "All spans"),
        (f"{PAGE}?view=flame&amp;measure=duration&amp;focus={h.span_id(1).hex()}", "weather agent"),
    ]
    assert '<span aria-current="page">get_weather</span>' in crumbs


def test_a_span_opened_from_a_box_shows_the_zoomed_graph_beside_its_panel(client):
    post_agent_run(client)
    span = h.span_id(2).hex()
    page = client.get(f"{PAGE}/spans/{span}?view=flame&measure=self&focus={span}").text
    assert list(boxes(svg(page))) == ["chat gpt-4o"]
    assert f'data-span-id="{span}"' in page and 'class="sp-title' in page


def test_unknown_parameters_fall_back_to_the_whole_trace_by_duration(client):
    post_agent_run(client)
    for query in ("measure=calls", "focus=zz", f"focus={'ab' * 8}"):
        page = client.get(f"{PAGE}?view=flame&{query}").text
        assert boxes(svg(page))["weather agent"][:2] == (0, 100), query


def test_the_tab_asked_for_by_htmx_gets_only_the_flame_view(client):
    post_agent_run(client)
    fragment = client.get(PAGE + "?view=flame&measure=self", **HTMX).text
    assert fragment.lstrip().startswith('<section id="trace-view"') and "<html" not in fragment
    assert boxes(svg(fragment))["chat gpt-4o"][:2] == (0, 52.174)


def test_measures_with_nothing_to_draw_say_so(client):
    h.post(client, h.body(h.span(span=1, name="instant", start_ms=5, duration_ms=0),
                          h.span(span=2, parent=1, name="also instant", start_ms=5, duration_ms=0)))
    for measure in ("duration", "self", "tokens", "cost"):
        page = client.get(f"{PAGE}?view=flame&measure={measure}")
        assert page.status_code == 200 and 'class="flame-graph"' not in page.text
    assert "No model call of this trace reported tokens." in client.get(PAGE + "?view=flame&measure=tokens").text
    assert "no span sets its latency" in client.get(PAGE).text


def test_hostile_span_names_stay_text_in_the_graph_and_the_critical_path_box(client):
    name = '<script>alert(1)</script><svg onload="x()">&'
    h.post(client, h.body(h.span(span=1, name=name, duration_ms=10)))
    for page in (client.get(PAGE + "?view=flame").text, client.get(PAGE).text):
        assert "<script>alert" not in page and '<svg onload' not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;svg onload=&quot;x()&quot;&gt;&amp;" in client.get(PAGE + "?view=flame").text


def test_behind_a_share_link_every_box_and_crumb_links_inside_the_share(client):
    post_agent_run(client)
    response = client.post(f"{PAGE}/share", {"days": 7}, **HTMX)
    share = re.search(r'data-copy="http://testserver(/share/[^"]+)"', response.text).group(1)
    page = client.get(f"{share}?view=flame&focus={h.span_id(4).hex()}").text
    assert list(boxes(svg(page))) == ["get_weather"]
    flame_links = re.findall(r'(?:href|data-zoom|data-panel)="([^"]+)"', re.search(r'<div class="flame".*?</svg>',
                                                                                   page, re.S).group(0))
    assert len(flame_links) == 4 + 2 + 3  # the measures, the crumbs, the box's three
    assert all(link.startswith(share) for link in flame_links), flame_links


def test_a_live_flame_graph_keeps_its_measure_and_zoom_as_spans_arrive(client):
    from tests.helpers import ago

    h.post(client, h.body(h.span(span=1, name="agent", start_ms=ago(0), duration_ms=500),
                          h.span(span=2, parent=1, name="plan", start_ms=ago(0) + 10, duration_ms=100)))
    page = client.get(f"{PAGE}?view=flame&measure=self&focus={h.span_id(1).hex()}").text
    poll = html.unescape(re.search(r'<[^>]*data-live-etag="[^"]*"[^>]*>', page).group(0))
    url = re.search(r'hx-get="([^"]+)"', poll).group(1)
    assert url == f"{PAGE}?live=1&view=flame&measure=self&focus={h.span_id(1).hex()}"
    h.post(client, h.body(h.span(span=3, parent=1, name="act", start_ms=ago(0) + 200, duration_ms=100)))
    grown = client.get(url, **HTMX).text
    assert list(boxes(svg(grown))) == ["agent", "plan", "act"]
    assert re.search(r'aria-current="true">Self time<', grown)


def test_an_n_more_box_the_path_runs_through_is_marked_with_it(client):
    tiny = [h.span(span=10 + i, parent=1, name="step", start_ms=700 + i, duration_ms=1) for i in range(300)]
    h.post(client, h.body(h.span(span=1, name="root", duration_ms=1000),
                          h.span(span=2, parent=1, name="big", duration_ms=700), *tiny))
    drawn = boxes(svg(client.get(PAGE + "?view=flame").text))
    assert drawn["300 more"] == (70, 30, ["k-more", "crit"])
    assert "300 on the critical path" in client.get(PAGE + "?view=flame").text


# --- the critical path on the page -------------------------------------------------------------------


def test_the_timeline_marks_the_rows_on_the_critical_path(client):
    post_agent_run(client)
    page = client.get(PAGE).text
    marked = re.findall(r'<div class="row ([^"]*)" id="s-([0-9a-f]{16})"', page)
    assert {span: "crit" in classes.split() for classes, span in marked} == {
        h.span_id(1).hex(): True, h.span_id(2).hex(): True, h.span_id(3).hex(): False, h.span_id(4).hex(): True}


def test_the_critical_path_box_breaks_the_latency_down_by_kind_of_work(client):
    post_agent_run(client)
    box = re.search(r'<section class="panel critical".*?</section>', client.get(PAGE).text, re.S).group(0)
    assert re.search(r"Critical path <span class=\"muted\">100 ms</span>", box)
    assert "The 3 spans that set the end-to-end latency" in box
    kinds = re.findall(r'</span>([A-Za-z]+)</th><td class="num">([^<]*)</td><td class="num muted">([^<]*)</td>', box)
    assert kinds == [("LLM", "60 ms", "60%"), ("Tool", "35 ms", "35%"), ("Retriever", "–", "0%"),
                     ("Agent", "5.0 ms", "5%"), ("Other", "–", "0%")]
    assert re.findall(r'<i class="kind-(\w+)" style="--w:([\d.]+)%">', box) == [
        ("llm", "60"), ("tool", "35"), ("agent", "5")]
    top = re.findall(r'<a href="([^"]*)"[^>]*>([^<]*)</a> <span class="muted">([^<]*)</span>', box)
    assert top == [(f"{PAGE}/spans/{h.span_id(2).hex()}", "chat gpt-4o", "60 ms · 60%"),
                   (f"{PAGE}/spans/{h.span_id(4).hex()}", "get_weather", "35 ms · 35%"),
                   (f"{PAGE}/spans/{h.span_id(1).hex()}", "weather agent", "5.0 ms · 5%")]


def test_a_stitched_runs_flame_graph_and_path_cover_the_whole_run_from_any_trace(client):
    h.post(client, h.body(h.span(trace=1, span=1, name="agent", start_ms=0, duration_ms=100)))
    h.post(client, h.body(h.span(trace=2, span=2, name="step one", start_ms=10, duration_ms=30)))
    h.post(client, h.body(h.span(trace=3, span=3, name="step two", start_ms=50, duration_ms=45)))
    page = client.get(f"/traces/{h.trace_id(3).hex()}?view=flame").text
    assert {name: box[:2] for name, box in boxes(svg(page)).items()} == {
        "agent": (0, 100), "step one": (0, 30), "step two": (30, 45)}
    assert all("crit" in box[2] for box in boxes(svg(page)).values())
    # the stitched traces' edges were inferred from timing: their boxes are outlined dashed, as on the timeline
    assert {name: "inferred" in box[2] for name, box in boxes(svg(page)).items()} == {
        "agent": False, "step one": True, "step two": True}
    assert "step one · 30 ms · 30% · on the critical path · inferred from timing" in html.unescape(page)
    assert f'href="/traces/{h.trace_id(2).hex()}/spans/{h.span_id(2).hex()}?view=flame' in page


# --- the API -------------------------------------------------------------------------------------------


def test_the_api_answers_the_boxes_for_a_measure(client):
    post_agent_run(client)
    answer = client.get(f"/api/v1/traces/{TRACE}/flamegraph?measure=self").json()
    assert (answer["measure"], answer["total"]) == ("self", 115 * MS)
    assert [(box["name"], box["depth"], round(box["x"], 4), round(box["width"], 4), box["value"], box["status"])
            for box in answer["boxes"]] == [
        ("weather agent", 0, 0.0, 1.0, 115 * MS, "ok"), ("chat gpt-4o", 1, 0.0, 0.5217, 60 * MS, "ok"),
        ("get_forecast", 1, 0.5217, 0.1304, 15 * MS, "ok"), ("get_weather", 1, 0.6522, 0.3043, 35 * MS, "error")]
    assert answer["boxes"][1]["span_id"] == h.span_id(2).hex() and answer["boxes"][1]["trace_id"] == TRACE


def test_the_api_refuses_an_unknown_measure_and_an_unknown_trace(client):
    post_agent_run(client)
    bad = client.get(f"/api/v1/traces/{TRACE}/flamegraph?measure=calls")
    assert bad.status_code == 422 and "measure" in bad.json()["detail"]
    assert client.get(f"/api/v1/traces/{'ab' * 16}/flamegraph").status_code == 404


# --- a big trace -----------------------------------------------------------------------------------------


def test_a_5000_span_trace_draws_a_bounded_graph_in_the_queries_of_the_timeline(client, django_assert_num_queries):
    from tests.ui.test_trace_detail import big_trace

    spans = big_trace(5000)
    for start in range(0, 5000, 1000):
        h.post(client, h.body(*spans[start : start + 1000]))
    url = f"/traces/{h.trace_id(2).hex()}"
    for measure in flame.MEASURES:
        # the trace, its spans, its exception events: the flame graph and the path need nothing more
        with django_assert_num_queries(3):
            page = client.get(f"{url}?view=flame&measure={measure}").text
        drawn = page.count('<svg class="fb ')
        assert 51 < drawn <= flame.MAX_BOXES, measure
    with django_assert_num_queries(2):
        client.get(f"{url}?view=flame", **HTMX)
    # by duration: the root, its 50 agents side by side, and under each agent its calls of 5 ms as one box
    by_duration = client.get(f"{url}?view=flame").text
    assert by_duration.count('<svg class="fb ') == 1 + 50 + 50
    merged = [int(count) for count in re.findall(r"<title>(\d+) more spans too narrow to draw", by_duration)]
    assert len(merged) == 50 and sum(merged) == 5000 - 51
