"""GET /health tells a load balancer or Docker whether msgtrace can reach its database."""

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

from tests import servers


def test_health_is_503_with_the_reason_when_the_database_cannot_be_reached(tmp_path):
    port = servers.free_port()
    env = {k: v for k, v in os.environ.items() if k != "MSGTRACE_DB_PATH"}
    # Nothing listens on port 9 of the loopback: every connection is refused.
    env.update(DATABASE_URL="postgres://postgres@127.0.0.1:9/msgtrace", SECRET_KEY="tests")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "msgtrace.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1",
         "--no-control-socket"],
        cwd=servers.ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        servers.wait_for_port(port, process)
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=30)
            raise AssertionError("expected 503")
        except urllib.error.HTTPError as exc:
            status, body = exc.code, json.load(exc)
    finally:
        process.terminate()
        process.wait(timeout=20)

    assert status == 503
    assert body["status"] == "unavailable"
    assert body["database"]["vendor"] == "postgresql" and body["database"]["ok"] is False
    assert "127.0.0.1" in body["database"]["error"]
