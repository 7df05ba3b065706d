"""OTLP/HTTP trace requests: bytes in, plain Python records out, and the encoded answers.

Pure functions: nothing here touches the database. Both encodings (protobuf and OTLP/JSON) are
decoded into the same records, so the rest of msgtrace never knows which one a client spoke.

Attribute values keep their OTLP type in plain JSON: strings, booleans, integers, doubles, arrays
(lists) and kvlists (objects) map onto themselves; the two that JSON cannot hold are tagged,
bytes as {"$bytes": "<base64>"} and doubles that JSON or PostgreSQL would turn into something
else (NaN, infinities, 1e+16 and larger) as {"$double": "<repr>"}. `to_any_value` reverses this.
"""

import base64
import binascii
import hashlib
import json
import math
import re
import threading
import zlib
from typing import NamedTuple

from google.protobuf.message import DecodeError as ProtobufDecodeError
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from traces import semconv

PROTOBUF = "protobuf"
JSON = "json"
CONTENT_TYPES = {
    "application/x-protobuf": PROTOBUF,
    "application/protobuf": PROTOBUF,
    "application/json": JSON,
}
# protobuf's parser stops at 100 message levels, about 30 nested kvlists inside a span; OTLP/JSON
# gets the same bound, applied span by span.
MAX_DEPTH = 32
MAX_INT64 = 2**63 - 1
_ZERO_TRACE_ID = "0" * 32
_ZERO_SPAN_ID = "0" * 16
_HEX = re.compile(r"^[0-9a-fA-F]*$")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
# Values truncated while the current thread decodes a request (Batch.truncated, for ingest health):
# counted only on the truncating branch, so the common path pays nothing.
_truncations = threading.local()


class BadRequest(Exception):
    """The body as a whole cannot be used; answered with 400 and a google.rpc.Status."""


class TooLarge(Exception):
    """The body, compressed or decompressed, is over the configured limit; answered with 413."""


class InvalidSpan(Exception):
    """One span cannot be stored; the rest of the request still is."""


class SpanRecord:
    __slots__ = (
        "trace_id",
        "span_id",
        "parent_span_id",
        "name",
        "kind",
        "start_ns",
        "end_ns",
        "status_code",
        "status_message",
        "trace_state",
        "flags",
        "attributes",
        "dropped_attributes_count",
        "dropped_events_count",
        "dropped_links_count",
        "events",
        "links",
        "resource",
        "scope",
        "service_name",
        "normalized",
        "ignored",
    )

    def __init__(self, **fields):
        for key, value in fields.items():
            setattr(self, key, value)


class EventRecord(NamedTuple):
    """A span event as decoded, in the order the client sent it."""

    time_ns: int
    name: str
    attributes: dict
    dropped_attributes_count: int


class LinkRecord(NamedTuple):
    """A span's link to another span (hex ids), in the order the client sent it."""

    trace_id: str
    span_id: str
    trace_state: str
    flags: int
    attributes: dict
    dropped_attributes_count: int


class ResourceRecord:
    __slots__ = ("fingerprint", "attributes", "dropped_attributes_count", "schema_url", "service_name")

    def __init__(self, attributes, dropped_attributes_count, schema_url):
        self.attributes = attributes
        self.dropped_attributes_count = dropped_attributes_count
        self.schema_url = schema_url
        self.service_name = semconv.service_name(attributes)
        self.fingerprint = _fingerprint("resource", attributes, dropped_attributes_count, schema_url)


class ScopeRecord:
    __slots__ = ("fingerprint", "name", "version", "attributes", "dropped_attributes_count", "schema_url")

    def __init__(self, name, version, attributes, dropped_attributes_count, schema_url):
        self.name = name
        self.version = version
        self.attributes = attributes
        self.dropped_attributes_count = dropped_attributes_count
        self.schema_url = schema_url
        self.fingerprint = _fingerprint("scope", name, version, attributes, dropped_attributes_count, schema_url)


class Batch:
    """The decoded request: spans to store, how many were rejected and why, and the values that
    were stored but left out of usage totals."""

    def __init__(self):
        self.spans = []
        self.rejected = 0
        self.reasons = {}
        self.ignored = {}
        self.resource = None  # the request's first resource, which names its client in ingest health
        self.truncated = 0

    def add(self, span):
        self.spans.append(span)
        for note in span.ignored:
            self.ignored[note] = self.ignored.get(note, 0) + 1

    def reject(self, reason, count=1):
        self.rejected += count
        self.reasons[reason] = self.reasons.get(reason, 0) + count

    @property
    def error_message(self):
        parts = []
        if self.rejected:
            reasons = [f"{count} span{'s' if count != 1 else ''}: {reason}" for reason, count in self.reasons.items()]
            parts.append(f"rejected {self.rejected} of {self.rejected + len(self.spans)} spans; " + "; ".join(reasons))
        if self.ignored:
            notes = [f"{note} ({count} span{'s' if count != 1 else ''})" for note, count in list(self.ignored.items())[:5]]
            more = len(self.ignored) - len(notes)
            parts.append(
                "stored, but not counted in token and cost totals: " + "; ".join(notes)
                + (f"; and {more} more" if more > 0 else "")
            )
        return " | ".join(parts)


def _fingerprint(*parts):
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()


# ---------------------------------------------------------------------------------------------
# Request framing


def encoding_of(content_type):
    """PROTOBUF, JSON, or None for a content type msgtrace does not take."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return CONTENT_TYPES.get(media_type)


def decompress(body, content_encoding, limit):
    """The body with its Content-Encoding undone; never inflates past `limit` bytes."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding in ("gzip", "x-gzip"):
        return _inflate(body, zlib.MAX_WBITS | 16, limit, "gzip")
    if encoding == "deflate":
        # RFC 9110's deflate is zlib-wrapped; some clients send a raw stream: take both.
        try:
            return _inflate(body, zlib.MAX_WBITS, limit, "deflate")
        except BadRequest:
            return _inflate(body, -zlib.MAX_WBITS, limit, "deflate")
    raise UnsupportedEncoding(encoding)


class UnsupportedEncoding(Exception):
    """A Content-Encoding msgtrace cannot undo; answered with 415."""


def _inflate(body, wbits, limit, name):
    inflater = zlib.decompressobj(wbits)
    try:
        data = inflater.decompress(body, limit + 1)
        if len(data) > limit:
            raise TooLarge(f"the {name}-decompressed body is over the limit of {limit} bytes")
        if not inflater.eof:
            if inflater.unconsumed_tail:
                raise TooLarge(f"the {name}-decompressed body is over the limit of {limit} bytes")
            raise BadRequest(f"the body is not valid {name} data: the stream is truncated")
    except zlib.error as exc:
        raise BadRequest(f"the body is not valid {name} data: {exc}") from None
    return data


# ---------------------------------------------------------------------------------------------
# Attribute values


def _clip(text, limit):
    if "\x00" in text:
        # PostgreSQL cannot store NUL in text; the replacement character keeps the position visible.
        text = text.replace("\x00", "\ufffd")
    if len(text) > limit >> 2:
        encoded = text.encode("utf-8", "surrogatepass")
        if len(encoded) > limit:
            kept = encoded[:limit].decode("utf-8", "ignore")
            _truncations.count = getattr(_truncations, "count", 0) + 1
            return f"{kept}…[truncated by msgtrace: {len(encoded):,} bytes, the first {limit:,} kept]"
    return text


def _double(number):
    if math.isfinite(number):
        text = repr(number)
        if "e+" not in text:
            return number
        return {"$double": text}
    return {"$double": "NaN" if number != number else ("Infinity" if number > 0 else "-Infinity")}


def _bytes(data, limit):
    if len(data) > limit:
        _truncations.count = getattr(_truncations, "count", 0) + 1
        return {"$bytes": base64.b64encode(data[:limit]).decode("ascii"), "$truncated_from": len(data)}
    return {"$bytes": base64.b64encode(data).decode("ascii")}


def _pb_value(value, limit, depth=0):
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return _clip(value.string_value, limit)
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        return _double(value.double_value)
    if kind == "bool_value":
        return value.bool_value
    if kind == "array_value":
        return [_pb_value(item, limit, depth + 1) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {_clip(kv.key, limit): _pb_value(kv.value, limit, depth + 1) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return _bytes(value.bytes_value, limit)
    return None


def _pb_attributes(key_values, limit):
    # The common cases inline: this loop runs for every attribute of every span.
    short = limit >> 2
    attributes = {}
    for kv in key_values:
        key = kv.key
        if len(key) > short or "\x00" in key:
            key = _clip(key, limit)
        value = kv.value
        kind = value.WhichOneof("value")
        if kind == "string_value":
            text = value.string_value
            attributes[key] = _clip(text, limit) if len(text) > short or "\x00" in text else text
        elif kind == "int_value":
            attributes[key] = value.int_value
        elif kind == "bool_value":
            attributes[key] = value.bool_value
        else:
            attributes[key] = _pb_value(value, limit)
    return attributes


def to_any_value(value):
    """A stored attribute value -> an OTLP/JSON AnyValue (the reverse of decoding)."""
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, list):
        return {"arrayValue": {"values": [to_any_value(item) for item in value]}}
    if isinstance(value, dict):
        if "$bytes" in value and len(value) <= 2 and set(value) <= {"$bytes", "$truncated_from"}:
            return {"bytesValue": value["$bytes"]}
        if set(value) == {"$double"}:
            return {"doubleValue": value["$double"]}
        return {"kvlistValue": {"values": [{"key": k, "value": to_any_value(v)} for k, v in value.items()]}}
    return {}


def to_key_values(attributes):
    return [{"key": key, "value": to_any_value(value)} for key, value in attributes.items()]


# ---------------------------------------------------------------------------------------------
# Protobuf


def _check_ids(trace_id, span_id, parent_span_id):
    if len(trace_id) != 32:
        raise InvalidSpan("trace_id must be 16 bytes")
    if trace_id == _ZERO_TRACE_ID:
        raise InvalidSpan("trace_id is all zeros")
    if len(span_id) != 16:
        raise InvalidSpan("span_id must be 8 bytes")
    if span_id == _ZERO_SPAN_ID:
        raise InvalidSpan("span_id is all zeros")
    if parent_span_id:
        if len(parent_span_id) != 16:
            raise InvalidSpan("parent_span_id must be empty or 8 bytes")
        if parent_span_id == _ZERO_SPAN_ID:
            return ""
    return parent_span_id


def _check_times(start_ns, end_ns):
    if start_ns > MAX_INT64 or end_ns > MAX_INT64 or start_ns < 0 or end_ns < 0:
        raise InvalidSpan("timestamps must be below 2**63 nanoseconds")


def _span_record(
    trace_id, span_id, parent_span_id, name, kind, start_ns, end_ns, status_code, status_message,
    trace_state, flags, attributes, dropped, events, links, resource, scope, limit,
):
    parent_span_id = _check_ids(trace_id, span_id, parent_span_id)
    _check_times(start_ns, end_ns)
    for event in events:
        if not 0 <= event.time_ns <= MAX_INT64:
            raise InvalidSpan("an event's time_unix_nano must be below 2**63 nanoseconds")
    name = _clip(name, limit)
    ignored = []
    return SpanRecord(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent_span_id,
        name=name,
        kind=kind if 0 <= kind <= 5 else 0,
        start_ns=start_ns,
        end_ns=end_ns,
        status_code=status_code if 0 <= status_code <= 2 else 0,
        status_message=_clip(status_message, limit),
        trace_state=_clip(trace_state, limit),
        flags=flags,
        attributes=attributes,
        dropped_attributes_count=dropped[0],
        dropped_events_count=dropped[1],
        dropped_links_count=dropped[2],
        events=events,
        links=links,
        resource=resource,
        scope=scope,
        service_name=resource.service_name,
        normalized=semconv.normalize(attributes, name, ignored, start_ns),
        ignored=ignored,
    )


def decode_protobuf(body, limit):
    try:
        request = ExportTraceServiceRequest.FromString(body)
    except ProtobufDecodeError as exc:
        if "MaxDepth" in str(exc):
            raise BadRequest(
                "the request nests attribute values deeper than protobuf's limit of 100 message levels "
                f"(about {MAX_DEPTH} nested arrays or kvlists)"
            ) from None
        raise BadRequest(f"the body is not a valid protobuf ExportTraceServiceRequest: {exc}") from None
    except RecursionError:
        raise BadRequest("the body nests values deeper than protobuf allows") from None
    batch = Batch()
    for resource_spans in request.resource_spans:
        pb_resource = resource_spans.resource
        resource = ResourceRecord(
            _pb_attributes(pb_resource.attributes, limit),
            pb_resource.dropped_attributes_count,
            resource_spans.schema_url,
        )
        batch.resource = batch.resource or resource
        for scope_spans in resource_spans.scope_spans:
            pb_scope = scope_spans.scope
            scope = ScopeRecord(
                pb_scope.name,
                pb_scope.version,
                _pb_attributes(pb_scope.attributes, limit),
                pb_scope.dropped_attributes_count,
                scope_spans.schema_url,
            )
            for span in scope_spans.spans:
                try:
                    status = span.status
                    batch.add(
                        _span_record(
                            span.trace_id.hex(),
                            span.span_id.hex(),
                            span.parent_span_id.hex(),
                            span.name,
                            span.kind,
                            span.start_time_unix_nano,
                            span.end_time_unix_nano,
                            status.code,
                            status.message,
                            span.trace_state,
                            span.flags,
                            _pb_attributes(span.attributes, limit),
                            (span.dropped_attributes_count, span.dropped_events_count, span.dropped_links_count),
                            [
                                EventRecord(
                                    event.time_unix_nano,
                                    _clip(event.name, limit),
                                    _pb_attributes(event.attributes, limit),
                                    event.dropped_attributes_count,
                                )
                                for event in span.events
                            ],
                            [_pb_link(link, limit) for link in span.links],
                            resource,
                            scope,
                            limit,
                        )
                    )
                except InvalidSpan as exc:
                    batch.reject(str(exc))
    return batch


def _pb_link(link, limit):
    trace_id, span_id = link.trace_id.hex(), link.span_id.hex()
    if len(trace_id) != 32 or len(span_id) != 16:
        raise InvalidSpan("a link's trace_id must be 16 bytes and its span_id 8 bytes")
    return LinkRecord(
        trace_id,
        span_id,
        _clip(link.trace_state, limit),
        link.flags,
        _pb_attributes(link.attributes, limit),
        link.dropped_attributes_count,
    )


# ---------------------------------------------------------------------------------------------
# OTLP/JSON: lowerCamelCase keys (the original snake_case names are accepted too), hex ids,
# enums as integers (or their names), 64-bit integers as strings or numbers.

_KINDS = {name: number for number, name in enumerate(
    ("SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER", "SPAN_KIND_CLIENT",
     "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER")
)}
_STATUS_CODES = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}


def _get(obj, camel, snake, default=None):
    value = obj.get(camel)
    if value is None:
        value = obj.get(snake, default)
    return default if value is None else value


def _json_int(value, what, low=0, high=MAX_INT64):
    if isinstance(value, bool):
        raise InvalidSpan(f"{what} must be an integer")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        try:
            number = int(value)
        except ValueError:
            raise InvalidSpan(f"{what} must be an integer, got {value[:40]!r}") from None
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    else:
        raise InvalidSpan(f"{what} must be an integer")
    if not low <= number <= high:
        raise InvalidSpan(f"{what} is out of range")
    return number


def _json_enum(value, names, what):
    if isinstance(value, str) and value in names:
        return names[value]
    return _json_int(value, what, 0, 2**31 - 1)


def _json_str(value, what, limit):
    if not isinstance(value, str):
        raise InvalidSpan(f"{what} must be a string")
    return _clip(value, limit)


def _json_id(value, size, what):
    """A hex id as the OTLP/JSON spec has it; base64 (protobuf's own JSON mapping) is taken too."""
    if not value:
        return ""
    if not isinstance(value, str):
        raise InvalidSpan(f"{what} must be a hex string")
    if len(value) == size * 2 and _HEX.match(value):
        return value.lower()
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidSpan(f"{what} must be {size * 2} hex digits") from None
    if len(raw) != size:
        raise InvalidSpan(f"{what} must be {size * 2} hex digits")
    return raw.hex()


def _json_value(value, limit, depth=0):
    if depth > MAX_DEPTH:
        raise InvalidSpan(f"an attribute value nests deeper than {MAX_DEPTH} levels")
    if not isinstance(value, dict):
        raise InvalidSpan("an attribute value must be an AnyValue object")
    if not value:
        return None
    for key, item in value.items():
        if key in ("stringValue", "string_value"):
            return _json_str(item, "stringValue", limit)
        if key in ("intValue", "int_value"):
            return _json_int(item, "intValue", -(2**63), MAX_INT64)
        if key in ("doubleValue", "double_value"):
            if isinstance(item, bool):
                raise InvalidSpan("doubleValue must be a number")
            try:
                return _double(float(item))
            except (TypeError, ValueError):
                raise InvalidSpan("doubleValue must be a number") from None
        if key in ("boolValue", "bool_value"):
            if not isinstance(item, bool):
                raise InvalidSpan("boolValue must be true or false")
            return item
        if key in ("arrayValue", "array_value"):
            values = item.get("values", []) if isinstance(item, dict) else None
            if not isinstance(values, list):
                raise InvalidSpan("arrayValue must hold a list of values")
            return [_json_value(v, limit, depth + 1) for v in values]
        if key in ("kvlistValue", "kvlist_value"):
            values = item.get("values", []) if isinstance(item, dict) else None
            if not isinstance(values, list):
                raise InvalidSpan("kvlistValue must hold a list of key-values")
            return _json_attributes(values, limit, depth + 1)
        if key in ("bytesValue", "bytes_value"):
            if not isinstance(item, str):
                raise InvalidSpan("bytesValue must be a base64 string")
            try:
                data = base64.b64decode(item, validate=True)
            except (binascii.Error, ValueError):
                try:
                    data = base64.urlsafe_b64decode(item)
                except (binascii.Error, ValueError):
                    raise InvalidSpan("bytesValue must be base64") from None
            return _bytes(data, limit)
    return None  # an AnyValue with an unknown field: ignored, as OTLP/JSON receivers must


def _json_attributes(key_values, limit, depth=0):
    if not isinstance(key_values, list):
        raise InvalidSpan("attributes must be a list of key-values")
    attributes = {}
    for kv in key_values:
        if not isinstance(kv, dict) or not isinstance(kv.get("key"), str):
            raise InvalidSpan("an attribute must be an object with a string key")
        attributes[_clip(kv["key"], limit)] = _json_value(kv.get("value") or {}, limit, depth)
    return attributes


def _json_list(obj, camel, snake, what):
    value = _get(obj, camel, snake, [])
    if not isinstance(value, list):
        raise BadRequest(f"{what} must be a list")
    return value


def _json_object(value, what):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest(f"{what} must be an object")
    return value


def _json_resource_attributes(obj, limit, what):
    try:
        return _json_attributes(_get(obj, "attributes", "attributes", []), limit)
    except InvalidSpan as exc:
        raise BadRequest(f"{what}: {exc}") from None


def _span_items(span, name):
    items = span.get(name) or []
    if not isinstance(items, list):
        raise InvalidSpan(f"{name} must be a list")
    return items


def _json_span(span, resource, scope, limit):
    if not isinstance(span, dict):
        raise InvalidSpan("a span must be an object")
    status = _get(span, "status", "status", {})
    if not isinstance(status, dict):
        raise InvalidSpan("status must be an object")
    events = []
    for event in _span_items(span, "events"):
        if not isinstance(event, dict):
            raise InvalidSpan("an event must be an object")
        events.append(
            EventRecord(
                _json_int(_get(event, "timeUnixNano", "time_unix_nano", 0), "timeUnixNano"),
                _json_str(_get(event, "name", "name", ""), "event name", limit),
                _json_attributes(_get(event, "attributes", "attributes", []), limit),
                _json_int(_get(event, "droppedAttributesCount", "dropped_attributes_count", 0), "droppedAttributesCount"),
            )
        )
    links = []
    for link in _span_items(span, "links"):
        if not isinstance(link, dict):
            raise InvalidSpan("a link must be an object")
        trace_id = _json_id(_get(link, "traceId", "trace_id", ""), 16, "a link's traceId")
        span_id = _json_id(_get(link, "spanId", "span_id", ""), 8, "a link's spanId")
        if len(trace_id) != 32 or len(span_id) != 16:
            raise InvalidSpan("a link's trace_id must be 16 bytes and its span_id 8 bytes")
        links.append(
            LinkRecord(
                trace_id,
                span_id,
                _json_str(_get(link, "traceState", "trace_state", ""), "a link's traceState", limit),
                _json_int(_get(link, "flags", "flags", 0), "a link's flags", 0, 2**32 - 1),
                _json_attributes(_get(link, "attributes", "attributes", []), limit),
                _json_int(_get(link, "droppedAttributesCount", "dropped_attributes_count", 0), "droppedAttributesCount"),
            )
        )
    return _span_record(
        _json_id(_get(span, "traceId", "trace_id", ""), 16, "traceId"),
        _json_id(_get(span, "spanId", "span_id", ""), 8, "spanId"),
        _json_id(_get(span, "parentSpanId", "parent_span_id", ""), 8, "parentSpanId"),
        _json_str(_get(span, "name", "name", ""), "name", limit),
        _json_enum(_get(span, "kind", "kind", 0), _KINDS, "kind"),
        _json_int(_get(span, "startTimeUnixNano", "start_time_unix_nano", 0), "startTimeUnixNano"),
        _json_int(_get(span, "endTimeUnixNano", "end_time_unix_nano", 0), "endTimeUnixNano"),
        _json_enum(_get(status, "code", "code", 0), _STATUS_CODES, "status code"),
        _json_str(_get(status, "message", "message", ""), "status message", limit),
        _json_str(_get(span, "traceState", "trace_state", ""), "traceState", limit),
        _json_int(_get(span, "flags", "flags", 0), "flags", 0, 2**32 - 1),
        _json_attributes(_get(span, "attributes", "attributes", []), limit),
        (
            _json_int(_get(span, "droppedAttributesCount", "dropped_attributes_count", 0), "droppedAttributesCount"),
            _json_int(_get(span, "droppedEventsCount", "dropped_events_count", 0), "droppedEventsCount"),
            _json_int(_get(span, "droppedLinksCount", "dropped_links_count", 0), "droppedLinksCount"),
        ),
        events,
        links,
        resource,
        scope,
        limit,
    )


def _replace_lone_surrogates(document):
    """The document with every lone UTF-16 surrogate in its strings replaced by U+FFFD, in place.
    Iterative: a hostile document may nest far deeper than Python's recursion limit."""

    def fixed(text):
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")

    if isinstance(document, str):
        return fixed(document)
    pending = [document]
    while pending:
        container = pending.pop()
        if isinstance(container, list):
            for index, item in enumerate(container):
                if isinstance(item, str):
                    container[index] = fixed(item)
                elif isinstance(item, (list, dict)):
                    pending.append(item)
        else:
            for key in list(container):
                item = container[key]
                if isinstance(item, str):
                    item = fixed(item)
                elif isinstance(item, (list, dict)):
                    pending.append(item)
                if isinstance(key, str) and (new_key := fixed(key)) != key:
                    del container[key]
                    key = new_key
                container[key] = item
    return document


def decode_json(body, limit):
    if not body.strip():
        return Batch()
    try:
        document = json.loads(body)
    except UnicodeDecodeError:
        raise BadRequest("the JSON body is not valid UTF-8") from None
    except ValueError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    except RecursionError:
        raise BadRequest("the JSON body nests deeper than msgtrace can read") from None
    if _SURROGATE_ESCAPE.search(body):
        # A lone UTF-16 surrogate cannot be stored as UTF-8: it becomes U+FFFD, like invalid bytes would.
        document = _replace_lone_surrogates(document)
    if not isinstance(document, dict):
        raise BadRequest("the JSON body must be an ExportTraceServiceRequest object")
    batch = Batch()
    for resource_spans in _json_list(document, "resourceSpans", "resource_spans", "resourceSpans"):
        if not isinstance(resource_spans, dict):
            raise BadRequest("each resourceSpans entry must be an object")
        json_resource = _json_object(_get(resource_spans, "resource", "resource"), "resource")
        resource = ResourceRecord(
            _json_resource_attributes(json_resource, limit, "resource attributes"),
            _json_count(json_resource, "resource"),
            _json_schema_url(resource_spans),
        )
        batch.resource = batch.resource or resource
        for scope_spans in _json_list(resource_spans, "scopeSpans", "scope_spans", "scopeSpans"):
            if not isinstance(scope_spans, dict):
                raise BadRequest("each scopeSpans entry must be an object")
            json_scope = _json_object(_get(scope_spans, "scope", "scope"), "scope")
            name, version = json_scope.get("name", ""), json_scope.get("version", "")
            if not isinstance(name, str) or not isinstance(version, str):
                raise BadRequest("scope name and version must be strings")
            scope = ScopeRecord(
                _clip(name, limit),
                _clip(version, limit),
                _json_resource_attributes(json_scope, limit, "scope attributes"),
                _json_count(json_scope, "scope"),
                _json_schema_url(scope_spans),
            )
            for span in _json_list(scope_spans, "spans", "spans", "spans"):
                try:
                    batch.add(_json_span(span, resource, scope, limit))
                except InvalidSpan as exc:
                    batch.reject(str(exc))
                except RecursionError:
                    batch.reject(f"an attribute value nests deeper than {MAX_DEPTH} levels")
    return batch


def _json_count(obj, what):
    try:
        return _json_int(_get(obj, "droppedAttributesCount", "dropped_attributes_count", 0), f"{what} droppedAttributesCount")
    except InvalidSpan as exc:
        raise BadRequest(str(exc)) from None


def _json_schema_url(obj):
    value = _get(obj, "schemaUrl", "schema_url", "")
    if not isinstance(value, str):
        raise BadRequest("schemaUrl must be a string")
    return value


def decode(body, encoding, limit):
    """Bytes of an ExportTraceServiceRequest -> Batch. Raises BadRequest when nothing can be read."""
    _truncations.count = 0
    batch = decode_protobuf(body, limit) if encoding == PROTOBUF else decode_json(body, limit)
    batch.truncated = _truncations.count
    return batch


# ---------------------------------------------------------------------------------------------
# Answers


def export_response(encoding, rejected=0, error_message=""):
    if encoding == PROTOBUF:
        response = ExportTraceServiceResponse()
        if rejected or error_message:
            response.partial_success.rejected_spans = rejected
            response.partial_success.error_message = error_message
        return response.SerializeToString()
    if rejected or error_message:
        document = {"partialSuccess": {"rejectedSpans": str(rejected), "errorMessage": error_message}}
    else:
        document = {}
    return json.dumps(document).encode()


# google.rpc.Code values for the HTTP statuses msgtrace answers with.
RPC_CODES = {400: 3, 401: 16, 404: 5, 405: 12, 408: 4, 413: 8, 415: 3, 429: 8, 503: 14}


def status_body(encoding, http_status, message):
    code = RPC_CODES.get(http_status, 2)
    if encoding == PROTOBUF:
        return status_pb2.Status(code=code, message=message).SerializeToString()
    return json.dumps({"code": code, "message": message}).encode()
