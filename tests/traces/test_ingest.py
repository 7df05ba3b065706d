"""The OTLP/HTTP endpoint: what it accepts, what it answers, and what it stores."""

import base64
import json
import os
import zlib

import pytest
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from tests import helpers as h
from traces.models import Resource, Scope, Span, SpanEvent, SpanLink, Trace

pytestmark = pytest.mark.django_db


def rpc_status(response):
    status = status_pb2.Status()
    status.ParseFromString(response.content)
    return status


def export_response(response):
    message = ExportTraceServiceResponse()
    message.ParseFromString(response.content)
    return message


def store_one_trace(client):
    h.post(client, h.body(h.span(trace=99, span=1, name="kept")))
    return Span.objects.count(), Trace.objects.count()


# --- paths and encodings -------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/traces", "/api/v1/traces/export", "/"])
def test_every_ingest_path_stores_protobuf_and_answers_an_export_response(client, path):
    response = h.post(client, h.body(h.span(name="checkout")), path=path)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-protobuf"
    assert not export_response(response).HasField("partial_success")
    assert list(Span.objects.values_list("name", flat=True)) == ["checkout"]


def test_otlp_json_is_stored_like_protobuf_and_answered_in_json(client):
    document = {
        "resourceSpans": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "json-svc"}}]},
            "scopeSpans": [{
                "scope": {"name": "manual", "version": "2"},
                "spans": [{
                    "traceId": "5b8efff798038103d269b633813fc60c",
                    "spanId": "eee19b7ec3c1b174",
                    "parentSpanId": "",
                    "name": "llm call",
                    "kind": 3,
                    "startTimeUnixNano": "1767225600000000000",
                    "endTimeUnixNano": 1767225601500000000,
                    "attributes": [
                        {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}},
                        {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "120"}},
                        {"key": "gen_ai.usage.output_tokens", "value": {"intValue": 30}},
                        {"key": "big", "value": {"intValue": "9007199254740993"}},
                        {"key": "ratio", "value": {"doubleValue": 0.25}},
                        {"key": "blob", "value": {"bytesValue": "AAEC"}},
                    ],
                    "status": {"code": 2, "message": "boom"},
                }],
            }],
        }]
    }
    response = h.post(client, json.dumps(document), content_type=h.JSON)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {}
    span = Span.objects.get()
    assert span.trace.trace_id == "5b8efff798038103d269b633813fc60c"
    assert span.span_id == "eee19b7ec3c1b174"
    assert (span.kind, span.status_code, span.status_message) == (3, 2, "boom")
    assert span.duration_ns == 1_500_000_000
    assert span.attributes == {
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 120,
        "gen_ai.usage.output_tokens": 30,
        "big": 9007199254740993,
        "ratio": 0.25,
        "blob": {"$bytes": "AAEC"},
    }
    assert (span.category, span.model, span.input_tokens, span.output_tokens, span.total_tokens) == (
        "llm", "gpt-4o", 120, 30, 150,
    )
    assert span.service_name == "json-svc"


def test_json_enum_names_and_snake_case_fields_are_understood(client):
    document = {"resource_spans": [{"scope_spans": [{"spans": [{
        "trace_id": "5b8efff798038103d269b633813fc60c", "span_id": "eee19b7ec3c1b174", "name": "lenient",
        "kind": "SPAN_KIND_SERVER", "start_time_unix_nano": "1", "end_time_unix_nano": "2",
        "status": {"code": "STATUS_CODE_ERROR"},
    }]}]}]}
    response = h.post(client, json.dumps(document), content_type="application/json; charset=utf-8")

    assert response.status_code == 200
    assert Span.objects.values_list("name", "kind", "status_code").get() == ("lenient", 2, 2)


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_compressed_bodies_are_inflated(client, encoding):
    payload = h.body(h.span(name="compressed"))
    packed = h.gz(payload) if encoding == "gzip" else zlib.compress(payload)

    response = h.post(client, packed, content_encoding=encoding)

    assert response.status_code == 200
    assert Span.objects.get().name == "compressed"


def test_an_empty_request_is_accepted_and_stores_nothing(client):
    assert h.post(client, b"").status_code == 200
    assert h.post(client, b"{}", content_type=h.JSON).json() == {}
    assert h.post(client, b"", content_type=h.JSON).status_code == 200
    assert Span.objects.count() == Trace.objects.count() == 0


# --- what is stored ------------------------------------------------------------------------


def test_every_attribute_type_is_stored_with_its_type(client):
    attributes = {
        "s": "text",
        "b": True,
        "i": -42,
        "d": 1.5,
        "whole": 3.0,
        "huge": 2**62 + 1,
        "tiny": 1e-300,
        "large": 1e300,
        "nan": float("nan"),
        "inf": float("-inf"),
        "raw": b"\x00\x01\xff",
        "arr": ["a", 1, 2.5, False],
        "empty": [],
        "kv": {"inner": {"deep": [1, {"x": "y"}]}},
        "unicode ключ": "значение ✓",
    }
    h.post(client, h.body(h.span(attributes=attributes)))

    stored = Span.objects.get().attributes
    assert stored == {
        "s": "text",
        "b": True,
        "i": -42,
        "d": 1.5,
        "whole": 3.0,
        "huge": 2**62 + 1,
        "tiny": 1e-300,
        "large": {"$double": "1e+300"},
        "nan": {"$double": "NaN"},
        "inf": {"$double": "-Infinity"},
        "raw": {"$bytes": base64.b64encode(b"\x00\x01\xff").decode()},
        "arr": ["a", 1, 2.5, False],
        "empty": [],
        "kv": {"inner": {"deep": [1, {"x": "y"}]}},
        "unicode ключ": "значение ✓",
    }
    assert isinstance(stored["whole"], float) and isinstance(stored["huge"], int)


def test_events_links_kind_flags_trace_state_and_dropped_counts_are_kept(client):
    span = h.span(
        trace=1, span=2, parent=1, name="child", kind=4,
        events=[{"name": "exception", "at_ms": 3, "attributes": {"exception.type": "ValueError"}},
                {"name": "retry", "at_ms": 5}],
        links=[(7, 8, {"link.reason": "follows"})],
    )
    span.trace_state = "vendor=abc"
    span.flags = 257
    span.dropped_attributes_count = 3
    span.dropped_events_count = 4
    span.dropped_links_count = 5
    span.events[0].dropped_attributes_count = 6
    message = h.request(span, resource={"host.name": "box"}, scope="lib", scope_version="9.9")
    message.resource_spans[0].resource.dropped_attributes_count = 2
    message.resource_spans[0].schema_url = "https://opentelemetry.io/schemas/1.26.0"
    message.resource_spans[0].scope_spans[0].scope.attributes.extend(h.key_values({"scope.attr": 1}))
    h.post(client, message)

    stored = Span.objects.select_related("resource", "scope").get()
    assert (stored.parent_span_id, stored.kind, stored.trace_state, stored.flags) == (
        "0000000000000001", 4, "vendor=abc", 257,
    )
    assert (stored.dropped_attributes_count, stored.dropped_events_count, stored.dropped_links_count) == (3, 4, 5)
    assert [(e.position, e.name, e.time_ns - h.T0, e.attributes, e.dropped_attributes_count)
            for e in stored.events.all()] == [
        (0, "exception", 3 * h.MS, {"exception.type": "ValueError"}, 6),
        (1, "retry", 5 * h.MS, {}, 0),
    ]
    link = stored.links.get()
    assert (link.linked_trace_id, link.linked_span_id, link.attributes) == (
        f"{7:032x}", f"{8:016x}", {"link.reason": "follows"},
    )
    assert stored.resource.attributes == {"service.name": "test-svc", "host.name": "box"}
    assert (stored.resource.dropped_attributes_count, stored.resource.schema_url) == (
        2, "https://opentelemetry.io/schemas/1.26.0",
    )
    assert (stored.scope.name, stored.scope.version, stored.scope.attributes) == ("lib", "9.9", {"scope.attr": 1})


def test_resources_and_scopes_are_stored_once_however_many_requests_use_them(client):
    for n in range(3):
        h.post(client, h.body(h.span(trace=n + 1, name=f"t{n}")))

    assert Resource.objects.count() == 1
    assert Scope.objects.count() == 1
    assert Span.objects.values("resource").distinct().count() == 1


def test_a_300_kb_attribute_is_stored_whole(client):
    prompt = "data:image/png;base64," + "A" * 300_000
    h.post(client, h.body(h.span(attributes={"gen_ai.prompt": prompt})))

    assert Span.objects.get().attributes["gen_ai.prompt"] == prompt


def test_values_over_the_attribute_limit_are_truncated_with_a_marker(client, settings):
    settings.MSGTRACE_MAX_ATTRIBUTE_BYTES = 1000
    h.post(client, h.body(h.span(attributes={"long": "é" * 800, "short": "ok", "raw": b"x" * 2000})))

    attributes = Span.objects.get().attributes
    assert attributes["long"].startswith("é" * 500)
    assert attributes["long"].endswith("…[truncated by msgtrace: 1,600 bytes, the first 1,000 kept]")
    assert attributes["short"] == "ok"
    assert base64.b64decode(attributes["raw"]["$bytes"]) == b"x" * 1000
    assert attributes["raw"]["$truncated_from"] == 2000


def test_nul_characters_are_kept_visible_as_replacement_characters(client):
    h.post(client, h.body(h.span(name="a\x00b", attributes={"k": "x\x00y"})))

    span = Span.objects.get()
    assert (span.name, span.attributes["k"]) == ("a\ufffdb", "x\ufffdy")


def test_lone_surrogates_in_json_are_replaced_not_refused(client):
    document = ('{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c",'
                '"spanId":"eee19b7ec3c1b174","name":"bad \\ud800 name","startTimeUnixNano":"1",'
                '"endTimeUnixNano":"2"}]}]}]}')
    assert h.post(client, document, content_type=h.JSON).status_code == 200
    assert Span.objects.get().name == "bad \ufffd name"


def test_a_deeply_nested_kvlist_within_protobuf_limits_is_stored(client):
    value = "leaf"
    for depth in range(30):
        value = {f"level{depth}": value}
    h.post(client, h.body(h.span(attributes={"nested": value})))

    stored = Span.objects.get().attributes["nested"]
    for depth in reversed(range(30)):
        stored = stored[f"level{depth}"]
    assert stored == "leaf"


def test_ten_thousand_spans_in_one_request_are_all_stored(client):
    spans = [h.span(trace=1 + n // 100, span=n + 1, parent=None if n % 100 == 0 else (n // 100) * 100 + 1,
                    name=f"s{n}", start_ms=n) for n in range(10_000)]
    response = h.post(client, h.body(*spans))

    assert response.status_code == 200
    assert Span.objects.count() == 10_000
    assert Trace.objects.count() == 100
    assert set(Trace.objects.values_list("span_count", flat=True)) == {100}


# --- idempotency and trace aggregates --------------------------------------------------------


def trace_summary(trace_id=1):
    trace = Trace.objects.get(trace_id=f"{trace_id:032x}")
    return {
        "spans": trace.span_count,
        "errors": trace.error_count,
        "status": trace.status,
        "root": trace.root_span_name,
        "has_root": trace.has_root,
        "service": trace.service_name,
        "workflow": trace.workflow_name,
        "tokens": (trace.input_tokens, trace.output_tokens, trace.total_tokens),
        "cost": round(trace.total_cost, 6),
        "models": trace.models_used,
        "user": trace.user_id,
        "session": trace.session_id,
        "start_ms": (trace.start_ns - h.T0) / h.MS,
        "duration_ms": trace.duration_ms,
    }


def agent_run():
    root = h.span(trace=1, span=1, name="support flow", start_ms=0, duration_ms=1000,
                  attributes={"workflow.name": "support", "user.id": "alice", "session.id": "s-42"})
    tool = h.span(trace=1, span=2, parent=1, name="search", start_ms=10, duration_ms=50,
                  attributes={"gen_ai.tool.name": "search"}, error="timeout")
    first = h.span(trace=1, span=3, parent=1, start_ms=100, model="gpt-4o", tokens=(100, 20), cost=(0.001, 0.002))
    second = h.span(trace=1, span=4, parent=1, start_ms=500, model="claude-3-5-haiku", tokens=(50, 10),
                    cost=(0.0001, 0.0002))
    return root, tool, first, second


def test_trace_aggregates_are_maintained_at_ingest(client):
    h.post(client, h.body(*agent_run(), service="support-bot"))

    assert trace_summary() == {
        "spans": 4,
        "errors": 1,
        "status": "error",
        "root": "support flow",
        "has_root": True,
        "service": "support-bot",
        "workflow": "support",
        "tokens": (150, 30, 180),
        "cost": 0.0033,
        "models": ["claude-3-5-haiku", "gpt-4o"],
        "user": "alice",
        "session": "s-42",
        "start_ms": 0,
        "duration_ms": 1000.0,
    }


def test_a_retried_batch_stores_nothing_twice(client):
    payload = h.body(*agent_run())
    h.post(client, payload)
    before = trace_summary()

    response = h.post(client, payload)

    assert response.status_code == 200
    assert Span.objects.count() == 4
    assert SpanEvent.objects.count() == 0
    assert trace_summary() == before


def test_a_span_repeated_within_one_request_counts_once(client):
    root, tool, first, second = agent_run()
    h.post(client, h.body(root, first, first, second, tool, tool))

    assert Span.objects.count() == 4
    assert trace_summary()["tokens"] == (150, 30, 180)


def test_children_before_root_over_many_requests_make_one_correct_trace(client):
    root, tool, first, second = agent_run()
    h.post(client, h.body(second))
    assert (trace_summary()["has_root"], trace_summary()["root"], trace_summary()["spans"]) == (
        False, "chat claude-3-5-haiku", 1,
    )
    h.post(client, h.body(first, tool))
    partial = trace_summary()
    assert (partial["has_root"], partial["root"], partial["spans"], partial["errors"]) == (False, "search", 3, 1)
    h.post(client, h.body(root, first))  # the root, and one span again

    in_order = trace_summary()
    Trace.objects.all().delete()
    h.post(client, h.body(*agent_run(), service="test-svc"))
    assert in_order == trace_summary()


def test_retries_with_events_and_links_do_not_duplicate_them(client):
    span = h.span(events=[{"name": "exception"}], links=[(5, 6)])
    for _ in range(3):
        h.post(client, h.body(span))

    assert (Span.objects.count(), SpanEvent.objects.count(), SpanLink.objects.count()) == (1, 1, 1)


def test_usage_of_agent_spans_is_not_counted_on_top_of_their_model_calls(client):
    agent = h.span(trace=1, span=1, name="agent", attributes={
        "openinference.span.kind": "AGENT", "llm.token_count.prompt": 150, "llm.token_count.completion": 30})
    h.post(client, h.body(agent, h.span(trace=1, span=2, parent=1, start_ms=1, model="gpt-4o", tokens=(100, 20)),
                          h.span(trace=1, span=3, parent=1, start_ms=2, model="gpt-4o", tokens=(50, 10))))

    assert trace_summary()["tokens"] == (150, 30, 180)


# --- partial success -----------------------------------------------------------------------


def test_invalid_spans_are_rejected_and_the_valid_ones_stored(client):
    good = h.span(trace=1, span=1, name="good")
    short_trace = h.span(trace=b"\x01" * 8, span=2, name="short trace id")
    zero_trace = h.span(trace=b"\x00" * 16, span=3, name="zero trace id")
    zero_span = h.span(trace=1, span=b"\x00" * 8, name="zero span id")
    long_span = h.span(trace=1, span=b"\x01" * 9, name="long span id")

    response = h.post(client, h.body(good, short_trace, zero_trace, zero_span, long_span))

    assert response.status_code == 200
    partial = export_response(response).partial_success
    assert partial.rejected_spans == 4
    assert partial.error_message == (
        "rejected 4 of 5 spans; 1 span: trace_id must be 16 bytes; 1 span: trace_id is all zeros; "
        "1 span: span_id is all zeros; 1 span: span_id must be 8 bytes"
    )
    assert list(Span.objects.values_list("name", flat=True)) == ["good"]


def test_json_partial_success_names_the_problem(client):
    document = {"resourceSpans": [{"scopeSpans": [{"spans": [
        {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174", "name": "ok"},
        {"traceId": "xyz", "spanId": "eee19b7ec3c1b174", "name": "bad id"},
        {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b175", "name": "bad time",
         "startTimeUnixNano": "soon"},
    ]}]}]}
    response = h.post(client, json.dumps(document), content_type=h.JSON)

    assert response.status_code == 200
    assert response.json() == {"partialSuccess": {
        "rejectedSpans": "2",
        "errorMessage": "rejected 2 of 3 spans; 1 span: traceId must be 32 hex digits; "
                        "1 span: startTimeUnixNano must be an integer, got 'soon'",
    }}
    assert list(Span.objects.values_list("name", flat=True)) == ["ok"]


# --- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload, fragment",
    [
        (h.body(h.span())[:-7], "not a valid protobuf"),
        (os.urandom(4096), "not a valid protobuf"),
    ],
    ids=["truncated protobuf", "random bytes"],
)
def test_undecodable_protobuf_is_a_400_with_an_rpc_status(client, payload, fragment):
    count = store_one_trace(client)
    response = h.post(client, payload)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/x-protobuf"
    assert fragment in rpc_status(response).message
    assert rpc_status(response).code == 3  # INVALID_ARGUMENT
    assert (Span.objects.count(), Trace.objects.count()) == count


@pytest.mark.parametrize(
    "payload, message",
    [
        (b'{"resourceSpans": [', "the body is not valid JSON"),
        (b"[1, 2]", "the JSON body must be an ExportTraceServiceRequest object"),
        (b'{"resourceSpans": {"a": 1}}', "resourceSpans must be a list"),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": 5}]}]}', "spans must be a list"),
        (b'{"resourceSpans": [{"resource": {"attributes": 7}}]}', "resource attributes: attributes must be a list"),
        (b"\xff\xfe{}", "not valid"),
    ],
    ids=["invalid json", "array", "resourceSpans object", "spans number", "resource attributes", "not utf-8"],
)
def test_json_of_the_wrong_shape_is_a_400_that_says_what_is_wrong(client, payload, message):
    count = store_one_trace(client)
    response = h.post(client, payload, content_type=h.JSON)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert message in response.json()["message"]
    assert (Span.objects.count(), Trace.objects.count()) == count


def test_a_json_span_of_the_wrong_shape_is_rejected_alone(client):
    document = {"resourceSpans": [{"scopeSpans": [{"spans": [
        "not a span",
        {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174", "name": "ok",
         "attributes": [{"key": "x", "value": {"intValue": "NaN"}}]},
        {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b176", "name": "fine"},
    ]}]}]}
    response = h.post(client, json.dumps(document), content_type=h.JSON)

    assert response.json()["partialSuccess"]["rejectedSpans"] == "2"
    assert list(Span.objects.values_list("name", flat=True)) == ["fine"]


def test_json_nested_deeper_than_protobuf_allows_rejects_that_span(client):
    value = {"stringValue": "leaf"}
    for _ in range(40):
        value = {"kvlistValue": {"values": [{"key": "k", "value": value}]}}
    document = {"resourceSpans": [{"scopeSpans": [{"spans": [
        {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174", "name": "deep",
         "attributes": [{"key": "deep", "value": value}]},
        {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b175", "name": "shallow"},
    ]}]}]}
    response = h.post(client, json.dumps(document), content_type=h.JSON)

    assert response.status_code == 200
    assert "nests deeper than 32 levels" in response.json()["partialSuccess"]["errorMessage"]
    assert list(Span.objects.values_list("name", flat=True)) == ["shallow"]


def _field(number, payload):
    """One length-delimited protobuf field, encoded by hand: the protobuf classes refuse to build
    a message nested this deep, but a client on the wire can send one."""
    length, size = bytearray(), len(payload)
    while True:
        length.append((size & 0x7F) | (0x80 if size > 0x7F else 0))
        size >>= 7
        if not size:
            break
    return bytes([number << 3 | 2]) + bytes(length) + payload


def test_protobuf_nested_deeper_than_its_parser_allows_is_a_400(client):
    value = _field(1, b"leaf")  # AnyValue.string_value
    for _ in range(40):  # AnyValue.kvlist_value -> KeyValueList.values -> KeyValue{key, value}
        value = _field(6, _field(1, _field(1, b"k") + _field(2, value)))
    span = h.span(trace=5).SerializeToString() + _field(9, _field(1, b"deep") + _field(2, value))
    payload = _field(1, _field(2, _field(2, span)))  # request.resource_spans.scope_spans.spans
    count = store_one_trace(client)
    response = h.post(client, payload)

    assert response.status_code == 400
    assert "deeper than protobuf's limit" in rpc_status(response).message
    assert (Span.objects.count(), Trace.objects.count()) == count


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", ""])
def test_other_content_types_are_a_415(client, content_type):
    count = store_one_trace(client)
    response = client.post("/v1/traces", h.body(h.span(trace=5)), content_type=content_type)

    assert response.status_code == 415
    assert "application/x-protobuf or application/json" in response.json()["message"]
    assert (Span.objects.count(), Trace.objects.count()) == count


def test_an_unknown_content_encoding_is_a_415(client):
    response = h.post(client, h.body(h.span()), content_encoding="br")

    assert response.status_code == 415
    assert "Content-Encoding 'br'" in rpc_status(response).message


def test_corrupt_gzip_is_a_400(client):
    response = h.post(client, b"\x1f\x8b\x08\x00garbage", content_encoding="gzip")

    assert response.status_code == 400
    assert "not valid gzip data" in rpc_status(response).message


def test_a_gzip_bomb_stops_at_the_limit_with_a_413(client, settings):
    settings.MSGTRACE_MAX_BODY_BYTES = 1024 * 1024
    bomb = h.gz(b"\x00" * (64 * 1024 * 1024))
    assert len(bomb) < 100_000
    count = store_one_trace(client)

    response = h.post(client, bomb, content_encoding="gzip")

    assert response.status_code == 413
    assert "over the limit of 1048576 bytes" in rpc_status(response).message
    assert (Span.objects.count(), Trace.objects.count()) == count


def test_a_body_over_the_limit_is_a_413(client, settings):
    settings.MSGTRACE_MAX_BODY_BYTES = 1000
    response = h.post(client, h.body(h.span(attributes={"pad": "x" * 2000})))

    assert response.status_code == 413
    assert "MSGTRACE_MAX_BODY_BYTES" in rpc_status(response).message
    assert Span.objects.count() == 0


@pytest.mark.parametrize("method", ["get", "put", "delete", "patch"])
def test_other_methods_are_a_405(client, method):
    response = getattr(client, method)("/v1/traces")

    assert response.status_code == 405
    assert response["Allow"] == "POST"


class TestIngestKeys:
    @pytest.fixture(autouse=True)
    def keys(self, settings):
        settings.MSGTRACE_INGEST_KEYS = ["first-key", "second-key"]

    @pytest.mark.parametrize("headers", [
        {"authorization": "Bearer second-key"},
        {"authorization": "bearer first-key"},
        {"x-api-key": "first-key"},
    ])
    def test_a_known_key_as_bearer_token_or_api_key_is_accepted(self, client, headers):
        assert h.post(client, h.body(h.span()), **headers).status_code == 200
        assert Span.objects.count() == 1

    @pytest.mark.parametrize("headers", [{}, {"authorization": "Bearer wrong"}, {"x-api-key": "first"},
                                         {"authorization": "Basic Zmlyc3Qta2V5"}])
    def test_a_missing_or_unknown_key_is_a_401_and_stores_nothing(self, client, headers):
        response = h.post(client, h.body(h.span()), **headers)

        assert response.status_code == 401
        assert "ingest key" in rpc_status(response).message
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert Span.objects.count() == 0
