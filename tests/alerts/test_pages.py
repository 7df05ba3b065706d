"""The alert pages: rules with state and history, a firing alert's link to its traces, forms that say
what is wrong, hostile names shown as text, and who may change what."""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from accounts.roles import assign_role
from alerts import scheduler
from alerts.models import Rule, Target
from audit.models import AuditEvent
from tests import helpers as h
from tests.alerts.conftest import rule

pytestmark = pytest.mark.django_db
HOSTILE = '<img src=x onerror="alert(1)">'


def as_role(django_user_model, role):
    user = django_user_model.objects.create_user(role, password="a long passphrase 1")
    assign_role(user, role)
    client = Client()
    client.force_login(user)
    return client


def test_a_rule_is_created_from_the_form_and_shows_its_state(client, webhook):
    answer = client.post("/alerts/new", {
        "name": "checkout errors", "kind": "threshold", "query": "workflow:checkout", "measure": "error_rate",
        "comparison": ">", "threshold": "20", "window_minutes": "10", "for_minutes": "0", "cooldown_minutes": "15",
        "targets": [webhook.pk]})
    alert = Rule.objects.get()
    assert answer.status_code == 302 and answer["Location"] == f"/alerts/{alert.pk}"
    page = client.get("/alerts").content.decode()
    assert "checkout errors" in page and "Error rate (%) of traces matching workflow:checkout over 10 min above 20" in page
    assert 'class="alert-state state-ok">OK<' in page and "team hook" in page
    assert AuditEvent.objects.get().action == "alert_rule_created"


def test_a_query_the_language_refuses_is_shown_on_the_form(client):
    answer = client.post("/alerts/new", {"name": "bad", "kind": "threshold", "query": "duration:>fast",
                                         "measure": "count", "comparison": ">", "threshold": "1",
                                         "window_minutes": "10", "for_minutes": "0", "cooldown_minutes": "15"})
    assert answer.status_code == 400 and Rule.objects.count() == 0
    assert "not a query:" in answer.content.decode() and "at column" in answer.content.decode()


def test_a_firing_rule_shows_its_history_and_links_to_the_matching_traces(client, receiver, webhook):
    alert = rule(webhook, name=HOSTILE)
    for n in range(1, 4):
        h.post(client, h.body(h.span(trace=n, span=n, start_ms=h.ago(1), attributes={"workflow.name": "checkout"},
                                     error="declined")))
    now = timezone.now()
    scheduler.run_once(now)
    page = client.get(f"/alerts/{alert.pk}").content.decode()
    assert HOSTILE not in page and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    assert 'class="alert-state state-firing">Firing<' in page and "is firing: Error rate (%) 100" in page
    link = next(part.split('"')[0] for part in page.split('href="')[1:] if "q=workflow" in part and "end=" in part)
    query = parse_qs(urlsplit(link.replace("&amp;", "&")).query)
    assert query["q"] == ["workflow:checkout"] and query["end"] == [now.isoformat()]
    assert query["start"] == [(now - timedelta(minutes=10)).isoformat()]
    listed = client.get(link.replace("&amp;", "&")).content.decode()
    assert h.tid(1) in listed and h.tid(3) in listed
    assert 'data-delivered="yes"' in page


def test_the_pages_read_a_fixed_number_of_queries(client, webhook, django_assert_num_queries):
    rules = [rule(webhook, name=f"rule {n}") for n in range(5)]
    with django_assert_num_queries(2):  # the rules, their targets
        assert client.get("/alerts").status_code == 200
    with django_assert_num_queries(4):  # the rule, its targets, its history, its deliveries
        assert client.get(f"/alerts/{rules[0].pk}").status_code == 200


def test_mute_edit_and_delete(client, webhook):
    alert = rule(webhook)
    client.post(f"/alerts/{alert.pk}/mute", {"muted": "on"})
    assert Rule.objects.get().muted is True
    form = client.get(f"/alerts/{alert.pk}/edit").content.decode()
    assert 'value="workflow:checkout"' in form
    answer = client.post(f"/alerts/{alert.pk}/edit", {
        "name": "checkout slow", "kind": "threshold", "query": "workflow:checkout", "measure": "p95",
        "comparison": ">", "threshold": "2000", "window_minutes": "15", "for_minutes": "5", "cooldown_minutes": "15"})
    assert answer.status_code == 302
    changed = Rule.objects.get()
    assert (changed.name, changed.measure, changed.for_minutes, changed.muted) == ("checkout slow", "p95", 5, False)
    assert list(changed.targets.all()) == []
    client.post(f"/alerts/{alert.pk}/delete")
    assert Rule.objects.count() == 0


def test_a_target_is_created_with_its_secret_shown_once_and_tested(client, receiver):
    page = client.post("/alerts/targets", {"name": HOSTILE, "kind": "webhook", "url": receiver.url}).content.decode()
    target = Target.objects.get()
    assert target.signing_secret in page and HOSTILE not in page
    assert target.signing_secret not in client.get("/alerts/targets").content.decode()
    assert client.post(f"/alerts/targets/{target.pk}/test").status_code == 302
    log = client.get("/alerts/targets").content.decode()
    assert 'data-delivered="yes"' in log and "(test)" in log and "answer 1: xxx" in log
    form = client.get(f"/alerts/targets/{target.pk}/edit").content.decode()
    assert f'value="{receiver.url}"' in form and target.signing_secret not in form
    answer = client.post(f"/alerts/targets/{target.pk}/edit", {"name": "renamed", "kind": "slack", "url": receiver.url})
    assert answer.status_code == 302 and Target.objects.get().name == "renamed"
    assert Target.objects.get().signing_secret == target.signing_secret
    client.post(f"/alerts/targets/{target.pk}/delete")
    assert Target.objects.count() == 0
    assert [e.action for e in AuditEvent.objects.order_by("pk")] == [
        "alert_target_created", "alert_target_changed", "alert_target_deleted"]


def test_viewers_and_members_see_alerts_and_only_admins_manage_them(access_control, webhook, django_user_model):
    alert = rule(webhook)
    for role in ("viewer", "member"):
        client = as_role(django_user_model, role)
        assert client.get("/alerts").status_code == 200 and "New rule" not in client.get("/alerts").content.decode()
        assert client.get(f"/alerts/{alert.pk}").status_code == 200
        assert client.get("/alerts/targets").status_code == 200
        assert client.get("/alerts/new").status_code == 403
        assert client.post(f"/alerts/{alert.pk}/delete").status_code == 403
        assert client.post("/alerts/targets", {"name": "x", "kind": "webhook", "url": "http://x"}).status_code == 403
        assert client.post(f"/alerts/targets/{webhook.pk}/test").status_code == 403
        assert client.get(f"/alerts/targets/{webhook.pk}/edit").status_code == 403
    admin = as_role(django_user_model, "admin")
    assert "New rule" in admin.get("/alerts").content.decode()
    assert admin.post(f"/alerts/{alert.pk}/delete").status_code == 302
    assert Client().get("/alerts").status_code == 302  # to sign in
