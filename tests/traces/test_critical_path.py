"""The critical path (traces.critical_path) on hand-built span trees, and its API
(GET /api/v1/traces/{trace_id}/critical-path) on a stored trace and on a stitched run.

Times are in milliseconds in the trees below; the path's figures are asserted to the nanosecond."""

from collections import namedtuple

import pytest

from tests import helpers as h
from traces.critical_path import critical_path
from traces.tree import build

MS = 1_000_000
S = namedtuple("S", "span_id parent_span_id name start_ns end_ns status_code category total_tokens total_cost")


def spans(*rows):
    """(name, parent name or None, start ms, end ms[, category]) -> spans in start order, named by id."""
    result = []
    for name, parent, start, end, *category in rows:
        result.append(S(name, parent or "", name, start * MS, end * MS, 0, category[0] if category else "other",
                        None, None))
    return sorted(result, key=lambda span: span.start_ns)


def path_of(*rows):
    return critical_path(build(spans(*rows)))


def own_ms(path):
    """{span id: own time on the path in ms}, in the order the path runs."""
    return {step.span.span_id: step.own_ns / MS for step in path.steps}


def test_sequential_children_are_all_on_the_path_and_the_parent_keeps_the_time_between_them():
    path = path_of(("root", None, 0, 100), ("a", "root", 10, 40), ("b", "root", 50, 90))
    assert own_ms(path) == {"root": 30, "a": 30, "b": 40}
    assert path.total_ns == 100 * MS


def test_of_parallel_branches_the_one_that_ended_last_is_on_the_path():
    path = path_of(("root", None, 0, 100), ("fast", "root", 10, 60), ("slow", "root", 10, 90),
                   ("last", "root", 92, 98))
    assert list(own_ms(path)) == ["root", "slow", "last"]
    assert own_ms(path) == {"root": 14, "slow": 80, "last": 6}


def test_a_branch_that_started_earlier_is_on_the_path_only_until_the_later_one_started():
    # b ended last, so the path waits on b back to its start (30); before that the parent waited on a.
    path = path_of(("root", None, 0, 100), ("a", "root", 0, 80), ("b", "root", 30, 90))
    assert own_ms(path) == {"root": 10, "a": 30, "b": 60}
    a = next(step for step in path.steps if step.span.span_id == "a")
    assert (a.start_ns, a.end_ns) == (0, 30 * MS)


def test_the_path_descends_into_what_each_span_waited_on():
    path = path_of(("flow", None, 0, 100, "workflow"), ("agent", "flow", 0, 100, "agent"),
                   ("chat", "agent", 0, 60, "llm"), ("search", "agent", 60, 100, "tool"),
                   ("lookup", "search", 65, 95, "retriever"))
    assert own_ms(path) == {"flow": 0, "agent": 0, "chat": 60, "search": 10, "lookup": 30}
    assert dict(path.breakdown) == {"llm": 60 * MS, "tool": 10 * MS, "retriever": 30 * MS, "agent": 0, "other": 0}
    assert [step.span.span_id for step in path.top] == ["chat", "lookup", "search"]


def test_a_child_that_outlives_its_parent_counts_only_inside_it():
    path = path_of(("root", None, 0, 100), ("skewed", "root", 50, 130))
    assert own_ms(path) == {"root": 50, "skewed": 50}
    assert path.total_ns == 100 * MS


def test_a_child_that_starts_before_its_parent_counts_from_the_parents_start():
    path = path_of(("early", "root", -20, 30), ("root", None, 0, 100))
    assert own_ms(path) == {"root": 70, "early": 30}


def test_gaps_between_children_are_the_parents_own_time():
    path = path_of(("root", None, 0, 100), ("a", "root", 10, 20), ("b", "root", 40, 50))
    assert own_ms(path) == {"root": 80, "a": 10, "b": 10}
    assert [step.span.span_id for step in path.top] == ["root", "a", "b"]


def test_spans_that_only_waited_are_not_among_those_to_shorten():
    path = path_of(("root", None, 0, 100), ("only", "root", 0, 100))
    assert [step.span.span_id for step in path.top] == ["only"]


def test_top_level_spans_are_walked_as_siblings_and_the_time_none_covers_is_untraced():
    path = path_of(("root", None, 0, 50), ("orphan", "missing", 70, 100))
    assert own_ms(path) == {"root": 50, "orphan": 30}
    assert (path.total_ns, path.untraced_ns) == (100 * MS, 20 * MS)
    assert dict(path.breakdown)["other"] == 100 * MS


def test_an_instantaneous_trace_has_an_empty_path():
    path = path_of(("root", None, 5, 5), ("child", "root", 5, 5))
    assert (path.steps, path.total_ns, path.top) == ([], 0, [])
    assert dict(path.breakdown) == dict.fromkeys(("llm", "tool", "retriever", "agent", "other"), 0)


def test_an_empty_tree_has_an_empty_path():
    assert critical_path([]).total_ns == 0


def test_a_chain_of_thousands_of_nested_spans_does_not_exhaust_the_stack():
    chain = [(f"s{i}", f"s{i - 1}" if i else None, i, 10_000 - i) for i in range(3000)]
    path = path_of(*chain)
    assert len(path.steps) == 3000
    assert sum(step.own_ns for step in path.steps) == 10_000 * MS


# --- the API -------------------------------------------------------------------------------------


TRACE = h.trace_id(1).hex()


@pytest.mark.django_db
def test_the_api_answers_the_path_its_breakdown_and_the_spans_to_shorten(client):
    h.post(client, h.body(
        h.span(span=1, name="flow", start_ms=0, duration_ms=100, attributes={"span.type": "flow"}),
        h.span(span=2, parent=1, name="chat gpt-4o", start_ms=0, duration_ms=60, model="gpt-4o"),
        h.span(span=3, parent=1, name="fast tool", start_ms=60, duration_ms=10,
               attributes={"gen_ai.operation.name": "execute_tool"}),
        h.span(span=4, parent=1, name="slow tool", start_ms=60, duration_ms=35,
               attributes={"gen_ai.operation.name": "execute_tool"}),
    ))
    answer = client.get(f"/api/v1/traces/{TRACE}/critical-path").json()
    ids = [h.span_id(n).hex() for n in (1, 2, 4)]
    assert [(step["span_id"], step["own_ms"]) for step in answer["spans"]] == list(zip(ids, [5.0, 60.0, 35.0]))
    assert answer["total_ms"] == 100.0 and answer["untraced_ms"] == 0.0
    assert {kind["kind"]: (kind["ms"], kind["share"]) for kind in answer["breakdown"]} == {
        "llm": (60.0, 0.6), "tool": (35.0, 0.35), "retriever": (0.0, 0.0), "agent": (0.0, 0.0), "other": (5.0, 0.05)}
    assert [step["name"] for step in answer["top"]] == ["chat gpt-4o", "slow tool", "flow"]
    assert {step["trace_id"] for step in answer["spans"]} == {TRACE}


@pytest.mark.django_db
def test_the_api_walks_the_whole_stitched_run_from_any_of_its_traces(client):
    # Three one-span traces of one process, the later two inside the first: stitched into one run.
    h.post(client, h.body(h.span(trace=1, span=1, name="agent", start_ms=0, duration_ms=100)))
    h.post(client, h.body(h.span(trace=2, span=2, name="step one", start_ms=10, duration_ms=30)))
    h.post(client, h.body(h.span(trace=3, span=3, name="step two", start_ms=50, duration_ms=45)))
    answer = client.get(f"/api/v1/traces/{h.trace_id(2).hex()}/critical-path").json()
    assert [(step["name"], step["trace_id"], step["own_ms"]) for step in answer["spans"]] == [
        ("agent", h.trace_id(1).hex(), 25.0), ("step one", h.trace_id(2).hex(), 30.0),
        ("step two", h.trace_id(3).hex(), 45.0)]


@pytest.mark.django_db
def test_the_api_answers_404_for_an_unknown_trace(client):
    answer = client.get(f"/api/v1/traces/{'ab' * 16}/critical-path")
    assert answer.status_code == 404 and answer.json() == {"detail": f"no trace {'ab' * 16}"}
