"""GET /health tells a load balancer or Docker whether msgtrace can reach its database."""

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from contextlib import contextmanager

import pytest
from django.db import connection

from tests import helpers as h
from tests import servers
from traces.models import Scope, Span


@contextmanager
def server_without_its_database():
    """msgtrace under gunicorn whose PostgreSQL does not answer: nothing listens on port 9 of the
    loopback, so every connection is refused. Yields the server's base URL."""
    port = servers.free_port()
    env = {k: v for k, v in os.environ.items() if k != "MSGTRACE_DB_PATH"}
    env.update(DATABASE_URL="postgres://postgres@127.0.0.1:9/msgtrace", SECRET_KEY="tests", MSGTRACE_AUTH="off")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "msgtrace_server.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1",
         "--no-control-socket"],
        cwd=servers.ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        servers.wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=20)


def get_error(url):
    """(status, Retry-After, body) of a request that must fail."""
    try:
        urllib.request.urlopen(url, timeout=30)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Retry-After"), exc.read().decode()
    raise AssertionError(f"{url} answered 2xx")


def test_health_is_503_with_the_reason_when_the_database_cannot_be_reached():
    with server_without_its_database() as url:
        status, _, text = get_error(url + "/health")
    body = json.loads(text)

    assert status == 503
    assert body["status"] == "unavailable"
    assert body["database"]["vendor"] == "postgresql" and body["database"]["ok"] is False
    assert body["database"]["read"] == {"ok": False, "reason": "unreachable"}
    assert body["database"]["write"] == {"ok": False, "reason": "unreachable"}
    assert "127.0.0.1" not in text  # the driver's message stays in the server's log


def test_pages_and_the_api_answer_503_not_500_while_the_database_is_unreachable():
    paths = ("/", "/traces", "/api/v1/traces", "/api/v1/stats")
    with server_without_its_database() as url:
        answers = {path: get_error(url + path) for path in paths}

    assert {path: answer[:2] for path, answer in answers.items()} == {path: (503, "5") for path in paths}
    assert "The trace store is unavailable" in answers["/"][2] and "(unreachable)" in answers["/"][2]
    assert json.loads(answers["/api/v1/traces"][2]) == {
        "detail": "the trace store is unavailable (unreachable); retry later"
    }
    assert "127.0.0.1" not in answers["/"][2]


@pytest.mark.django_db
def test_health_is_200_and_its_write_probe_leaves_nothing_behind(client):
    scopes = Scope.objects.count()

    response = client.get("/health")

    assert response.status_code == 200
    assert response.json()["database"] == {
        "vendor": connection.vendor, "ok": True, "read": {"ok": True}, "write": {"ok": True},
    }
    assert Scope.objects.count() == scopes


@contextmanager
def database_refusing_writes():
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA query_only = ON")
        else:
            cursor.execute("SET transaction_read_only = on")
    try:
        yield
    finally:
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA query_only = OFF")


@pytest.mark.django_db
def test_health_is_503_when_the_database_answers_reads_but_refuses_writes_and_ingest_asks_for_a_retry(client):
    with database_refusing_writes():
        health = client.get("/health")
        ingest = h.post(client, h.body(h.span(name="kept for later")))

    assert health.status_code == 503
    assert health.json()["status"] == "read-only"
    assert health.json()["database"]["read"] == {"ok": True}
    assert health.json()["database"]["write"] == {"ok": False, "reason": "read-only"}
    assert ingest.status_code == 503
    assert ingest["Retry-After"] == "2"
    assert Span.objects.count() == 0
