"""Starts msgtrace the way production does (migrate, then gunicorn) on a database of its own."""

import http.client
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import uuid
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, url, env, database):
        self.url = url
        self.env = env
        self.database = database

    def query(self, sql, params=()):
        """Rows of a query against the server's own database (placeholders: %s)."""
        if self.database.startswith("postgres"):
            import psycopg

            with psycopg.connect(self.database, autocommit=True) as conn:
                return conn.execute(sql, params).fetchall()
        conn = sqlite3.connect(self.database)
        try:
            return conn.execute(sql.replace("%s", "?"), params).fetchall()
        finally:
            conn.close()

    def scalar(self, sql, params=()):
        return self.query(sql, params)[0][0]

    def spans_of(self, trace_id):
        """How many spans of that trace (hex id) the server's database holds."""
        return self.scalar("SELECT COUNT(*) FROM traces_span s JOIN traces_trace t ON t.id = s.trace_id "
                           "WHERE t.trace_id = %s", (trace_id,))

    def kill(self):
        """SIGKILL the master and every worker at once, as a power cut or the OOM killer would."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


@contextmanager
def database(tmp_path):
    url = os.environ.get("DATABASE_URL")
    if not url:
        yield {"MSGTRACE_DB_PATH": str(tmp_path / "msgtrace.sqlite3")}, str(tmp_path / "msgtrace.sqlite3")
        return
    import psycopg

    parts = urlsplit(url)
    name = f"msgtrace_server_{uuid.uuid4().hex[:10]}"
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    own_url = urlunsplit(parts._replace(path="/" + name))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield {"DATABASE_URL": own_url}, own_url
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def wait_for_port(port, process, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


# gunicorn's arguments for the worker model msgtrace ships (`manage.py start`, Docker).
AS_SHIPPED = ("--config", str(ROOT / "deploy" / "gunicorn.conf.py"))


@contextmanager
def gunicorn(tmp_path, workers=2, extra_env=None, args=()):
    """A migrated database and gunicorn serving msgtrace on a free loopback port; `args` go to
    gunicorn after the others (AS_SHIPPED: the worker model of deploy/gunicorn.conf.py)."""
    with _served(tmp_path, "gunicorn", extra_env, lambda port: [
        sys.executable, "-m", "gunicorn", "msgtrace_server.wsgi", "--workers", str(workers),
        "--bind", f"127.0.0.1:{port}", "--timeout", "120", "--no-control-socket", *args,
    ]) as server:
        yield server


@contextmanager
def runserver(tmp_path, extra_env=None):
    """A migrated database and `manage.py runserver` (Django's development server, with msgtrace's
    request handler) on a free loopback port."""
    with _served(tmp_path, "runserver", extra_env, lambda port: [
        sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks",
    ]) as server:
        yield server


@contextmanager
def _served(tmp_path, name, extra_env, command):
    """A migrated database of its own and `command(port)` serving it on a free loopback port, its output
    in tmp_path/<name>-<port>.log; stopped (SIGTERM, then SIGKILL after 20 s) at the end."""
    with database(tmp_path) as (db_env, database_url):
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MSGTRACE_DB_PATH")}
        env.update(db_env)
        env.update(extra_env or {})
        env.setdefault("SECRET_KEY", "tests")
        # Servers that test anything but access control let anyone in; those that test it say so.
        env.setdefault("MSGTRACE_AUTH", "off")
        # The shipped gunicorn config also starts OTLP/gRPC; these servers test HTTP and leave 4317 alone.
        env.setdefault("MSGTRACE_GRPC_PORT", "0")
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
        port = free_port()
        log_path = tmp_path / f"{name}-{port}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(command(port), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
            try:
                wait_for_port(port, process)
                server = Server(f"http://127.0.0.1:{port}", env, database_url)
                server.log_path = log_path
                server.process = process
                yield server
            finally:
                if process.poll() is None:
                    process.terminate()
                    try:
                        process.wait(timeout=20)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait()


def chunked(payload, size):
    """`payload` in chunked framing (RFC 9112 section 7.1), `size` bytes a chunk, with a chunk extension
    and a trailer field, both of which servers must accept."""
    pieces = [payload[i : i + size] for i in range(0, len(payload), size)]
    framed = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(piece), piece) for piece in pieces)
    return framed + b"0\r\nX-Checksum: none\r\n\r\n"


def post_chunked(url, payload, chunk_size=16_384, content_type="application/x-protobuf", path="/v1/traces",
                 **headers):
    """POSTs `payload` with Transfer-Encoding: chunked and no Content-Length, a chunk per send as an
    exporter streaming its body does; headers are given as keyword arguments (Content_Encoding="gzip").
    Returns (status, body)."""
    address = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    try:
        connection.putrequest("POST", path, skip_accept_encoding=True)
        connection.putheader("Content-Type", content_type)
        connection.putheader("Transfer-Encoding", "chunked")
        for name, value in headers.items():
            connection.putheader(name.replace("_", "-"), value)
        connection.endheaders()
        framed = chunked(payload, chunk_size)
        for start in range(0, len(framed), chunk_size + 32):
            connection.send(framed[start : start + chunk_size + 32])
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()
