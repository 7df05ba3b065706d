"""Stored traces exported back to OTLP/JSON carry everything the client sent."""

import json

import pytest

from tests import helpers as h
from traces import otlp
from traces.export import otlp_json
from traces.models import Span, Trace

pytestmark = pytest.mark.django_db

LIMIT = 1 << 20


def as_comparable(batch):
    """Every stored fact of every span of a decoded batch, keyed by (trace id, span id)."""
    spans = {}
    for span in batch.spans:
        resource, scope = span.resource, span.scope
        spans[span.trace_id, span.span_id] = {
            name: getattr(span, name) for name in otlp.SpanRecord.__slots__ if name not in ("resource", "scope")
        } | {
            "resource": (resource.attributes, resource.dropped_attributes_count, resource.schema_url),
            "scope": (scope.name, scope.version, scope.attributes, scope.dropped_attributes_count, scope.schema_url),
        }
    return spans


def exported(trace_ids):
    spans = (
        Span.objects.filter(trace__trace_id__in=trace_ids)
        .select_related("trace", "resource", "scope")
        .prefetch_related("events", "links")
        .order_by("trace__trace_id", "start_ns", "id")
    )
    return json.dumps(otlp_json(spans)).encode()


@pytest.mark.parametrize("capture", ["otel-python/001.bin", "otel-python-json/001.json", "msgtrace-sdk/007.bin",
                                     "msgtrace-sdk/008.bin", "msgflux/004.bin"])
def test_an_exported_trace_decodes_to_exactly_what_was_sent(client, capture):
    original_bytes = (h.CORPUS / capture).read_bytes()
    encoding = otlp.JSON if capture.endswith(".json") else otlp.PROTOBUF
    original = otlp.decode(original_bytes, encoding, LIMIT)
    assert h.post_corpus(client, capture).status_code == 200

    round_trip = otlp.decode_json(exported(list(Trace.objects.values_list("trace_id", flat=True))), LIMIT)

    assert round_trip.rejected == 0
    assert as_comparable(round_trip) == as_comparable(original)


def test_an_exported_trace_posted_to_an_empty_store_recreates_it(client):
    h.post_corpus(client, "otel-python/001.bin")
    trace_ids = sorted(Trace.objects.values_list("trace_id", flat=True))
    before = [(t.trace_id, t.span_count, t.error_count, t.root_span_name, t.service_name, t.duration_ms)
              for t in Trace.objects.order_by("trace_id")]
    document = exported(trace_ids)
    Trace.objects.all().delete()

    response = h.post(client, document, content_type=h.JSON)

    assert response.status_code == 200 and response.json() == {}
    after = [(t.trace_id, t.span_count, t.error_count, t.root_span_name, t.service_name, t.duration_ms)
             for t in Trace.objects.order_by("trace_id")]
    assert after == before
