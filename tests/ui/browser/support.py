"""Helpers for the browser tests: talking to the live server the way clients do, and reading pages."""

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from itertools import count
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from tests import helpers as h
from tests import servers
from tests.web import WebSession
from traces import demo

CHROMIUM = Path("/usr/bin/chromium")
DEMO_TRACES = 60
MS = 1_000_000
ROWS = "#results tr[data-nav-item]"
ADMIN = ("admin", "a long passphrase 1")  # of servers served with access control
_serial = count(1)


def require_chromium():
    """Skips the test without Debian's chromium; in CI (CI=true), where bin/test installs it, fails it."""
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} is missing: install Debian's chromium (bin/test does) to run the browser tests"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


# --- the server --------------------------------------------------------------------------------


@contextmanager
def serve(folder, static_root, demo_traces=0, workers=2, access_control=False):
    """msgtrace as `manage.py start` runs it (static files collected, then gunicorn) on a database of
    its own, holding `demo_traces` traces of traces.demo that end now (sent while ingest is open).

    With `access_control`, MSGTRACE_AUTH=on and an admin, `server.admin` (name, password): the helpers
    below read the server signed in as that admin, and `open_page` opens its pages signed in too."""
    extra_env = {"MSGTRACE_STATIC_ROOT": str(static_root)} | ({"MSGTRACE_AUTH": "on"} if access_control else {})
    with servers.gunicorn(folder, workers=workers, extra_env=extra_env) as server:
        server.admin, server.visitor = None, None
        if access_control:
            create_superuser(server, *ADMIN)
            server.admin = ADMIN
            server.visitor = WebSession(server.url)
            landed = server.visitor.sign_in(*ADMIN)
            assert landed.url == server.url + "/", f"the admin could not sign in: {landed.text[:300]}"
        check_static_files(server)
        if demo_traces:
            for message in demo.build_requests(traces=demo_traces):
                post_otlp(server, message)
            assert api(server, "/traces", limit=1)["total"] == demo_traces
        yield server


def collect_static(static_root):
    """collectstatic into a folder of the test run's own, as `manage.py start` does: the manifest
    storage cannot name a file's hashed URL before it has been collected (every page would answer 500)."""
    env = {**os.environ, "MSGTRACE_STATIC_ROOT": str(static_root), "SECRET_KEY": "tests"}
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=servers.ROOT, env=env,
                   check=True)
    return static_root


def create_superuser(server, username, password):
    """An admin in the server's own database, made as an operator makes the first one."""
    env = {**server.env, "DJANGO_SUPERUSER_PASSWORD": password}
    subprocess.run([sys.executable, "manage.py", "createsuperuser", "--noinput", "--username", username,
                    "--email", f"{username}@example.com"], cwd=servers.ROOT, env=env, check=True,
                   capture_output=True)


def check_static_files(server):
    """Every stylesheet and script the dashboard links to answers 200: a page without its CSS and
    JavaScript would still pass many assertions while looking nothing like the real thing."""
    status, body = get(server, "/")
    assert status == 200, f"GET / answered {status}; the server's log ends with:\n{server_log(server)}"
    assets = re.findall(rb'<(?:link[^>]+rel="stylesheet"[^>]+href|script[^>]+src)="(/static/[^"]+)"', body)
    assert assets, "the dashboard links to no stylesheet or script under /static/"
    broken = [(path, code) for path, code in ((a.decode(), get(server, a.decode())[0]) for a in assets) if code != 200]
    assert not broken, (
        f"static files are not served: {broken}. whitenoise serves them from MSGTRACE_STATIC_ROOT, where "
        f"collectstatic put them; the server's log ends with:\n{server_log(server)}"
    )


def server_log(server, lines=40):
    """The end of the server's log, for failure messages."""
    return "\n".join(server.log_path.read_text(errors="replace").splitlines()[-lines:])


def post_otlp(server, message):
    """POSTs an ExportTraceServiceRequest to /v1/traces as an exporter would; fails unless stored."""
    request = urllib.request.Request(
        server.url + "/v1/traces", data=message.SerializeToString(), method="POST",
        headers={"Content-Type": "application/x-protobuf"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200, response.status


def get(server, path):
    """(status, body) of a GET, without raising on 4xx; signed in as the server's admin if it has one."""
    visitor = getattr(server, "visitor", None)
    opener = visitor.opener if visitor else urllib.request.build_opener()
    try:
        with opener.open(server.url + path, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def api(server, path, **params):
    """The REST API's JSON answer, which the pages must agree with."""
    status, body = get(server, "/api/v1" + path + ("?" + urlencode(params) if params else ""))
    assert status == 200, (path, params, status, body[:300])
    return json.loads(body)


def listed(server, **params):
    """Trace ids the REST API lists for these filters, in its order: one per run, as the list page does."""
    params.setdefault("group", "run")
    return [t["trace_id"] for t in api(server, "/traces", limit=params.pop("limit", 200), **params)["traces"]]


def fresh_trace(service="browser-tests", name=None, error=None, spans=2, model="gpt-4o-mini"):
    """A small trace that started a second ago, with a unique name and ids: (request, trace id, name)."""
    serial = next(_serial)
    stamp = time.time_ns()
    trace = (stamp << 16 | serial) & ((1 << 127) - 1) | 1
    name = name or f"fresh trace {serial}-{stamp % 10**6}"
    start = stamp - 1000 * MS
    root_id = serial * 1000 + 1
    root = h.span(trace=trace, span=root_id, name=name, attributes={"span.type": "flow"})
    root.start_time_unix_nano, root.end_time_unix_nano = start, start + 900 * MS
    result = [root]
    for n in range(1, spans):
        child = h.span(trace=trace, span=root_id + n, parent=root_id, name=f"chat {model}",
                       attributes={"gen_ai.operation.name": "chat", "gen_ai.request.model": model,
                                   "gen_ai.usage.input_tokens": 120, "gen_ai.usage.output_tokens": 30},
                       kind=Span.SPAN_KIND_CLIENT)
        child.start_time_unix_nano = start + n * 10 * MS
        child.end_time_unix_nano = child.start_time_unix_nano + 500 * MS
        result.append(child)
    if error:
        root.status.code = Status.STATUS_CODE_ERROR
        root.status.message = error
    return h.request(*result, service=service), trace.to_bytes(16, "big").hex(), name


# --- pages -------------------------------------------------------------------------------------


def sign_in(page, username, password):
    """Fills in and sends the sign-in form the page shows, as a person would."""
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def row_ids(page, rows=ROWS):
    return page.eval_on_selector_all(rows, "rows => rows.map(r => r.id.replace(/^(trace|s)-/, ''))")


def wait_for_rows(page, ids, rows=ROWS, timeout=10_000):
    """Waits until the list shows exactly these ids in this order (an HTMX swap is asynchronous)."""
    script = """([selector, ids]) => JSON.stringify(
        [...document.querySelectorAll(selector)].map(r => r.id.replace(/^(trace|s)-/, ''))) === JSON.stringify(ids)"""
    try:
        page.wait_for_function(script, arg=[rows, ids], timeout=timeout)
    except Exception:
        pass
    assert row_ids(page, rows) == ids


def query(page):
    """The page URL's query parameters, as {name: value}."""
    return {k: v[-1] for k, v in parse_qs(urlsplit(page.url).query).items()}


_UNITS = {"µs": 0.001, "ms": 1, "s": 1000}


def duration_ms(text):
    """The list's duration format back to milliseconds: 450 µs, 12.5 ms, 2.35 s, 3m 05s, 1h 02m."""
    text = text.strip()
    match = re.fullmatch(r"([\d.]+) (µs|ms|s)", text)
    if match:
        return float(match.group(1)) * _UNITS[match.group(2)]
    match = re.fullmatch(r"(\d+)([mh]) (\d+)([sm])", text)
    assert match, f"not a duration: {text!r}"
    big, small = int(match.group(1)), int(match.group(3))
    return (big * 60 + small) * (1000 if match.group(2) == "m" else 60_000)


def overflow(page):
    """How far the page is wider than the screen it was opened for (0 or less: nothing scrolls sideways).
    Compared with the configured width, not innerWidth, which a mobile browser may widen to fit the page."""
    return page.evaluate("document.documentElement.scrollWidth") - page.viewport_size["width"]
