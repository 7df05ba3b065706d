"""OTLP/gRPC (TraceService/Export on MSGTRACE_GRPC_PORT), served by `manage.py start` beside gunicorn and by
`manage.py otlp_grpc` alone: the OpenTelemetry SDK's gRPC exporter, plain and gzip, and a raw gRPC client
for every status msgtrace answers with."""

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
import uuid
from contextlib import contextmanager

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExportResult

from tests import helpers as h
from tests import servers
from tests.traces.test_real_clients import assert_checkout_stored, emit_checkout, provider_for, sdk_resource

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


@contextmanager
def launched(tmp_path, argv, wait_for, migrate=True, **extra_env):
    """`manage.py <argv>` on a database of its own; waits until every port of `wait_for` listens."""
    with servers.database(tmp_path) as (db_env, database_url):
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MSGTRACE_DB_PATH")}
        env.update(db_env, SECRET_KEY="tests", MSGTRACE_STATIC_ROOT=str(tmp_path / "static"))
        env.update({"MSGTRACE_AUTH": "off"} | extra_env)
        if migrate:
            subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=servers.ROOT, env=env,
                           check=True)
        log_path = tmp_path / f"{argv[0]}-{uuid.uuid4().hex[:6]}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen([sys.executable, "manage.py", *argv], cwd=servers.ROOT, env=env, stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True)
            try:
                for port in wait_for:
                    servers.wait_for_port(port, process, timeout=60)
                server = servers.Server(None, env, database_url)
                server.process, server.log_path = process, log_path
                yield server
            finally:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, 9)
                    process.wait()


@contextmanager
def otlp_grpc_alone(tmp_path, **extra_env):
    """`manage.py otlp_grpc` alone on a free port; the server's `.target` is its host:port."""
    port = servers.free_port()
    with launched(tmp_path, ["otlp_grpc", "--port", str(port)], [port], **extra_env) as server:
        server.target = f"127.0.0.1:{port}"
        yield server


@pytest.fixture(scope="module")
def started(tmp_path_factory):
    """`manage.py start` on free HTTP and gRPC ports: gunicorn, and the OTLP/gRPC process beside it."""
    http_port, grpc_port = servers.free_port(), servers.free_port()
    argv = ["start", "--port", str(http_port), "--grpc-port", str(grpc_port), "--workers", "1"]
    with launched(tmp_path_factory.mktemp("started"), argv, [http_port, grpc_port], migrate=False) as server:
        server.url, server.target = f"http://127.0.0.1:{http_port}", f"127.0.0.1:{grpc_port}"
        yield server


def export(target, payload, metadata=(), compression=None):
    """One raw Export call; returns the ExportTraceServiceResponse or raises grpc.RpcError."""
    with grpc.insecure_channel(target) as channel:
        call = channel.unary_unary(EXPORT, response_deserializer=ExportTraceServiceResponse.FromString)
        return call(payload, metadata=metadata, compression=compression, timeout=20)


def failed(target, payload, **kwargs):
    with pytest.raises(grpc.RpcError) as error:
        export(target, payload, **kwargs)
    return error.value


def stored_names(server, service):
    return [name for (name,) in server.query("SELECT name FROM traces_span WHERE service_name = %s ORDER BY name",
                                             (service,))]


def a_service():
    return f"grpc-{uuid.uuid4().hex[:8]}"


# --- the OpenTelemetry SDK's gRPC exporter ---------------------------------------------------


def test_sdk_grpc_exporter_spans_are_stored_by_the_server_start_runs(started):
    service = a_service()
    exporter = OTLPSpanExporter(endpoint=f"http://{started.target}", insecure=True)
    provider = provider_for(service, SimpleSpanProcessor, exporter)

    sent = emit_checkout(provider)
    provider.shutdown()

    assert_checkout_stored(started, sent, service, sdk_resource(provider))
    log = started.log_path.read_text()
    assert f"msgtrace serving OTLP/gRPC on 127.0.0.1:{started.target.split(':')[1]}" in log
    # One request per span: six calls, each logged once with its span stored.
    assert log.count(f"otlp grpc {EXPORT} status=OK spans=1 stored=1 duplicates=0 rejected=0") >= 6


def test_sdk_grpc_exporter_with_gzip_and_a_batch_processor(started):
    service = a_service()
    results = []

    class Recording(OTLPSpanExporter):
        def export(self, spans):
            results.append((len(spans), super().export(spans)))
            return results[-1][1]

    exporter = Recording(endpoint=f"http://{started.target}", insecure=True, compression=grpc.Compression.Gzip)
    provider = provider_for(service, BatchSpanProcessor, exporter)

    sent = emit_checkout(provider)
    assert provider.force_flush() is True

    assert results == [(6, SpanExportResult.SUCCESS)]
    assert_checkout_stored(started, sent, service, sdk_resource(provider))
    provider.shutdown()


def test_the_readme_environment_alone_configures_the_sdk_for_grpc(started, monkeypatch):
    """No protocol variable: the SDK's default exporter, endpoint and service name from the environment."""
    service = a_service()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://{started.target}")
    monkeypatch.setenv("OTEL_SERVICE_NAME", service)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter()))
    with provider.get_tracer("readme").start_as_current_span("agent run"):
        provider.get_tracer("readme").start_span("tool call").end()
    provider.shutdown()

    assert stored_names(started, service) == ["agent run", "tool call"]


def test_sdk_grpc_exporter_spans_are_stored_by_otlp_grpc_alone(tmp_path):
    service = a_service()
    with otlp_grpc_alone(tmp_path) as server:
        exporter = OTLPSpanExporter(endpoint=server.target, insecure=True, compression=grpc.Compression.Gzip)
        provider = provider_for(service, SimpleSpanProcessor, exporter)
        sent = emit_checkout(provider)
        provider.shutdown()

        assert_checkout_stored(server, sent, service, sdk_resource(provider))


def test_the_grpc_server_stops_with_the_server_start_runs(tmp_path):
    http_port, grpc_port = servers.free_port(), servers.free_port()
    argv = ["start", "--port", str(http_port), "--grpc-port", str(grpc_port), "--workers", "1"]
    with launched(tmp_path, argv, [http_port, grpc_port], migrate=False) as server:
        assert export(f"127.0.0.1:{grpc_port}", h.body(h.span(trace=5, name="before stop"))) is not None
        assert server.spans_of(h.tid(5)) == 1
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", grpc_port), timeout=1).close()


def test_grpc_port_0_serves_http_only(tmp_path):
    http_port = servers.free_port()
    argv = ["start", "--port", str(http_port), "--grpc-port", "0", "--workers", "1"]
    with launched(tmp_path, argv, [http_port], migrate=False) as server:
        time.sleep(1)
    log = server.log_path.read_text()
    assert "msgtrace serving on http://" in log
    assert "OTLP/gRPC" not in log and "otlp grpc" not in log


# --- a raw gRPC client: each answer ----------------------------------------------------------


def test_the_answer_comes_after_the_commit(started):
    service = a_service()
    response = export(started.target, h.body(h.span(trace=11, span=1, name="root"),
                                             h.span(trace=11, span=2, parent=1, name="child"), service=service))
    # Nothing waited for: the spans are in the database the moment the call returns.
    assert stored_names(started, service) == ["child", "root"]
    assert not response.HasField("partial_success")


def test_an_invalid_span_is_rejected_with_partial_success_and_the_rest_stored(started):
    service = a_service()
    response = export(started.target, h.body(h.span(trace=12, span=1, name="good"),
                                             h.span(trace=b"\x00" * 16, span=2, name="zero trace id"),
                                             service=service))
    assert response.partial_success.rejected_spans == 1
    assert response.partial_success.error_message == "rejected 1 of 2 spans; 1 span: trace_id is all zeros"
    assert stored_names(started, service) == ["good"]


def test_a_gzip_compressed_call_is_stored(started):
    service = a_service()
    export(started.target, h.body(h.span(trace=13, name="compressed"), service=service),
           compression=grpc.Compression.Gzip)
    assert stored_names(started, service) == ["compressed"]


def test_grpc_calls_are_counted_for_ingest_health_under_their_client(started):
    service = a_service()
    export(started.target, h.body(h.span(trace=14, span=1, name="counted"), h.span(trace=14, span=1, name="counted"),
                                  service=service))
    failed(started.target, b"\xff\xff\xff\xff not protobuf")

    with urllib.request.urlopen(f"{started.url}/api/v1/ingest/health?window=1h", timeout=20) as response:
        clients = json.load(response)["clients"]

    ours = [c for c in clients if c["service_name"] == service]
    assert len(ours) == 1
    assert (ours[0]["requests"], ours[0]["spans_stored"], ours[0]["duplicates"]) == (1, 1, 1)
    assert ours[0]["user_agent"].startswith("grpc-python/")  # no telemetry.sdk.* in the resource: the user agent
    refused = [c for c in clients if c["service_name"] == "" and c["user_agent"].startswith("grpc-python/")]
    assert refused and refused[0]["failed_requests"] >= 1
    assert "protobuf" in refused[0]["last_rejections"][0]["message"].lower()


def test_undecodable_bytes_are_invalid_argument(started):
    error = failed(started.target, b"\xff\xff\xff\xff not protobuf")
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "protobuf" in error.details().lower()


def test_ingest_keys_come_from_authorization_or_x_api_key_metadata(tmp_path):
    service = a_service()
    with otlp_grpc_alone(tmp_path, MSGTRACE_INGEST_KEYS="k1,k2") as server:
        for metadata in ((), (("authorization", "Bearer wrong"),), (("x-api-key", "k3"),)):
            error = failed(server.target, h.body(h.span(trace=21, name="refused"), service=service), metadata=metadata)
            assert error.code() == grpc.StatusCode.UNAUTHENTICATED
            assert error.details() == ("missing or unknown ingest key: send the metadata authorization: "
                                       "Bearer <key> or x-api-key: <key>")
        export(server.target, h.body(h.span(trace=22, name="bearer"), service=service),
               metadata=(("authorization", "Bearer k1"),))
        export(server.target, h.body(h.span(trace=23, name="api key"), service=service),
               metadata=(("x-api-key", "k2"),))

        assert stored_names(server, service) == ["api key", "bearer"]
        # The SDK exporter sends its headers as metadata (OTEL_EXPORTER_OTLP_HEADERS).
        exporter = OTLPSpanExporter(endpoint=server.target, insecure=True, headers={"authorization": "Bearer k2"})
        provider = provider_for(service, SimpleSpanProcessor, exporter)
        provider.get_tracer("t").start_span("via sdk").end()
        provider.shutdown()
        assert stored_names(server, service) == ["api key", "bearer", "via sdk"]


def test_a_message_over_the_size_limit_is_resource_exhausted(tmp_path):
    service = a_service()
    big = h.body(h.span(trace=31, name="big", attributes={"blob": "x" * 20_000}), service=service)
    with otlp_grpc_alone(tmp_path, MSGTRACE_MAX_BODY_BYTES="10000") as server:
        for compression in (None, grpc.Compression.Gzip):  # gzip: small on the wire, too big once inflated
            error = failed(server.target, big, compression=compression)
            assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "larger than max" in error.details()
        export(server.target, h.body(h.span(trace=32, name="small"), service=service))
        assert stored_names(server, service) == ["small"]


def retry_delay(error):
    details = dict(error.trailing_metadata())["grpc-status-details-bin"]
    status = status_pb2.Status.FromString(details)
    info = error_details_pb2.RetryInfo()
    assert status.details[0].Unpack(info)
    return info.retry_delay.seconds


@pytest.mark.skipif(h.using_postgres(), reason="SQLite's write lock; PostgreSQL: see the unreachable database")
def test_a_locked_sqlite_database_is_unavailable_and_the_retry_is_stored(tmp_path):
    service = a_service()
    with otlp_grpc_alone(tmp_path, MSGTRACE_SQLITE_TIMEOUT="1") as server:
        holder = sqlite3.connect(server.database, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            error = failed(server.target, h.body(h.span(trace=41, name="waits"), service=service))
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert error.code() == grpc.StatusCode.UNAVAILABLE
        assert error.details() == "the trace store cannot take writes right now (busy); retry later"
        assert retry_delay(error) == 2
        assert stored_names(server, service) == []

        export(server.target, h.body(h.span(trace=41, name="waits"), service=service))
        assert stored_names(server, service) == ["waits"]


def test_an_unreachable_database_is_unavailable(tmp_path):
    nothing_listens = servers.free_port()
    port = servers.free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MSGTRACE_DB_PATH")}
    env.update(SECRET_KEY="tests", DATABASE_URL=f"postgres://postgres@127.0.0.1:{nothing_listens}/msgtrace")
    process = subprocess.Popen([sys.executable, "manage.py", "otlp_grpc", "--port", str(port)], cwd=servers.ROOT,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        servers.wait_for_port(port, process)
        error = failed(f"127.0.0.1:{port}", h.body(h.span(trace=42, name="nowhere")))
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0].decode()
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert error.details() == "the trace store cannot take writes right now (unreachable); retry later"
    # The ingest-key check meets the database first, so the request is refused before it is decoded.
    assert f"otlp grpc {EXPORT} status=UNAVAILABLE spans=0 stored=0" in output


def test_a_taken_port_is_refused_with_a_clear_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items()} | {"SECRET_KEY": "tests",
                                                       "MSGTRACE_DB_PATH": str(tmp_path / "db.sqlite3")}
        result = subprocess.run([sys.executable, "manage.py", "otlp_grpc", "--port", str(port)], cwd=servers.ROOT,
                                env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"cannot listen for OTLP/gRPC on 127.0.0.1:{port}" in result.stderr
    assert "is another server using that port? (MSGTRACE_GRPC_PORT)" in result.stderr
