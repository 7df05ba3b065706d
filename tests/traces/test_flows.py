"""Workflow flows (traces.flows, GET /api/v1/flows and the page at /flows): which step follows which across
runs, counted exactly, with the error rate of the step each edge leads to, and links to the traces."""

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from tests import helpers as h
from tests.helpers import ago, tid
from traces.flows import flow
from traces.models import Trace

pytestmark = pytest.mark.django_db

PLANNER = {"span.type": "module", "module.name": "planner", "module.type": "planner"}
SEARCH = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"}


def run(n, minutes, steps, workflow="support", service="api"):
    """A trace `n` started `minutes` ago: a root span of the workflow and the steps under it, each a
    (kind, error) pair started 10 ms after the one before; the model calls nest in the planner."""
    start = ago(minutes)
    spans = [h.span(trace=n, span=n * 100, name=workflow, start_ms=start, duration_ms=1000,
                    attributes={"workflow.name": workflow}, kind=h.Span.SPAN_KIND_SERVER)]
    for position, (kind, error) in enumerate(steps, start=1):
        common = {"trace": n, "span": n * 100 + position, "parent": n * 100, "start_ms": start + 10 * position,
                  "duration_ms": 20 * position, "error": "failed" if error else None}
        if kind == "planner":
            spans.append(h.span(name="planner", attributes=PLANNER, **common))
        elif kind == "search":
            spans.append(h.span(name="execute_tool search", attributes=SEARCH, **common))
        else:
            spans.append(h.span(model="gpt-4o", tokens=(100, 20), cost=(0.001, 0.0005), **common))
    return h.body(*spans, service=service)


@pytest.fixture
def runs(client):
    """Three runs of the support workflow and one of another:

        1  planner -> gpt-4o -> search -> gpt-4o
        2  planner -> gpt-4o -> search (failed)
        3  planner (failed)
        4  (research) search
    """
    h.post(client, run(1, 30, [("planner", False), ("llm", False), ("search", False), ("llm", False)]))
    h.post(client, run(2, 20, [("planner", False), ("llm", False), ("search", True)]))
    h.post(client, run(3, 10, [("planner", True)]))
    h.post(client, run(4, 5, [("search", False)], workflow="research", service="web"))
    return client


def edges(graph):
    return {(e["source"], e["target"]): (e["count"], e["errors"], round(e["error_rate"], 4)) for e in graph["edges"]}


def test_edges_count_each_step_followed_by_the_next_to_start_with_the_error_rate_of_the_next(runs):
    graph = flow(Trace.objects.search(workflow="support"))

    assert graph["runs"] == 3
    assert edges(graph) == {
        (None, "planner"): (3, 1, 0.3333),
        ("planner", "gpt-4o"): (2, 0, 0.0),
        ("gpt-4o", "search"): (2, 1, 0.5),
        ("search", "gpt-4o"): (1, 0, 0.0),
        ("gpt-4o", None): (1, 0, 0.0),
        ("search", None): (1, 0, 0.0),
        ("planner", None): (1, 0, 0.0),
    }


def test_each_step_has_its_count_error_rate_latency_and_model_usage(runs):
    nodes = {node["step"]: node for node in flow(Trace.objects.search(workflow="support"))["nodes"]}

    assert [(n["step"], n["kind"], n["spans"], n["errors"]) for n in nodes.values()] == [
        ("gpt-4o", "llm", 3, 0), ("planner", "module", 3, 1), ("search", "tool", 2, 1)]
    # durations are 20 ms times the step's position in its run
    assert nodes["planner"]["avg_duration_ms"] == pytest.approx(20.0)
    assert nodes["search"]["avg_duration_ms"] == pytest.approx(60.0)
    assert nodes["gpt-4o"]["avg_duration_ms"] == pytest.approx((40 + 80 + 40) / 3)
    # only model calls carry usage, as in every other figure
    assert (nodes["gpt-4o"]["total_tokens"], round(nodes["gpt-4o"]["cost"], 6)) == (360, 0.0045)
    assert (nodes["planner"]["total_tokens"], nodes["planner"]["cost"]) == (0, 0.0)


def test_the_sample_reads_only_the_latest_runs(runs):
    graph = flow(Trace.objects.search(workflow="support"), runs=1)

    assert graph["runs"] == 1
    assert edges(graph) == {(None, "planner"): (1, 1, 1.0), ("planner", None): (1, 0, 0.0)}


def test_the_api_answers_the_same_graph(runs):
    answer = runs.get("/api/v1/flows", {"workflow": "support", "window": "24h"}).json()

    assert answer["runs"] == 3 and answer["sample_limit"] == 2000
    assert {(e["source"], e["target"]): e["count"] for e in answer["edges"]}[("gpt-4o", "search")] == 2
    by_service = runs.get("/api/v1/flows", {"service": "web"}).json()
    assert [(e["source"], e["target"], e["count"]) for e in by_service["edges"]] == [
        (None, "search", 1), ("search", None, 1)]


def test_the_api_refuses_bad_parameters_with_a_reason(runs):
    assert runs.get("/api/v1/flows", {"window": "2y"}).status_code == 422
    assert runs.get("/api/v1/flows", {"runs": "0"}).status_code == 422
    answer = runs.get("/api/v1/flows", {"start": "soon"})
    assert answer.status_code == 422 and "start" in answer.json()["detail"]
    answer = runs.get("/api/v1/flows", {"q": "kind:nope"})
    assert answer.status_code == 400 and "kind" in answer.json()["detail"]


def test_the_page_draws_the_steps_and_each_links_to_the_traces_through_it(runs):
    page = runs.get("/flows", {"workflow": "support", "window": "24h"}).text

    assert "From the latest 3 runs in the last 24 hours" in page
    assert page.count('<path class="band') == 7
    hrefs = dict(re.findall(r'<a class="flow-node" href="([^"]+)" data-step="([^"]+)"', page))
    links = {step: html.unescape(href) for href, step in hrefs.items()}
    assert set(links) == {"planner", "gpt-4o", "search"}
    params = parse_qs(urlsplit(links["search"]).query)
    assert params["q"] == ['step:"search"'] and params["workflow"] == ["support"] and params["group"] == ["trace"]
    listed = runs.get(links["search"]).text
    assert tid(1) in listed and tid(2) in listed and tid(3) not in listed and tid(4) not in listed
    # the steps table, with each step's figures
    table = page.split('<table class="compact flow-steps">')[1]
    assert re.search(r'>search</a></td>\s*<td data-label="Kind">tool</td>\s*<td class="num" data-label="Spans">2</td>\s*'
                     r'<td class="num" data-label="Error rate">50', table)


def test_the_page_offers_the_window_s_workflows_and_services(runs):
    page = runs.get("/flows").text

    assert '<option value="support">support</option>' in page and '<option value="research">research</option>' in page
    assert '<option value="web">web</option>' in page
    assert "From the latest 4 runs" in page


def test_a_step_name_stays_text(client):
    hostile = '<img src=x onerror=alert(1)>"*'
    spans = [h.span(trace=9, span=900, name="flow", start_ms=ago(5), attributes={"workflow.name": "w"}),
             h.span(trace=9, span=901, parent=900, start_ms=ago(5) + 1, name="t",
                    attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": hostile})]
    h.post(client, h.body(*spans))

    page = client.get("/flows", {"workflow": "w"}).text

    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    link = html.unescape(re.search(r'<a class="flow-node" href="([^"]+)"', page).group(1))
    assert parse_qs(urlsplit(link).query)["q"] == ['step:"<img src=x onerror=alert(1)>\\"\\*"']
    assert tid(9) in client.get(link).text


def test_an_invalid_window_is_refused(client):
    assert client.get("/flows", {"window": "2y"}).status_code == 400


def test_the_page_costs_a_fixed_number_of_queries(runs, django_assert_num_queries):
    # the flow, the window's workflows, its services
    with django_assert_num_queries(3):
        runs.get("/flows", {"workflow": "support"})


def test_the_step_search_term_finds_a_step_s_spans_and_the_traces_through_it(runs):
    spans = runs.get("/api/v1/spans", {"q": "step:planner"}).json()["spans"]
    assert sorted(s["trace_id"][-1] for s in spans) == ["1", "2", "3"]
    assert len(runs.get("/api/v1/spans", {"q": "step:gpt-4o error:false"}).json()["spans"]) == 3
    # a wildcard, and the traces with no such step
    traces = runs.get("/api/v1/traces", {"q": "step:sea* -step:gpt*", "group": "trace"}).json()["traces"]
    assert [t["trace_id"] for t in traces] == [tid(4)]


def test_runs_without_steps_say_so(client):
    h.post(client, h.body(h.span(trace=8, span=800, name="healthcheck", start_ms=ago(3))))

    page = client.get("/flows").text

    assert "No run with a step in the last 24 hours." in page and "No steps in these runs" in page
    assert client.get("/api/v1/flows").json() | {"start": None, "end": None} == {
        "start": None, "end": None, "runs": 0, "sample_limit": 2000, "nodes": [], "edges": []}


def test_a_run_stitched_from_one_span_traces_is_one_run_its_steps_in_start_order(client):
    """msgflux through msgtrace-sdk sends each span as a trace of its own: the module's trace encloses
    its two model calls' traces, which traces.runs stitches into one run."""
    start = ago(4)
    module = h.span(trace=21, span=2100, name="planner", start_ms=start, duration_ms=500,
                    attributes=PLANNER | {"workflow.name": "stitched"})
    calls = [h.span(trace=n, span=n * 100, start_ms=start + offset, duration_ms=100, model="gpt-4o", tokens=(10, 5))
             for n, offset in ((22, 100), (23, 300))]
    h.post(client, h.body(module, *calls))
    assert Trace.objects.filter(trace_id=tid(22)).get().run_root_id == Trace.objects.get(trace_id=tid(21)).pk

    graph = flow(Trace.objects.search(workflow="stitched"))

    assert graph["runs"] == 1
    assert edges(graph) == {(None, "planner"): (1, 0, 0.0), ("planner", "gpt-4o"): (1, 0, 0.0),
                            ("gpt-4o", "gpt-4o"): (1, 0, 0.0), ("gpt-4o", None): (1, 0, 0.0)}
