"""Stored traces -> OTLP/JSON, the reverse of traces.otlp: posting the result to /v1/traces of an
empty msgtrace recreates the same spans, attributes, events, links, resources and scopes."""

from traces.otlp import to_key_values


def _optional(document, key, value):
    # OTLP/JSON leaves out fields at their default value, as protobuf's JSON mapping does.
    if value:
        document[key] = value
    return document


def span_document(span):
    document = {
        "traceId": span.trace.trace_id,
        "spanId": span.span_id,
    }
    _optional(document, "traceState", span.trace_state)
    _optional(document, "parentSpanId", span.parent_span_id)
    _optional(document, "flags", span.flags)
    document["name"] = span.name
    _optional(document, "kind", span.kind)
    document["startTimeUnixNano"] = str(span.start_ns)
    document["endTimeUnixNano"] = str(span.end_ns)
    _optional(document, "attributes", to_key_values(span.attributes))
    _optional(document, "droppedAttributesCount", span.dropped_attributes_count)
    events = []
    for event in span.events.all():
        item = {"timeUnixNano": str(event.time_ns), "name": event.name}
        _optional(item, "attributes", to_key_values(event.attributes))
        events.append(_optional(item, "droppedAttributesCount", event.dropped_attributes_count))
    _optional(document, "events", events)
    _optional(document, "droppedEventsCount", span.dropped_events_count)
    links = []
    for link in span.links.all():
        item = {"traceId": link.linked_trace_id, "spanId": link.linked_span_id}
        _optional(item, "traceState", link.trace_state)
        _optional(item, "attributes", to_key_values(link.attributes))
        _optional(item, "droppedAttributesCount", link.dropped_attributes_count)
        links.append(_optional(item, "flags", link.flags))
    _optional(document, "links", links)
    _optional(document, "droppedLinksCount", span.dropped_links_count)
    status = _optional({}, "message", span.status_message)
    _optional(status, "code", span.status_code)
    document["status"] = status
    return document


def otlp_json(spans):
    """An ExportTraceServiceRequest document for spans (with trace, resource, scope, events and
    links loaded), grouped by resource and scope in the order the spans come in."""
    resources = {}
    for span in spans:
        resource = resources.get(span.resource_id)
        if resource is None:
            resource = resources[span.resource_id] = {"resource": span.resource, "scopes": {}}
        scope = resource["scopes"].get(span.scope_id)
        if scope is None:
            scope = resource["scopes"][span.scope_id] = {"scope": span.scope, "spans": []}
        scope["spans"].append(span_document(span))
    document = []
    for entry in resources.values():
        resource = entry["resource"]
        resource_document = _optional({}, "attributes", to_key_values(resource.attributes))
        _optional(resource_document, "droppedAttributesCount", resource.dropped_attributes_count)
        scope_spans = []
        for scope_entry in entry["scopes"].values():
            scope = scope_entry["scope"]
            scope_document = _optional({}, "name", scope.name)
            _optional(scope_document, "version", scope.version)
            _optional(scope_document, "attributes", to_key_values(scope.attributes))
            _optional(scope_document, "droppedAttributesCount", scope.dropped_attributes_count)
            item = {"scope": scope_document, "spans": scope_entry["spans"]}
            scope_spans.append(_optional(item, "schemaUrl", scope.schema_url))
        item = {"resource": resource_document, "scopeSpans": scope_spans}
        document.append(_optional(item, "schemaUrl", resource.schema_url))
    return {"resourceSpans": document}


# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets, which
# can fetch URLs or run commands when the file is opened (CSV injection).
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n", "|", "%")


def spreadsheet_safe(value):
    """A CSV cell value that spreadsheets show as text: text that would start a formula gets a
    leading apostrophe, which they hide. Numbers are left alone."""
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return value
