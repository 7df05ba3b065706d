"""The captured corpus (tests/corpus, see its README): real requests from msgtrace-sdk 1.2.0, msgflux 0.5.1
and the OpenTelemetry Python SDK 1.45.2, posted exactly as the clients sent them (path, content type,
content encoding), must be accepted whole and stored with the spans, tree and normalized fields they carry.

Expected values come from reading the files with the protobuf classes (or json for OTLP/JSON), never from
msgtrace's own decoder, so that the decoder is under test too.
"""

import base64
import gzip
import json
from collections import Counter

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests.helpers import CORPUS, corpus_requests, post_corpus
from traces.models import Resource, Scope, Span, SpanEvent, SpanKind, SpanLink, StatusCode, Trace

pytestmark = pytest.mark.django_db

# The README's table: file -> (spans, distinct traces, spans with status ERROR).
README_TABLE = {
    "msgtrace-sdk/001.bin": (1, 1, 0),
    "msgtrace-sdk/002.bin": (2, 2, 0),
    "msgtrace-sdk/003.bin": (3, 3, 0),
    "msgtrace-sdk/004.bin": (4, 4, 0),
    "msgtrace-sdk/005.bin": (4, 4, 0),
    "msgtrace-sdk/006.bin": (5, 5, 4),
    "msgtrace-sdk/007.bin": (8, 2, 1),
    "msgtrace-sdk/008.bin": (1, 1, 0),
    "msgtrace-sdk/009.bin": (512, 1, 0),
    "msgtrace-sdk/010.bin": (512, 1, 0),
    "msgtrace-sdk/011.bin": (177, 1, 0),
    "msgtrace-sdk/012.bin": (1, 1, 0),
    "msgtrace-sdk/013.bin": (1, 1, 0),
    "msgtrace-sdk/014.bin.gz": (8, 2, 1),
    "msgflux/001.bin": (1, 1, 0),
    "msgflux/002.bin": (3, 3, 0),
    "msgflux/003.bin": (8, 8, 0),
    "msgflux/004.bin": (8, 8, 1),
    "msgflux/005.bin": (3, 3, 3),
    "msgflux/006.bin": (11, 11, 0),
    "msgflux/007.bin": (7, 7, 0),
    "msgflux/008.bin": (1, 1, 1),
    "msgflux/009.bin": (6, 6, 0),
    "msgflux/010.bin": (3, 3, 0),
    "otel-python/001.bin": (10, 4, 2),
    "otel-python/002.bin.gz": (10, 4, 2),
    "otel-python/003.bin": (1, 1, 0),
    "otel-python/004.bin": (1, 1, 1),
    "otel-python/005.bin": (1, 1, 0),
    "otel-python/006.bin": (2, 1, 0),
    "otel-python-json/001.json": (10, 4, 2),
    "otel-python-json/002.json.gz": (10, 4, 2),
}
ALL_FILES = [name for name, _, _ in corpus_requests()]
KITCHEN_SINKS = {
    # file -> the service.name its generator gave it
    "otel-python/001.bin": "kitchen-sink",
    "otel-python/002.bin.gz": "kitchen-sink-gzip",
    "otel-python-json/001.json": "kitchen-sink-json",
    "otel-python-json/002.json.gz": "kitchen-sink-json-gzip",
}
# W3C's example trace id: every kitchen-sink capture continues this remote trace, each with its own span.
REMOTE_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
REMOTE_PARENT_ID = "00f067aa0ba902b7"
INT_BEYOND_2_53 = -9007199254740993  # -(2**53 + 1): a float would make it -9007199254740992


# ---------------------------------------------------------------------------------------------
# Reading the captures independently of traces.otlp


def raw_body(name):
    folder, file = name.split("/")
    data = (CORPUS / folder / file).read_bytes()
    return gzip.decompress(data) if file.endswith(".gz") else data


def raw_spans(name):
    """Every span of a capture as a plain dict, read with the protobuf classes or json."""
    spans = []
    if ".json" in name:
        document = json.loads(raw_body(name))
        for resource_spans in document["resourceSpans"]:
            service = _json_service(resource_spans["resource"])
            for scope_spans in resource_spans["scopeSpans"]:
                for span in scope_spans["spans"]:
                    status = span.get("status", {})
                    spans.append(
                        {
                            "trace_id": span["traceId"],
                            "span_id": span["spanId"],
                            "parent_span_id": span.get("parentSpanId", ""),
                            "name": span["name"],
                            "kind": span["kind"],
                            "start_ns": int(span["startTimeUnixNano"]),
                            "end_ns": int(span["endTimeUnixNano"]),
                            "status_code": status.get("code", 0),
                            "status_message": status.get("message", ""),
                            "trace_state": span.get("traceState", ""),
                            "flags": span.get("flags", 0),
                            "attribute_keys": sorted(kv["key"] for kv in span.get("attributes", [])),
                            "events": [e["name"] for e in span.get("events", [])],
                            "links": [(link["traceId"], link["spanId"]) for link in span.get("links", [])],
                            "scope": scope_spans["scope"].get("name", ""),
                            "service_name": service,
                        }
                    )
        return spans
    request = ExportTraceServiceRequest.FromString(raw_body(name))
    for resource_spans in request.resource_spans:
        service = next(
            (kv.value.string_value for kv in resource_spans.resource.attributes if kv.key == "service.name"), ""
        )
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    {
                        "trace_id": span.trace_id.hex(),
                        "span_id": span.span_id.hex(),
                        "parent_span_id": span.parent_span_id.hex(),
                        "name": span.name,
                        "kind": span.kind,
                        "start_ns": span.start_time_unix_nano,
                        "end_ns": span.end_time_unix_nano,
                        "status_code": span.status.code,
                        "status_message": span.status.message,
                        "trace_state": span.trace_state,
                        "flags": span.flags,
                        "attribute_keys": sorted(kv.key for kv in span.attributes),
                        "events": [e.name for e in span.events],
                        "links": [(link.trace_id.hex(), link.span_id.hex()) for link in span.links],
                        "scope": scope_spans.scope.name,
                        "service_name": service,
                    }
                )
    return spans


def _json_service(resource):
    for kv in resource.get("attributes", []):
        if kv["key"] == "service.name":
            return kv["value"]["stringValue"]
    return ""


def stored_as_raw(span):
    return {
        "trace_id": span.trace.trace_id,
        "span_id": span.span_id,
        "parent_span_id": span.parent_span_id,
        "name": span.name,
        "kind": span.kind,
        "start_ns": span.start_ns,
        "end_ns": span.end_ns,
        "status_code": span.status_code,
        "status_message": span.status_message,
        "trace_state": span.trace_state,
        "flags": span.flags,
        "attribute_keys": sorted(span.attributes),
        "events": [e.name for e in span.events.order_by("position")],
        "links": [(link.linked_trace_id, link.linked_span_id) for link in span.links.order_by("position")],
        "scope": span.scope.name,
        "service_name": span.service_name,
    }


def post_ok(client, name):
    """Posts a capture as its client did; the answer must be a full success in the request's encoding."""
    response = post_corpus(client, name)
    assert response.status_code == 200, response.content
    if ".json" in name:
        assert response["Content-Type"] == "application/json"
        assert json.loads(response.content) == {}
    else:
        assert response["Content-Type"] == "application/x-protobuf"
        answer = ExportTraceServiceResponse.FromString(response.content)
        assert not answer.HasField("partial_success")
    return response


def span(name, **filters):
    return Span.objects.select_related("trace", "scope", "resource").get(name=name, **filters)


def events(span_row):
    return [(e.name, e.attributes) for e in span_row.events.order_by("position")]


def trace_of(span_row):
    span_row.trace.refresh_from_db()
    return span_row.trace


# ---------------------------------------------------------------------------------------------
# Every file


def test_the_readme_table_lists_every_captured_file():
    assert sorted(README_TABLE) == sorted(ALL_FILES)


@pytest.mark.parametrize("name", ALL_FILES)
def test_every_captured_request_is_stored_whole_with_the_spans_the_readme_lists(client, name):
    span_total, trace_total, error_total = README_TABLE[name]
    raw = raw_spans(name)
    assert len(raw) == span_total
    assert len({s["trace_id"] for s in raw}) == trace_total

    post_ok(client, name)

    stored = [stored_as_raw(s) for s in Span.objects.select_related("trace", "scope")]
    key = lambda s: (s["trace_id"], s["span_id"])  # noqa: E731
    assert sorted(stored, key=key) == sorted(raw, key=key)
    assert Trace.objects.count() == trace_total
    assert Span.objects.filter(status_code=StatusCode.ERROR).count() == error_total
    assert sum(Trace.objects.values_list("error_count", flat=True)) == error_total
    assert Trace.objects.filter(status="error").count() == len(
        {s["trace_id"] for s in raw if s["status_code"] == StatusCode.ERROR}
    )
    per_trace = Counter(s["trace_id"] for s in raw)
    assert dict(Trace.objects.values_list("trace_id", "span_count")) == dict(per_trace)
    assert SpanEvent.objects.count() == sum(len(s["events"]) for s in raw)
    assert SpanLink.objects.count() == sum(len(s["links"]) for s in raw)


def test_the_whole_corpus_posted_in_file_order_is_stored_once(client):
    for name in ALL_FILES:
        post_ok(client, name)

    assert Span.objects.count() == 1335
    # The four kitchen sinks hold 4 traces each but share W3C's remote trace id (13, not 16); msgtrace-sdk
    # 009-011 are one trace, and so are otel-python 003-005.
    assert Trace.objects.count() == 93
    assert Span.objects.filter(status_code=StatusCode.ERROR).count() == 20
    # msgtrace-sdk and msgflux share one resource (same service and platform); each kitchen sink has its own.
    assert sorted(Resource.objects.values_list("attributes__service.name", flat=True)) == sorted(
        ["msgtrace-app", "support-bot", "hand-instrumented-agent", "autoconf-http", *KITCHEN_SINKS.values()]
    )
    assert sorted(Scope.objects.values_list("name", "version")) == [
        ("autoconf.demo", ""),
        ("kitchen.sink", "1.2.3"),
        ("msgtrace.sdk", "0.1.0"),
        ("my.agent", ""),
        ("my.web.app", ""),
        ("opentelemetry.instrumentation.openai.v1", "0.62.4"),
        ("second.scope", ""),
    ]
    remote = Trace.objects.get(trace_id=REMOTE_TRACE_ID)
    assert remote.span_count == 4
    assert remote.has_root is False
    assert remote.root_span_name == "child of remote parent"
    assert remote.service_name == "kitchen-sink"  # the earliest of the four captures
    assert set(remote.spans.values_list("service_name", flat=True)) == set(KITCHEN_SINKS.values())
    assert set(remote.spans.values_list("parent_span_id", flat=True)) == {REMOTE_PARENT_ID}


def test_posting_the_whole_corpus_twice_stores_nothing_twice_and_changes_no_trace(client):
    for name in ALL_FILES:
        post_ok(client, name)
    traces_before = list(Trace.objects.order_by("trace_id").values())
    counts_before = [m.objects.count() for m in (Span, SpanEvent, SpanLink, Resource, Scope)]
    spans_before = list(Span.objects.order_by("id").values())

    for name in ALL_FILES:
        post_ok(client, name)

    assert list(Trace.objects.order_by("trace_id").values()) == traces_before
    assert [m.objects.count() for m in (Span, SpanEvent, SpanLink, Resource, Scope)] == counts_before
    assert counts_before[0] == 1335
    assert list(Span.objects.order_by("id").values()) == spans_before


# ---------------------------------------------------------------------------------------------
# msgtrace-sdk 1.2.0


MSGTRACE_RESOURCE = {
    "service.name": "msgtrace-app",
    "platform.system": "Linux",
    "platform.release": "6.18.44-fc-v669",
    "platform.machine": "x86_64",
    "python.version": "3.11.7",
}


def test_msgtrace_quick_start_span_keeps_only_its_name_because_setters_are_dropped(client):
    post_ok(client, "msgtrace-sdk/001.bin")

    chat = span("chat_completion")
    assert chat.kind == SpanKind.INTERNAL
    assert chat.attributes == {}
    assert chat.parent_span_id == ""
    assert chat.category == "other"
    assert chat.model == "" and chat.input_tokens is None and chat.total_cost is None
    assert (chat.scope.name, chat.scope.version, chat.scope.attributes) == ("msgtrace.sdk", "0.1.0", {})
    # Resource(...) and not Resource.create: no telemetry.sdk.* attributes.
    assert chat.resource.attributes == MSGTRACE_RESOURCE
    assert chat.service_name == "msgtrace-app"
    trace = trace_of(chat)
    assert (trace.root_span_name, trace.has_root, trace.service_name) == ("chat_completion", True, "msgtrace-app")
    assert (trace.span_count, trace.error_count, trace.status) == (1, 0, "ok")
    assert trace.start_ns == 1795597150926562285 and trace.end_ns == 1795597150926576476
    assert trace.duration_ms == pytest.approx(0.014191)


def test_msgtrace_span_context_kwargs_become_usage_and_cost_with_a_derived_total(client):
    post_ok(client, "msgtrace-sdk/002.bin")

    assert span("chat_completion").attributes == {}
    chat = span("chat_completion_with_kwargs")
    assert chat.attributes == {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-5",
        "gen_ai.usage.input_tokens": 10,
        "gen_ai.usage.output_tokens": 50,
        "gen_ai.usage.cost.input_tokens": 0.0015,
        "gen_ai.usage.cost.output_tokens": 0.0005,
        "gen_ai.usage.cost.currency": "USD",
    }
    assert (chat.category, chat.model, chat.operation) == ("llm", "gpt-5", "chat")
    assert (chat.input_tokens, chat.output_tokens, chat.total_tokens) == (10, 50, 60)
    assert (chat.input_cost, chat.output_cost, chat.currency) == (0.0015, 0.0005, "USD")
    assert chat.total_cost == pytest.approx(0.002, rel=1e-12)
    trace = trace_of(chat)
    assert (trace.input_tokens, trace.output_tokens, trace.total_tokens) == (10, 50, 60)
    assert trace.total_cost == pytest.approx(0.002, rel=1e-12)
    assert trace.models_used == ["gpt-5"]
    assert Trace.objects.exclude(pk=trace.pk).get().total_tokens == 0


def test_msgtrace_flow_and_modules_without_use_span_are_three_unrelated_root_traces(client):
    post_ok(client, "msgtrace-sdk/003.bin")

    rows = {s.name: s for s in Span.objects.select_related("trace")}
    assert set(rows) == {"research_flow", "tool_search", "llm_synthesis"}
    assert {s.parent_span_id for s in rows.values()} == {""}
    assert len({s.trace_id for s in rows.values()}) == 3
    flow = rows["research_flow"]
    assert (flow.kind, flow.category, flow.workflow_name, flow.module_name) == (
        SpanKind.SERVER, "workflow", "research_flow", ""
    )
    for name in ("tool_search", "llm_synthesis"):
        module = rows[name]
        assert module.attributes == {"span.type": "module"}
        assert (module.kind, module.category, module.module_name, module.workflow_name) == (
            SpanKind.INTERNAL, "module", name, ""
        )
    assert dict(Trace.objects.values_list("root_span_name", "workflow_name")) == {
        "research_flow": "research_flow",
        "tool_search": "",
        "llm_synthesis": "",
    }
    assert set(Trace.objects.values_list("has_root", flat=True)) == {True}


def test_msgtrace_decorators_keep_only_instrument_kwargs(client):
    post_ok(client, "msgtrace-sdk/004.bin")

    for name in ("database_search", "calculate_price", "llm_ask"):
        assert (span(name).attributes, span(name).category) == ({}, "other")
    ranker = span("ranker")
    assert ranker.attributes == {
        "module.type": "Retriever",
        "retriever.top_k": 5,
        "retriever.rerank": True,
        "retriever.score_threshold": 0.35,
    }
    assert (ranker.category, ranker.module_type, ranker.module_name) == ("retriever", "Retriever", "")


def test_msgtrace_async_spans_keep_their_overlapping_times_and_the_flow_workflow_name(client):
    post_ok(client, "msgtrace-sdk/005.bin")

    flow = span("async_flow")
    assert flow.attributes == {"span.type": "flow", "workflow.name": "async_flow"}
    assert (flow.kind, flow.category, flow.workflow_name) == (SpanKind.SERVER, "workflow", "async_flow")
    search = span("async_vector_search")
    assert (search.category, search.module_name, search.module_type) == (
        "retriever", "async_vector_search", "Retriever"
    )
    assert search.duration_ns == 1795597153841245373 - 1795597153831094281
    chat = span("async_chat")
    assert flow.start_ns < chat.start_ns < search.start_ns < search.end_ns < chat.end_ns < flow.end_ns
    assert trace_of(flow).workflow_name == "async_flow"


def test_msgtrace_errors_carry_status_message_and_one_exception_event(client):
    post_ok(client, "msgtrace-sdk/006.bin")

    expected = {
        "llm_call": ("429 Too Many Requests: rate limit exceeded for gpt-5", "__main__.RateLimitError"),
        "failing_flow": ("429 Too Many Requests: rate limit exceeded for gpt-5", "__main__.RateLimitError"),
        "tool_divide": ("division by zero", "ZeroDivisionError"),
        "async_fetch": ("upstream timed out after 30s", "TimeoutError"),
    }
    for name, (message, exception_type) in expected.items():
        row = span(name)
        assert (row.status_code, row.status_message) == (StatusCode.ERROR, message)
        [(event_name, attributes)] = events(row)
        assert event_name == "exception"
        assert set(attributes) == {"exception.type", "exception.message", "exception.stacktrace", "exception.escaped"}
        assert (attributes["exception.type"], attributes["exception.message"]) == (exception_type, message)
        assert attributes["exception.escaped"] == "False"  # a string in Python SDK 1.45
        assert attributes["exception.stacktrace"].startswith("Traceback (most recent call last):\n")
        assert attributes["exception.stacktrace"].endswith(f"{message}\n")
        trace = trace_of(row)
        assert (trace.error_count, trace.status) == (1, "error")
    handled = span("handled_error")
    assert (handled.status_code, handled.status_message, events(handled)) == (StatusCode.UNSET, "", [])
    assert handled.attributes == {"error.handled": True, "error.type": "ValueError"}
    assert (trace_of(handled).error_count, trace_of(handled).status) == (0, "ok")
    assert (span("llm_call").model, span("llm_call").module_name) == ("gpt-5", "llm_call")
    assert (span("tool_divide").category, span("tool_divide").tool_name) == ("tool", "divide")


@pytest.mark.parametrize("name", ["msgtrace-sdk/007.bin", "msgtrace-sdk/014.bin.gz"])
def test_msgtrace_use_span_builds_a_tree_with_every_setter_and_event(client, name):
    post_ok(client, name)

    flow = span("support_flow")
    agent = span("weather_agent")
    assert flow.parent_span_id == ""
    assert agent.parent_span_id == flow.span_id
    children = Span.objects.filter(parent_span_id=agent.span_id).order_by("start_ns")
    assert [c.name for c in children] == [
        "chat gpt-5", "get_weather", "chat gpt-5", "embeddings text-embedding-3-small", "get_forecast"
    ]
    assert {c.trace_id for c in children} == {flow.trace_id}
    # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES are ignored by msgtrace-sdk (014): the resource is its own.
    assert flow.resource.attributes == {"service.name": "support-bot"}

    assert flow.attributes == {
        "span.type": "flow",
        "workflow.name": "support_flow",
        "workflow.id": "wf_8f2c",
        "workflow.step": "triage",
        "user.id": "user_456",
        "session.id": "session_789",
        "environment": "staging",
        "version": "2.3.1",
        "module.name": "SupportFlow",
        "module.type": "Workflow",
        "business_metric": 99.9,
        "tags": '["weather", "fr"]',
        "metadata": '{"key": "value", "nested": {"n": 1}}',
        "feature_flag.enabled": True,
        "tenant.num_seats": 42,
    }
    assert (flow.category, flow.workflow_name, flow.user_id, flow.session_id) == (
        "workflow", "support_flow", "user_456", "session_789"
    )
    assert (flow.module_name, flow.module_type) == ("SupportFlow", "Workflow")
    assert events(flow) == [
        ("gen_ai.flow.step", {"step_number": 1, "plan": "route to agent"}),
        ("gen_ai.flow.reasoning", {"reasoning": "Agent answered; done.", "step": 2}),
        ("gen_ai.flow.complete", {"status": "ok", "step": 2}),
        ("custom.checkpoint", {"stage": "final", "payload": '{"a": 1}'}),
        ("gen_ai.module.complete", {"module": "SupportFlow"}),
    ]

    assert (agent.category, agent.agent_name, agent.module_name, agent.module_type, agent.operation) == (
        "agent", "weather_agent", "WeatherAgent", "Agent", "agent"
    )
    assert agent.attributes["gen_ai.agent.response"] == (
        '{"answer": "Il fait beau \\u00e0 Paris : 22 \\u00b0C et ensoleill\\u00e9 \\u2600\\ufe0f"}'
    )
    assert [name for name, _ in events(agent)] == ["gen_ai.agent.start", "gen_ai.agent.step", "gen_ai.agent.complete"]

    first_chat, second_chat = children[0], children[2]
    assert (first_chat.category, first_chat.model, first_chat.response_model, first_chat.provider) == (
        "llm", "gpt-5", "gpt-5-2025-08-07", "openai"
    )
    assert (first_chat.input_tokens, first_chat.output_tokens, first_chat.total_tokens) == (120, 24, 144)
    assert (first_chat.input_cost, first_chat.output_cost, first_chat.currency) == (0.00015, 0.00024, "USD")
    assert first_chat.total_cost == pytest.approx(0.00039, rel=1e-12)
    assert first_chat.attributes["gen_ai.response.finish_reasons"] == ["tool_calls"]
    assert first_chat.attributes["gen_ai.request.temperature"] == 0.2
    assert first_chat.attributes["gen_ai.request.presence_penalty"] == 0.0
    assert first_chat.attributes["gen_ai.request.max_tokens"] == 512
    assert first_chat.attributes["cache.hit"] is False
    assert json.loads(first_chat.attributes["gen_ai.prompt"])[1] == {
        "role": "user",
        "content": "What's the weather in Paris? Answer in French.",
    }
    assert [name for name, _ in events(first_chat)] == [
        "gen_ai.model.request", "gen_ai.model.reasoning", "gen_ai.model.response.chunk",
        "gen_ai.model.response.chunk", "gen_ai.model.response",
    ]
    assert events(first_chat)[3] == ("gen_ai.model.response.chunk", {"chunk": " vais", "index": 1})
    assert (second_chat.input_tokens, second_chat.output_tokens, second_chat.total_tokens) == (160, 20, 180)
    assert (second_chat.input_cost, second_chat.output_cost, second_chat.currency) == (0.0002, 0.0002, "EUR")
    assert second_chat.attributes["gen_ai.completion"] == "Il fait beau à Paris : 22 °C et ensoleillé ☀️"

    tool = children[1]
    assert (tool.category, tool.tool_name, tool.module_name, tool.module_type) == (
        "tool", "get_weather", "GetWeather", "Tool"
    )
    assert events(tool) == [
        ("gen_ai.tool.call", {"tool_name": "get_weather", "tool_id": "call_1", "arguments": '{"city": "Paris"}', "step": 1}),
        ("gen_ai.tool.result", {"tool_name": "get_weather", "tool_id": "call_1",
                                "result": '{"city": "Paris", "temp_c": 22, "sky": "sunny"}', "step": 1}),
    ]
    embedding = children[3]
    assert (embedding.category, embedding.model, embedding.input_tokens, embedding.output_tokens) == (
        "embedding", "text-embedding-3-small", 12, None
    )
    assert embedding.total_tokens == 12
    failing = children[4]
    assert (failing.status_code, failing.status_message, failing.tool_name) == (
        StatusCode.ERROR, "HTTP 503 from weather API", "get_forecast"
    )
    assert [name for name, _ in events(failing)] == ["gen_ai.tool.error", "exception"]
    assert events(failing)[0][1] == {
        "tool_name": "get_forecast", "tool_id": "call_2", "error": "HTTP 503 from weather API", "step": 2
    }
    assert events(failing)[1][1]["exception.type"] == "ConnectionError"

    trace = trace_of(flow)
    assert (trace.span_count, trace.error_count, trace.status, trace.has_root) == (7, 1, "error", True)
    assert (trace.root_span_name, trace.workflow_name, trace.service_name) == (
        "support_flow", "support_flow", "support-bot"
    )
    assert (trace.user_id, trace.session_id) == ("user_456", "session_789")
    # The two chats and the embedding; the agent and flow repeat nothing.
    assert (trace.input_tokens, trace.output_tokens, trace.total_tokens) == (292, 44, 336)
    assert trace.total_cost == pytest.approx(0.00039 + 0.0004, rel=1e-12)
    assert trace.models_used == ["gpt-5", "text-embedding-3-small"]
    assert (trace.start_ns, trace.end_ns) == (flow.start_ns, flow.end_ns)

    streamed = span("streamed_flow")
    assert streamed.trace_id != flow.trace_id
    assert events(streamed) == [
        ("gen_ai.agent.start", {"agent_name": "streamer"}),
        ("gen_ai.model.response.chunk", {"chunk": "Hello", "index": 0}),
        ("gen_ai.model.response.chunk", {"chunk": " world", "index": 1}),
        ("gen_ai.agent.complete", {"agent_name": "streamer"}),
    ]
    assert trace_of(streamed).workflow_name == "streamed_flow"


def test_msgtrace_module_span_with_operation_tool_is_a_tool(client):
    post_ok(client, "msgtrace-sdk/007.bin")

    failing = span("get_forecast")
    assert failing.attributes == {
        "span.type": "module",
        "gen_ai.operation.name": "tool",
        "gen_ai.tool.name": "get_forecast",
    }
    assert failing.category == "tool"


def test_msgtrace_large_request_keeps_a_270k_char_prompt_whole_and_bytes_as_base64(client):
    request = ExportTraceServiceRequest.FromString(raw_body("msgtrace-sdk/008.bin"))
    sent = {kv.key: kv.value for kv in request.resource_spans[0].scope_spans[0].spans[0].attributes}

    post_ok(client, "msgtrace-sdk/008.bin")

    chat = span("chat gpt-5-vision")
    prompt = chat.attributes["gen_ai.prompt"]
    assert len(prompt) == 269_597
    assert prompt == sent["gen_ai.prompt"].string_value
    assert "data:image/png;base64," in prompt
    assert "truncated by msgtrace" not in prompt
    assert len(chat.attributes["gen_ai.completion"]) == 100_000
    assert chat.attributes["gen_ai.completion"] == sent["gen_ai.completion"].string_value
    assert len(chat.attributes["gen_ai.tool.response"]) == 142_900
    assert chat.attributes["gen_ai.tool.response"] == sent["gen_ai.tool.response"].string_value
    thumbnail = sent["image.thumbnail"].bytes_value
    assert len(thumbnail) == 64
    assert chat.attributes["image.thumbnail"] == {"$bytes": base64.b64encode(thumbnail).decode("ascii")}
    assert chat.attributes["image.thumbnail"] == {
        "$bytes": "iVBORw0KGgpS8iZlpgwS0okYXZUO6IE2CRZvaxE9F41sD9OQH/I5oaCV8g+TlWUM+TgLjtsiSmskih6STo/Qrg=="
    }
    assert (chat.category, chat.model, chat.input_tokens, chat.output_tokens, chat.total_tokens) == (
        "llm", "gpt-5", 85_000, 25_000, 110_000
    )
    assert (chat.input_cost, chat.output_cost, chat.total_cost, chat.currency) == (0.2125, 0.25, 0.4625, "USD")
    trace = trace_of(chat)
    assert (trace.total_tokens, trace.total_cost, trace.models_used) == (110_000, 0.4625, ["gpt-5"])


def test_msgtrace_trace_split_over_three_requests_with_the_root_last_becomes_one_trace(client):
    post_ok(client, "msgtrace-sdk/009.bin")
    trace = Trace.objects.get()
    assert trace.trace_id == "4fbb216b1f67570ff8ce2d0e431939ed"
    assert (trace.span_count, trace.has_root, trace.root_span_name) == (512, False, "step_00")
    assert (trace.workflow_name, trace.service_name, trace.status) == ("", "msgtrace-app", "ok")
    assert (trace.input_tokens, trace.output_tokens, trace.total_tokens) == (11_853, 2_475, 14_328)
    assert (trace.start_ns, trace.end_ns) == (1795597156674068857, 1795597156686058009)

    post_ok(client, "msgtrace-sdk/010.bin")
    trace.refresh_from_db()
    assert (trace.span_count, trace.has_root, trace.root_span_name) == (1024, False, "step_00")
    assert (trace.input_tokens, trace.output_tokens, trace.total_tokens) == (23_710, 4_950, 28_660)
    assert (trace.start_ns, trace.end_ns) == (1795597156674068857, 1795597156703893730)

    post_ok(client, "msgtrace-sdk/011.bin")
    trace.refresh_from_db()
    assert Trace.objects.count() == 1
    assert (trace.span_count, trace.has_root, trace.root_span_name) == (1201, True, "bulk_flow")
    assert (trace.workflow_name, trace.service_name, trace.error_count, trace.status) == (
        "bulk_flow", "msgtrace-app", 0, "ok"
    )
    assert (trace.input_tokens, trace.output_tokens, trace.total_tokens) == (27_840, 5_800, 33_640)
    assert trace.total_cost == pytest.approx(1160 * 3e-05, rel=1e-9)
    assert trace.models_used == ["gpt-5-mini"]
    assert (trace.start_ns, trace.end_ns) == (1795597156674005552, 1795597156719954616)
    assert trace.duration_ms == pytest.approx((1795597156719954616 - 1795597156674005552) / 1e6)

    root = span("bulk_flow")
    assert (root.parent_span_id, root.kind, root.category, root.workflow_name) == (
        "", SpanKind.SERVER, "workflow", "bulk_flow"
    )
    steps = Span.objects.filter(parent_span_id=root.span_id)
    assert steps.count() == 40
    assert set(steps.values_list("category", flat=True)) == {"agent"}
    assert sorted(steps.values_list("name", flat=True)) == [f"step_{i:02d}" for i in range(40)]
    chats = Span.objects.filter(name="chat gpt-5-mini")
    assert chats.count() == 1160
    assert set(chats.values_list("category", flat=True)) == {"llm"}
    step_ids = set(steps.values_list("span_id", flat=True))
    assert Counter(chats.values_list("parent_span_id", flat=True)) == {step: 29 for step in step_ids}


def test_msgtrace_default_endpoint_and_bare_base_url_captures_are_both_accepted(client):
    post_ok(client, "msgtrace-sdk/012.bin")
    post_ok(client, "msgtrace-sdk/013.bin")

    probes = dict(Span.objects.filter(name="endpoint_probe").values_list("trace__trace_id", "attributes"))
    assert probes == {
        "c8103ee084c4b81b15c5f11efef546e5": {"probe.endpoint_env": "<unset>"},
        "59074737d347c34eac66cbedc51f07be": {"probe.endpoint_env": "http://127.0.0.1:4399"},
    }


# ---------------------------------------------------------------------------------------------
# msgflux 0.5.1 (msgtrace-sdk + OpenLLMetry)


MSGFLUX_FILES = [name for name in ALL_FILES if name.startswith("msgflux/")]
MSGFLUX_HELPER_SPANS = {"scatter_gather", "ascatter_gather", "await_for_event", "aspawn"}


@pytest.mark.parametrize("name", MSGFLUX_FILES)
def test_msgflux_spans_get_the_category_of_their_convention(client, name):
    post_ok(client, name)

    rows = list(Span.objects.select_related("scope", "trace"))
    assert rows
    for row in rows:
        # Every msgflux span is a root in a trace of its own.
        assert row.parent_span_id == ""
        assert row.trace.span_count == 1
        assert row.trace.root_span_name == row.name and row.trace.has_root
        assert row.service_name == "msgtrace-app"
        if row.name == "openai.chat":
            assert (row.kind, row.scope.name, row.scope.version) == (
                SpanKind.CLIENT, "opentelemetry.instrumentation.openai.v1", "0.62.4"
            )
            assert (row.category, row.provider, row.operation) == ("llm", "openai", "chat")
            assert row.model == row.attributes["gen_ai.request.model"]
            assert row.response_model == row.attributes.get("gen_ai.response.model", "")
            assert row.input_tokens == row.attributes.get("gen_ai.usage.input_tokens")
            assert row.output_tokens == row.attributes.get("gen_ai.usage.output_tokens")
            assert row.total_tokens == row.attributes.get("gen_ai.usage.total_tokens")
            assert (row.input_cost, row.output_cost, row.total_cost, row.currency) == (None, None, None, "")
            assert row.trace.models_used == [row.model]
            assert row.trace.total_tokens == (row.total_tokens or 0)
        elif row.attributes.get("span.type") == "flow":
            assert row.attributes == {"span.type": "flow"}
            assert (row.kind, row.scope.name) == (SpanKind.SERVER, "msgtrace.sdk")
            assert (row.category, row.workflow_name) == ("workflow", row.name)
            assert row.trace.workflow_name == row.name
            assert row.trace.total_tokens == 0 and row.trace.models_used == []
        elif row.name in MSGFLUX_HELPER_SPANS:
            assert (row.kind, row.category, row.attributes) == (SpanKind.INTERNAL, "other", {})
        else:
            assert name == "msgflux/008.bin" and row.name == "POST /chat"


def test_msgflux_bare_model_call_is_one_openllmetry_span_with_new_genai_keys(client):
    post_ok(client, "msgflux/001.bin")

    chat = span("openai.chat")
    assert (chat.model, chat.response_model, chat.provider, chat.operation, chat.category) == (
        "fake-plain", "fake-plain-2025-01-01", "openai", "chat", "llm"
    )
    assert (chat.input_tokens, chat.output_tokens, chat.total_tokens) == (52, 9, 61)
    assert chat.attributes["gen_ai.is_streaming"] is False
    assert chat.attributes["gen_ai.response.finish_reasons"] == ["stop"]
    assert json.loads(chat.attributes["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"content": "Say something.", "type": "text"}]}
    ]
    assert json.loads(chat.attributes["gen_ai.output.messages"]) == [
        {"role": "assistant", "parts": [{"content": "The answer is 42.", "type": "text"}], "finish_reason": "stop"}
    ]
    trace = trace_of(chat)
    assert (trace.input_tokens, trace.output_tokens, trace.total_tokens, trace.total_cost) == (52, 9, 61, 0.0)
    assert (trace.models_used, trace.workflow_name, trace.service_name) == (["fake-plain"], "", "msgtrace-app")


def test_msgflux_agent_call_is_three_unrelated_traces(client):
    post_ok(client, "msgflux/002.bin")

    assert dict(Trace.objects.values_list("root_span_name", "workflow_name")) == {
        "openai.chat": "",
        "Generator": "Generator",
        "Support Agent": "Support Agent",
    }
    assert dict(Trace.objects.values_list("root_span_name", "total_tokens")) == {
        "openai.chat": 71,
        "Generator": 0,
        "Support Agent": 0,
    }
    agent = span("Support Agent")
    assert (agent.status_code, agent.status_message, agent.kind) == (StatusCode.OK, "", SpanKind.SERVER)


def test_msgflux_tool_round_trip_records_the_tool_call_and_two_model_calls(client):
    post_ok(client, "msgflux/003.bin")

    chats = list(Span.objects.filter(name="openai.chat").order_by("start_ns"))
    assert [(c.input_tokens, c.output_tokens, c.total_tokens) for c in chats] == [(57, 18, 75), (82, 9, 91)]
    assert [c.attributes["gen_ai.response.finish_reasons"] for c in chats] == [["tool_call"], ["stop"]]
    [call] = json.loads(chats[0].attributes["gen_ai.output.messages"])[0]["parts"]
    assert call == {"type": "tool_call", "name": "get_weather", "id": "call_2c6a0d9e58c5", "arguments": {"city": "Paris"}}
    assert json.loads(chats[0].attributes["gen_ai.tool.definitions"])[0]["name"] == "get_weather"
    assert Counter(Span.objects.values_list("category", flat=True)) == {"llm": 2, "workflow": 5, "other": 1}
    assert sorted(Span.objects.filter(category="workflow").values_list("workflow_name", flat=True)) == [
        "Generator", "Generator", "Get Weather", "Weather Agent", "Weatheragent Tool Library"
    ]
    assert sum(Trace.objects.values_list("total_tokens", flat=True)) == 166


def test_msgflux_failing_tool_is_an_error_with_two_identical_exception_events_but_the_agent_is_ok(client):
    post_ok(client, "msgflux/004.bin")

    tool = span("Get Forecast")
    assert (tool.status_code, tool.status_message) == (StatusCode.ERROR, "weather API unreachable for Paris")
    first, second = events(tool)
    for event_name, attributes in (first, second):
        assert event_name == "exception"
        assert (attributes["exception.type"], attributes["exception.message"], attributes["exception.escaped"]) == (
            "ConnectionError", "weather API unreachable for Paris", "False"
        )
    # One recorded by msgflux, one by msgtrace: the second traceback has one more frame.
    assert second[1]["exception.stacktrace"].startswith(first[1]["exception.stacktrace"][:34])
    assert (trace_of(tool).error_count, trace_of(tool).status) == (1, "error")
    agent = span("Forecast Agent")
    assert (agent.status_code, trace_of(agent).status, trace_of(agent).error_count) == (StatusCode.OK, "ok", 0)
    assert Trace.objects.filter(status="error").count() == 1


def test_msgflux_provider_error_fails_the_model_call_the_generator_and_the_agent(client):
    post_ok(client, "msgflux/005.bin")

    message = "Error code: 400 - Simulated failure: model overloaded (fake)"
    chat = span("openai.chat")
    assert (chat.status_code, chat.status_message, chat.model, chat.category) == (
        StatusCode.ERROR, message, "fake-error", "llm"
    )
    assert chat.attributes["error.type"] == "BadRequestError"
    assert (chat.input_tokens, chat.output_tokens, chat.total_tokens) == (None, None, None)
    [(event_name, attributes)] = events(chat)
    assert (event_name, attributes["exception.type"], attributes["exception.message"]) == (
        "exception", "openai.BadRequestError", message
    )
    for name in ("Generator", "Failing Agent"):
        row = span(name)
        assert (row.status_code, row.status_message) == (StatusCode.ERROR, message)
        assert [(e, a["exception.type"], a["exception.message"]) for e, a in events(row)] == [
            ("exception", "openai.BadRequestError", message)
        ] * 2
    assert list(Trace.objects.values_list("error_count", "status").distinct()) == [(1, "error")]
    assert Trace.objects.count() == 3
    assert trace_of(chat).models_used == ["fake-error"]
    assert trace_of(chat).total_tokens == 0


def test_msgflux_concurrent_agents_keep_their_models_and_usage_apart(client):
    post_ok(client, "msgflux/006.bin")

    chats = Span.objects.filter(name="openai.chat").order_by("start_ns")
    assert [(c.model, c.total_tokens) for c in chats] == [("fake-tool", 75), ("fake-plain", 71), ("fake-tool", 91)]
    assert sorted(Trace.objects.exclude(models_used=[]).values_list("total_tokens", flat=True)) == [71, 75, 91]
    assert Counter(Span.objects.values_list("category", flat=True)) == {"llm": 3, "workflow": 7, "other": 1}
    assert span("ascatter_gather").category == "other"


def test_msgflux_custom_pipeline_is_seven_root_spans(client):
    post_ok(client, "msgflux/007.bin")

    assert sorted(Trace.objects.values_list("root_span_name", flat=True)) == [
        "Classifier", "Generator", "Generator", "Responder", "Ticket Pipeline", "openai.chat", "openai.chat"
    ]
    pipeline = span("Ticket Pipeline")
    # The pipeline encloses everything else in time, though nothing says so in the ids.
    assert pipeline.start_ns == min(Span.objects.values_list("start_ns", flat=True))
    assert pipeline.end_ns == max(Span.objects.values_list("end_ns", flat=True))


def test_msgflux_agent_inside_a_user_span_crashes_and_the_user_span_records_it(client):
    post_ok(client, "msgflux/008.bin")

    row = span("POST /chat")
    message = "Spans.init_module() takes 1 positional argument but 2 were given"
    assert (row.kind, row.status_code, row.status_message) == (SpanKind.SERVER, StatusCode.ERROR, f"TypeError: {message}")
    assert (row.scope.name, row.scope.version, row.category, row.attributes) == ("my.web.app", "", "other", {})
    [(event_name, attributes)] = events(row)
    assert (event_name, attributes["exception.type"], attributes["exception.message"]) == (
        "exception", "TypeError", message
    )
    trace = trace_of(row)
    assert (trace.error_count, trace.status, trace.root_span_name) == (1, "error", "POST /chat")


def test_msgflux_streaming_call_has_attribute_less_chunk_events(client):
    post_ok(client, "msgflux/009.bin")

    chat = span("openai.chat")
    assert chat.attributes["gen_ai.is_streaming"] is True
    assert (chat.status_code, chat.input_tokens, chat.output_tokens, chat.total_tokens) == (StatusCode.OK, 62, 9, 71)
    assert events(chat) == [("gen_ai.content.completion.chunk", {})] * 6
    assert SpanEvent.objects.filter(span=chat).values_list("dropped_attributes_count", flat=True).distinct().get() == 0
    assert Counter(Span.objects.values_list("name", flat=True)) == {
        "aspawn": 1, "await_for_event": 2, "Generator": 1, "Streamer": 1, "openai.chat": 1
    }


def test_msgflux_image_message_leaves_the_openllmetry_span_without_input_messages(client):
    post_ok(client, "msgflux/010.bin")

    chat = span("openai.chat")
    assert "gen_ai.input.messages" not in chat.attributes
    assert "gen_ai.output.messages" in chat.attributes
    assert (chat.category, chat.model, chat.total_tokens) == ("llm", "fake-plain", 71)


# ---------------------------------------------------------------------------------------------
# OpenTelemetry Python: the kitchen sink, protobuf and OTLP/JSON, plain and gzip


KITCHEN_SINK_ROOT_ATTRIBUTES = {
    "http.request.method": "GET",
    "http.response.status_code": 200,
    "str": "hello",
    "bool": True,
    "int": INT_BEYOND_2_53,
    "double": 3.14159,
    "double.int_like": 2.0,
    "bytes": {"$bytes": "AAH+/w=="},
    "arr.str": ["a", "b", "c"],
    "arr.bool": [True, False],
    "arr.int": [1, 2, 3],
    "arr.double": [1.5, 2.5],
    "arr.empty": [],
    "unicode.ключ": "значение ✓ 🙂",
}


@pytest.mark.parametrize("name", list(KITCHEN_SINKS))
def test_kitchen_sink_stores_every_attribute_type_kind_event_link_and_scope(client, name):
    service = KITCHEN_SINKS[name]
    post_ok(client, name)

    rows = {s.name: s for s in Span.objects.select_related("trace", "scope", "resource")}
    assert len(rows) == 10
    assert {s.service_name for s in rows.values()} == {service}

    root = rows["GET /api/orders/{id}"]
    assert root.attributes == KITCHEN_SINK_ROOT_ATTRIBUTES
    assert type(root.attributes["int"]) is int and root.attributes["int"] == -(2**53) - 1
    assert type(root.attributes["double.int_like"]) is float
    assert base64.b64decode(root.attributes["bytes"]["$bytes"]) == b"\x00\x01\xfe\xff"
    assert (root.kind, root.parent_span_id, root.status_code, root.flags) == (SpanKind.SERVER, "", StatusCode.UNSET, 256)
    stored_events = list(root.events.order_by("position"))
    assert [(e.name, e.attributes) for e in stored_events] == [
        ("request.received", {"size": 123, "path": "/api/orders/7"}),
        ("no-attrs-event", {}),
        ("explicit-ts", {"k": "v"}),
    ]
    # The explicit timestamp is kept as sent, though it is before the span started.
    assert stored_events[2].time_ns < root.start_ns < stored_events[0].time_ns < stored_events[1].time_ns

    assert {s.kind for s in rows.values()} == {1, 2, 3, 4, 5}
    assert rows["linked-target"].kind == SpanKind.PRODUCER
    assert rows["consume order.created"].kind == SpanKind.CONSUMER
    assert rows["db.query SELECT orders"].kind == SpanKind.CLIENT

    query = rows["db.query SELECT orders"]
    target = rows["linked-target"]
    [link] = query.links.all()
    assert (link.linked_trace_id, link.linked_span_id) == (target.trace.trace_id, target.span_id)
    assert (link.attributes, link.flags, link.trace_state, link.position) == ({"link.reason": "caused-by"}, 256, "", 0)
    assert target.trace_id != query.trace_id
    inner = rows["inner.compute"]
    assert (inner.parent_span_id, inner.status_code, inner.scope.name) == (query.span_id, StatusCode.OK, "second.scope")

    payment = rows["call payment service"]
    assert (payment.status_code, payment.status_message) == (
        StatusCode.ERROR, "RuntimeError: payment declined: insufficient funds"
    )
    [(event_name, attributes)] = events(payment)
    assert (event_name, attributes["exception.type"], attributes["exception.message"], attributes["exception.escaped"]) == (
        "exception", "RuntimeError", "payment declined: insufficient funds", "False"
    )
    manual = rows["manual error status"]
    assert (manual.status_code, manual.status_message) == (StatusCode.ERROR, "validation failed")
    assert events(manual) == [
        ("exception", {
            "exception.type": "ValueError",
            "exception.message": "field 'qty' must be > 0",
            "exception.stacktrace": "ValueError: field 'qty' must be > 0\n",
            "exception.escaped": "False",
            "custom": "x",
        })
    ]

    crowded = rows["too many attributes"]
    assert crowded.dropped_attributes_count == 72
    assert crowded.attributes == {f"attr.{i:03d}": i for i in range(72, 200)}

    remote = rows["child of remote parent"]
    assert remote.trace.trace_id == REMOTE_TRACE_ID
    assert (remote.parent_span_id, remote.trace_state, remote.flags, remote.kind) == (
        REMOTE_PARENT_ID, "vendor1=opaque1,vendor2=opaque2", 768, SpanKind.SERVER
    )
    assert not Span.objects.filter(span_id=REMOTE_PARENT_ID).exists()
    assert (remote.trace.has_root, remote.trace.root_span_name, remote.trace.span_count) == (
        False, "child of remote parent", 1
    )

    backdated = rows["backdated span"]
    assert backdated.duration_ns == 1_500_000_000
    assert backdated.start_ns < min(s.start_ns for n, s in rows.items() if n != "backdated span")

    first_scope, second_scope = root.scope, inner.scope
    assert (first_scope.name, first_scope.version, first_scope.schema_url, first_scope.attributes) == (
        "kitchen.sink", "1.2.3", "https://opentelemetry.io/schemas/1.26.0", {"scope.attr": "yes"}
    )
    assert (second_scope.name, second_scope.version, second_scope.schema_url, second_scope.attributes) == (
        "second.scope", "", "", {}
    )
    assert Scope.objects.count() == 2
    assert {s.scope_id for n, s in rows.items()} == {first_scope.pk, second_scope.pk}
    assert {n for n, s in rows.items() if s.scope_id == second_scope.pk} == {
        "inner.compute", "child of remote parent", "backdated span"
    }

    resource = root.resource.attributes
    assert resource["service.name"] == service
    assert (resource["host.cpu.count"], resource["app.feature_flags"], resource["telemetry.sdk.version"]) == (
        16, ["a", "b"], "1.45.2"
    )
    assert Resource.objects.count() == 1

    orders = root.trace
    orders.refresh_from_db()
    assert (orders.span_count, orders.error_count, orders.status, orders.has_root) == (7, 2, "error", True)
    assert (orders.root_span_name, orders.service_name, orders.workflow_name) == ("GET /api/orders/{id}", service, "")
    assert (orders.start_ns, orders.end_ns) == (root.start_ns, root.end_ns)
    assert (orders.total_tokens, orders.models_used) == (0, [])
    assert dict(Trace.objects.values_list("root_span_name", "has_root")) == {
        "GET /api/orders/{id}": True,
        "linked-target": True,
        "backdated span": True,
        "child of remote parent": False,
    }


def kitchen_sink_rows(service):
    """The stored kitchen sink of one capture, without what differs from run to run: ids, trace ids,
    timestamps and durations (the SDK generated them), and the service name the generator chose."""
    spans = Span.objects.filter(service_name=service).select_related("scope")
    names = {s.span_id: s.name for s in spans}
    trace_names = {}
    for s in spans:
        trace_names.setdefault(s.trace_id, set()).add(s.name)
    result = {}
    for s in spans:
        row = {
            field.attname: getattr(s, field.attname)
            for field in Span._meta.concrete_fields
            if field.attname not in ("id", "trace_id", "span_id", "parent_span_id", "start_ns", "end_ns",
                                     "duration_ns", "resource_id", "service_name")
        }
        row["parent"] = names.get(s.parent_span_id, s.parent_span_id)
        row["trace"] = sorted(trace_names[s.trace_id])
        row["events"] = [
            (e.position, e.name, e.attributes, e.dropped_attributes_count, e.time_ns < s.start_ns)
            for e in s.events.order_by("position")
        ]
        row["links"] = [
            (link.position, names.get(link.linked_span_id), link.trace_state, link.flags, link.attributes,
             link.dropped_attributes_count)
            for link in s.links.order_by("position")
        ]
        result[s.name] = row
    return result


def test_protobuf_and_json_kitchen_sinks_store_identical_spans(client):
    for name in KITCHEN_SINKS:
        post_ok(client, name)

    protobuf = kitchen_sink_rows("kitchen-sink")
    assert len(protobuf) == 10
    assert protobuf["GET /api/orders/{id}"]["attributes"] == KITCHEN_SINK_ROOT_ATTRIBUTES
    assert protobuf["db.query SELECT orders"]["links"] == [
        (0, "linked-target", "", 256, {"link.reason": "caused-by"}, 0)
    ]
    for service in ("kitchen-sink-gzip", "kitchen-sink-json", "kitchen-sink-json-gzip"):
        other = kitchen_sink_rows(service)
        assert sorted(other) == sorted(protobuf)
        for span_name, row in protobuf.items():
            assert other[span_name] == row, (service, span_name)
    # One scope row per distinct scope, whichever encoding carried it.
    assert Scope.objects.count() == 2
    # Resources differ only by service.name, and the first capture's OTEL_RESOURCE_ATTRIBUTES (team, region).
    resources = {r.attributes["service.name"]: r.attributes for r in Resource.objects.all()}
    assert set(resources) == set(KITCHEN_SINKS.values())
    without_name = {
        service: {k: v for k, v in attributes.items() if k not in ("service.name", "team", "region")}
        for service, attributes in resources.items()
    }
    assert len({json.dumps(v, sort_keys=True) for v in without_name.values()}) == 1
    assert (resources["kitchen-sink"]["team"], resources["kitchen-sink"]["region"]) == ("obs", "eu-west-1")
    # The same trace aggregates from each capture.
    aggregates = {
        t.service_name: (t.root_span_name, t.has_root, t.span_count, t.error_count, t.status, t.workflow_name)
        for t in Trace.objects.filter(root_span_name="GET /api/orders/{id}")
    }
    assert aggregates == {service: ("GET /api/orders/{id}", True, 7, 2, "error", "") for service in KITCHEN_SINKS.values()}


def test_genai_spans_sent_one_request_per_span_become_one_trace_when_the_root_arrives_last(client):
    post_ok(client, "otel-python/003.bin")
    trace = Trace.objects.get()
    assert trace.trace_id == "5e5c4f5a04e9010d7a86d9dcbabae462"
    assert (trace.span_count, trace.has_root, trace.root_span_name, trace.total_tokens) == (
        1, False, "chat gpt-4.1", 149
    )

    post_ok(client, "otel-python/004.bin")
    trace.refresh_from_db()
    assert (trace.span_count, trace.error_count, trace.status, trace.has_root, trace.root_span_name) == (
        2, 1, "error", False, "chat gpt-4.1"
    )

    post_ok(client, "otel-python/005.bin")
    trace.refresh_from_db()
    assert Trace.objects.count() == 1
    assert (trace.span_count, trace.error_count, trace.status, trace.has_root) == (3, 1, "error", True)
    assert (trace.root_span_name, trace.service_name, trace.session_id, trace.user_id) == (
        "invoke_agent travel_agent", "hand-instrumented-agent", "conv_5", ""
    )
    assert (trace.input_tokens, trace.output_tokens, trace.total_tokens) == (97, 52, 149)
    # The chat call reports no cost: estimated at gpt-4.1's list price, $2 and $8 per million tokens.
    assert trace.total_cost == trace.estimated_cost == pytest.approx(97 * 2e-6 + 52 * 8e-6)
    assert trace.models_used == ["gpt-4.1"]

    agent = span("invoke_agent travel_agent")
    chat = span("chat gpt-4.1")
    tool = span("execute_tool search_flights")
    assert chat.parent_span_id == tool.parent_span_id == agent.span_id
    assert (agent.category, agent.agent_name, agent.operation, agent.provider, agent.session_id) == (
        "agent", "travel_agent", "invoke_agent", "openai", "conv_5"
    )
    assert (chat.category, chat.model, chat.response_model, chat.kind) == ("llm", "gpt-4.1", "gpt-4.1-2025-04-14", SpanKind.CLIENT)
    assert (chat.input_tokens, chat.output_tokens, chat.total_tokens) == (97, 52, 149)
    assert (tool.category, tool.tool_name, tool.status_code, tool.status_message) == (
        "tool", "search_flights", StatusCode.ERROR, "timeout"
    )
    assert tool.attributes["error.type"] == "TimeoutError"


def test_sdk_autoconfiguration_over_http_protobuf_stores_a_two_span_tree(client):
    post_ok(client, "otel-python/006.bin")

    root = span("autoconfigured-root")
    child = span("child")
    assert (root.parent_span_id, child.parent_span_id) == ("", root.span_id)
    assert (root.scope.name, root.scope.version) == ("autoconf.demo", "")
    assert root.resource.attributes["telemetry.auto.version"] == "manual"
    trace = trace_of(root)
    assert (trace.span_count, trace.root_span_name, trace.service_name, trace.has_root) == (
        2, "autoconfigured-root", "autoconf-http", True
    )
