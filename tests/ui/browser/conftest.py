"""Browser tests: a live msgtrace (gunicorn, its own database, the demo data) driven by Chromium.

Playwright drives Debian's chromium at /usr/bin/chromium; its own browser downloads are never used.
Without that binary the tests are skipped on a developer's machine and fail in CI (CI=true), where
bin/test installs it.
"""

import pytest
from playwright.sync_api import expect

from tests.ui.browser.support import (
    CHROMIUM, DEMO_TRACES, collect_static, require_chromium, serve, server_log, sign_in,
)

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


@pytest.fixture(scope="session")
def static_root(tmp_path_factory):
    """The static files, collected once for every server of the run."""
    require_chromium()
    return collect_static(tmp_path_factory.mktemp("static"))


@pytest.fixture(scope="session")
def site(tmp_path_factory, static_root):
    """msgtrace with the demo data (60 traces ending now) and access control on, as shipped, shared by
    every browser test; its pages are opened signed in as its admin. Tests that change data post or
    delete traces of their own, never demo traces others count on, and never sign its admin out or
    create an ingest key there (the others send their traces without one)."""
    with serve(tmp_path_factory.mktemp("site"), static_root, demo_traces=DEMO_TRACES, access_control=True) as server:
        yield server


@pytest.fixture(scope="session")
def browser():
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class PageProblems:
    """What went wrong behind a page's back: JavaScript errors, static files or HTMX requests that
    failed, pages the server could not render, anything the Content-Security-Policy refused. Any of
    them fails the test."""

    def __init__(self, page):
        self.errors = []
        page.on("pageerror", lambda error: self.errors.append(f"JavaScript error: {error}"))
        page.on("response", self._response)
        page.on("console", self._console)

    def _console(self, message):
        # Chromium reports each script, style or request the policy refused as a console error.
        if message.type == "error" and "Content Security Policy" in message.text:
            self.errors.append(f"refused by the Content-Security-Policy: {message.text}")

    def _response(self, response):
        kind = response.request.resource_type
        ours = "/static/" in response.url or kind in ("fetch", "xhr")  # a 404 page may be the point of a test
        if response.status >= 500 or (response.status >= 400 and ours):
            self.errors.append(f"{response.status} for {response.request.method} {response.url} ({kind})")


@pytest.fixture(scope="session")
def admin_sessions(browser):
    """The browser storage (its session cookie) of the admin of each server served with access control,
    signed in once per test run through the real sign-in form: {server url: storage state}."""
    return {}


def signed_in_state(browser, server, sessions):
    if server.url not in sessions:
        context = browser.new_context(base_url=server.url, locale="en-US", timezone_id="UTC")
        context.set_default_timeout(10_000)
        page = context.new_page()
        page.goto("/")
        sign_in(page, *server.admin)
        expect(page).to_have_url(server.url + "/")
        sessions[server.url] = context.storage_state()
        context.close()
    return sessions[server.url]


@pytest.fixture
def open_page(browser, admin_sessions):
    """open_page(server, phone=False, signed_in=True): a page in a fresh context on that server, signed
    in as its admin if it was served with access control (unless signed_in=False). The problems it saw
    fail the test, with the end of the server's log."""
    opened = []

    def open_page(server, phone=False, signed_in=True):
        options = PHONE if phone else DESKTOP
        if signed_in and getattr(server, "admin", None):
            options = options | {"storage_state": signed_in_state(browser, server, admin_sessions)}
        context = browser.new_context(base_url=server.url, locale="en-US", timezone_id="UTC", **options)
        context.set_default_timeout(10_000)
        page = context.new_page()
        page.problems = PageProblems(page)
        opened.append((server, context, page))
        return page

    yield open_page
    report = []
    for server, context, page in opened:
        context.close()
        if page.problems.errors:
            report += page.problems.errors + [f"the server's log ends with:\n{server_log(server)}"]
    assert not report, "the page reported problems:\n" + "\n".join(report)


@pytest.fixture
def desktop(open_page, site):
    """A page in a fresh 1280x900 desktop context on the demo site."""
    return open_page(site)


@pytest.fixture
def phone(open_page, site):
    """A page in a fresh 390x844 touch context on the demo site, as a phone shows it."""
    return open_page(site, phone=True)


@pytest.fixture(scope="module")
def empty_site(tmp_path_factory, static_root):
    """Another msgtrace, with nothing stored yet: what a newcomer sees first."""
    with serve(tmp_path_factory.mktemp("empty"), static_root, workers=1) as server:
        yield server
