"""Django admin for trace cleanup: searchable, filterable, bulk delete in a handful of queries."""

import re

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests import helpers as h
from traces.models import Span, SpanEvent, SpanLink, Trace

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw"))
    return client


@pytest.fixture
def many_traces(client):
    spans = [h.span(trace=t, span=s, parent=None if s == 1 else 1, name=f"t{t}s{s}", start_ms=t * 1000 + s,
                    events=[{"name": "e"}] if s == 2 else (), links=[(1, 1)] if s == 3 else ())
             for t in range(1, 2001) for s in range(1, 4)]
    for start in range(0, len(spans), 1500):  # 500 traces a request: 1,500 on svc-a, 500 on svc-b
        h.post(client, h.body(*spans[start : start + 1500], service="svc-a" if start < 4500 else "svc-b"))
    return client


def test_changelist_searches_filters_and_never_counts_the_whole_table(admin_client, many_traces):
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get("/admin/traces/trace/", {"service_name": "svc-b"})
    assert response.status_code == 200
    assert response.context["cl"].result_count == 500
    assert not [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]
    assert len(queries) <= 12
    found = admin_client.get("/admin/traces/trace/", {"q": f"{7:032x}"})
    assert [t.trace_id for t in found.context["cl"].result_list] == [f"{7:032x}"]


def test_bulk_delete_of_1500_traces_takes_a_handful_of_queries(admin_client, many_traces):
    one = Trace.objects.filter(service_name="svc-a").values_list("pk", flat=True)[0]
    with CaptureQueriesContext(connection) as queries:
        # "Select all 1500 traces" on the list filtered to svc-a
        response = admin_client.post("/admin/traces/trace/?service_name=svc-a",
                                     {"action": "delete_with_spans", "_selected_action": [one], "select_across": "1"})
    assert response.status_code == 302
    statements = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    deletes = [sql for sql in statements if sql.startswith("DELETE")]
    assert len(deletes) == 12  # events, links, spans and traces, for each batch of 500 traces
    # Ordered by trace_id, which the lock also reads (for the audit log): SQL names it by its position then.
    locks = [sql for sql in statements
             if sql.startswith("SELECT") and re.search(r'ORDER BY ("traces_trace"\."trace_id"|4) ASC', sql)]
    assert len(locks) == 3  # each batch's traces, locked in ingest's order first
    assert len(statements) <= 20  # and one audit event for the whole action
    assert Trace.objects.count() == 500
    assert Span.objects.count() == 1500
    assert (SpanEvent.objects.count(), SpanLink.objects.count()) == (500, 500)


def test_trace_page_is_read_only_and_lists_spans(admin_client, many_traces):
    trace = Trace.objects.get(trace_id=f"{5:032x}")
    page = admin_client.get(f"/admin/traces/trace/{trace.pk}/change/").content.decode()
    assert "t5s1" in page and "t5s3" in page
    assert 'name="_save"' not in page
    assert admin_client.get("/admin/traces/trace/add/").status_code == 403
