"""The role matrix: what viewers, members, admins, API keys of each scope, a revoked key and an
expired share link may do, over the UI, the REST API and the Django admin. Each cell is a request
that either does what it asks or is refused with 401/403, whatever the templates show."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from accounts.models import ApiKey, ShareLink
from accounts.roles import Role, assign_role
from tests import helpers as h
from traces.models import Trace

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture
def store(client, access_control):
    h.post(client, h.body(*[h.span(trace=n, name=f"trace {n}") for n in range(1, 8)]))
    return client


def signed_in(role):
    user = User.objects.create_user(role, password="a long passphrase 1")
    assign_role(user, role)
    client = Client()
    client.force_login(user)
    return client


def with_key(*scopes):
    _, secret = ApiKey.objects.issue("tests", scopes)
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


def remaining():
    return sorted(Trace.objects.values_list("trace_id", flat=True))


# (what, method, path, expected status per caller) — the admin's own URLs answer 302 when allowed
# (the changelist's delete action redirects back), pages 200 or 302 after a POST.
UI_AND_ADMIN = [
    ("list traces", "get", "/traces", {"viewer": 200, "member": 200, "admin": 200}),
    ("open a trace", "get", f"/traces/{h.tid(1)}", {"viewer": 200, "member": 200, "admin": 200}),
    ("settings", "get", "/settings", {"viewer": 200, "member": 200, "admin": 200}),
    ("create an API key", "post", "/settings/keys", {"viewer": 403, "member": 403, "admin": 200}),
    ("create a user", "post", "/settings/users", {"viewer": 403, "member": 403, "admin": 400}),
    ("the Django admin", "get", "/admin/", {"viewer": 403, "member": 200, "admin": 200}),
    ("traces in the admin", "get", "/admin/traces/trace/", {"viewer": 403, "member": 200, "admin": 200}),
    ("users in the admin", "get", "/admin/auth/user/", {"viewer": 403, "member": 403, "admin": 200}),
    ("API keys in the admin", "get", "/admin/accounts/apikey/", {"viewer": 403, "member": 403, "admin": 200}),
]


@pytest.mark.parametrize("role", ["viewer", "member", "admin"])
@pytest.mark.parametrize(("what", "method", "path", "expected"), UI_AND_ADMIN, ids=[row[0] for row in UI_AND_ADMIN])
def test_roles_in_the_ui_and_the_admin(store, role, what, method, path, expected):
    client = signed_in(role)
    data = {"name": "deploy", "scopes": ["read"]} if path == "/settings/keys" else {}
    assert getattr(client, method)(path, data).status_code == expected[role]


@pytest.mark.parametrize(("role", "deletes"), [("viewer", False), ("member", True), ("admin", True)])
def test_only_members_and_admins_delete_a_trace_in_the_ui_the_api_and_the_admin(store, role, deletes):
    client = signed_in(role)
    ui = client.post(f"/traces/{h.tid(1)}/delete")
    api = client.delete(f"/api/v1/traces/{h.tid(2)}")
    admin = client.post("/admin/traces/trace/", {"action": "delete_with_spans",
                                                 "_selected_action": [Trace.objects.get(trace_id=h.tid(3)).pk]})
    if deletes:
        assert (ui.status_code, api.status_code, admin.status_code) == (302, 204, 302)
        assert remaining() == [h.tid(n) for n in range(4, 8)]
    else:
        assert (ui.status_code, api.status_code, admin.status_code) == (403, 403, 403)
        assert "Your role may not change or delete data" in ui.content.decode()
        assert api.json() == {"detail": "your role may not change or delete data: it needs the 'write' permission"}
        assert remaining() == [h.tid(n) for n in range(1, 8)]


KEYS = [
    # scopes, read the API, delete through the API, ingest (ingest is keyed once any ingest key exists)
    (("read",), 200, 403, 401),
    (("write",), 403, 204, 401),
    (("read", "write"), 200, 204, 401),
    (("ingest",), 403, 403, 200),
]


@pytest.mark.parametrize(("scopes", "reads", "deletes", "ingests"), KEYS, ids=["+".join(k[0]) for k in KEYS])
def test_api_keys_do_what_their_scopes_say(store, scopes, reads, deletes, ingests):
    ApiKey.objects.issue("someone else's ingest key", ["ingest"])
    client = with_key(*scopes)
    assert client.get("/api/v1/traces").status_code == reads
    assert client.delete(f"/api/v1/traces/{h.tid(1)}").status_code == deletes
    assert h.post(client, h.body(h.span(trace=99))).status_code == ingests
    # Keys are for the API and ingest: pages want a signed-in person.
    assert client.get("/traces").status_code == 302


def test_a_revoked_key_is_refused_at_once(store):
    ApiKey.objects.issue("another exporter", ["ingest"])  # so that ingest stays keyed after the revocation
    key, secret = ApiKey.objects.issue("ci", ["read", "ingest"])
    client = Client(HTTP_X_API_KEY=secret)
    assert client.get("/api/v1/traces").status_code == 200
    assert h.post(client, h.body(h.span(trace=98))).status_code == 200
    key.revoke()
    refused = client.get("/api/v1/traces")
    assert refused.status_code == 401 and refused["WWW-Authenticate"] == 'Bearer realm="msgtrace"'
    assert h.post(client, h.body(h.span(trace=97))).status_code == 401
    assert not Trace.objects.filter(trace_id=h.tid(97)).exists()


def test_anonymous_callers_reach_only_ingest_health_and_sign_in(store):
    anonymous = Client()
    assert anonymous.get("/traces")["Location"] == "/signin?next=/traces"
    assert anonymous.get("/api/v1/traces").status_code == 401
    assert anonymous.delete(f"/api/v1/traces/{h.tid(1)}").status_code == 401
    assert anonymous.post(f"/traces/{h.tid(1)}/delete").status_code == 302
    assert anonymous.get("/admin/")["Location"].startswith("/signin?next=/admin/")
    assert anonymous.get("/health").status_code == 200
    assert anonymous.get("/signin").status_code == 200
    # Ingest is open while no ingest key exists, on all three OTLP paths.
    for path in ("/v1/traces", "/api/v1/traces/export", "/"):
        assert h.post(anonymous, h.body(h.span(trace=90)), path=path).status_code == 200
    assert len(remaining()) == 8


def test_an_expired_share_link_shows_nothing(store):
    member = User.objects.create_user("m")
    assign_role(member, Role.MEMBER)
    link = ShareLink.objects.create(trace_id=h.tid(1), created_by=member, expires_at=timezone.now() + timedelta(days=1))
    assert link.is_usable
    link.expires_at = timezone.now() - timedelta(seconds=1)
    link.save()
    assert not link.is_usable and not ShareLink.objects.usable().exists()


def test_a_session_needs_the_csrf_token_for_unsafe_api_calls(store):
    member = User.objects.create_user("m")
    assign_role(member, Role.MEMBER)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(member)
    refused = browser.delete(f"/api/v1/traces/{h.tid(1)}")
    assert refused.status_code == 403 and h.tid(1) in remaining()
    browser.get("/traces")  # sets the CSRF cookie, as a page does
    token = browser.cookies["csrftoken"].value
    assert browser.delete(f"/api/v1/traces/{h.tid(1)}", HTTP_X_CSRFTOKEN=token).status_code == 204


def test_a_deactivated_user_loses_access_at_once(store):
    client = signed_in("member")
    assert client.get("/traces").status_code == 200
    User.objects.filter(username="member").update(is_active=False)
    assert client.get("/traces").status_code == 302
