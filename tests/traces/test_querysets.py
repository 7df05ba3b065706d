"""The one home of each rule and query: usage, errors, lookups by id, the outline of a trace, time."""

from datetime import datetime, timezone

import pytest
from django.template import engines

from tests import helpers as h
from traces import formatting
from traces.models import Category, Resource, Scope, Span, StatusCode, Trace, counts_as_usage, is_error
from traces.timeframe import datetime_from_ns, ns_from_datetime

pytestmark = pytest.mark.django_db


@pytest.fixture
def one_trace(client):
    h.post(client, h.body(
        h.span(span=1, name="agent", start_ms=0, duration_ms=50,
               attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.request.model": "gpt-4o",
                           "gen_ai.usage.input_tokens": 10, "big": "x" * 1000}),
        h.span(span=2, parent=1, start_ms=5, model="gpt-4o", tokens=(10, 2), error="rate limited"),
        h.span(span=3, parent=1, name="tool", start_ms=5, attributes={"gen_ai.operation.name": "execute_tool"}),
    ))
    return Trace.objects.get()


@pytest.mark.parametrize("category", Category.values)
def test_sql_and_python_agree_on_which_spans_count_as_usage(category):
    trace = Trace.objects.create(trace_id="a" * 32, started_at=datetime.now(timezone.utc),
                                 ended_at=datetime.now(timezone.utc), start_ns=0, end_ns=0,
                                 updated_at=datetime.now(timezone.utc))
    span = Span.objects.create(trace=trace, span_id="b" * 16, name="s", start_ns=0, end_ns=0, duration_ns=0,
                               category=category, resource=_resource(), scope=_scope())
    assert Span.objects.usage().filter(pk=span.pk).exists() == counts_as_usage(category) == span.counts_as_usage
    assert counts_as_usage(category) == (category in ("llm", "embedding", "reranker"))


def _resource():
    return Resource.objects.create(fingerprint="r")


def _scope():
    return Scope.objects.create(fingerprint="s")


def test_usage_and_errors_select_the_model_calls_and_the_failures(one_trace):
    assert [s.name for s in one_trace.spans.usage()] == ["chat gpt-4o"]
    assert [s.name for s in one_trace.spans.errors()] == ["chat gpt-4o"]
    assert is_error(StatusCode.ERROR) and is_error(2) and not is_error(StatusCode.OK) and not is_error(0)


def test_the_outline_is_in_start_order_without_attributes(one_trace):
    rows = list(one_trace.spans.outline())  # spans 2 and 3 start together: ties go by id
    assert [(row.span_id, row.start_ns - one_trace.start_ns) for row in rows] == [
        ("0000000000000001", 0), ("0000000000000002", 5_000_000), ("0000000000000003", 5_000_000),
    ]
    assert not hasattr(rows[0], "attributes") and rows[1].total_tokens == 12


def test_a_trace_is_found_by_its_id_in_any_case(one_trace, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert Trace.objects.with_trace_id(h.tid(1).upper()) == one_trace
    with django_assert_num_queries(1):
        assert Trace.objects.with_trace_id("f" * 32) is None


@pytest.mark.parametrize("trace_id", ["", "abc", "g" * 32, "0" * 31, "0" * 33, " " + "0" * 31, "0" * 31 + "\x00"])
def test_an_id_that_cannot_be_a_trace_id_never_reaches_the_database(trace_id, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert Trace.objects.with_trace_id(trace_id) is None
        assert Span.objects.with_ids(trace_id, "0" * 16) is None


def test_a_span_is_found_by_its_ids(one_trace, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert Span.objects.with_ids(h.tid(1), "0000000000000002").name == "chat gpt-4o"
    with django_assert_num_queries(0):
        assert Span.objects.with_ids(h.tid(1), "2") is None


@pytest.mark.parametrize("ns, text", [
    (0, "1970-01-01T00:00:00+00:00"),
    (1_767_225_600_123_456_789, "2026-01-01T00:00:00.123456+00:00"),
    (1_767_225_600_010_000_000, "2026-01-01T00:00:00.010000+00:00"),  # a float would read 0.009999
])
def test_nanoseconds_become_datetimes_exactly_and_back(ns, text):
    moment = datetime_from_ns(ns)
    assert moment.isoformat() == text
    assert ns_from_datetime(moment) == ns // 1000 * 1000
    assert ns_from_datetime(moment.replace(tzinfo=None)) == ns // 1000 * 1000  # naive: taken as UTC


def test_the_pages_filters_are_the_formatting_functions():
    rendered = engines["django"].from_string(
        "{% load msgtrace_ui %}{{ ms|duration }} {{ ns|duration_ns }} {{ n|tokens }} {{ usd|cost }} {{ f|percent }}"
    ).render({"ms": 2350, "ns": 450_000_000, "n": 12_345, "usd": 0.0045, "f": 0.125})
    assert rendered == "2.35 s 450 ms 12.3k $0.0045 12.5%"
    assert [formatting.duration(2350), formatting.tokens(12_345), formatting.cost(0.0045)] == ["2.35 s", "12.3k", "$0.0045"]
