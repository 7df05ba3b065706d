"""GET /api/v1/audit: the audit log for signed-in admins, newest first, filtered and paged with a cursor."""

from datetime import datetime, timedelta, timezone

import pytest
from django.test import Client

from accounts.models import ApiKey
from audit.models import Action, AuditEvent

pytestmark = pytest.mark.django_db
NOW = datetime.now(timezone.utc).replace(microsecond=0)


def event(minutes_ago, action, actor, target="", count=None, via="ui", address="192.0.2.7"):
    return AuditEvent.objects.create(at=NOW - timedelta(minutes=minutes_ago), action=action, actor=actor,
                                     target=target, count=count, via=via, address=address)


@pytest.fixture
def history():
    event(300, Action.KEY_CREATED, "ada", "mt_ab12cd34… (deploy; read,write)")
    event(30, Action.SIGN_IN_FAILED, "mallory", "mallory", address="203.0.113.9")
    event(20, Action.DELETE_TRACES, "API key mt_ab12cd34… (deploy)", "0af7651916cd43dd8448eb211c80319c", count=1,
          via="api")
    event(10, Action.DELETE_TRACES, "retention", "…", count=4500, via="retention", address=None)


@pytest.fixture
def admin(signed_in):
    client = signed_in("admin", "ada")
    AuditEvent.objects.filter(action=Action.SIGN_IN).delete()  # force_login's own sign-in
    return client


def actors(response):
    return [item["actor"] for item in response.json()["events"]]


def test_anonymous_callers_are_asked_to_authenticate(access_control):
    response = Client().get("/api/v1/audit")

    assert response.status_code == 401
    assert response.json()["detail"].startswith("authentication required")


@pytest.mark.parametrize("role", ["viewer", "member"])
def test_viewers_and_members_are_refused(signed_in, history, role):
    response = signed_in(role).get("/api/v1/audit")

    assert response.status_code == 403
    assert response.json() == {"detail": "your role may not manage msgtrace"}


def test_an_api_key_is_refused_whatever_its_scopes(access_control, history):
    _, secret = ApiKey.objects.issue("everything", ["ingest", "read", "write"])

    response = Client().get("/api/v1/audit", HTTP_AUTHORIZATION=f"Bearer {secret}")

    assert response.status_code == 403
    assert response.json() == {"detail": "this API key may not manage msgtrace: it needs the 'admin' scope"}


def test_admins_read_every_field_newest_first(admin, history):
    response = admin.get("/api/v1/audit")

    assert response.status_code == 200
    body = response.json()
    assert body["next_cursor"] is None
    assert body["events"][:2] == [
        {"at": (NOW - timedelta(minutes=10)).isoformat().replace("+00:00", "Z"), "actor": "retention",
         "action": "delete_traces", "target": "…", "count": 4500, "via": "retention", "address": None},
        {"at": (NOW - timedelta(minutes=20)).isoformat().replace("+00:00", "Z"),
         "actor": "API key mt_ab12cd34… (deploy)", "action": "delete_traces",
         "target": "0af7651916cd43dd8448eb211c80319c", "count": 1, "via": "api", "address": "192.0.2.7"},
    ]
    assert actors(response) == ["retention", "API key mt_ab12cd34… (deploy)", "mallory", "ada"]


def test_filters_by_action_actor_and_since(admin, history):
    assert actors(admin.get("/api/v1/audit", {"action": "delete_traces"})) == [
        "retention", "API key mt_ab12cd34… (deploy)"]
    assert actors(admin.get("/api/v1/audit", {"actor": "API KEY"})) == ["API key mt_ab12cd34… (deploy)"]
    assert actors(admin.get("/api/v1/audit", {"since": "1h"})) == [
        "retention", "API key mt_ab12cd34… (deploy)", "mallory"]
    since = (NOW - timedelta(minutes=25)).isoformat()
    assert actors(admin.get("/api/v1/audit", {"since": since, "action": "sign_in_failed"})) == []
    assert actors(admin.get("/api/v1/audit", {"since": since, "actor": "retention"})) == ["retention"]


def test_pages_follow_the_cursor_back_in_time(admin):
    for n in range(7):
        event(n + 1, Action.SIGN_IN, f"user-{n}")

    pages, cursor = [], None
    while True:
        body = admin.get("/api/v1/audit", {"limit": 3} | ({"cursor": cursor} if cursor else {})).json()
        pages.append([item["actor"] for item in body["events"]])
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert pages == [["user-0", "user-1", "user-2"], ["user-3", "user-4", "user-5"], ["user-6"]]


def test_events_at_the_same_moment_are_neither_repeated_nor_skipped_across_pages(admin):
    for n in range(5):
        AuditEvent.objects.create(at=NOW, action=Action.SIGN_IN, actor=f"user-{n}")

    first = admin.get("/api/v1/audit", {"limit": 2}).json()
    second = admin.get("/api/v1/audit", {"limit": 2, "cursor": first["next_cursor"]}).json()
    third = admin.get("/api/v1/audit", {"limit": 2, "cursor": second["next_cursor"]}).json()

    seen = [item["actor"] for body in (first, second, third) for item in body["events"]]
    assert seen == ["user-4", "user-3", "user-2", "user-1", "user-0"]


@pytest.mark.parametrize(("parameters", "detail"), [
    ({"action": "drop_tables"}, "action: Input should be "),
    ({"since": "yesterday-ish"}, "since: 'yesterday-ish' is not a time"),
    ({"cursor": "bm90IGEgY3Vyc29y"}, "the cursor is not one this server handed out"),
    ({"limit": 0}, "limit: Input should be greater than or equal to 1"),
])
def test_bad_parameters_are_answered_422_with_what_is_wrong(admin, parameters, detail):
    response = admin.get("/api/v1/audit", parameters)

    assert response.status_code == 422
    assert response.json()["detail"].startswith(detail)


def test_hostile_text_comes_back_exactly_as_it_was_stored(admin):
    event(1, Action.SIGN_IN_FAILED, '<script>alert(1)</script>', "javascript:alert(2)")

    [item] = admin.get("/api/v1/audit").json()["events"]

    assert (item["actor"], item["target"]) == ("<script>alert(1)</script>", "javascript:alert(2)")


def test_an_actor_filter_with_a_nul_finds_nothing_rather_than_failing(admin, history):
    response = admin.get("/api/v1/audit", {"actor": "mal\x00lory"})

    assert response.status_code == 200
    assert actors(response) == []
