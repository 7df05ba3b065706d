"""Signing in and out through the form, changing one's password, sign-in limits per user name and per
address, a user named by an authenticating proxy, and the one-time setup link."""

import http.client
import subprocess
import sys
import time
from urllib.parse import urlsplit

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.models import SetupToken
from accounts.roles import Role, assign_role, role_of
from audit.models import Action, AuditEvent
from tests import helpers as h
from tests import servers
from tests.web import WebSession

pytestmark = pytest.mark.django_db
User = get_user_model()
PASSWORD = "the right passphrase 1"
WRONG_PASSWORD = "hunter2 is not it"
CORRECT_PASSWORD_ERROR = "Please enter a correct username and password"


@pytest.fixture(autouse=True)
def quick_password_hashing(settings):
    # Every sign-in hashes the password it was given: the shipped hasher would take most of the run.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def ada(access_control):
    user = User.objects.create_user("ada", password=PASSWORD)
    assign_role(user, Role.MEMBER)
    return user


def sign_in(client, username="ada", password=PASSWORD, **extra):
    """Posts the sign-in form; `extra` holds more fields (next) or request META (REMOTE_ADDR)."""
    fields = {key: extra.pop(key) for key in list(extra) if key.islower()}
    return client.post("/signin", {"username": username, "password": password, **fields}, **extra)


def signed_in_user(client):
    return client.session.get("_auth_user_id")


# --- signing in and out ----------------------------------------------------------------------


def test_the_right_password_signs_in_and_lands_on_the_dashboard(ada, client):
    response = sign_in(client)

    assert (response.status_code, response["Location"]) == (302, "/")
    assert signed_in_user(client) == str(ada.pk)
    assert client.get("/traces").status_code == 200
    ada.refresh_from_db()
    assert ada.last_login is not None
    assert list(AuditEvent.objects.values_list("action", "actor")) == [(Action.SIGN_IN, "ada")]


def test_a_wrong_password_shows_the_form_again_with_the_error(ada, client):
    response = sign_in(client, password=WRONG_PASSWORD)

    assert response.status_code == 200
    page = response.content.decode()
    assert CORRECT_PASSWORD_ERROR in page and 'role="alert"' in page
    assert 'value="ada"' in page  # the name stays filled in, the password does not
    assert WRONG_PASSWORD not in page
    assert signed_in_user(client) is None
    assert client.get("/traces")["Location"] == "/signin?next=/traces"


def test_an_unknown_user_name_gets_the_same_error_as_a_wrong_password(ada, client):
    response = sign_in(client, username="nobody")

    assert response.status_code == 200 and CORRECT_PASSWORD_ERROR in response.content.decode()
    assert signed_in_user(client) is None


def test_the_page_asked_for_is_where_signing_in_lands(ada, client):
    redirect = client.get("/traces?q=status%3Aerror")
    assert redirect["Location"] == "/signin?next=/traces%3Fq%3Dstatus%253Aerror"
    form = client.get(redirect["Location"]).content.decode()
    assert '<input type="hidden" name="next" value="/traces?q=status%3Aerror">' in form

    response = sign_in(client, next="/traces?q=status%3Aerror")

    assert (response.status_code, response["Location"]) == (302, "/traces?q=status%3Aerror")


@pytest.mark.parametrize("elsewhere", ["https://evil.example/", "//evil.example/traces", "http://testserver.evil/"])
def test_a_next_on_another_site_is_ignored(ada, client, elsewhere):
    response = sign_in(client, next=elsewhere)

    assert (response.status_code, response["Location"]) == (302, "/")
    assert signed_in_user(client) == str(ada.pk)


def test_a_signed_in_visitor_of_the_sign_in_page_is_sent_on(ada, client):
    client.force_login(ada)

    assert client.get("/signin?next=/traces")["Location"] == "/traces"


def test_signing_out_ends_the_session(ada, client):
    sign_in(client)
    session_key = client.session.session_key

    response = client.post("/signout")

    assert (response.status_code, response["Location"]) == (302, "/signin")
    assert signed_in_user(client) is None and client.session.session_key != session_key
    assert client.get("/traces")["Location"] == "/signin?next=/traces"
    assert AuditEvent.objects.newest_first().values_list("action", "actor").first() == (Action.SIGN_OUT, "ada")


def test_signing_out_takes_a_post_so_that_a_link_elsewhere_cannot_sign_anyone_out(ada, client):
    client.force_login(ada)

    assert client.get("/signout").status_code == 405
    assert client.get("/traces").status_code == 200


def test_changing_the_password_keeps_the_session_and_the_new_one_signs_in(ada, client):
    client.force_login(ada)
    assert "Change your password" in client.get("/account/password").content.decode()

    response = client.post("/account/password", {"old_password": PASSWORD, "new_password1": "a new passphrase 22",
                                                  "new_password2": "a new passphrase 22"})

    assert (response.status_code, response["Location"]) == (302, "/settings")
    assert client.get("/traces").status_code == 200  # still signed in
    assert AuditEvent.objects.filter(action=Action.PASSWORD_CHANGED, actor="ada", target="ada").count() == 1
    other = Client()
    assert CORRECT_PASSWORD_ERROR in sign_in(other).content.decode()
    assert sign_in(other, password="a new passphrase 22").status_code == 302


def test_changing_the_password_needs_the_old_one(ada, client):
    client.force_login(ada)

    response = client.post("/account/password", {"old_password": WRONG_PASSWORD, "new_password1": "a new passphrase 22",
                                                  "new_password2": "a new passphrase 22"})

    assert response.status_code == 200
    assert "Your old password was entered incorrectly" in response.content.decode()
    ada.refresh_from_db()
    assert ada.check_password(PASSWORD)


def test_the_session_cookie_lasts_as_long_as_the_settings_say(ada, client):
    response = sign_in(client)

    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert int(cookie["max-age"]) == settings.SESSION_COOKIE_AGE == 7 * 24 * 3600  # MSGTRACE_SESSION_HOURS unset
    assert cookie["httponly"] is True and cookie["samesite"] == "Lax"


@pytest.mark.slow
def test_msgtrace_session_hours_sets_how_long_a_sign_in_lasts(tmp_path):
    with servers.gunicorn(tmp_path, workers=1, extra_env={"MSGTRACE_AUTH": "on", "MSGTRACE_SESSION_HOURS": "2"}) as server:
        create_admin(server, "ada", PASSWORD)
        visitor = WebSession(server.url)

        landed = visitor.sign_in("ada", PASSWORD)

        assert landed.url == server.url + "/"
        session = next(c for c in visitor.cookies if c.name == "sessionid")
        assert 2 * 3600 - 60 < session.expires - time.time() <= 2 * 3600


def test_an_inactive_user_cannot_sign_in(ada, client):
    ada.is_active = False
    ada.save()

    response = sign_in(client)

    assert response.status_code == 200 and CORRECT_PASSWORD_ERROR in response.content.decode()
    assert signed_in_user(client) is None


# --- too many failures -----------------------------------------------------------------------


def test_five_failures_for_one_user_name_lock_it_whatever_the_address(ada, client):
    answers = [sign_in(client, password=f"guess {n}", REMOTE_ADDR=f"10.0.0.{n}").status_code for n in range(1, 6)]

    assert answers == [200, 200, 200, 200, 429]
    # The right password from yet another address is refused too, with the page that says why.
    locked = sign_in(client, REMOTE_ADDR="10.0.0.9")
    assert locked.status_code == 429 and signed_in_user(client) is None
    assert "Too many failed sign-ins" in locked.content.decode()
    # Another user from one of those addresses still signs in.
    grace = User.objects.create_user("grace", password=PASSWORD)
    assert sign_in(Client(), username="grace", REMOTE_ADDR="10.0.0.1").status_code == 302
    assert role_of(grace) == Role.VIEWER


def test_five_failures_from_one_address_lock_it_whatever_the_user_name(ada, client):
    answers = [sign_in(client, username=f"guess{n}", REMOTE_ADDR="10.0.0.7").status_code for n in range(1, 6)]

    assert answers == [200, 200, 200, 200, 429]
    assert sign_in(client, REMOTE_ADDR="10.0.0.7").status_code == 429
    # The user name those guesses did not touch signs in from elsewhere.
    assert sign_in(Client(), REMOTE_ADDR="10.0.0.8").status_code == 302


def test_the_locked_out_page_says_for_how_long(ada, client):
    for n in range(5):
        sign_in(client, password=f"guess {n}")

    page = sign_in(client)

    assert page.status_code == 429
    text = page.content.decode()
    assert "<h1>Too many failed sign-ins</h1>" in text
    assert "Try again in 15\xa0minutes" in text  # MSGTRACE_SIGNIN_LOCKOUT_MINUTES unset
    assert 'class="mainnav"' not in text


def test_a_success_before_the_limit_forgives_the_failures(ada, client):
    for n in range(4):
        sign_in(client, password=f"guess {n}")
    assert sign_in(client).status_code == 302
    client.post("/signout")

    answers = [sign_in(client, password=f"guess {n}").status_code for n in range(4)]

    assert answers == [200, 200, 200, 200]


def test_failed_sign_ins_are_audited_and_the_password_is_stored_nowhere(ada, client):
    for n in range(1, 3):
        sign_in(client, password=f"{WRONG_PASSWORD} {n}", REMOTE_ADDR=f"10.1.0.{n}")

    events = AuditEvent.objects.order_by("id").values_list("action", "actor", "target", "address")
    assert list(events) == [(Action.SIGN_IN_FAILED, "ada", "ada", "10.1.0.1"),
                            (Action.SIGN_IN_FAILED, "ada", "ada", "10.1.0.2")]
    assert AccessAttempt.objects.count() == 2  # what the limit counts
    assert "axes.AccessAttempt.username" in h.stored_anywhere("ada")
    assert h.stored_anywhere(WRONG_PASSWORD) == []


# --- a user named by an authenticating proxy -------------------------------------------------


def fetch(server, path, **headers):
    """(status, Location) of a GET that is not redirected, with these headers."""
    address = urlsplit(server.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    try:
        connection.request("GET", path, headers={name.replace("_", "-"): value for name, value in headers.items()})
        response = connection.getresponse()
        response.read()
        return response.status, response.getheader("Location")
    finally:
        connection.close()


def user_flags(server, username):
    """(is_active, is_staff, is_superuser) of that user in the server's database, or None."""
    rows = server.query("SELECT is_active, is_staff, is_superuser FROM auth_user WHERE username = %s", (username,))
    return tuple(bool(flag) for flag in rows[0]) if rows else None


@pytest.fixture(scope="module")
def behind_a_proxy(tmp_path_factory):
    env = {"MSGTRACE_AUTH": "on", "MSGTRACE_REMOTE_USER_HEADER": "X-Forwarded-User"}
    with servers.gunicorn(tmp_path_factory.mktemp("proxy-user"), workers=1, extra_env=env) as server:
        yield server


@pytest.mark.slow
def test_the_proxys_user_is_signed_in_and_created_on_first_sight_as_a_viewer(behind_a_proxy):
    assert user_flags(behind_a_proxy, "grace@example.com") is None

    assert fetch(behind_a_proxy, "/traces", X_Forwarded_User="grace@example.com") == (200, None)

    assert user_flags(behind_a_proxy, "grace@example.com") == (True, False, False)  # a viewer
    # A viewer reads the API and may not delete.
    assert fetch(behind_a_proxy, "/api/v1/traces", X_Forwarded_User="grace@example.com")[0] == 200
    assert fetch(behind_a_proxy, "/settings", X_Forwarded_User="grace@example.com")[0] == 200
    assert behind_a_proxy.scalar("SELECT COUNT(*) FROM auth_user") == 1


@pytest.mark.slow
def test_without_the_header_the_visitor_is_anonymous(behind_a_proxy):
    assert fetch(behind_a_proxy, "/traces") == (302, "/signin?next=/traces")
    assert fetch(behind_a_proxy, "/api/v1/traces")[0] == 401


@pytest.mark.slow
def test_msgtrace_remote_user_role_is_the_role_of_users_created_on_first_sight(tmp_path):
    env = {"MSGTRACE_AUTH": "on", "MSGTRACE_REMOTE_USER_HEADER": "X-Forwarded-User",
           "MSGTRACE_REMOTE_USER_ROLE": "member"}
    with servers.gunicorn(tmp_path, workers=1, extra_env=env) as server:
        assert fetch(server, "/traces", X_Forwarded_User="linus")[0] == 200
        assert user_flags(server, "linus") == (True, True, False)  # staff: a member
        groups = server.query("SELECT g.name FROM auth_group g JOIN auth_user_groups ug ON ug.group_id = g.id "
                              "JOIN auth_user u ON u.id = ug.user_id WHERE u.username = %s", ("linus",))
        assert groups == [("msgtrace members",)]


# --- the one-time setup link -----------------------------------------------------------------


def create_admin_through(client, token, username="root"):
    return client.post(f"/setup?token={token}", {"username": username, "password1": PASSWORD, "password2": PASSWORD})


def test_the_setup_link_creates_the_first_admin_and_signs_them_in(access_control, client):
    token = SetupToken.objects.issue()
    assert "Create the first admin" in client.get(f"/setup?token={token}").content.decode()

    response = create_admin_through(client, token)

    assert (response.status_code, response["Location"]) == (302, "/settings")
    root = User.objects.get()
    assert (root.username, role_of(root)) == ("root", Role.ADMIN)
    assert signed_in_user(client) == str(root.pk)
    assert SetupToken.objects.count() == 0
    assert list(AuditEvent.objects.filter(action=Action.SETUP).values_list("actor", flat=True)) == ["root"]


def test_a_wrong_setup_token_is_refused(access_control, client):
    SetupToken.objects.issue()

    for answer in (client.get("/setup?token=guessed"), client.get("/setup"), create_admin_through(client, "guessed")):
        assert answer.status_code == 403
        assert "This setup link does not work" in answer.content.decode()
    assert not User.objects.exists()


def test_the_setup_link_works_once(access_control, client):
    token = SetupToken.objects.issue()
    create_admin_through(client, token)

    again = Client()
    for answer in (again.get(f"/setup?token={token}"), create_admin_through(again, token, username="mallory")):
        assert answer.status_code == 410
        assert "msgtrace is set up" in answer.content.decode()
    assert list(User.objects.values_list("username", flat=True)) == ["root"]


def test_a_new_start_makes_the_previous_setup_link_stop_working(access_control, client):
    old = SetupToken.objects.issue()
    new = SetupToken.objects.issue()  # what the next `manage.py start` does

    assert client.get(f"/setup?token={old}").status_code == 403
    assert create_admin_through(client, new).status_code == 302


def create_admin(server, username, password):
    """An admin in the server's own database, made as an operator makes the first one."""
    env = {**server.env, "DJANGO_SUPERUSER_PASSWORD": password}
    subprocess.run([sys.executable, "manage.py", "createsuperuser", "--noinput", "--username", username,
                    "--email", f"{username}@example.com"], cwd=servers.ROOT, env=env, check=True, capture_output=True)
