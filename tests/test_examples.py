"""The examples of the README, run as a user runs them against a live msgtrace with access control on:
the exporters send their ingest key the standard way, the API script its read key."""

import os
import subprocess
import sys

import pytest

from tests import servers
from tests.web import WebSession

pytestmark = pytest.mark.slow


def run_example(name, server, **env):
    return subprocess.run([sys.executable, f"examples/{name}", server.url], cwd=servers.ROOT, capture_output=True,
                          text=True, timeout=120, env={**os.environ, **env})


def issue_key(server, *scopes):
    code = ("from accounts.models import ApiKey; "
            f"print(ApiKey.objects.issue('examples', {list(scopes)!r})[1])")
    done = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=servers.ROOT, env=server.env,
                          capture_output=True, text=True, check=True)
    return done.stdout.strip().splitlines()[-1]


def test_the_examples_send_traces_with_an_ingest_key_and_read_costs_with_a_read_key(tmp_path):
    with servers.gunicorn(tmp_path, extra_env={"MSGTRACE_AUTH": "on"}) as server:
        ingest_key, read_key = issue_key(server, "ingest"), issue_key(server, "read")
        keyed = {"OTEL_EXPORTER_OTLP_HEADERS": f"authorization=Bearer {ingest_key}"}
        assert run_example("otel_agent.py", server).returncode == 0  # the SDK logs its refusal and goes on
        assert server.scalar("SELECT COUNT(*) FROM traces_trace") == 0, "no key, nothing stored"
        for example in ("otel_agent.py", "msgtrace_sdk_agent.py"):
            assert run_example(example, server, **keyed).returncode == 0
        services = {row[0] for row in server.query("SELECT DISTINCT service_name FROM traces_trace")}
        assert {"support-bot", "research-agent"} <= services

        refused = run_example("cost_by_model.py", server)
        assert refused.returncode == 1 and "msgtrace answered 401" in refused.stderr
        assert "set MSGTRACE_API_KEY" in refused.stderr
        report = run_example("cost_by_model.py", server, MSGTRACE_API_KEY=read_key)
        assert report.returncode == 0, report.stderr
        assert "gpt-4o-mini" in report.stdout and "all traces (24h)" in report.stdout
        assert WebSession(server.url).get_status("/api/v1/stats") == 401
