"""OTLP/gRPC: opentelemetry.proto.collector.trace.v1.TraceService/Export on MSGTRACE_GRPC_PORT.

The OpenTelemetry SDKs' auto-configuration and `opentelemetry-instrument` export with gRPC to port 4317
unless told otherwise. The method takes the same bytes as OTLP/HTTP's protobuf body and goes through the
same decoding and store (traces.ingest.Export): answered after the commit, with partial_success.

The message arrives as raw bytes (no request deserializer): decoding is msgtrace's own, so an undecodable
message gets msgtrace's INVALID_ARGUMENT with its reason, and the upb parser runs once, not twice. grpc
undoes gzip itself (grpc-encoding) and refuses a message over MSGTRACE_MAX_BODY_BYTES, compressed or
not, with RESOURCE_EXHAUSTED before it reaches Python."""

import logging
import os
import signal
import threading
import time
from concurrent import futures

import grpc
from django.conf import settings
from django.db import DatabaseError, OperationalError, close_old_connections
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2, status_pb2

from accounts import ingest_keys
from ingest_health import record as ingest_health
from monitoring import metrics
from traces import health, ingest, otlp

log = logging.getLogger("msgtrace.ingest")

SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"
METHOD = f"/{SERVICE}/Export"
# Decoding and storing hold ingest's one-batch-at-a-time lock anyway; a few threads let the next calls
# wait for it (and authenticate, and have their bytes received) while one is stored.
WORKERS = 4
# Calls are counted for ingest health like the HTTP requests they stand for; UNAVAILABLE, like a 503,
# says nothing about the client.
HTTP_STATUS = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 413,
}


class _Abort(Exception):
    def __init__(self, code, message, retry_after=None):
        super().__init__(message)
        self.code, self.message, self.retry_after = code, message, retry_after


def _metadata(context):
    return {key.lower(): value for key, value in context.invocation_metadata() if not key.endswith("-bin")}


def _export(body, context):
    """The Export method: request bytes in, ExportTraceServiceResponse bytes out."""
    started = time.perf_counter()
    export = ingest.Export()
    code, refusal, metadata = grpc.StatusCode.OK, "", {}
    # Connections of this thread that are past CONN_MAX_AGE or broken go; a healthy one is kept.
    close_old_connections()
    try:
        metadata = _metadata(context)
        if not ingest_keys.accepts(ingest_keys.presented_key(metadata.get("authorization"), metadata.get("x-api-key"))):
            raise _Abort(grpc.StatusCode.UNAUTHENTICATED,
                         "missing or unknown ingest key: send the metadata authorization: Bearer <key> "
                         "or x-api-key: <key>")
        export.run(body, otlp.PROTOBUF, user_agent=metadata.get("user-agent", ""))
        return otlp.export_response(otlp.PROTOBUF, export.batch.rejected, export.batch.error_message)
    except _Abort as exc:
        code, refusal = exc.code, exc.message
        _abort(context, exc)
    except otlp.TooLarge as exc:
        code, refusal = grpc.StatusCode.RESOURCE_EXHAUSTED, f"{exc} (MSGTRACE_MAX_BODY_BYTES)"
        _abort(context, _Abort(code, refusal))
    except otlp.BadRequest as exc:
        code, refusal = grpc.StatusCode.INVALID_ARGUMENT, str(exc)
        _abort(context, _Abort(code, refusal))
    except DatabaseError as exc:
        # Busy, unreachable or read-only database: nothing was stored, and exporters retry UNAVAILABLE.
        if isinstance(exc, OperationalError):
            log.warning("database unavailable, asking the client to retry: %s", exc)
        else:
            log.exception("the database refused a batch, asking the client to retry")
        code = grpc.StatusCode.UNAVAILABLE
        _abort(context, _Abort(code, f"the trace store cannot take writes right now ({health.reason(exc)}); "
                                     "retry later", retry_after=ingest.RETRY_AFTER_SECONDS))
    finally:
        if code in HTTP_STATUS:
            ingest_health.record(metadata.get("user-agent", ""), HTTP_STATUS[code], export.batch, export.stored,
                                 refusal)
        close_old_connections()
        _log(code, export, len(body), started)
        metrics.observe_export(METHOD, otlp.PROTOBUF, code.name, len(body), time.perf_counter() - started,
                               export.batch, export.stored)


def _abort(context, error):
    """Ends the call with `error`'s status; a retry delay goes in google.rpc.RetryInfo, which the
    OpenTelemetry exporters honour."""
    if error.retry_after:
        info = error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=error.retry_after))
        status = status_pb2.Status(code=error.code.value[0], message=error.message)
        status.details.add().Pack(info)
        context.set_trailing_metadata((("grpc-status-details-bin", status.SerializeToString()),))
    context.abort(error.code, error.message)


def _log(code, export, size, started):
    batch, stored = export.batch, export.stored
    log.info(
        "otlp grpc %s status=%s spans=%d stored=%d duplicates=%d rejected=%d bytes=%d ms=%.1f",
        METHOD,
        code.name,
        len(batch.spans) if batch else 0,
        stored.stored if stored else 0,
        stored.duplicates if stored else 0,
        batch.rejected if batch else 0,
        size,
        (time.perf_counter() - started) * 1000,
    )


def server(host, port):
    """A grpc.Server with the Export method, bound to host:port and not yet started; `server.port` is
    the port bound (port 0 picks a free one). Raises OSError when the address cannot be bound."""
    limit = settings.MSGTRACE_MAX_BODY_BYTES
    grpc_server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="otlp-grpc"),
        options=[
            ("grpc.max_receive_message_length", limit),
            # Without this, a second msgtrace on the same port would share it silently, each
            # getting some of the exporters' calls; binding must fail instead.
            ("grpc.so_reuseport", 0),
        ],
    )
    handler = grpc.method_handlers_generic_handler(SERVICE, {"Export": grpc.unary_unary_rpc_method_handler(_export)})
    grpc_server.add_generic_rpc_handlers((handler,))
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        grpc_server.port = grpc_server.add_insecure_port(address)
    except RuntimeError as exc:  # grpc raises this, with no reason given, when the port is taken
        raise OSError(f"cannot listen for OTLP/gRPC on {address}: {exc}") from exc
    if not grpc_server.port:
        raise OSError(f"cannot listen for OTLP/gRPC on {address}")
    return grpc_server


def serve_forever(host, port, parent=None, ready=None):
    """Serves until SIGTERM or SIGINT, or until the process `parent` is gone (started beside gunicorn,
    it must not outlive the server that started it); then lets calls in progress finish."""
    grpc_server = server(host, port)
    grpc_server.start()
    if ready:
        ready(grpc_server.port)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.wait(1):
        if parent and os.getppid() != parent:
            log.warning("otlp grpc: the server that started this process is gone; stopping")
            break
    grpc_server.stop(grace=10).wait()
