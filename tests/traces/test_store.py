"""The writer: its raw SQL names exactly the models' columns, its id caches stay bounded, and a
cached id that went stale (its row removed behind its back) costs a retry, never a span."""

import pytest
from django.db import DataError, connection
from django.test.utils import CaptureQueriesContext

from tests import helpers as h
from traces import semconv
from traces import store as trace_store
from traces.models import Resource, Scope, Span, SpanEvent, SpanLink, Trace
from traces.otlp import PROTOBUF, EventRecord, LinkRecord, decode


@pytest.fixture(autouse=True)
def empty_caches():
    """Each test starts with nothing cached, and leaves no id of its database to the next."""
    trace_store._resource_ids.clear()
    trace_store._scope_ids.clear()
    yield
    trace_store._resource_ids.clear()
    trace_store._scope_ids.clear()


def columns(model):
    """The model's columns in field order, without the primary key (the database numbers rows)."""
    return tuple(field.column for field in model._meta.concrete_fields if not field.primary_key)


# ---------------------------------------------------------------------------------------------
# Raw SQL against the models


@pytest.mark.parametrize("written, model", [
    (trace_store.SPAN_COLUMNS, Span),
    (trace_store.RESOURCE_COLUMNS, Resource),
    (trace_store.SCOPE_COLUMNS, Scope),
    (trace_store.EVENT_COLUMNS, SpanEvent),
    (trace_store.LINK_COLUMNS, SpanLink),
], ids=["span", "resource", "scope", "event", "link"])
def test_every_insert_names_every_column_of_its_model_in_field_order(written, model):
    assert written == columns(model)


def test_a_new_trace_row_is_written_whole_and_its_state_is_every_column_merge_reads():
    # The run_ columns are traces.runs' own: written when a trace joins a run, database defaults until then.
    trace_columns = [column for column in columns(Trace) if not column.startswith("run_")]
    # Creating a trace writes TRACE_UPDATE plus its trace_id: every column, each once.
    assert len(set(trace_store.TRACE_UPDATE)) == len(trace_store.TRACE_UPDATE)
    assert sorted(trace_store.TRACE_UPDATE + ("trace_id",)) == sorted(trace_columns)
    # The locked state is every column except those derived from it when the row is written.
    derived = {"started_at", "ended_at", "duration_ms", "status", "updated_at"}
    assert set(trace_store.TRACE_STATE) == {"id"} | set(trace_columns) - derived
    assert len(set(trace_store.TRACE_STATE)) == len(trace_store.TRACE_STATE)


def test_the_normalized_span_columns_are_what_semconv_produces():
    assert trace_store.NORMALIZED == tuple(semconv.normalize({}, "work", []))


# ---------------------------------------------------------------------------------------------
# Events and links


def test_events_and_links_are_decoded_as_named_records_and_stored_in_order():
    body = h.body(h.span(trace=1, span=1,
                         events=[{"name": "first", "at_ms": 1, "attributes": {"n": 1}}, {"name": "second", "at_ms": 2}],
                         links=[(2, 3, {"why": "retry"}), (4, 5)]))
    [span] = decode(body, PROTOBUF, 4096).spans

    assert span.events == [
        EventRecord(time_ns=h.T0 + h.MS, name="first", attributes={"n": 1}, dropped_attributes_count=0),
        EventRecord(time_ns=h.T0 + 2 * h.MS, name="second", attributes={}, dropped_attributes_count=0),
    ]
    assert span.links == [
        LinkRecord(trace_id=f"{2:032x}", span_id=f"{3:016x}", trace_state="", flags=0, attributes={"why": "retry"},
                   dropped_attributes_count=0),
        LinkRecord(trace_id=f"{4:032x}", span_id=f"{5:016x}", trace_state="", flags=0, attributes={},
                   dropped_attributes_count=0),
    ]


@pytest.mark.django_db
def test_stored_events_and_links_keep_every_field_of_their_records(client):
    h.post(client, h.body(h.span(trace=1, span=1, events=[{"name": "first", "at_ms": 1, "attributes": {"n": 1}}],
                                 links=[(2, 3, {"why": "retry"})])))

    event, link = SpanEvent.objects.get(), SpanLink.objects.get()
    assert (event.position, event.time_ns, event.name, event.attributes) == (0, h.T0 + h.MS, "first", {"n": 1})
    assert (link.position, link.linked_trace_id, link.linked_span_id, link.attributes) == (
        0, f"{2:032x}", f"{3:016x}", {"why": "retry"},
    )


# ---------------------------------------------------------------------------------------------
# The id caches


def test_the_id_cache_forgets_the_least_recently_used_beyond_its_capacity():
    cache = trace_store.IdCache(3)
    cache.update({"a": 1, "b": 2, "c": 3})
    assert cache.known(["a", "x"]) == {"a": 1}  # "a" is now the most recently used

    cache.update({"d": 4})

    assert len(cache) == 3
    assert cache.known(["a", "b", "c", "d"]) == {"a": 1, "c": 3, "d": 4}


def test_the_caches_of_the_server_are_bounded():
    assert trace_store._resource_ids.capacity == trace_store._scope_ids.capacity == trace_store.CACHE_CAPACITY == 10_000


@pytest.mark.django_db
def test_a_client_sending_a_new_resource_with_every_request_fills_the_cache_only_to_its_capacity(
    client, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(trace_store, "_resource_ids", trace_store.IdCache(3))
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(1, 8):
            h.post(client, h.body(h.span(trace=n, span=1), resource={"host.name": f"pod-{n}"}))

    assert Span.objects.count() == 7 and Resource.objects.count() == 7
    # The three most recent, by the ids the database gave them.
    newest = {r.fingerprint: r.pk for r in Resource.objects.order_by("-pk")[:3]}
    assert len(trace_store._resource_ids) == 3
    assert trace_store._resource_ids.known(newest) == newest
    assert len(trace_store._scope_ids) == 1


# ---------------------------------------------------------------------------------------------
# Stale cached ids (both databases check the spans' foreign keys at commit)


def trace_inserts(queries):
    return sum(1 for query in queries if query["sql"].startswith("INSERT INTO traces_trace"))


@pytest.mark.django_db(transaction=True)
def test_a_batch_whose_cached_resource_and_scope_were_removed_by_hand_is_stored_whole_with_fresh_rows(client):
    h.post(client, h.body(h.span(trace=1, span=1)))
    old_resource, old_scope = Resource.objects.get(), Scope.objects.get()
    assert trace_store._resource_ids.known([old_resource.fingerprint]) == {old_resource.fingerprint: old_resource.pk}
    # Removed by hand, spans first, behind the cache's back.
    Trace.objects.all().delete_with_spans()
    Resource.objects.all().delete()
    Scope.objects.all().delete()

    with CaptureQueriesContext(connection) as queries:
        response = h.post(client, h.body(h.span(trace=2, span=1), h.span(trace=3, span=1), h.span(trace=4, span=1)))

    assert response.status_code == 200 and "partialSuccess" not in response.content.decode(errors="replace")
    assert sorted(Trace.objects.values_list("trace_id", "span_count")) == [
        (f"{2:032x}", 1), (f"{3:032x}", 1), (f"{4:032x}", 1),
    ]
    resource, scope = Resource.objects.get(), Scope.objects.get()
    assert (resource.fingerprint, scope.fingerprint) == (old_resource.fingerprint, old_scope.fingerprint)
    assert resource.pk != old_resource.pk and scope.pk != old_scope.pk
    assert set(Span.objects.values_list("resource_id", "scope_id")) == {(resource.pk, scope.pk)}
    # Refused once at commit, then stored in one go: not trace by trace.
    assert trace_inserts(queries) == 2
    assert trace_store._resource_ids.known([resource.fingerprint]) == {resource.fingerprint: resource.pk}


@pytest.mark.django_db(transaction=True)
def test_a_value_the_database_refuses_after_the_retry_still_costs_only_its_own_trace(client, monkeypatch):
    h.post(client, h.body(h.span(trace=1, span=1)))
    Trace.objects.all().delete_with_spans()
    Resource.objects.all().delete()
    Scope.objects.all().delete()
    refused = f"{2:032x}"
    insert = trace_store._insert_spans

    def refusing(cursor, sql, states, fresh, *args):
        if refused in fresh:
            raise DataError("value out of range for type bigint")
        return insert(cursor, sql, states, fresh, *args)

    monkeypatch.setattr(trace_store, "_insert_spans", refusing)

    response = h.post(client, h.body(h.span(trace=2, span=1), h.span(trace=3, span=1)), content_type=h.PROTOBUF)

    assert response.status_code == 200
    assert list(Trace.objects.values_list("trace_id", flat=True)) == [f"{3:032x}"]
    assert Span.objects.get().resource_id == Resource.objects.get().pk
