"""Small builders for OTLP requests, a client for posting them, and the five traces many tests share."""

import gzip
import json
import os
from datetime import datetime, timezone
from pathlib import Path

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

CORPUS = Path(__file__).parent / "corpus"
PROTOBUF = "application/x-protobuf"
JSON = "application/json"
T0 = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
MS = 1_000_000


def trace_id(n):
    return n.to_bytes(16, "big")


def span_id(n):
    return n.to_bytes(8, "big")


def any_value(value):
    if isinstance(value, AnyValue):
        return value
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, bytes):
        return AnyValue(bytes_value=value)
    if isinstance(value, (list, tuple)):
        result = AnyValue()
        result.array_value.values.extend(any_value(v) for v in value)
        return result
    if isinstance(value, dict):
        result = AnyValue()
        result.kvlist_value.values.extend(KeyValue(key=k, value=any_value(v)) for k, v in value.items())
        return result
    return AnyValue(string_value=str(value))


def key_values(attributes):
    return [KeyValue(key=k, value=any_value(v)) for k, v in (attributes or {}).items()]


def span(trace=1, span=1, parent=None, name=None, start_ms=0, duration_ms=10, attributes=None,
         error=None, kind=None, events=(), links=(), model=None, tokens=None, cost=None):
    """A protobuf Span. Ids are small integers; times are milliseconds after T0.

    With `model`, a model call as the OpenTelemetry GenAI conventions record it: a client span named
    "chat <model>" carrying gen_ai.operation.name "chat", the model, `tokens` (input, output) and
    `cost` (input, output, in dollars) when given; `attributes` come after these and win.
    """
    if model is not None:
        usage = {"gen_ai.operation.name": "chat", "gen_ai.request.model": model}
        if tokens is not None:
            usage["gen_ai.usage.input_tokens"], usage["gen_ai.usage.output_tokens"] = tokens
        if cost is not None:
            usage["gen_ai.usage.cost.input_tokens"], usage["gen_ai.usage.cost.output_tokens"] = cost
        attributes = usage | (attributes or {})
    if name is None:
        name = "work" if model is None else f"chat {model}"
    if kind is None:
        kind = Span.SPAN_KIND_INTERNAL if model is None else Span.SPAN_KIND_CLIENT
    result = Span(
        trace_id=trace_id(trace) if isinstance(trace, int) else trace,
        span_id=span_id(span) if isinstance(span, int) else span,
        name=name,
        kind=kind,
        start_time_unix_nano=T0 + start_ms * MS,
        end_time_unix_nano=T0 + (start_ms + duration_ms) * MS,
    )
    if parent is not None:
        result.parent_span_id = span_id(parent) if isinstance(parent, int) else parent
    result.attributes.extend(key_values(attributes))
    if error is not None:
        result.status.code = Status.STATUS_CODE_ERROR
        result.status.message = error
    for event in events:
        result.events.add(name=event.get("name", "event"), time_unix_nano=T0 + event.get("at_ms", 0) * MS,
                          attributes=key_values(event.get("attributes")))
    for link in links:
        result.links.add(trace_id=trace_id(link[0]), span_id=span_id(link[1]),
                         attributes=key_values(link[2] if len(link) > 2 else None))
    return result


def request(*spans, service="test-svc", resource=None, scope="tests", scope_version="1.0"):
    """An ExportTraceServiceRequest with all spans under one resource and scope."""
    message = ExportTraceServiceRequest()
    resource_spans = message.resource_spans.add()
    resource_spans.resource.attributes.extend(key_values({"service.name": service, **(resource or {})}))
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = scope
    scope_spans.scope.version = scope_version
    scope_spans.spans.extend(spans)
    return message


def body(*spans, **kwargs):
    return request(*spans, **kwargs).SerializeToString()


def post(client, payload, content_type=PROTOBUF, path="/v1/traces", **headers):
    """POST an OTLP body with the Django test client; headers are given as HTTP header names."""
    if isinstance(payload, ExportTraceServiceRequest):
        payload = payload.SerializeToString()
    extra = {"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()}
    # The test client leaves out Content-Type for an empty body; real exporters always send it.
    return client.post(path, payload, content_type=content_type, CONTENT_TYPE=content_type, **extra)


def gz(data):
    return gzip.compress(data)


def corpus_requests(client=None):
    """Every captured request: (name, body, headers dict) in file order."""
    for sidecar in sorted(CORPUS.glob("*/*.headers.json")):
        meta = json.loads(sidecar.read_text())
        yield f"{sidecar.parent.name}/{meta['file']}", (sidecar.parent / meta["file"]).read_bytes(), meta


def post_corpus(client, name):
    """POST one captured request exactly as its client sent it (path, type, encoding)."""
    folder, file = name.split("/")
    meta = json.loads((CORPUS / folder / (file.split(".")[0] + ".headers.json")).read_text())
    payload = (CORPUS / folder / file).read_bytes()
    extra = {}
    if meta["content_encoding"]:
        extra["HTTP_CONTENT_ENCODING"] = meta["content_encoding"]
    return client.post(meta["path"], payload, content_type=meta["content_type"], **extra)


def using_postgres():
    return bool(os.environ.get("DATABASE_URL"))


# --- five traces at known times --------------------------------------------------------------

def tid(n):
    """The hex trace id of trace `n`, as pages, the API and commands show it."""
    return f"{n:032x}"


def ago(minutes):
    """Milliseconds after T0 for `minutes` before now. Now is read at each call, not once at import: a
    test that runs minutes after collection still places "10 minutes ago" inside a 15-minute window."""
    return int(datetime.now(timezone.utc).timestamp() * 1000) - T0 // MS - minutes * 60_000


def post_five_traces(client):
    """Posts five traces with known facts as OTLP, from oldest (1) to newest (5), and returns the client:

        1 support flow  (api)  2 days ago   3000 ms  gpt-4o                   ok     alice  s-1  2 spans
        2 support flow  (api)  5 h ago       500 ms  gpt-4o-mini              error  bob    s-2  2 spans
        3 research flow (web)  30 min ago  12000 ms  claude-3-5-haiku+gpt-4o  ok     alice  s-1  3 spans
        4 healthcheck   (web)  10 min ago     50 ms  no model                 error  -      -    1 span
        5 support flow  (api)  1 min ago     800 ms  gpt-4o-mini              ok     carol  s-3  2 spans

    Trace 3's root arrives last, after its two model calls. Workflows: support (1, 2, 5), research (3).
    Every model call was made at temperature 0.7.
    """

    def root(n, minutes, duration, name, workflow=None, user=None, session=None, error=None):
        attributes = {"workflow.name": workflow} if workflow else {}
        if user:
            attributes |= {"user.id": user, "session.id": session}
        return span(trace=n, span=n * 100, name=name, start_ms=ago(minutes), duration_ms=duration,
                    attributes=attributes, error=error, kind=Span.SPAN_KIND_SERVER)

    def call(n, number, start_ms, model, tokens, cost, duration_ms=100, error=None):
        return span(trace=n, span=number, parent=n * 100, start_ms=start_ms, duration_ms=duration_ms, model=model,
                    tokens=tokens, cost=cost, error=error, attributes={"gen_ai.request.temperature": 0.7})

    post(client, body(root(1, 2880, 3000, "support flow", "support", "alice", "s-1"),
                      call(1, 101, ago(2880) + 10, "gpt-4o", (1000, 200), (0.0025, 0.002)), service="api"))
    post(client, body(root(2, 300, 500, "support flow", "support", "bob", "s-2"),
                      call(2, 201, ago(300) + 5, "gpt-4o-mini", (300, 50), (0.00005, 0.00003), error="rate limited"),
                      service="api"))
    post(client, body(call(3, 301, ago(30) + 100, "claude-3-5-haiku", (2000, 500), (0.0016, 0.002), duration_ms=9000),
                      call(3, 302, ago(30) + 9200, "gpt-4o", (100, 10), (0.00025, 0.0001)), service="web"))
    post(client, body(root(3, 30, 12000, "research flow", "research", "alice", "s-1"), service="web"))
    post(client, body(root(4, 10, 50, "healthcheck", error="down"), service="web"))
    post(client, body(root(5, 1, 800, "support flow", "support", "carol", "s-3"),
                      call(5, 501, ago(1) + 1, "gpt-4o-mini", (400, 80), (0.00006, 0.00005)), service="api"))
    return client


def stored_anywhere(text):
    """Every text column of the database ("app.Model.field") holding `text`: a secret that must never
    be stored (a password, an API key) is checked against all of them, not only where it might go."""
    from django.apps import apps
    from django.db import models

    return [f"{model._meta.label}.{field.name}"
            for model in apps.get_models()
            for field in model._meta.concrete_fields
            if isinstance(field, (models.CharField, models.TextField))
            and model._base_manager.filter(**{f"{field.name}__contains": text}).exists()]
