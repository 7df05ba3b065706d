"""Real client libraries against a live msgtrace (migrate + gunicorn, its own SQLite file or PostgreSQL
database): the OpenTelemetry Python SDK with its OTLP/HTTP protobuf exporter, msgtrace-sdk 1.2.0 in a
process of its own (it reads its configuration once, at import), and ingest keys.

Everything is checked in the server's database, against what the client says it sent.
"""

import base64
import json
import math
import os
import subprocess
import sys
import textwrap
import uuid

import pytest
import requests
from google.rpc import status_pb2
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from tests import helpers, servers

SCHEMA_URL = "https://opentelemetry.io/schemas/1.26.0"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One msgtrace under gunicorn for the whole module; tests keep apart by trace id and service name."""
    with servers.gunicorn(tmp_path_factory.mktemp("msgtrace"), workers=2) as running:
        yield running


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory):
    with servers.gunicorn(
        tmp_path_factory.mktemp("msgtrace-keyed"), workers=1, extra_env={"MSGTRACE_INGEST_KEYS": "k1,k2"}
    ) as running:
        yield running


# ---------------------------------------------------------------------------------------------
# Reading the server's database


def loads(value):
    """A JSON column: text on SQLite, already decoded by psycopg on PostgreSQL."""
    return json.loads(value) if isinstance(value, str) else value


def hex_id(number, width):
    return format(number, f"0{width}x")


def trace_row(server, trace_id):
    rows = server.query(
        "SELECT span_count, error_count, status, root_span_name, has_root, service_name, workflow_name, "
        "user_id, session_id, input_tokens, output_tokens, total_tokens, total_cost, models_used, start_ns, end_ns "
        "FROM traces_trace WHERE trace_id = %s",
        (trace_id,),
    )
    if not rows:
        return None
    keys = ("span_count", "error_count", "status", "root_span_name", "has_root", "service_name", "workflow_name",
            "user_id", "session_id", "input_tokens", "output_tokens", "total_tokens", "total_cost", "models_used",
            "start_ns", "end_ns")
    row = dict(zip(keys, rows[0]))
    row["has_root"] = bool(row["has_root"])
    row["models_used"] = loads(row["models_used"])
    return row


SPAN_COLUMNS = (
    "id", "span_id", "parent_span_id", "name", "kind", "start_ns", "end_ns", "status_code", "status_message",
    "trace_state", "flags", "attributes", "dropped_attributes_count", "service_name", "category", "model",
    "provider", "operation", "input_tokens", "output_tokens", "total_tokens", "input_cost", "output_cost",
    "total_cost", "currency", "workflow_name", "module_name", "module_type", "tool_name", "user_id", "session_id",
)


def spans_of(server, trace_id):
    """{span name: column dict, with "events", "links", "scope" and "resource"} of one stored trace."""
    rows = server.query(
        f"SELECT {','.join('s.' + c for c in SPAN_COLUMNS)}, sc.name, sc.version, sc.schema_url, sc.attributes, "
        "r.attributes FROM traces_span s JOIN traces_trace t ON s.trace_id = t.id "
        "JOIN traces_scope sc ON s.scope_id = sc.id JOIN traces_resource r ON s.resource_id = r.id "
        "WHERE t.trace_id = %s ORDER BY s.start_ns",
        (trace_id,),
    )
    result = {}
    for row in rows:
        span = dict(zip(SPAN_COLUMNS, row[: len(SPAN_COLUMNS)]))
        span["attributes"] = loads(span["attributes"])
        scope_name, scope_version, scope_schema, scope_attributes, resource = row[len(SPAN_COLUMNS) :]
        span["scope"] = (scope_name, scope_version, scope_schema, loads(scope_attributes))
        span["resource"] = loads(resource)
        span["events"] = [
            (time_ns, name, loads(attributes))
            for time_ns, name, attributes in server.query(
                "SELECT time_ns, name, attributes FROM traces_spanevent WHERE span_id = %s ORDER BY position",
                (span["id"],),
            )
        ]
        span["links"] = [
            (linked_trace, linked_span, trace_state, flags, loads(attributes))
            for linked_trace, linked_span, trace_state, flags, attributes in server.query(
                "SELECT linked_trace_id, linked_span_id, trace_state, flags, attributes FROM traces_spanlink "
                "WHERE span_id = %s ORDER BY position",
                (span["id"],),
            )
        ]
        assert span["name"] not in result, "span names are unique in these scenarios"
        result[span["name"]] = span
    return result


# ---------------------------------------------------------------------------------------------
# The OpenTelemetry Python SDK


class RecordingExporter(SpanExporter):
    """The real OTLPSpanExporter; remembers what each export returned and what went over the wire."""

    def __init__(self, **kwargs):
        self.results = []
        self.exchanges = []
        session = requests.Session()
        session.hooks["response"].append(self._seen)
        self.inner = OTLPSpanExporter(session=session, **kwargs)

    def _seen(self, response, *args, **kwargs):
        self.exchanges.append(
            {
                "path": response.request.path_url,
                "content_type": response.request.headers.get("Content-Type"),
                "content_encoding": response.request.headers.get("Content-Encoding"),
                "status": response.status_code,
                "body": response.content,
            }
        )

    def export(self, spans):
        result = self.inner.export(spans)
        self.results.append((len(spans), result))
        return result

    def shutdown(self):
        self.inner.shutdown()

    def force_flush(self, timeout_millis=30000):
        return True


def provider_for(service, processor_class, exporter):
    provider = TracerProvider(resource=Resource.create({"service.name": service, "deployment.environment.name": "test"}))
    provider.add_span_processor(processor_class(exporter))
    return provider


def sdk_resource(provider):
    """The provider's resource as msgtrace should store it: Resource.create adds the SDK's own keys."""
    attributes = dict(provider.resource.attributes)
    assert set(attributes) == {
        "telemetry.sdk.language", "telemetry.sdk.name", "telemetry.sdk.version", "service.instance.id",
        "service.name", "deployment.environment.name",
    }
    assert attributes["telemetry.sdk.version"] == "1.45.2"
    return attributes


EVERY_TYPE = {
    "str": "héllo ✓",
    "bool": True,
    "int": -42,
    "int.beyond_2_53": 2**62 + 1,
    "float": 3.25,
    "float.int_like": 2.0,
    "float.huge": 1e300,
    "float.nan": math.nan,
    "bytes": b"\x00\x01\xfe\xff",
    "str[]": ["a", "b", "c"],
    "bool[]": [True, False],
    "int[]": [1, 2, 3],
    "float[]": [0.5, 1.5],
    "empty[]": [],
    "map": {"k": "v", "n": 1, "list": [1, "x"]},
    "unicode.ключ": "значение 🙂",
}
# What msgtrace keeps of them: every type as itself; bytes and the doubles JSON cannot hold tagged.
EVERY_TYPE_STORED = {
    **EVERY_TYPE,
    "float.huge": {"$double": "1e+300"},
    "float.nan": {"$double": "NaN"},
    "bytes": {"$bytes": base64.b64encode(b"\x00\x01\xfe\xff").decode()},
}


def emit_checkout(provider):
    """A queued order (its own trace) and the checkout that consumes it: 6 spans, 2 traces."""
    tracer = provider.get_tracer("shop.checkout", "2.1.0", schema_url=SCHEMA_URL, attributes={"team": "payments"})
    other_tracer = provider.get_tracer("shop.audit")
    sent = {}
    with tracer.start_as_current_span("enqueue order", kind=SpanKind.PRODUCER, attributes={"queue": "orders"}) as s:
        sent["enqueue order"] = s
    with tracer.start_as_current_span("POST /checkout", kind=SpanKind.SERVER, attributes=EVERY_TYPE) as root:
        sent["POST /checkout"] = root
        root.add_event("cart.loaded", {"items": 3, "skus": ["a", "b"]})
        root.add_event("no attributes")
        root.add_event("backdated", {"k": "v"}, timestamp=root.start_time - 1_000_000)
        link = Link(sent["enqueue order"].get_span_context(), {"link.reason": "consumes", "attempt": 1})
        with tracer.start_as_current_span("process order", kind=SpanKind.CONSUMER, links=[link]) as consumer:
            sent["process order"] = consumer
            with tracer.start_as_current_span("charge card", kind=SpanKind.CLIENT) as charge:
                sent["charge card"] = charge
                try:
                    raise RuntimeError("card declined")
                except RuntimeError as exc:
                    charge.record_exception(exc, attributes={"payment.attempt": 2})
                    charge.set_status(Status(StatusCode.ERROR, "card declined"))
        with other_tracer.start_as_current_span("audit") as audit:
            sent["audit"] = audit
            audit.set_status(Status(StatusCode.OK))
        try:
            with tracer.start_as_current_span("validate") as validate:
                sent["validate"] = validate
                raise ValueError("qty must be positive")
        except ValueError:
            pass
    return sent


def assert_checkout_stored(server, sent, service, resource):
    trace_id = hex_id(sent["POST /checkout"].context.trace_id, 32)
    queue_trace_id = hex_id(sent["enqueue order"].context.trace_id, 32)
    assert queue_trace_id != trace_id
    stored = spans_of(server, trace_id)
    assert list(stored) == ["POST /checkout", "process order", "charge card", "audit", "validate"]

    for name, span in stored.items():
        original = sent[name]
        assert span["span_id"] == hex_id(original.context.span_id, 16)
        assert span["parent_span_id"] == (hex_id(original.parent.span_id, 16) if original.parent else "")
        assert (span["start_ns"], span["end_ns"]) == (original.start_time, original.end_time)
        assert span["service_name"] == service
        assert span["flags"] == 256
        assert span["resource"] == resource
    root, consumer, charge, audit, validate = stored.values()
    assert root["parent_span_id"] == ""
    assert consumer["parent_span_id"] == root["span_id"]
    assert charge["parent_span_id"] == consumer["span_id"]
    assert audit["parent_span_id"] == validate["parent_span_id"] == root["span_id"]
    assert [s["kind"] for s in stored.values()] == [2, 5, 3, 1, 1]

    assert root["attributes"] == EVERY_TYPE_STORED
    assert type(root["attributes"]["int.beyond_2_53"]) is int
    assert root["attributes"]["int.beyond_2_53"] == 4611686018427387905
    assert type(root["attributes"]["float.int_like"]) is float
    assert root["events"] == [
        (sent["POST /checkout"].events[0].timestamp, "cart.loaded", {"items": 3, "skus": ["a", "b"]}),
        (sent["POST /checkout"].events[1].timestamp, "no attributes", {}),
        (root["start_ns"] - 1_000_000, "backdated", {"k": "v"}),
    ]
    assert (root["status_code"], root["status_message"], root["category"]) == (0, "", "other")
    assert root["scope"] == ("shop.checkout", "2.1.0", SCHEMA_URL, {"team": "payments"})
    assert audit["scope"] == ("shop.audit", "", "", {})

    assert consumer["links"] == [
        (queue_trace_id, hex_id(sent["enqueue order"].context.span_id, 16), "", 256, {"link.reason": "consumes", "attempt": 1})
    ]
    queue = spans_of(server, queue_trace_id)
    assert list(queue) == ["enqueue order"]
    assert (queue["enqueue order"]["kind"], queue["enqueue order"]["attributes"]) == (4, {"queue": "orders"})

    assert (charge["status_code"], charge["status_message"]) == (2, "card declined")
    [(_, event_name, attributes)] = charge["events"]
    assert event_name == "exception"
    assert attributes["exception.type"] == "RuntimeError"
    assert attributes["exception.message"] == "card declined"
    assert attributes["exception.escaped"] == "False"
    assert attributes["payment.attempt"] == 2
    assert attributes["exception.stacktrace"].startswith("Traceback (most recent call last):\n")
    assert attributes["exception.stacktrace"].endswith("RuntimeError: card declined\n")
    assert (audit["status_code"], audit["status_message"], audit["events"]) == (1, "", [])
    # start_as_current_span records what escapes it, and says "Type: message".
    assert (validate["status_code"], validate["status_message"]) == (2, "ValueError: qty must be positive")
    assert [(name, a["exception.type"], a["exception.message"]) for _, name, a in validate["events"]] == [
        ("exception", "ValueError", "qty must be positive")
    ]

    assert trace_row(server, trace_id) | {"start_ns": None, "end_ns": None} == {
        "span_count": 5,
        "error_count": 2,
        "status": "error",
        "root_span_name": "POST /checkout",
        "has_root": True,
        "service_name": service,
        "workflow_name": "",
        "user_id": "",
        "session_id": "",
        "input_tokens": 0,
        "output_tokens": 0,
        "total_tokens": 0,
        "total_cost": 0.0,
        "models_used": [],
        "start_ns": None,
        "end_ns": None,
    }
    row = trace_row(server, trace_id)
    assert (row["start_ns"], row["end_ns"]) == (root["start_ns"], root["end_ns"])
    queue_row = trace_row(server, queue_trace_id)
    assert (queue_row["span_count"], queue_row["root_span_name"], queue_row["has_root"]) == (1, "enqueue order", True)


def test_exporter_with_a_simple_processor_stores_nested_spans_with_every_attribute_type(server):
    service = f"otel-simple-{uuid.uuid4().hex[:8]}"
    exporter = RecordingExporter(endpoint=f"{server.url}/v1/traces")
    provider = provider_for(service, SimpleSpanProcessor, exporter)

    sent = emit_checkout(provider)
    provider.shutdown()

    # One request per span, children before their parents; every one a full success.
    assert exporter.results == [(1, SpanExportResult.SUCCESS)] * 6
    assert [e["status"] for e in exporter.exchanges] == [200] * 6
    assert {e["content_encoding"] for e in exporter.exchanges} == {None}
    assert {e["content_type"] for e in exporter.exchanges} == {"application/x-protobuf"}
    assert {e["path"] for e in exporter.exchanges} == {"/v1/traces"}
    assert {ExportTraceServiceResponse.FromString(e["body"]).HasField("partial_success") for e in exporter.exchanges} == {False}
    assert_checkout_stored(server, sent, service, sdk_resource(provider))


def test_gzip_exporter_with_a_batch_processor_stores_nested_spans_with_every_attribute_type(server):
    service = f"otel-gzip-{uuid.uuid4().hex[:8]}"
    exporter = RecordingExporter(endpoint=f"{server.url}/v1/traces", compression=Compression.Gzip)
    provider = provider_for(service, BatchSpanProcessor, exporter)

    sent = emit_checkout(provider)
    assert provider.force_flush() is True

    assert exporter.results == [(6, SpanExportResult.SUCCESS)]
    [exchange] = exporter.exchanges
    assert (exchange["status"], exchange["content_encoding"], exchange["body"]) == (200, "gzip", b"")
    assert_checkout_stored(server, sent, service, sdk_resource(provider))
    provider.shutdown()


def test_exporter_retrying_the_same_spans_stores_them_once(server):
    service = f"otel-retry-{uuid.uuid4().hex[:8]}"
    exporter = RecordingExporter(endpoint=f"{server.url}/v1/traces")
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    tracer = provider.get_tracer("retry")
    finished = []

    class Keep(SpanExporter):
        def export(self, spans):
            finished.extend(spans)
            return SpanExportResult.SUCCESS

    provider.add_span_processor(SimpleSpanProcessor(Keep()))
    with tracer.start_as_current_span("parent") as parent:
        with tracer.start_as_current_span("child", attributes={"gen_ai.request.model": "m", "gen_ai.usage.input_tokens": 7}):
            pass
    provider.shutdown()

    assert exporter.export(finished) == SpanExportResult.SUCCESS
    assert exporter.export(finished) == SpanExportResult.SUCCESS
    assert exporter.export(finished[:1]) == SpanExportResult.SUCCESS

    trace_id = hex_id(parent.context.trace_id, 32)
    assert server.scalar("SELECT COUNT(*) FROM traces_span s JOIN traces_trace t ON s.trace_id = t.id WHERE t.trace_id = %s", (trace_id,)) == 2
    row = trace_row(server, trace_id)
    assert (row["span_count"], row["input_tokens"], row["total_tokens"], row["models_used"]) == (2, 7, 7, ["m"])
    assert (row["root_span_name"], row["has_root"]) == ("parent", True)


def test_exporter_batch_with_an_overlong_operation_and_provider_is_stored_whole(server):
    service = f"otel-long-{uuid.uuid4().hex[:8]}"
    exporter = RecordingExporter(endpoint=f"{server.url}/v1/traces")
    provider = provider_for(service, BatchSpanProcessor, exporter)
    tracer = provider.get_tracer("long.names")
    operation = "summarize_" + "x" * 190
    provider_name = "self-hosted/" + "m" * 188
    with tracer.start_as_current_span("pipeline") as root:
        with tracer.start_as_current_span(
            "custom op", attributes={"gen_ai.operation.name": operation, "gen_ai.provider.name": provider_name}
        ):
            pass
        with tracer.start_as_current_span("chat", attributes={"gen_ai.request.model": "m", "gen_ai.usage.input_tokens": 5}):
            pass
    assert provider.force_flush() is True
    provider.shutdown()

    assert exporter.results == [(3, SpanExportResult.SUCCESS)]
    stored = spans_of(server, hex_id(root.context.trace_id, 32))
    assert list(stored) == ["pipeline", "custom op", "chat"]
    custom = stored["custom op"]
    assert custom["attributes"] == {"gen_ai.operation.name": operation, "gen_ai.provider.name": provider_name}
    # The normalized columns hold what fits: a prefix of at most 128 characters.
    assert (custom["operation"], custom["provider"]) == (operation[:128], provider_name[:128])
    assert trace_row(server, hex_id(root.context.trace_id, 32))["total_tokens"] == 5


# ---------------------------------------------------------------------------------------------
# msgtrace-sdk 1.2.0, in a process of its own


MSGTRACE_SCRIPT = textwrap.dedent(
    """
    import json

    from opentelemetry import trace

    from msgtrace.sdk import MsgTraceAttributes, Spans
    from msgtrace.sdk.tracer import tracer_manager

    sent = {}

    def remember(span):
        context = span.get_span_context()
        sent[span.name] = [format(context.trace_id, "032x"), format(context.span_id, "016x")]

    # As the README has it: start_span(), so nothing is current and the setters go nowhere.
    with Spans.init_flow("plain_flow", **{"user.id": "u-plain"}) as flow:
        remember(flow)
        with Spans.init_module("plain_module") as module:
            remember(module)
            MsgTraceAttributes.set_model("gpt-5")
            MsgTraceAttributes.set_usage(input_tokens=1, output_tokens=2)

    # With trace.use_span(): a real tree, and every setter lands on its span.
    with Spans.init_flow("answer_flow", **{"user.id": "user_7", "session.id": "sess_7"}) as flow, trace.use_span(flow):
        remember(flow)
        with Spans.init_module("retrieve_docs", **{"module.type": "Retriever", "retriever.top_k": 3}) as retrieve, \\
                trace.use_span(retrieve):
            remember(retrieve)
        with Spans.span_context("chat gpt-5-mini") as chat, trace.use_span(chat):
            remember(chat)
            MsgTraceAttributes.set_operation_name("chat")
            MsgTraceAttributes.set_system("openai")
            MsgTraceAttributes.set_model("gpt-5-mini")
            MsgTraceAttributes.set_prompt([{"role": "user", "content": "Where is my order?"}])
            MsgTraceAttributes.set_completion("It ships today.")
            MsgTraceAttributes.set_usage(input_tokens=1200, output_tokens=300)
            MsgTraceAttributes.set_cost(input_cost=0.0003, output_cost=0.0006)
        with Spans.span_context("chat gpt-5", **{"retry.count": 1}) as chat, trace.use_span(chat):
            remember(chat)
            MsgTraceAttributes.set_operation_name("chat")
            MsgTraceAttributes.set_model("gpt-5")
            MsgTraceAttributes.set_usage(input_tokens=500, output_tokens=0)
            MsgTraceAttributes.set_cost(input_cost=0.005)
        try:
            with Spans.init_module("lookup_tool", **{"module.type": "Tool"}) as tool, trace.use_span(tool):
                remember(tool)
                MsgTraceAttributes.set_tool_name("lookup_order")
                raise ConnectionError("order service unavailable")
        except ConnectionError:
            pass

    flushed = trace.get_tracer_provider().force_flush()
    tracer_manager.shutdown()
    print(json.dumps({"flushed": flushed, "sent": sent}))
    """
)


@pytest.fixture(scope="module")
def msgtrace_run(server, tmp_path_factory):
    """Runs the msgtrace-sdk script once, configured as its README says: env vars before the import.

    It runs outside the repository: this project's own `msgtrace` package would shadow msgtrace-sdk's."""
    service = f"msgtrace-{uuid.uuid4().hex[:8]}"
    folder = tmp_path_factory.mktemp("msgtrace-app")
    script = folder / "app.py"
    script.write_text(MSGTRACE_SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "MSGTRACE_")) and k != "PYTHONPATH"}
    env.update(
        MSGTRACE_TELEMETRY_ENABLED="true",
        MSGTRACE_OTLP_ENDPOINT=f"{server.url}/api/v1/traces/export",
        MSGTRACE_SERVICE_NAME=service,
    )
    completed = subprocess.run(
        [sys.executable, str(script)], cwd=folder, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert completed.returncode == 0, completed.stderr
    output = json.loads(completed.stdout.strip().splitlines()[-1])
    assert output["flushed"] is True
    return service, output["sent"]


def test_msgtrace_spans_without_use_span_are_separate_root_traces_and_setters_are_dropped(server, msgtrace_run):
    service, sent = msgtrace_run
    flow_trace, flow_span = sent["plain_flow"]
    module_trace, module_span = sent["plain_module"]
    assert flow_trace != module_trace

    flow = spans_of(server, flow_trace)
    module = spans_of(server, module_trace)
    assert list(flow) == ["plain_flow"] and list(module) == ["plain_module"]
    assert (flow["plain_flow"]["span_id"], flow["plain_flow"]["parent_span_id"]) == (flow_span, "")
    assert (module["plain_module"]["span_id"], module["plain_module"]["parent_span_id"]) == (module_span, "")
    assert flow["plain_flow"]["attributes"] == {"span.type": "flow", "user.id": "u-plain"}
    assert module["plain_module"]["attributes"] == {"span.type": "module"}  # no model, no usage
    assert (module["plain_module"]["category"], module["plain_module"]["model"]) == ("module", "")
    assert (flow["plain_flow"]["kind"], module["plain_module"]["kind"]) == (2, 1)
    assert trace_row(server, flow_trace) | {"start_ns": None, "end_ns": None} == {
        "span_count": 1, "error_count": 0, "status": "ok", "root_span_name": "plain_flow", "has_root": True,
        "service_name": service, "workflow_name": "plain_flow", "user_id": "u-plain", "session_id": "",
        "input_tokens": 0, "output_tokens": 0, "total_tokens": 0, "total_cost": 0.0, "models_used": [],
        "start_ns": None, "end_ns": None,
    }
    assert trace_row(server, module_trace)["root_span_name"] == "plain_module"
    assert trace_row(server, module_trace)["workflow_name"] == ""


def test_msgtrace_use_span_tree_carries_model_usage_and_cost(server, msgtrace_run):
    service, sent = msgtrace_run
    trace_id, flow_span = sent["answer_flow"]
    names = ["answer_flow", "retrieve_docs", "chat gpt-5-mini", "chat gpt-5", "lookup_tool"]
    assert {sent[name][0] for name in names} == {trace_id}

    stored = spans_of(server, trace_id)
    assert list(stored) == names
    assert {name: s["span_id"] for name, s in stored.items()} == {name: sent[name][1] for name in names}
    assert {name: s["parent_span_id"] for name, s in stored.items()} == {
        "answer_flow": "", **{name: flow_span for name in names[1:]}
    }
    for span in stored.values():
        assert span["scope"] == ("msgtrace.sdk", "0.1.0", "", {})
        assert span["service_name"] == service
        # Resource(...) rather than Resource.create: the platform, but no telemetry.sdk.*.
        assert set(span["resource"]) == {
            "service.name", "platform.system", "platform.release", "platform.machine", "python.version"
        }
        assert span["resource"]["service.name"] == service

    flow = stored["answer_flow"]
    assert flow["attributes"] == {"span.type": "flow", "user.id": "user_7", "session.id": "sess_7"}
    assert (flow["kind"], flow["category"], flow["workflow_name"], flow["user_id"], flow["session_id"]) == (
        2, "workflow", "answer_flow", "user_7", "sess_7"
    )
    assert (flow["status_code"], flow["events"]) == (0, [])

    retrieve = stored["retrieve_docs"]
    assert retrieve["attributes"] == {"span.type": "module", "module.type": "Retriever", "retriever.top_k": 3}
    assert (retrieve["category"], retrieve["module_name"], retrieve["module_type"]) == (
        "retriever", "retrieve_docs", "Retriever"
    )

    mini = stored["chat gpt-5-mini"]
    assert mini["attributes"] == {
        "gen_ai.operation.name": "chat",
        "gen_ai.system": "openai",
        "gen_ai.request.model": "gpt-5-mini",
        "gen_ai.prompt": '[{"role": "user", "content": "Where is my order?"}]',
        "gen_ai.completion": "It ships today.",
        "gen_ai.usage.input_tokens": 1200,
        "gen_ai.usage.output_tokens": 300,
        "gen_ai.usage.total_tokens": 1500,
        "gen_ai.usage.cost.input_tokens": 0.0003,
        "gen_ai.usage.cost.output_tokens": 0.0006,
        "gen_ai.usage.cost.currency": "USD",
    }
    assert (mini["kind"], mini["category"], mini["model"], mini["provider"], mini["operation"]) == (
        1, "llm", "gpt-5-mini", "openai", "chat"
    )
    assert (mini["input_tokens"], mini["output_tokens"], mini["total_tokens"]) == (1200, 300, 1500)
    assert (mini["input_cost"], mini["output_cost"], mini["currency"]) == (0.0003, 0.0006, "USD")
    assert mini["total_cost"] == pytest.approx(0.0009, rel=1e-12)

    big = stored["chat gpt-5"]
    # msgtrace-sdk writes no total when a count is zero, and no output cost when none is given.
    assert big["attributes"] == {
        "retry.count": 1,
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-5",
        "gen_ai.usage.input_tokens": 500,
        "gen_ai.usage.output_tokens": 0,
        "gen_ai.usage.cost.input_tokens": 0.005,
        "gen_ai.usage.cost.currency": "USD",
    }
    assert (big["input_tokens"], big["output_tokens"], big["total_tokens"]) == (500, 0, 500)
    assert (big["input_cost"], big["output_cost"], big["total_cost"], big["currency"]) == (0.005, None, 0.005, "USD")

    tool = stored["lookup_tool"]
    assert tool["attributes"] == {"span.type": "module", "module.type": "Tool", "gen_ai.tool.name": "lookup_order"}
    assert (tool["category"], tool["tool_name"], tool["module_name"]) == ("tool", "lookup_order", "lookup_tool")
    assert (tool["status_code"], tool["status_message"]) == (2, "order service unavailable")
    # use_span records the exception on its way out, and msgtrace-sdk records it again.
    assert [(name, a["exception.type"], a["exception.message"]) for _, name, a in tool["events"]] == [
        ("exception", "ConnectionError", "order service unavailable")
    ] * 2

    row = trace_row(server, trace_id)
    assert row | {"total_cost": None, "start_ns": None, "end_ns": None} == {
        "span_count": 5, "error_count": 1, "status": "error", "root_span_name": "answer_flow", "has_root": True,
        "service_name": service, "workflow_name": "answer_flow", "user_id": "user_7", "session_id": "sess_7",
        "input_tokens": 1700, "output_tokens": 300, "total_tokens": 2000, "total_cost": None,
        "models_used": ["gpt-5", "gpt-5-mini"], "start_ns": None, "end_ns": None,
    }
    assert row["total_cost"] == pytest.approx(0.0003 + 0.0006 + 0.005, rel=1e-12)
    assert (row["start_ns"], row["end_ns"]) == (flow["start_ns"], flow["end_ns"])


def test_msgtrace_run_stores_exactly_the_spans_it_sent(server, msgtrace_run):
    service, sent = msgtrace_run
    stored = server.query("SELECT name, span_id FROM traces_span WHERE service_name = %s ORDER BY name", (service,))
    assert sorted(stored) == sorted((name, ids[1]) for name, ids in sent.items())
    assert server.scalar("SELECT COUNT(*) FROM traces_trace WHERE service_name = %s", (service,)) == 3


# ---------------------------------------------------------------------------------------------
# Ingest keys


def emit_one(service, exporter):
    provider = provider_for(service, SimpleSpanProcessor, exporter)
    with provider.get_tracer("keys").start_as_current_span("keyed work", attributes={"n": 1}) as span:
        pass
    provider.shutdown()
    return hex_id(span.context.trace_id, 32)


def test_exporter_with_a_bearer_key_is_stored_and_without_one_fails_and_stores_nothing(keyed_server):
    with_key = RecordingExporter(endpoint=f"{keyed_server.url}/v1/traces", headers={"Authorization": "Bearer k2"})
    stored_trace = emit_one("keyed", with_key)
    assert with_key.results == [(1, SpanExportResult.SUCCESS)]
    stored = spans_of(keyed_server, stored_trace)
    assert list(stored) == ["keyed work"]
    assert stored["keyed work"]["attributes"] == {"n": 1}
    assert trace_row(keyed_server, stored_trace)["span_count"] == 1

    for headers in (None, {"Authorization": "Bearer k3"}, {"Authorization": "Basic azI="}):
        without = RecordingExporter(endpoint=f"{keyed_server.url}/v1/traces", headers=headers)
        refused_trace = emit_one("unkeyed", without)
        assert without.results == [(1, SpanExportResult.FAILURE)]
        [exchange] = without.exchanges  # 401 is not retried
        assert exchange["status"] == 401
        status = status_pb2.Status.FromString(exchange["body"])
        assert (status.code, status.message) == (
            16, "missing or unknown ingest key: send Authorization: Bearer <key> or x-api-key: <key>"
        )
        assert trace_row(keyed_server, refused_trace) is None
        assert spans_of(keyed_server, refused_trace) == {}
    assert keyed_server.scalar("SELECT COUNT(*) FROM traces_span WHERE service_name = %s", ("unkeyed",)) == 0


def test_x_api_key_header_is_accepted_from_requests(keyed_server):
    body = helpers.body(
        helpers.span(trace=0xA11CE, span=1, name="api-key root", attributes={"gen_ai.request.model": "m1"}),
        service="requests-client",
    )
    refused = requests.post(
        f"{keyed_server.url}/v1/traces", data=body, headers={"Content-Type": "application/x-protobuf"}, timeout=10
    )
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == 'Bearer realm="msgtrace"'
    assert status_pb2.Status.FromString(refused.content).code == 16
    trace_id = helpers.trace_id(0xA11CE).hex()
    assert trace_row(keyed_server, trace_id) is None

    accepted = requests.post(
        f"{keyed_server.url}/v1/traces",
        data=body,
        headers={"Content-Type": "application/x-protobuf", "x-api-key": "k1"},
        timeout=10,
    )
    assert (accepted.status_code, accepted.headers["Content-Type"], accepted.content) == (
        200, "application/x-protobuf", b""
    )
    stored = spans_of(keyed_server, trace_id)
    assert list(stored) == ["api-key root"]
    assert (stored["api-key root"]["model"], stored["api-key root"]["service_name"]) == ("m1", "requests-client")
    row = trace_row(keyed_server, trace_id)
    assert (row["span_count"], row["root_span_name"], row["models_used"]) == (1, "api-key root", ["m1"])
