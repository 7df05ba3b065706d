"""Signing in and the settings page in a browser, with access control on: an anonymous visitor is sent
to the sign-in form and lands where they were going, a wrong password is said so, and an admin issues
an API key (its secret shown once, by an HTMX swap) and revokes it. Screenshots of both pages at
desktop and phone width for the docs."""

import re
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import expect

from tests import servers
from tests.ui.browser.support import ROWS, overflow, serve, sign_in
from tests.ui.browser.test_screenshots import save


def api_status(server, path, secret):
    """The status of a GET of the REST API with only this key: no session."""
    request = urllib.request.Request(server.url + "/api/v1" + path, headers={"Authorization": f"Bearer {secret}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_an_anonymous_visitor_signs_in_and_lands_on_the_page_asked_for(open_page, site):
    page = open_page(site, signed_in=False)

    page.goto("/traces?status=error")

    expect(page).to_have_url(f"{site.url}/signin?next=/traces%3Fstatus%3Derror")
    expect(page.get_by_role("heading", name="Sign in to msgtrace")).to_be_visible()
    # Nothing but the form: no navigation, no search, no sign-out.
    expect(page.get_by_role("navigation")).to_have_count(0)
    expect(page.get_by_role("search")).to_have_count(0)
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)

    sign_in(page, *site.admin)

    expect(page).to_have_url(f"{site.url}/traces?status=error")
    expect(page.locator(ROWS).first).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{site.url}/signin")
    page.goto("/traces")
    expect(page).to_have_url(f"{site.url}/signin?next=/traces")


def test_a_wrong_password_is_said_so_and_nobody_is_signed_in(open_page, site):
    page = open_page(site, signed_in=False)
    page.goto("/")

    sign_in(page, site.admin[0], "not the passphrase")

    expect(page.get_by_role("alert")).to_have_text(re.compile(r"^Please enter a correct username and password\."))
    expect(page.get_by_label("Username")).to_have_value(site.admin[0])
    expect(page.get_by_label("Password")).to_have_value("")
    expect(page.get_by_role("navigation")).to_have_count(0)


def test_an_admin_creates_an_api_key_sees_its_secret_once_and_revokes_it(open_page, site):
    page = open_page(site)
    page.goto("/settings")
    keys = page.locator("#keys")
    page.evaluate("window.stillThisPage = true")  # gone if anything but an HTMX swap happens

    keys.get_by_label("Name").fill("browser read key")
    # Not the default ingest scope: an ingest key would close ingest for the other tests.
    keys.get_by_label("ingest: send traces (OTLP)").uncheck()
    keys.get_by_label("read: read the REST API").check()
    keys.get_by_role("button", name="Create key").click()

    secret_box = page.locator("#keys [data-secret]")
    expect(secret_box).to_have_text(re.compile(r"^mt_\S{40,}$"))
    secret = secret_box.inner_text()
    assert page.evaluate("window.stillThisPage") is True
    expect(page.locator("#keys [role=status]")).to_contain_text("copy this key now")
    row = page.locator("#keys tbody tr", has_text="browser read key")
    expect(row).to_contain_text(f"{secret[:11]}…")
    expect(row).to_contain_text("read")
    expect(row).not_to_contain_text(secret)
    assert api_status(site, "/traces?limit=1", secret) == 200

    page.reload()
    expect(page.locator("[data-secret]")).to_have_count(0)
    assert secret not in page.content()
    expect(row).to_contain_text(f"{secret[:11]}…")

    page.once("dialog", lambda dialog: dialog.accept())  # "Revoke browser read key? …"
    row.get_by_role("button", name="Revoke").click()

    expect(row).to_contain_text("revoked")
    expect(row.get_by_role("button", name="Revoke")).to_have_count(0)
    assert api_status(site, "/traces?limit=1", secret) == 401
    # Ingest is still open for everyone else's traces.
    expect(page.locator("#ingest")).to_contain_text("Ingest is open")


# --- screenshots -------------------------------------------------------------------------------

SHOWROOM = """
from django.contrib.auth import get_user_model
from accounts.models import ApiKey
from accounts.roles import assign_role
User = get_user_model()
for name, role in (("grace", "member"), ("linus", "viewer"), ("margaret", "member")):
    assign_role(User.objects.create_user(name, password="a long passphrase 1"), role)
User.objects.filter(username="margaret").update(is_active=False)
admin = User.objects.get(username="admin")
ApiKey.objects.issue("otel collector", ["ingest"], created_by=admin)
ApiKey.objects.issue("nightly export", ["read"], created_by=admin)
ApiKey.objects.issue("old laptop", ["read", "write"], created_by=admin)[0].revoke()
"""


@pytest.fixture(scope="module")
def showroom(tmp_path_factory, static_root):
    """A server with access control on, a few users and API keys, for the screenshots."""
    with serve(tmp_path_factory.mktemp("showroom"), static_root, workers=1, access_control=True) as server:
        subprocess.run([sys.executable, "manage.py", "shell", "-v0", "-c", SHOWROOM], cwd=servers.ROOT, env=server.env,
                       check=True, capture_output=True)
        yield server


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_screenshot_of_the_sign_in_page(open_page, showroom, device):
    page = open_page(showroom, phone=device == "phone", signed_in=False)
    page.goto("/")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()

    assert overflow(page) <= 1
    save(page, "signin" if device == "desktop" else "signin-phone")


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_screenshot_of_the_settings_page(open_page, showroom, device):
    page = open_page(showroom, phone=device == "phone")
    page.goto("/settings")
    expect(page.locator("#ingest")).to_contain_text("Ingest needs a key")
    expect(page.locator("#users tbody tr")).to_have_count(4)
    expect(page.locator("#keys tbody tr")).to_have_count(3)

    assert overflow(page) <= 1
    save(page, "settings" if device == "desktop" else "settings-phone")
