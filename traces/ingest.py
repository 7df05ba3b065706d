"""The OTLP/HTTP trace endpoint: POST /v1/traces, /api/v1/traces/export and /."""

import logging
import threading
import time

from django.conf import settings
from django.db import DatabaseError, OperationalError
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt

from accounts import ingest_keys
from ingest_health import record as ingest_health
from monitoring import metrics
from traces import health, otlp, request_body
from traces.store import store

log = logging.getLogger("msgtrace.ingest")

MEDIA_TYPES = {otlp.PROTOBUF: "application/x-protobuf", otlp.JSON: "application/json"}
# How long a client should wait before retrying when the database is busy or unreachable.
RETRY_AFTER_SECONDS = 2
# One batch at a time per worker process, once its body has arrived: decoding is CPU-bound, so a
# second thread gains nothing under the GIL, and two writers of one process would meet at SQLite's
# write lock, whose busy handler sleeps. The other threads still read slow bodies and serve pages.
_one_batch_at_a_time = threading.Lock()


def _answer(encoding, status, body, **headers):
    response = HttpResponse(body, status=status, content_type=MEDIA_TYPES[encoding])
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _error(encoding, status, message, **headers):
    return _answer(encoding, status, otlp.status_body(encoding, status, message), **headers)


def _authorized(request):
    return ingest_keys.accepts(ingest_keys.presented_key(request.headers.get("Authorization"),
                                                         request.headers.get("X-Api-Key")))


class Export:
    """Decodes and stores one export request's body: the part OTLP/HTTP and OTLP/gRPC share.
    `batch` and `stored` keep how far it got, for the log line, even when `run` raises."""

    def __init__(self):
        self.batch, self.stored = None, None

    def run(self, body, encoding, content_encoding=None, user_agent=""):
        """Raises otlp.TooLarge, otlp.UnsupportedEncoding, otlp.BadRequest or DatabaseError; once it
        returns, the spans are committed and `batch.rejected` says how many were refused. The request
        is counted for ingest health in the same transaction (`stored.counted`), under `user_agent`
        when its resource names no SDK."""
        limit = settings.MSGTRACE_MAX_BODY_BYTES
        with _one_batch_at_a_time:
            body = otlp.decompress(body, content_encoding, limit)
            self.batch = otlp.decode(body, encoding, settings.MSGTRACE_MAX_ATTRIBUTE_BYTES)
            batch = self.batch
            self.stored = store(batch, count=lambda stored: ingest_health.count_stored(user_agent, batch, stored))
        return self.batch


@csrf_exempt
def export_traces(request):
    started = time.perf_counter()
    content_type = request.META.get("CONTENT_TYPE", "")
    encoding = otlp.encoding_of(content_type)
    reply = encoding or otlp.JSON
    response, batch, stored, size = None, None, None, 0
    limit = settings.MSGTRACE_MAX_BODY_BYTES
    try:
        if request.method != "POST":
            response = _error(reply, 405, f"{request.method} is not allowed here: export traces with POST", Allow="POST")
        elif not _authorized(request):
            response = _error(
                reply, 401, "missing or unknown ingest key: send Authorization: Bearer <key> or x-api-key: <key>",
                WWW_Authenticate='Bearer realm="msgtrace"',
            )
        elif encoding is None:
            response = _error(
                reply, 415,
                f"unsupported Content-Type {content_type!r}: send application/x-protobuf or application/json",
            )
        elif _declared_length(request) > limit:
            response = _error(reply, 413, f"the body is over the limit of {limit} bytes (MSGTRACE_MAX_BODY_BYTES)")
        else:
            body = request_body.read(request, limit + 1)
            size = len(body)
            if size > limit:
                raise otlp.TooLarge(f"the body is over the limit of {limit} bytes")
            export = Export()
            try:
                export.run(body, encoding, request.headers.get("Content-Encoding"),
                           user_agent=request.headers.get("User-Agent", ""))
            finally:
                batch, stored = export.batch, export.stored
            response = _answer(encoding, 200, otlp.export_response(encoding, batch.rejected, batch.error_message))
    except otlp.TooLarge as exc:
        response = _error(reply, 413, f"{exc} (MSGTRACE_MAX_BODY_BYTES)")
    except request_body.TimedOut as exc:
        response = _error(reply, 408, f"{exc} (MSGTRACE_BODY_TIMEOUT_SECONDS)")
    except otlp.UnsupportedEncoding as exc:
        response = _error(reply, 415, f"unsupported Content-Encoding {str(exc)!r}: send gzip, deflate or identity")
    except otlp.BadRequest as exc:
        response = _error(reply, 400, str(exc))
    except DatabaseError as exc:
        # Busy, unreachable or read-only database: nothing was stored, and exporters retry a 503.
        # (A value the database refuses costs only its own trace's spans: see store.)
        if isinstance(exc, OperationalError):
            log.warning("database unavailable, asking the client to retry: %s", exc)
        else:
            log.exception("the database refused a batch, asking the client to retry")
        response = _error(reply, 503, f"the trace store cannot take writes right now ({health.reason(exc)}); "
                          "retry later", Retry_After=str(RETRY_AFTER_SECONDS))
    _log(request, response, batch, stored, size, started)
    ingest_health.record_http(request, response, batch, stored)
    metrics.observe_export(request.path, encoding or "unknown", response.status_code, size,
                           time.perf_counter() - started, batch, stored)
    return response


def _declared_length(request):
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _log(request, response, batch, stored, size, started):
    spans = len(batch.spans) if batch else 0
    rejected = batch.rejected if batch else 0
    log.info(
        "otlp %s %s status=%d spans=%d stored=%d duplicates=%d rejected=%d bytes=%d ms=%.1f",
        request.method,
        request.path,
        response.status_code,
        spans,
        stored.stored if stored else 0,
        stored.duplicates if stored else 0,
        rejected,
        size,
        (time.perf_counter() - started) * 1000,
    )
