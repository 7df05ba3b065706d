"""What every answer tells the browser: the pages may run scripts and load styles from msgtrace itself
only (Content-Security-Policy, no inline script, no eval), no answer may be framed, sniffed or leak its
URL to another site; with MSGTRACE_HTTPS=true the cookies are HTTPS-only and browsers are told to stay
on HTTPS for a year, and `manage.py check --deploy` finds nothing to warn about."""

import http.client
import json
import os
import subprocess
import sys
import urllib.parse
import urllib.request
from html.parser import HTMLParser
from http.cookies import SimpleCookie

import pytest
from django.contrib.auth import get_user_model

from tests import helpers as h
from tests import servers
from tests.ui.browser.support import create_superuser

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
TRACE = h.tid(1)
SPAN = h.span_id(2).hex()
ONE_YEAR = 365 * 24 * 3600

PAGES = {
    "dashboard": ("/", {}),
    "trace list": ("/traces", {}),
    "trace list, HTMX swap": ("/traces?status=error", HTMX),
    "trace page": (f"/traces/{TRACE}", {}),
    "span page": (f"/traces/{TRACE}/spans/{SPAN}", {}),
    "span panel": (f"/traces/{TRACE}/spans/{SPAN}", HTMX),
    "delete confirmation": (f"/traces/{TRACE}/delete", {}),
    "ingest health": ("/ingest-health", {}),
    "API docs": ("/api/v1/docs", {}),
    "admin": ("/admin/traces/trace/", {}),
}
OTHER_ANSWERS = {
    "API JSON": ("/api/v1/traces", {}),
    "OpenAPI schema": ("/api/v1/openapi.json", {}),
    "health": ("/health", {}),
    "static file": ("/static/css/base.css", {}),
    "htmx itself": ("/static/django_htmx/htmx-2.min.js", {}),
    "missing page": ("/no-such-page", {}),
}


@pytest.fixture
def stored(client):
    """The client, signed in as an admin, with one trace of two spans stored."""
    response = h.post(client, h.body(h.span(trace=1, span=1, name="agent run"),
                                     h.span(trace=1, span=2, parent=1, model="gpt-4o-mini", tokens=(10, 5))))
    assert response.status_code == 200, response.content
    admin = get_user_model().objects.create_superuser("admin", "admin@example.com", "a long passphrase")
    client.force_login(admin, backend="django.contrib.auth.backends.ModelBackend")
    return client


def policy(response):
    """The Content-Security-Policy as {directive: [sources]}."""
    header = response.get("Content-Security-Policy")
    assert header, f"no Content-Security-Policy on {response.request['PATH_INFO']}"
    directives = {}
    for part in header.split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def read(client, path, headers):
    response = client.get(path, **headers)
    expected = 404 if path == "/no-such-page" else 200
    assert response.status_code == expected, (path, response.status_code)
    if response.streaming:  # a static file: its headers are what matters
        response.close()
    return response


class Scripts(HTMLParser):
    """The page's <script> elements and the attributes that would run code."""

    def __init__(self):
        super().__init__()
        self.scripts, self.handlers, self.htmx_config, self._open = [], [], None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name, value in attrs.items():
            if name.startswith(("on", "hx-on", "data-hx-on")) or (value or "").lstrip().lower().startswith(
                    ("javascript:", "js:")):
                self.handlers.append(f"<{tag} {name}={value!r}>")
        if tag == "script":
            self._open = {**attrs, "text": ""}
            self.scripts.append(self._open)
        if tag == "meta" and attrs.get("name") == "htmx-config":
            self.htmx_config = attrs["content"]

    def handle_data(self, data):
        if self._open is not None:
            self._open["text"] += data

    def handle_endtag(self, tag):
        if tag == "script":
            self._open = None


# --- the policy ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", PAGES)
def test_every_page_runs_only_msgtraces_own_scripts(stored, kind):
    path, headers = PAGES[kind]
    directives = policy(read(stored, path, headers))

    assert directives["script-src"] == ["'self'"]
    assert directives["default-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["base-uri"] == ["'self'"]
    assert directives["form-action"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["connect-src"] == ["'self'"]
    assert directives["img-src"] == ["'self'", "data:"]
    # Inline style="" attributes (bar widths and positions) are the one inline thing a page may carry.
    assert directives["style-src"] == ["'self'"]
    assert directives["style-src-attr"] == ["'unsafe-inline'"]
    everything = [source for sources in directives.values() for source in sources]
    assert "'unsafe-eval'" not in everything and "*" not in everything


@pytest.mark.parametrize("kind", PAGES)
def test_no_page_has_an_inline_script_or_an_event_handler(stored, kind):
    path, headers = PAGES[kind]
    page = Scripts()
    page.feed(read(stored, path, headers).content.decode())

    assert not page.handlers
    for script in page.scripts:
        if script.get("type") == "application/json":  # data for a script, never run
            continue
        src = script.get("src", "")
        assert src.startswith("/") and not src.startswith("//"), script  # from msgtrace itself
        assert not script["text"].strip(), script


@pytest.mark.parametrize("kind", ["dashboard", "trace list", "trace page", "span page", "ingest health"])
def test_htmx_evaluates_no_code_and_adds_no_style_element(stored, kind):
    path, headers = PAGES[kind]
    page = Scripts()
    page.feed(read(stored, path, headers).content.decode())

    assert page.htmx_config == '{"allowEval": false, "allowScriptTags": false, "includeIndicatorStyles": false}'


def test_the_api_docs_load_swagger_ui_from_msgtrace_and_ask_no_online_validator(stored):
    page = Scripts()
    page.feed(read(stored, "/api/v1/docs", {}).content.decode())

    sources = [script.get("src") for script in page.scripts if script.get("src")]
    assert sources == ["/static/ninja/swagger-ui-bundle.js", "/static/ninja/swagger-ui-init.js"]
    settings_json = next(script["text"] for script in page.scripts if script.get("id") == "swagger-settings")
    assert '"validatorUrl": null' in settings_json
    for source in sources:
        read(stored, source, {})


# --- the other headers -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [*PAGES, *OTHER_ANSWERS])
def test_no_answer_can_be_framed_sniffed_or_leak_its_url(stored, kind):
    path, headers = {**PAGES, **OTHER_ANSWERS}[kind]
    response = read(stored, path, headers)

    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert policy(response)["frame-ancestors"] == ["'none'"]
    assert "Strict-Transport-Security" not in response  # not without MSGTRACE_HTTPS


def test_the_otlp_answer_carries_the_headers_too(client):
    response = h.post(client, h.body(h.span(name="exported")))

    assert response.status_code == 200
    assert (response["X-Frame-Options"], response["X-Content-Type-Options"], response["Referrer-Policy"]) == (
        "DENY", "nosniff", "same-origin")
    assert policy(response)["default-src"] == ["'self'"]


def test_a_refused_otlp_export_carries_the_headers_too(client):
    response = h.post(client, b"not protobuf")

    assert response.status_code == 400
    assert (response["X-Frame-Options"], response["X-Content-Type-Options"]) == ("DENY", "nosniff")


# --- MSGTRACE_HTTPS ----------------------------------------------------------------------------------------


def settings_under(tmp_path, **env):
    """The security settings as `manage.py` reads them with this environment: {name: value}."""
    script = ("from django.conf import settings; import json; print(json.dumps({name: getattr(settings, name) for "
              "name in ['SESSION_COOKIE_SECURE', 'SESSION_COOKIE_HTTPONLY', 'CSRF_COOKIE_SECURE', "
              "'SECURE_HSTS_SECONDS', 'SECURE_HSTS_INCLUDE_SUBDOMAINS', 'SECURE_HSTS_PRELOAD', "
              "'SECURE_SSL_REDIRECT', 'SECURE_PROXY_SSL_HEADER', 'USE_X_FORWARDED_HOST']}))")
    result = manage(tmp_path, ["shell", "-c", script], **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])  # after the shell's note on its imports


def manage(tmp_path, args, **env):
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("DATABASE_URL", "SECRET_KEY") and not k.startswith("MSGTRACE_")}
    environment.update(MSGTRACE_DB_PATH=str(tmp_path / "msgtrace.sqlite3"), **env)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=servers.ROOT, env=environment,
                          capture_output=True, text=True, timeout=120)


def test_https_makes_cookies_secure_and_sends_hsts_for_a_year(tmp_path):
    assert settings_under(tmp_path, MSGTRACE_HTTPS="true") == {
        "SESSION_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": ONE_YEAR,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": False,
        "SECURE_HSTS_PRELOAD": False,
        "SECURE_SSL_REDIRECT": False,  # the proxy redirects; exporters on the machine post plain HTTP
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
        "USE_X_FORWARDED_HOST": False,  # MSGTRACE_BEHIND_PROXY's, not implied
    }


def test_without_https_nothing_is_https_only(tmp_path):
    found = settings_under(tmp_path)

    assert (found["SESSION_COOKIE_SECURE"], found["CSRF_COOKIE_SECURE"], found["SECURE_HSTS_SECONDS"]) == (
        False, False, 0)
    assert found["SECURE_PROXY_SSL_HEADER"] is None


def test_behind_proxy_alone_still_trusts_the_forwarded_proto_and_host(tmp_path):
    found = settings_under(tmp_path, MSGTRACE_BEHIND_PROXY="true")

    assert (found["SECURE_PROXY_SSL_HEADER"], found["USE_X_FORWARDED_HOST"]) == (
        ["HTTP_X_FORWARDED_PROTO", "https"], True)
    assert found["SESSION_COOKIE_SECURE"] is False


def test_hsts_covers_subdomains_only_when_asked(tmp_path):
    found = settings_under(tmp_path, MSGTRACE_HTTPS="true", MSGTRACE_HSTS_INCLUDE_SUBDOMAINS="true")

    assert found["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True


@pytest.mark.parametrize("subdomains", ["false", "true"])
def test_the_deployment_check_finds_nothing_with_https(tmp_path, subdomains):
    """With the secret key msgtrace generates (no SECRET_KEY set), as `manage.py start` runs it."""
    result = manage(tmp_path, ["check", "--deploy", "--fail-level", "WARNING"], MSGTRACE_HTTPS="true",
                    MSGTRACE_HSTS_INCLUDE_SUBDOMAINS=subdomains)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNINGS" not in result.stdout + result.stderr


def test_the_deployment_check_still_warns_without_https(tmp_path):
    result = manage(tmp_path, ["check", "--deploy", "--fail-level", "WARNING"])

    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr + result.stdout


# --- MSGTRACE_HTTPS on a running server --------------------------------------------------------------------


class Browser:
    """Talks to a server behind a TLS proxy as a browser would: X-Forwarded-Proto https, its own Origin,
    and cookies kept by hand (an HTTP client would not send back a Secure cookie over plain HTTP)."""

    def __init__(self, server):
        self.server, self.cookies = server, {}
        self.origin = "https" + server.url.removeprefix("http")

    def request(self, method, path, form=None, https=True):
        address = urllib.parse.urlsplit(self.server.url)
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
        headers = {"Cookie": "; ".join(f"{k}={v.value}" for k, v in self.cookies.items())}
        if https:
            headers["X-Forwarded-Proto"] = "https"
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers |= {"Content-Type": "application/x-www-form-urlencoded", "Origin": self.origin,
                        "Referer": self.origin + path}
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            response.body = response.read()
        finally:
            connection.close()
        response.set_cookies = SimpleCookie()
        for header in response.headers.get_all("Set-Cookie") or []:
            response.set_cookies.load(header)
        self.cookies.update(response.set_cookies)
        return response

    def sign_in(self, username, password):
        """Follows the redirects from the admin to whichever sign-in page msgtrace shows, and posts its form."""
        path = "/admin/"
        for _ in range(5):
            response = self.request("GET", path)
            if response.status not in (301, 302):
                break
            path = path_of(response.headers["Location"])
        form = SignInForm()
        form.feed(response.body.decode())
        return self.request("POST", form.action or path, {**form.hidden, "username": username, "password": password})


def path_of(location):
    parts = urllib.parse.urlsplit(location)
    return parts.path + (f"?{parts.query}" if parts.query else "")


class SignInForm(HTMLParser):
    def __init__(self):
        super().__init__()
        self.action, self.hidden = None, {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and self.action is None and attrs.get("method", "").lower() == "post":
            self.action = attrs.get("action")
        if tag == "input" and attrs.get("type") == "hidden":
            self.hidden[attrs["name"]] = attrs.get("value", "")


@pytest.fixture(scope="module")
def https_server(tmp_path_factory):
    """msgtrace under gunicorn with MSGTRACE_HTTPS=true, and an admin who can sign in."""
    with servers.gunicorn(tmp_path_factory.mktemp("https"), workers=1, extra_env={"MSGTRACE_HTTPS": "true"}) as server:
        create_superuser(server, "admin", "a long passphrase")
        yield server


def test_over_https_signing_in_sets_a_secure_httponly_session_cookie(https_server):
    browser = Browser(https_server)
    response = browser.sign_in("admin", "a long passphrase")

    assert response.status == 302, response.body[:500]
    session = response.set_cookies["sessionid"]
    assert session["secure"] is True and session["httponly"] is True
    assert session["samesite"] == "Lax"
    assert browser.cookies["csrftoken"]["secure"] is True
    assert browser.request("GET", "/admin/").status == 200  # signed in: the cookie works


def test_over_https_every_answer_tells_the_browser_to_stay_on_https_for_a_year(https_server):
    browser = Browser(https_server)
    for path in ("/health", "/static/css/base.css", "/admin/", "/v1/traces"):
        response = browser.request("GET", path)
        assert response.headers["Strict-Transport-Security"] == f"max-age={ONE_YEAR}", path
        assert response.headers["X-Frame-Options"] == "DENY", path


def test_plain_http_to_msgtraces_own_port_is_answered_not_redirected(https_server):
    """Exporters and health checks on the machine reach gunicorn directly: no redirect, no HSTS."""
    browser = Browser(https_server)
    response = browser.request("GET", "/health", https=False)
    assert response.status == 200
    assert "Strict-Transport-Security" not in response.headers

    export = urllib.request.Request(https_server.url + "/v1/traces", method="POST",
                                    data=h.body(h.span(trace=5, span=1, name="over plain http")),
                                    headers={"Content-Type": h.PROTOBUF})
    with urllib.request.urlopen(export, timeout=30) as answer:
        assert answer.status == 200
    assert https_server.spans_of(h.tid(5)) == 1
