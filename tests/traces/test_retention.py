"""Retention also removes the resources and scopes no span uses any more: in bounded batches, never
one that an ingest still in progress uses, and the ingest whose cached row it removed stores its
batch all the same."""

import threading

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from tests import helpers as h
from traces import retention
from traces import store as trace_store
from traces.models import Resource, Scope, Span, Trace
from traces.otlp import PROTOBUF, decode


@pytest.fixture(autouse=True)
def no_pause_and_empty_caches(monkeypatch):
    monkeypatch.setattr(retention, "PAUSE_SECONDS", 0)
    trace_store._resource_ids.clear()
    trace_store._scope_ids.clear()
    yield
    trace_store._resource_ids.clear()
    trace_store._scope_ids.clear()


def services():
    return sorted(r.attributes["service.name"] for r in Resource.objects.all())


def scopes():
    return sorted(Scope.objects.values_list("name", flat=True))


@pytest.mark.django_db
def test_only_rows_no_span_uses_are_removed(client):
    h.post(client, h.body(h.span(trace=1, span=1), service="api", scope="openai"))
    h.post(client, h.body(h.span(trace=2, span=1), service="api", scope="langchain"))
    h.post(client, h.body(h.span(trace=3, span=1), service="web", scope="openai"))

    Trace.objects.filter(trace_id__in=[f"{2:032x}", f"{3:032x}"]).delete_with_spans()

    assert retention.remove_unused() == (1, 1)
    assert (services(), scopes()) == (["api"], ["openai"])
    assert Span.objects.get().resource.attributes["service.name"] == "api"
    assert retention.remove_unused() == (0, 0)


@pytest.mark.django_db
def test_unused_rows_are_removed_in_batches_of_the_given_size(client):
    for n in range(1, 8):
        h.post(client, h.body(h.span(trace=n, span=1), service=f"svc-{n}", scope=f"lib-{n}"))
    Trace.objects.exclude(trace_id__in=[f"{3:032x}", f"{6:032x}"]).delete_with_spans()

    with CaptureQueriesContext(connection) as queries:
        assert retention.remove_unused(batch_size=2) == (5, 5)

    deletes = [q["sql"] for q in queries if q["sql"].startswith("DELETE")]
    assert [sql.split()[2].strip('"') for sql in deletes] == ["traces_resource"] * 3 + ["traces_scope"] * 3
    assert (services(), scopes()) == (["svc-3", "svc-6"], ["lib-3", "lib-6"])


@pytest.mark.django_db(transaction=True)
def test_an_ingest_whose_cached_resource_and_scope_retention_removed_stores_its_batch_in_one_go(client):
    h.post(client, h.body(h.span(trace=1, span=1, start_ms=0)))
    old = Resource.objects.get().pk, Scope.objects.get().pk
    assert len(trace_store._resource_ids) == len(trace_store._scope_ids) == 1
    Trace.objects.all().delete_with_spans()
    assert retention.remove_unused() == (1, 1)

    response = h.post(client, h.body(h.span(trace=2, span=1), h.span(trace=2, span=2, parent=1),
                                     h.span(trace=3, span=1)))

    assert response.status_code == 200 and "partialSuccess" not in response.content.decode(errors="replace")
    assert sorted(Trace.objects.values_list("trace_id", "span_count")) == [(f"{2:032x}", 2), (f"{3:032x}", 1)]
    fresh = Resource.objects.get().pk, Scope.objects.get().pk
    assert fresh[0] != old[0] and fresh[1] != old[1]
    assert set(Span.objects.values_list("resource_id", "scope_id")) == {fresh}


# ---------------------------------------------------------------------------------------------
# Racing an ingest that has inserted its spans and not committed yet (PostgreSQL: SQLite has one
# writer at a time, so there retention runs wholly before or after an ingest).


def paused_ingest(monkeypatch, body):
    """Starts storing `body` in a thread of its own that stops just before its first commit;
    returns (inserted event, proceed event, thread, results list)."""
    inserted, proceed, results = threading.Event(), threading.Event(), []
    update = trace_store._update_traces
    calls = []

    def update_then_wait(*args):
        update(*args)
        calls.append(1)
        if len(calls) == 1:
            inserted.set()
            proceed.wait(30)

    monkeypatch.setattr(trace_store, "_update_traces", update_then_wait)

    def run():
        try:
            batch = decode(body, PROTOBUF, 4096)
            results.append((trace_store.store(batch), batch.rejected, len(calls)))
        except Exception as exc:  # reported by the test
            results.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    assert inserted.wait(30), "the ingest never reached its commit"
    return proceed, thread, results


postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite lets one writer in at a time")


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_resource_an_uncommitted_ingest_inserted_is_never_removed(monkeypatch):
    proceed, thread, results = paused_ingest(monkeypatch, h.body(h.span(trace=1, span=1), service="first"))

    removed = retention.remove_unused()
    proceed.set()
    thread.join(30)

    assert removed == (0, 0)
    [(result, rejected, attempts)] = results
    assert (result.stored, rejected, attempts) == (1, 0, 1)
    assert services() == ["first"]
    assert Span.objects.get().resource_id == Resource.objects.get().pk


@postgres_only
@pytest.mark.parametrize("cached", [True, False], ids=["cached", "found-committed"])
@pytest.mark.django_db(transaction=True)
def test_an_ingest_whose_unused_resource_is_removed_before_it_commits_stores_everything_again(
    client, monkeypatch, cached
):
    h.post(client, h.body(h.span(trace=1, span=1)))
    old = Resource.objects.get().pk
    Trace.objects.all().delete_with_spans()
    if not cached:
        trace_store._resource_ids.clear()
        trace_store._scope_ids.clear()
    proceed, thread, results = paused_ingest(monkeypatch, h.body(h.span(trace=2, span=1), h.span(trace=3, span=1)))

    # The ingest's spans are not committed: the rows look unused, and go.
    removed = retention.remove_unused()
    proceed.set()
    thread.join(30)

    assert removed == (1, 1)
    [(result, rejected, attempts)] = results
    # Refused at commit by the foreign key check, then stored again whole with fresh rows.
    assert (result.stored, rejected, attempts) == (2, 0, 2)
    assert Resource.objects.get().pk != old
    assert set(Span.objects.values_list("resource_id", "scope_id")) == {
        (Resource.objects.get().pk, Scope.objects.get().pk)
    }
    assert sorted(Trace.objects.values_list("span_count", flat=True)) == [1, 1]
