"""Small builders for OTLP requests and a client for posting them."""

import gzip
import json
import os
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


def span(trace=1, span=1, parent=None, name="work", start_ms=0, duration_ms=10, attributes=None,
         error=None, kind=Span.SPAN_KIND_INTERNAL, events=(), links=()):
    """A protobuf Span. Ids are small integers; times are milliseconds after T0."""
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
