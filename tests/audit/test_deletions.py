"""Every way traces are deleted leaves one audit event: who or what deleted them, through which door,
which traces and how many."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from accounts.models import ApiKey
from audit.models import Action, AuditEvent
from tests import helpers as h
from traces import retention
from traces.models import Trace
from traces.signals import IDS_NAMED, Deletion

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_pause(monkeypatch):
    monkeypatch.setattr(retention, "PAUSE_SECONDS", 0)


def deletions():
    """The deletion events as (actor, via, target, count, address), oldest first."""
    return list(AuditEvent.objects.filter(action=Action.DELETE_TRACES).order_by("at", "id")
                .values_list("actor", "via", "target", "count", "address"))


def remaining():
    return sorted(Trace.objects.values_list("trace_id", flat=True))


def test_a_member_deleting_a_trace_on_its_page_is_recorded_by_name(five_traces, signed_in):
    maria = signed_in("member", "maria")

    response = maria.post(f"/traces/{h.tid(2)}/delete")

    assert response.status_code == 302
    assert deletions() == [("maria", "ui", h.tid(2), 1, "127.0.0.1")]
    assert h.tid(2) not in remaining()


def test_a_viewer_may_not_delete_and_nothing_is_recorded(five_traces, signed_in):
    response = signed_in("viewer", "victor").post(f"/traces/{h.tid(2)}/delete")

    assert response.status_code == 403
    assert "Your role may not change or delete data" in response.content.decode()
    assert deletions() == []
    assert len(remaining()) == 5


def test_an_api_key_deleting_through_the_api_is_recorded_by_its_prefix_and_name(five_traces, access_control):
    key, secret = ApiKey.objects.issue("deploy", ["read", "write"])

    response = Client().delete(f"/api/v1/traces/{h.tid(3).upper()}", HTTP_AUTHORIZATION=f"Bearer {secret}")

    assert response.status_code == 204
    assert deletions() == [(f"API key {key.prefix}… (deploy)", "api", h.tid(3), 1, "127.0.0.1")]


def test_an_api_delete_of_a_trace_that_is_not_there_records_nothing(five_traces, access_control):
    _, secret = ApiKey.objects.issue("deploy", ["read", "write"])

    response = Client().delete(f"/api/v1/traces/{h.tid(99)}", HTTP_AUTHORIZATION=f"Bearer {secret}")

    assert response.status_code == 404
    assert deletions() == []


def test_the_admins_bulk_action_is_one_event_for_every_trace_it_deleted(five_traces, signed_in):
    admin = signed_in("admin", "ada")
    one = Trace.objects.values_list("pk", flat=True)[0]

    response = admin.post("/admin/traces/trace/?service_name=api",
                          {"action": "delete_with_spans", "_selected_action": [one], "select_across": "1"})

    assert response.status_code == 302
    assert deletions() == [("ada", "admin", f"{h.tid(1)} {h.tid(2)} {h.tid(5)}", 3, "127.0.0.1")]
    assert remaining() == [h.tid(3), h.tid(4)]


def test_the_admins_delete_page_is_recorded_too(five_traces, signed_in):
    member = signed_in("member", "maria")
    trace = Trace.objects.get(trace_id=h.tid(4))

    response = member.post(f"/admin/traces/trace/{trace.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert deletions() == [("maria", "admin", h.tid(4), 1, "127.0.0.1")]


def test_prune_is_recorded_as_the_command_with_how_many_it_deleted(five_traces):
    call_command("prune", "--older-than", "1h", stdout=StringIO(), stderr=StringIO())

    # Trace 1 started 2 days ago, trace 2 five hours ago: oldest first.
    assert deletions() == [("manage.py prune", "command", f"{h.tid(1)} {h.tid(2)}", 2, None)]


def test_a_dry_run_deletes_nothing_and_records_nothing(five_traces):
    call_command("prune", "--older-than", "1h", "--dry-run", stdout=StringIO())

    assert deletions() == []
    assert len(remaining()) == 5


def test_deleting_from_the_command_line_is_recorded(five_traces):
    call_command("traces", "delete", "--query", "service:web", stdout=StringIO())

    assert deletions() == [("manage.py traces delete", "command", f"{h.tid(3)} {h.tid(4)}", 2, None)]


def test_a_retention_round_is_one_event_for_the_server(five_traces):
    assert retention.run_round({"older_than": None, "keep_at_most": 2}) == 3

    assert deletions() == [("retention", "retention", f"{h.tid(1)} {h.tid(2)} {h.tid(3)}", 3, None)]
    assert remaining() == [h.tid(4), h.tid(5)]


def test_a_round_that_finds_nothing_to_delete_records_nothing(five_traces):
    assert retention.run_round({"older_than": None, "keep_at_most": 10}) == 0

    assert deletions() == []


def test_a_large_deletion_names_the_first_hundred_traces_and_counts_them_all(client):
    h.post(client, h.body(*[h.span(trace=n, span=1, start_ms=n) for n in range(1, 251)]))

    with Deletion("retention", via="retention") as deletion:
        assert retention.prune(keep_at_most=10, batch_size=60, deletion=deletion) == 240

    [(actor, via, target, count, address)] = deletions()
    assert (actor, via, count) == ("retention", "retention", 240)
    assert target.split() == [h.tid(n) for n in range(1, IDS_NAMED + 1)] + ["…"]


def test_batches_deleted_before_a_failure_are_still_recorded(five_traces):
    with pytest.raises(RuntimeError):
        with Deletion("manage.py prune", via="command") as deletion:
            Trace.objects.filter(trace_id=h.tid(1)).delete_with_spans(deletion=deletion)
            raise RuntimeError("the next batch failed")

    assert deletions() == [("manage.py prune", "command", h.tid(1), 1, None)]
