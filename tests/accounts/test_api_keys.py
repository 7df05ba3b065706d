"""API keys: shown once and stored hashed, presented as a Bearer token or x-api-key, limited to their
scopes, refused at once when revoked; ingest open until an ingest key exists; and the settings page
where admins issue and revoke keys and manage users."""

import hashlib
import subprocess
import sys
from datetime import timedelta

import grpc
import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from accounts.models import ApiKey
from accounts.roles import Role, assign_role, role_of
from audit.models import Action, AuditEvent
from tests import helpers as h
from tests import servers
from traces.models import Trace

pytestmark = pytest.mark.django_db
User = get_user_model()
NO_INGEST_KEY = "missing or unknown ingest key: send Authorization: Bearer <key> or x-api-key: <key>"


@pytest.fixture(autouse=True)
def quick_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def store(five_traces, access_control):
    """Access control on, the five traces of tests.helpers stored while ingest was still open."""
    return five_traces


def person(role, name=None):
    user = User.objects.create_user(name or role, password="a long passphrase 1")
    assign_role(user, role)
    client = Client()
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def admin(access_control):
    return person(Role.ADMIN, "root")


def bearer(secret):
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


def stored_trace_ids():
    return sorted(Trace.objects.values_list("trace_id", flat=True))


def ingest(client, n):
    """The status of an export of trace `n` (one span) made with that client."""
    return h.post(client, h.body(h.span(trace=n, name=f"sent {n}"))).status_code


# --- issuing ---------------------------------------------------------------------------------


def test_an_issued_secret_is_returned_once_and_only_its_hash_is_stored(admin):
    key, secret = ApiKey.objects.issue("ci", ["write", "read", "read"], created_by=admin.user)

    assert secret.startswith("mt_") and len(secret) > 40
    assert key.prefix == secret[:11] and key.prefix.startswith("mt_")
    assert key.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert key.scope_list == ["read", "write"]
    assert h.stored_anywhere(key.prefix) == ["accounts.ApiKey.prefix"]
    assert h.stored_anywhere(secret) == [] and h.stored_anywhere(secret[11:]) == []
    assert ApiKey.objects.verify(secret) == key


def test_a_key_needs_a_scope(admin):
    with pytest.raises(ValueError, match="at least one scope"):
        ApiKey.objects.issue("nothing", ["admin"])


# --- presenting a key to the REST API --------------------------------------------------------


def test_bearer_and_x_api_key_both_carry_the_key(store):
    _, secret = ApiKey.objects.issue("reader", ["read"])

    as_bearer = bearer(secret).get("/api/v1/traces")
    as_header = Client(HTTP_X_API_KEY=secret).get("/api/v1/traces")
    lowercase_scheme = Client(HTTP_AUTHORIZATION=f"bearer {secret}").get("/api/v1/traces")

    assert [r.status_code for r in (as_bearer, as_header, lowercase_scheme)] == [200, 200, 200]
    assert as_bearer.json()["total"] == as_header.json()["total"] == 5


@pytest.mark.parametrize("presented", ["", "mt_guessed_123", "not even shaped like a key"])
def test_no_key_or_an_unknown_one_is_unauthenticated(store, presented):
    ApiKey.objects.issue("reader", ["read"])

    response = bearer(presented).get("/api/v1/traces")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="msgtrace"'
    assert response.json()["detail"].startswith("authentication required")


def test_a_read_key_reads_and_may_not_delete(store):
    _, secret = ApiKey.objects.issue("reader", ["read"])
    client = bearer(secret)

    assert client.get(f"/api/v1/traces/{h.tid(3)}").json()["root_span_name"] == "research flow"
    refused = client.delete(f"/api/v1/traces/{h.tid(3)}")

    assert refused.status_code == 403
    assert refused.json() == {"detail": "this API key may not change or delete data: it needs the 'write' scope"}
    assert len(stored_trace_ids()) == 5


def test_a_write_key_deletes(store):
    _, secret = ApiKey.objects.issue("janitor", ["read", "write"])

    response = bearer(secret).delete(f"/api/v1/traces/{h.tid(3)}")

    assert response.status_code == 204
    assert stored_trace_ids() == [h.tid(n) for n in (1, 2, 4, 5)]
    event = AuditEvent.objects.get(action=Action.DELETE_TRACES)
    assert event.actor.startswith("API key mt_") and event.actor.endswith("(janitor)")


def test_an_ingest_key_cannot_read_the_api(store):
    _, secret = ApiKey.objects.issue("exporter", ["ingest"])

    response = bearer(secret).get("/api/v1/traces")

    assert response.status_code == 403
    assert response.json() == {"detail": "this API key may not read traces: it needs the 'read' scope"}


def test_keys_open_the_api_only_not_the_pages(store):
    _, secret = ApiKey.objects.issue("reader", ["read", "write"])

    assert bearer(secret).get("/traces")["Location"] == "/signin?next=/traces"


def test_a_revoked_key_is_refused_at_once_on_the_api_and_on_ingest(store):
    key, secret = ApiKey.objects.issue("ci", ["read", "ingest"])
    client = bearer(secret)
    assert client.get("/api/v1/traces").status_code == 200
    assert ingest(client, 11) == 200

    key.revoke()

    assert client.get("/api/v1/traces").status_code == 401
    refused = h.post(client, b"{}", content_type=h.JSON)
    assert refused.status_code == 401 and refused.json()["message"] == NO_INGEST_KEY
    assert h.tid(11) in stored_trace_ids()


def test_revoking_the_last_ingest_key_keeps_ingest_closed(store):
    key, secret = ApiKey.objects.issue("the only exporter", ["ingest"])
    key.revoke()

    assert ingest(bearer(secret), 12) == 401
    assert ingest(Client(), 13) == 401
    assert h.tid(12) not in stored_trace_ids() and h.tid(13) not in stored_trace_ids()


def test_the_last_use_is_recorded_at_most_once_a_minute(store):
    key, secret = ApiKey.objects.issue("reader", ["read"])
    assert key.last_used_at is None

    bearer(secret).get("/api/v1/traces")
    key.refresh_from_db()
    first = key.last_used_at
    assert timezone.now() - first < timedelta(seconds=10)

    bearer(secret).get("/api/v1/traces")
    key.refresh_from_db()
    assert key.last_used_at == first  # within the minute: not written again

    ApiKey.objects.filter(pk=key.pk).update(last_used_at=first - timedelta(minutes=2))
    bearer(secret).get("/api/v1/traces")
    key.refresh_from_db()
    assert key.last_used_at > first


# --- ingest keys -----------------------------------------------------------------------------


def test_ingest_is_open_until_an_ingest_key_exists(store):
    assert ingest(Client(), 21) == 200
    ApiKey.objects.issue("reader", ["read"])  # keys of other scopes leave ingest open
    assert ingest(Client(), 22) == 200

    _, secret = ApiKey.objects.issue("exporter", ["ingest"])

    refused = h.post(Client(), b"{}", content_type=h.JSON)
    assert refused.status_code == 401 and refused.json() == {"code": 16, "message": NO_INGEST_KEY}
    assert refused["WWW-Authenticate"] == 'Bearer realm="msgtrace"'
    assert ingest(bearer(secret), 23) == 200
    assert ingest(Client(HTTP_X_API_KEY=secret), 24) == 200
    assert {h.tid(n) for n in (21, 22, 23, 24)} <= set(stored_trace_ids())


def test_configured_ingest_keys_work_alongside_api_keys(store, settings):
    settings.MSGTRACE_INGEST_KEYS = ["configured-key"]
    assert ingest(Client(), 31) == 401  # a configured key alone closes ingest
    _, secret = ApiKey.objects.issue("exporter", ["ingest"])

    assert ingest(bearer("configured-key"), 32) == 200
    assert ingest(bearer(secret), 33) == 200
    assert ingest(bearer("another-key"), 34) == 401
    assert h.tid(32) in stored_trace_ids() and h.tid(34) not in stored_trace_ids()


def manage_py_shell(server, code):
    """What `code` prints, run by `manage.py shell` against the server's own database."""
    result = subprocess.run([sys.executable, "manage.py", "shell", "-v0", "-c", code], cwd=servers.ROOT, env=server.env,
                            check=True, capture_output=True, text=True)
    return result.stdout.strip()


@pytest.mark.slow
def test_a_revoked_key_is_refused_over_otlp_grpc_too(tmp_path):
    from tests.traces.test_otlp_grpc import export, failed, otlp_grpc_alone, stored_names

    with otlp_grpc_alone(tmp_path) as server:
        secret = manage_py_shell(server, "from accounts.models import ApiKey; "
                                         "print(ApiKey.objects.issue('grpc exporter', ['ingest'])[1])")
        export(server.target, h.body(h.span(trace=41, name="keyed"), service="grpc-keys"),
               metadata=(("authorization", f"Bearer {secret}"),))

        manage_py_shell(server, "from accounts.models import ApiKey; ApiKey.objects.get(name='grpc exporter').revoke()")

        error = failed(server.target, h.body(h.span(trace=42, name="revoked"), service="grpc-keys"),
                       metadata=(("authorization", f"Bearer {secret}"),))
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED
        assert stored_names(server, "grpc-keys") == ["keyed"]


# --- the settings page: API keys -------------------------------------------------------------


def test_an_admin_creates_a_key_and_sees_its_secret_once(admin):
    response = admin.post("/settings/keys", {"name": "nightly export", "scopes": ["read"]})

    assert response.status_code == 200
    key = ApiKey.objects.get()
    page = response.content.decode()
    secret = page.split('<pre class="code wrap" data-secret>')[1].split("</pre>")[0]
    assert key.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert "copy this key now. It is not stored and will not be shown again." in page
    assert (key.name, key.scope_list, key.created_by) == ("nightly export", ["read"], admin.user)
    assert bearer(secret).get("/api/v1/traces").status_code == 200

    later = admin.get("/settings").content.decode()
    assert secret not in later and "data-secret" not in later
    assert f"<code>{key.prefix}…</code>" in later and "nightly export" in later
    event = AuditEvent.objects.get(action=Action.KEY_CREATED)
    assert (event.actor, event.target) == ("root", f"{key.prefix}… (nightly export; read)")
    assert secret not in event.target


def test_from_htmx_creating_a_key_answers_its_section_and_the_ingest_status(admin):
    response = admin.post("/settings/keys", {"name": "exporter", "scopes": ["ingest"]}, HTTP_HX_REQUEST="true")

    page = response.content.decode()
    assert response.status_code == 200 and "<html" not in page
    assert page.startswith('\n<section class="card settings-section" id="keys"')
    assert "data-secret" in page
    # The ingest section, which said "open" until now, is swapped out of band.
    assert 'id="ingest"' in page and 'hx-swap-oob="true"' in page and "Ingest needs a key" in page


def test_a_key_needs_a_name_and_a_scope(admin):
    response = admin.post("/settings/keys", {"name": "", "scopes": []}, HTTP_HX_REQUEST="true")

    assert response.status_code == 400
    page = response.content.decode()
    assert page.count('<span class="field-error">This field is required.</span>') == 2
    assert not ApiKey.objects.exists() and "data-secret" not in page


def test_an_admin_revokes_a_key_on_the_settings_page(admin, store):
    key, secret = ApiKey.objects.issue("ci", ["read"])

    response = admin.post(f"/settings/keys/{key.pk}/revoke", HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert "revoked " + timezone.localtime(key.revoked_at).strftime("%Y-%m-%d %H:%M") in response.content.decode()
    assert f"/settings/keys/{key.pk}/revoke" not in response.content.decode()  # no button for a revoked key
    assert bearer(secret).get("/api/v1/traces").status_code == 401
    assert AuditEvent.objects.get(action=Action.KEY_REVOKED).target == f"{key.prefix}… (ci)"
    # Revoking again changes nothing and records nothing.
    admin.post(f"/settings/keys/{key.pk}/revoke")
    assert AuditEvent.objects.filter(action=Action.KEY_REVOKED).count() == 1


def test_the_settings_page_says_whether_ingest_is_open(admin):
    page = admin.get("/settings").content.decode()
    assert "<strong>Ingest is open:</strong>" in page
    assert '<button type="submit" class="primary">Create an ingest key</button>' in page

    # The button posts a key named "ingest" with the ingest scope alone.
    admin.post("/settings/keys", {"name": "ingest", "scopes": ["ingest"]})

    page = admin.get("/settings").content.decode()
    assert "<strong>Ingest needs a key:</strong>" in page and "Ingest is open" not in page
    assert "1 API key with the ingest scope." in page
    assert "Create an ingest key" not in page


def test_the_settings_page_opens_at_its_top(admin):
    page = admin.get("/settings").content.decode()

    # The new user form's name field would take the focus, and the browser would scroll down to it.
    assert 'name="username"' in page and "autofocus" not in page


def test_the_settings_page_counts_revoked_and_configured_ingest_keys(admin, settings):
    settings.MSGTRACE_INGEST_KEYS = ["one", "two"]
    ApiKey.objects.issue("old exporter", ["ingest"])[0].revoke()

    page = admin.get("/settings").content.decode()

    assert "0 API keys with the ingest scope (1 revoked), and\n    2 keys from <code>MSGTRACE_INGEST_KEYS</code>." in page


MANAGING = [("/settings/keys", {"name": "mine", "scopes": ["read", "write"]}),
            ("/settings/keys/{key}/revoke", {}),
            ("/settings/users", {"username": "eve", "password1": "a long passphrase 1",
                                 "password2": "a long passphrase 1", "role": "admin"}),
            ("/settings/users/{user}", {"role": "admin"}),
            ("/settings/users/{user}", {"active": "false"})]


@pytest.mark.parametrize("role", [Role.VIEWER, Role.MEMBER])
@pytest.mark.parametrize(("path", "data"), MANAGING, ids=["create key", "revoke key", "create user", "change role",
                                                          "deactivate"])
def test_only_admins_manage_keys_and_users(access_control, role, path, data):
    key, _ = ApiKey.objects.issue("existing", ["read"])
    client = person(role)
    other = User.objects.create_user("other")

    response = client.post(path.format(key=key.pk, user=other.pk), data)

    assert response.status_code == 403
    assert "Your role may not manage msgtrace." in response.content.decode()
    assert list(ApiKey.objects.values_list("name", "revoked_at")) == [("existing", None)]
    assert sorted(User.objects.values_list("username", flat=True)) == sorted([role.value, "other"])
    other.refresh_from_db()
    assert (other.is_active, role_of(other)) == (True, Role.VIEWER)
    assert not AuditEvent.objects.exclude(action=Action.SIGN_IN).exists()


def test_members_and_viewers_see_no_keys_or_users(access_control):
    ApiKey.objects.issue("existing", ["read"])

    for role in (Role.VIEWER, Role.MEMBER):
        page = person(role).get("/settings").content.decode()
        assert f'<span class="role role-{role}">{role}</span>' in page
        assert 'id="keys"' not in page and 'id="users"' not in page and 'id="ingest"' not in page


# --- the settings page: users ----------------------------------------------------------------


def test_an_admin_creates_a_user_with_a_role(admin):
    response = admin.post("/settings/users", {"username": "bob", "password1": "a long passphrase 1",
                                              "password2": "a long passphrase 1", "role": "member"},
                          HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    bob = User.objects.get(username="bob")
    assert role_of(bob) == Role.MEMBER and bob.check_password("a long passphrase 1")
    assert list(bob.groups.values_list("name", flat=True)) == ["msgtrace members"]
    assert 'data-user="bob"' in response.content.decode()
    event = AuditEvent.objects.get(action=Action.USER_CREATED)
    assert (event.actor, event.target) == ("root", "bob (member)")


def test_a_new_user_needs_matching_passwords(admin):
    response = admin.post("/settings/users", {"username": "bob", "password1": "a long passphrase 1",
                                              "password2": "another passphrase", "role": "member"})

    assert response.status_code == 400
    assert "The two password fields didn’t match." in response.content.decode()
    assert not User.objects.filter(username="bob").exists()


def test_an_admin_changes_a_role_and_it_is_audited(admin):
    bob = User.objects.create_user("bob")
    assign_role(bob, Role.MEMBER)

    response = admin.post(f"/settings/users/{bob.pk}", {"role": "admin"}, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    bob.refresh_from_db()
    assert role_of(bob) == Role.ADMIN and not bob.groups.exists()
    assert AuditEvent.objects.get(action=Action.ROLE_CHANGED).target == "bob: member → admin"
    # The same role again records nothing.
    admin.post(f"/settings/users/{bob.pk}", {"role": "admin"})
    assert AuditEvent.objects.filter(action=Action.ROLE_CHANGED).count() == 1


def test_an_admin_deactivates_and_reactivates_a_user(admin):
    bob = person(Role.MEMBER, "bob")
    assert bob.get("/traces").status_code == 200

    page = admin.post(f"/settings/users/{bob.user.pk}", {"active": "false"}, HTTP_HX_REQUEST="true").content.decode()

    bob.user.refresh_from_db()
    assert not bob.user.is_active
    assert bob.get("/traces")["Location"] == "/signin?next=/traces"  # signed out at the next request
    assert '<span class="role role-none">deactivated</span>' in page and ">Reactivate</button>" in page

    admin.post(f"/settings/users/{bob.user.pk}", {"active": "true"})
    bob.user.refresh_from_db()
    assert bob.user.is_active and role_of(bob.user) == Role.MEMBER
    assert list(AuditEvent.objects.filter(target="bob").order_by("id").values_list("action", flat=True)) == [
        Action.USER_DEACTIVATED, Action.USER_ACTIVATED]


@pytest.mark.parametrize("change", [{"role": "viewer"}, {"active": "false"}])
def test_an_admin_cannot_demote_or_deactivate_themselves(admin, change):
    response = admin.post(f"/settings/users/{admin.user.pk}", change, HTTP_HX_REQUEST="true")

    assert response.status_code == 400
    assert "You cannot change your own role or deactivate yourself." in response.content.decode()
    admin.user.refresh_from_db()
    assert admin.user.is_active and role_of(admin.user) == Role.ADMIN
    assert not AuditEvent.objects.exclude(action=Action.SIGN_IN).exists()


def test_an_admin_deletes_a_revoked_key_in_the_admin_and_ingest_opens_again(client, access_control):
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "x"))
    key, _ = ApiKey.objects.issue("leaked", ["ingest"])
    assert client.get(f"/admin/accounts/apikey/{key.pk}/delete/").status_code == 403, "an active key is revoked first"
    key.revoke()
    assert h.post(Client(), h.body(h.span(trace=61))).status_code == 401, "a revoked key keeps ingest closed"
    assert client.post(f"/admin/accounts/apikey/{key.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not ApiKey.objects.exists()
    assert AuditEvent.objects.filter(action=Action.KEY_DELETED, actor="root").count() == 1
    assert h.post(Client(), h.body(h.span(trace=62))).status_code == 200
