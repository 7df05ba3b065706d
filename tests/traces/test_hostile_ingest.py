"""Values a careless or hostile client sends: each ends in a stored span or a per-span rejection
with a reason, never a 500, and never costs the other spans of its request."""

import json

import pytest
from django.db import DataError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from tests import helpers as h
from traces import store as trace_store
from traces.models import Span, SpanEvent, Trace

pytestmark = pytest.mark.django_db

HUGE = 9223372036854775797  # 2**63 - 11: fits one column, overflows any sum it joins


def export_response(response):
    message = ExportTraceServiceResponse()
    message.ParseFromString(response.content)
    return message


def llm(trace, span, tokens, **attributes):
    """A call of `tokens` input and 10 output tokens to a self-hosted model no price table knows, so that
    the only costs are the ones a span reports."""
    return h.span(trace=trace, span=span, name=f"chat {span}", model="house-model-7b", tokens=(tokens, 10),
                  attributes=attributes)


def trace_totals(trace):
    return Trace.objects.values_list("span_count", "input_tokens", "output_tokens", "total_tokens").get(
        trace_id=h.trace_id(trace).hex()
    )


def test_a_huge_token_count_is_stored_but_not_counted_and_its_neighbour_is_kept(client):
    response = h.post(client, h.body(llm(1, 1, HUGE), llm(2, 2, 100)))

    assert response.status_code == 200
    partial = export_response(response).partial_success
    assert partial.rejected_spans == 0
    assert f"gen_ai.usage.input_tokens={HUGE}"[:60] in partial.error_message
    assert "not counted" in partial.error_message
    assert Span.objects.count() == 2
    poisoned = Span.objects.get(span_id=h.span_id(1).hex())
    assert poisoned.attributes["gen_ai.usage.input_tokens"] == HUGE  # kept verbatim
    assert (poisoned.input_tokens, poisoned.output_tokens, poisoned.total_tokens) == (None, 10, 10)
    assert trace_totals(1) == (1, 0, 10, 10)
    assert trace_totals(2) == (1, 100, 10, 110)


def test_pages_and_stats_keep_answering_and_the_next_batch_into_that_trace_is_stored(client):
    h.post(client, h.body(llm(1, 1, HUGE)))

    response = h.post(client, h.body(llm(1, 2, HUGE), llm(1, 3, 40), llm(3, 4, 5)))

    assert response.status_code == 200
    assert trace_totals(1) == (3, 40, 30, 70)
    assert trace_totals(3) == (1, 5, 10, 15)
    assert client.get("/").status_code == 200
    stats = client.get("/api/v1/stats?window=all").json()
    assert (stats["total_traces"], stats["input_tokens"], stats["total_tokens"]) == (2, 45, 85)


@pytest.mark.parametrize(
    "attributes",
    [
        {"gen_ai.usage.input_tokens": -5},
        {"gen_ai.usage.input_tokens": 10**13},
        {"gen_ai.usage.input_tokens": "1e400"},
        {"gen_ai.usage.cost.input_tokens": float("inf")},
        {"gen_ai.usage.cost.input_tokens": -1.0},
        {"gen_ai.usage.cost.input_tokens": 1e300},
        {"gen_ai.usage.cost.total": float("nan")},
    ],
)
def test_impossible_usage_values_are_left_out_of_every_total(client, attributes):
    response = h.post(client, h.body(llm(1, 1, 7, **attributes)))

    assert response.status_code == 200
    span = Span.objects.get()
    assert span.input_cost is None and span.total_cost is None
    assert span.input_tokens in (None, 7)
    trace = Trace.objects.get()
    assert 0 <= trace.input_tokens <= 7 and trace.total_cost == 0.0
    assert client.get(f"/traces/{trace.trace_id}").status_code == 200
    assert client.get("/api/v1/stats?window=all").status_code == 200


def test_a_lower_precedence_key_is_used_when_the_first_is_out_of_range(client):
    h.post(client, h.body(llm(1, 1, -1, **{"llm.token_count.prompt": 12})))

    assert Span.objects.get().input_tokens == 12


def test_trace_totals_saturate_instead_of_overflowing():
    state = {"span_count": 1, "error_count": 0, "start_ns": 0, "end_ns": 1, "input_tokens": trace_store.MAX_INT64 - 5,
             "output_tokens": 0, "total_tokens": trace_store.MAX_INT64 - 5, "total_cost": 0.0, "models_used": [],
             "estimated_cost": 0.0, "unpriced_spans": 0,
             "has_root": True, "root_span_name": "r", "service_name": "s", "workflow_name": "", "user_id": "",
             "session_id": ""}
    span = type("S", (), {"start_ns": 0, "end_ns": 1, "status_code": 0, "parent_span_id": "aa", "name": "x",
                          "service_name": "s", "normalized": {"category": "llm", "input_tokens": 10**12,
                          "output_tokens": 1, "total_tokens": 10**12 + 1, "total_cost": 0.5, "model": "m", "cost_source": "reported",
                          "workflow_name": "", "user_id": "", "session_id": ""}})()

    trace_store.merge(state, [span])

    assert state["input_tokens"] == state["total_tokens"] == trace_store.MAX_INT64
    assert state["output_tokens"] == 1


def test_sums_over_traces_at_the_64_bit_limit_do_not_overflow(client):
    h.post(client, h.body(llm(1, 1, 1), llm(2, 2, 1)))
    Trace.objects.update(input_tokens=trace_store.MAX_INT64, total_tokens=trace_store.MAX_INT64)

    assert client.get("/").status_code == 200
    assert client.get("/traces").status_code == 200
    stats = client.get("/api/v1/stats?window=all")
    assert stats.status_code == 200
    assert stats.json()["total_tokens"] >= 2 * trace_store.MAX_INT64 - 2**12  # a float sum on SQLite


def test_an_event_time_beyond_int64_rejects_only_its_span(client):
    bad = h.span(trace=1, span=1, name="bad event")
    bad.events.add(name="late", time_unix_nano=2**64 - 1)
    good = h.span(trace=1, span=2, name="good", events=[{"name": "fine", "at_ms": 1}])

    response = h.post(client, h.body(bad, good))

    assert response.status_code == 200
    partial = export_response(response).partial_success
    assert partial.rejected_spans == 1
    assert "time_unix_nano" in partial.error_message
    assert list(Span.objects.values_list("name", flat=True)) == ["good"]
    assert list(SpanEvent.objects.values_list("name", flat=True)) == ["fine"]


def json_span(span_id, name, attributes):
    return {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": span_id, "name": name,
            "startTimeUnixNano": "1767225600000000000", "endTimeUnixNano": "1767225601000000000",
            "attributes": attributes}


def test_json_nested_hundreds_deep_beside_a_lone_surrogate_rejects_only_the_deep_span(client):
    document = {"resourceSpans": [{"scopeSpans": [{"spans": [
        json_span("00000000000000a1", "deep", [{"key": "nested", "value": "DEEP"}]),
        json_span("00000000000000a2", "surrogate \ud800 here", [{"key": "k", "value": {"stringValue": "x\udc00"}}]),
    ]}]}]}
    # ensure_ascii: the surrogates travel as \ud800 escapes, as JavaScript sends them
    # 250 arrays are 750 JSON levels: within what the JSON parser reads, far beyond what a span may nest.
    deep = '{"arrayValue":{"values":[' * 250 + '{"stringValue":"bottom"}' + "]}}" * 250
    body = json.dumps(document).replace('"DEEP"', deep)
    assert "\\ud800" in body

    response = h.post(client, body, content_type=h.JSON)

    assert response.status_code == 200
    assert response.json()["partialSuccess"]["rejectedSpans"] == "1"
    assert "nests deeper" in response.json()["partialSuccess"]["errorMessage"]
    span = Span.objects.get()
    assert span.name == "surrogate \ufffd here"
    assert span.attributes == {"k": "x\ufffd"}


def test_600_nested_arrays_in_a_field_msgtrace_ignores_beside_a_lone_surrogate_are_stored(client):
    document = {"resourceSpans": [{"scopeSpans": [{"spans": [
        {**json_span("00000000000000a3", "odd \udfff", []), "extension": "NESTED"},
    ]}]}]}
    body = json.dumps(document).replace('"NESTED"', "[" * 600 + '"\\udfff"' + "]" * 600)

    response = h.post(client, body, content_type=h.JSON)

    assert response.status_code == 200
    assert response.json() == {}
    assert Span.objects.get().name == "odd \ufffd"


def test_json_nested_beyond_what_the_parser_reads_is_a_400(client):
    body = '{"resourceSpans":' + "[" * 100_000 + "]" * 100_000 + "}"

    response = h.post(client, body, content_type=h.JSON)

    assert response.status_code == 400
    assert "nests deeper" in response.json()["message"]


def test_a_value_the_database_refuses_costs_only_the_spans_of_its_own_trace(client, monkeypatch):
    refused = h.trace_id(1).hex()
    insert = trace_store._insert_spans

    def refusing(cursor, sql, states, fresh, *args):
        if refused in fresh:
            raise DataError("value out of range for type bigint")
        return insert(cursor, sql, states, fresh, *args)

    monkeypatch.setattr(trace_store, "_insert_spans", refusing)

    response = h.post(client, h.body(llm(1, 1, 5), llm(1, 2, 5), llm(2, 3, 5)))

    assert response.status_code == 200
    partial = export_response(response).partial_success
    assert partial.rejected_spans == 2
    assert f"trace {refused}" in partial.error_message and "out of range" in partial.error_message
    assert "rejected 2 of 3 spans" in partial.error_message
    assert list(Trace.objects.values_list("trace_id", flat=True)) == [h.trace_id(2).hex()]
    assert Span.objects.count() == 1
