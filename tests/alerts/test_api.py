"""/api/v1/alerts: rules and targets through the API, validated as the pages validate them."""

import json

import pytest
from django.test import Client

from accounts.models import ApiKey
from alerts.models import Rule, Target
from audit.models import AuditEvent
from tests.alerts.conftest import rule, verify

pytestmark = pytest.mark.django_db


def post(client, path, data, method="post"):
    return getattr(client, method)(path, json.dumps(data), content_type="application/json")


def test_a_rule_is_created_read_changed_and_deleted(client, webhook):
    created = post(client, "/api/v1/alerts/rules", {
        "name": "checkout errors", "query": "workflow:checkout", "measure": "error_rate", "comparison": ">",
        "threshold": 20, "window_minutes": 10, "targets": [webhook.pk]})
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["state"] == "ok" and body["targets"] == [webhook.pk]
    assert body["condition"] == "Error rate (%) of traces matching workflow:checkout over 10 min above 20"
    assert body["traces_url"] == "/traces?q=workflow%3Acheckout&start=10m"

    changed = post(client, f"/api/v1/alerts/rules/{body['id']}", {"threshold": 35, "muted": True}, method="patch")
    assert changed.status_code == 200, changed.content
    assert changed.json()["threshold"] == 35 and changed.json()["muted"] is True
    assert changed.json()["query"] == "workflow:checkout" and changed.json()["targets"] == [webhook.pk]

    assert [r["name"] for r in client.get("/api/v1/alerts/rules").json()] == ["checkout errors"]
    assert client.get(f"/api/v1/alerts/rules/{body['id']}/history").json() == []
    assert client.delete(f"/api/v1/alerts/rules/{body['id']}").status_code == 204
    assert client.get(f"/api/v1/alerts/rules/{body['id']}").status_code == 404
    assert list(AuditEvent.objects.order_by("at", "pk").values_list("action", flat=True)) == [
        "alert_rule_created", "alert_rule_changed", "alert_rule_deleted"]


@pytest.mark.parametrize(("fields", "problem"), [
    ({"query": "workflow:(checkout"}, "query: not a query:"),
    ({"query": "colour:red"}, "unknown field 'colour'"),
    ({"measure": "median"}, "measure: Select a valid choice"),
    ({"window_minutes": 0}, "window_minutes:"),
    ({"threshold": 250}, "an error rate is a percentage"),
    ({"targets": [999]}, "targets:"),
])
def test_a_bad_rule_is_refused_with_what_is_wrong(client, fields, problem):
    answer = post(client, "/api/v1/alerts/rules", {"name": "bad"} | fields)
    assert answer.status_code == 422 and problem in answer.json()["detail"]
    assert Rule.objects.count() == 0


def test_a_target_shows_its_signing_secret_once_and_sends_a_signed_test(client, receiver):
    created = post(client, "/api/v1/alerts/targets", {"name": "hook", "kind": "webhook", "url": receiver.url})
    assert created.status_code == 201
    secret = created.json()["signing_secret"]
    assert secret.startswith("whsec_") and "signing_secret" not in client.get("/api/v1/alerts/targets").json()[0]

    tested = client.post(f"/api/v1/alerts/targets/{created.json()['id']}/test")
    assert tested.status_code == 200 and tested.json()["status_code"] == 200 and tested.json()["test"] is True
    [request] = receiver.requests
    assert verify(request, secret) and receiver.payloads()[0]["type"] == "test"
    assert client.get("/api/v1/alerts/deliveries").json()[0]["notification_status"] == "sent"


@pytest.mark.parametrize("url", ["ftp://example.com/hook", "file:///etc/passwd", "javascript:alert(1)", ""])
def test_a_webhook_needs_an_http_url(client, url):
    answer = post(client, "/api/v1/alerts/targets", {"name": "hook", "kind": "webhook", "url": url})
    assert answer.status_code == 422 and "url:" in answer.json()["detail"]
    assert Target.objects.count() == 0


def test_members_and_keys_read_alerts_but_only_admins_change_them(access_control, webhook, django_user_model):
    from accounts.roles import assign_role

    rule(webhook)
    member = django_user_model.objects.create_user("member", password="a long passphrase 1")
    assign_role(member, "member")
    admin = django_user_model.objects.create_user("admin", password="a long passphrase 1")
    assign_role(admin, "admin")
    as_member, as_admin = Client(enforce_csrf_checks=False), Client()
    as_member.force_login(member)
    as_admin.force_login(admin)
    _, secret = ApiKey.objects.issue("tests", ["read", "write"])
    with_key = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")

    for caller in (as_member, with_key, as_admin):
        assert caller.get("/api/v1/alerts/rules").status_code == 200
        assert caller.get("/api/v1/alerts/targets").status_code == 200
    assert Client().get("/api/v1/alerts/rules").status_code == 401
    new = {"name": "n", "query": ""}
    assert post(with_key, "/api/v1/alerts/rules", new).status_code == 403
    assert post(as_admin, "/api/v1/alerts/rules", new).status_code == 201
    assert with_key.delete(f"/api/v1/alerts/targets/{webhook.pk}").status_code == 403
    assert Target.objects.count() == 1


@pytest.mark.parametrize("fields", [{"name": "a\x00b"}, {"query": "name:a\x00b"}, {"targets": [2**70]},
                                    {"threshold": 1e308, "window_minutes": 2**62}])
def test_values_no_database_holds_are_refused_not_failed_on(client, fields):
    answer = post(client, "/api/v1/alerts/rules", {"name": "n"} | fields)
    assert answer.status_code == 422, answer.content


def test_a_target_is_changed_and_keeps_its_secret(client, webhook, receiver):
    secret = webhook.signing_secret
    answer = post(client, f"/api/v1/alerts/targets/{webhook.pk}", {"name": "renamed", "kind": "slack"}, method="patch")
    assert answer.status_code == 200 and answer.json()["name"] == "renamed" and answer.json()["kind"] == "slack"
    assert answer.json()["url"] == receiver.url and Target.objects.get().signing_secret == secret
    refused = post(client, f"/api/v1/alerts/targets/{webhook.pk}", {"url": "gopher://x"}, method="patch")
    assert refused.status_code == 422 and Target.objects.get().url == receiver.url
    assert AuditEvent.objects.get().action == "alert_target_changed"
