"""`manage.py start` migrates, collects static files and serves with gunicorn: ingest and read through it."""

import json
import os
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from datetime import datetime, timezone

from tests import helpers as h
from tests import servers


@contextmanager
def started(tmp_path, **extra_env):
    """`manage.py start` on a free port and a database of its own; yields (base url, output reader)."""
    with servers.database(tmp_path) as (db_env, _):
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MSGTRACE_DB_PATH", "SECRET_KEY")}
        env.update(db_env, MSGTRACE_STATIC_ROOT=str(tmp_path / "static"), **extra_env)
        env.setdefault("MSGTRACE_DB_PATH", str(tmp_path / "msgtrace.sqlite3"))
        port = servers.free_port()
        process = subprocess.Popen(
            [sys.executable, "manage.py", "start", "--port", str(port), "--workers", "1"],
            cwd=servers.ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
        )
        output = []
        try:
            servers.wait_for_port(port, process, timeout=60)
            yield f"http://127.0.0.1:{port}", output, db_env
        finally:
            process.terminate()
            output.append(process.communicate(timeout=30)[0].decode())


def post(base, *spans):
    request = urllib.request.Request(base + "/v1/traces", data=h.body(*spans), method="POST",
                                     headers={"Content-Type": h.PROTOBUF})
    assert urllib.request.urlopen(request, timeout=10).status == 200


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def test_start_serves_ingest_the_api_and_hashed_static_files(tmp_path):
    with started(tmp_path) as (base, output, db_env):
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
    with started(tmp_path, MSGTRACE_RETENTION_DAYS="2", MSGTRACE_RETENTION_INTERVAL_SECONDS="1") as (base, _, _):
        post(base, h.span(trace=1, name="three days old", start_ms=now_ms - 3 * 86_400_000),
             h.span(trace=2, name="an hour old", start_ms=now_ms - 3_600_000))
        deadline = time.monotonic() + 20
        while True:
            names = [t["root_span_name"] for t in get_json(base + "/api/v1/traces")["traces"]]
            if names == ["an hour old"] or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    assert names == ["an hour old"]
