"""`manage.py start` migrates, collects static files and serves with gunicorn: ingest and read through it."""

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from datetime import datetime, timezone

from tests import helpers as h
from tests import servers
from tests.web import WebSession


@contextmanager
def started(tmp_path, **extra_env):
    """`manage.py start` on a free port and a database of its own, with access control as shipped (on)
    unless extra_env says otherwise; yields (base url, output, db_env): `output` holds the whole output
    once the server has stopped."""
    with servers.database(tmp_path) as (db_env, _):
        env = {k: v for k, v in os.environ.items()
               if k not in ("DATABASE_URL", "MSGTRACE_DB_PATH", "SECRET_KEY", "MSGTRACE_AUTH")}
        env.update(db_env, MSGTRACE_STATIC_ROOT=str(tmp_path / "static"), **extra_env)
        env.setdefault("MSGTRACE_DB_PATH", str(tmp_path / "msgtrace.sqlite3"))
        port = servers.free_port()
        log_path = tmp_path / "start.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "manage.py", "start", "--port", str(port), "--workers", "1"],
                cwd=servers.ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        output = []
        try:
            servers.wait_for_port(port, process, timeout=60)
            yield f"http://127.0.0.1:{port}", output, db_env
        finally:
            process.terminate()
            process.wait(timeout=30)
            output.append(log_path.read_text())


def post(base, *spans):
    request = urllib.request.Request(base + "/v1/traces", data=h.body(*spans), method="POST",
                                     headers={"Content-Type": h.PROTOBUF})
    assert urllib.request.urlopen(request, timeout=10).status == 200


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def test_start_serves_ingest_the_api_and_hashed_static_files(tmp_path):
    with started(tmp_path, MSGTRACE_AUTH="off") as (base, output, db_env):
        post(base, h.span(trace=7, name="via start"))
        assert [t["root_span_name"] for t in get_json(base + "/api/v1/traces")["traces"]] == ["via start"]
        manifest = json.loads((tmp_path / "static" / "staticfiles.json").read_text())
        hashed = manifest["paths"]["css/base.css"]
        assert hashed != "css/base.css"
        with urllib.request.urlopen(f"{base}/static/{hashed}", timeout=10) as css:
            assert css.status == 200 and b"--accent" in css.read()
        assert f"/static/{hashed}" in urllib.request.urlopen(base + "/", timeout=10).read().decode()
        assert get_json(base + "/health")["status"] == "ok"
    assert "msgtrace serving on http://127.0.0.1:" in output[0] and "with 1 workers (gunicorn)" in output[0]
    if "DATABASE_URL" not in db_env:
        assert (tmp_path / "secret.key").exists(), "a secret key is generated once, beside the database"


def test_retention_prunes_old_traces_while_the_server_runs(tmp_path):
    now_ms = int(datetime.now(timezone.utc).timestamp() * 1000) - h.T0 // h.MS
    with started(tmp_path, MSGTRACE_AUTH="off", MSGTRACE_RETENTION_DAYS="2",
                 MSGTRACE_RETENTION_INTERVAL_SECONDS="1") as (base, _, _):
        post(base, h.span(trace=1, name="three days old", start_ms=now_ms - 3 * 86_400_000),
             h.span(trace=2, name="an hour old", start_ms=now_ms - 3_600_000))
        deadline = time.monotonic() + 20
        while True:
            names = [t["root_span_name"] for t in get_json(base + "/api/v1/traces")["traces"]]
            if names == ["an hour old"] or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    assert names == ["an hour old"]


def test_a_fresh_start_prints_a_setup_link_that_creates_the_first_admin(tmp_path):
    with started(tmp_path) as (base, output, _):
        log = tmp_path / "start.log"
        deadline = time.monotonic() + 30
        while "/setup?token=" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        link = re.search(r"http://\S+/setup\?token=\S+", log.read_text()).group(0)
        assert "Ingest is open" in log.read_text()
        visitor = WebSession(base)
        assert visitor.get("/traces").url.startswith(base + "/signin?next=/traces")
        assert visitor.get_status("/api/v1/traces") == 401
        post(base, h.span(trace=3, name="before any user"))  # ingest stays open while no ingest key exists

        admin = WebSession(base)
        page = admin.get(link.replace("http://localhost:", "http://127.0.0.1:"))
        assert "Create the first admin" in page.text
        settings_page = admin.post_form(page, {"username": "ada", "password1": "a long passphrase 1",
                                                "password2": "a long passphrase 1"})
        assert settings_page.url == base + "/settings" and "Signed in as <strong>ada</strong>" in settings_page.text
        assert [t["root_span_name"] for t in admin.get_json("/api/v1/traces")["traces"]] == ["before any user"]
        assert "msgtrace is set up" in WebSession(base).get(link.replace("localhost", "127.0.0.1"), ok=(410,)).text
    assert "create the first admin with this one-time link" in output[0]  # in the log as well
