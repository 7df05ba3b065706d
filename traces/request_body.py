"""Reading a request's body whole, whatever framed it, within a size cap and a time limit.

Django's WSGIRequest reads at most CONTENT_LENGTH bytes, and none when the header is absent, so a chunked
body (Transfer-Encoding: chunked, no Content-Length) would read as empty and its spans would be acknowledged
and dropped. Where that body comes from:

- gunicorn de-chunks it and says so with `wsgi.input_terminated` (it does for every request): its input
  ends where the body ends, whatever the framing, and is read directly;
- nginx de-chunks it itself (request buffering) and sends a Content-Length;
- `manage.py runserver` hands its own request handler's de-chunked body over with a Content-Length
  (`dechunk` below, used by traces/management/commands/runserver.py).
"""

import re
import socket
import threading

from django.conf import settings

# A chunk-size line or trailer longer than this is not an exporter's.
MAX_LINE = 8192
MAX_TRAILERS = 64
HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")


class TimedOut(Exception):
    """The client did not send its whole body within MSGTRACE_BODY_TIMEOUT_SECONDS."""


def read(request, size):
    """At most `size` bytes of the request's body, however it was framed.

    Under gunicorn the whole read must end within MSGTRACE_BODY_TIMEOUT_SECONDS, or TimedOut is
    raised: a client that stalls or trickles its body must not hold a worker thread for long."""
    environ = request.META
    stream = environ["wsgi.input"] if environ.get("wsgi.input_terminated") else request
    client = environ.get("gunicorn.socket")
    seconds = settings.MSGTRACE_BODY_TIMEOUT_SECONDS
    if client is None or seconds <= 0:
        return stream.read(size)
    deadline = _Deadline(client, seconds)
    try:
        body = stream.read(size)
    except Exception:
        if deadline.finish():
            raise TimedOut(f"the body did not arrive within {seconds} s") from None
        raise
    if deadline.finish():
        raise TimedOut(f"the body did not arrive within {seconds} s")
    return body


class _Deadline:
    """Ends the body read at a total deadline by shutting the socket's read side: a per-recv
    timeout would let a client that sends a byte now and then hold the thread for ever."""

    def __init__(self, client, seconds):
        self.client = client
        self.expired = False
        self.finished = False
        self.lock = threading.Lock()
        self.timer = threading.Timer(seconds, self._expire)
        self.timer.daemon = True
        self.timer.start()

    def _expire(self):
        with self.lock:
            if self.finished:
                return
            self.expired = True
            try:
                # A blocked recv() returns at once; gunicorn closes the connection after the answer.
                self.client.shutdown(socket.SHUT_RD)
            except OSError:
                pass

    def finish(self):
        """Stops the clock; True when the deadline passed before the read ended."""
        with self.lock:
            self.finished = True
        self.timer.cancel()
        return self.expired


def dechunk(stream, limit):
    """A chunked body (RFC 9112 section 7.1) read from `stream`, a buffered binary file.

    Returns (body, whole). Reading stops once the body is over `limit` bytes, with `whole` False and
    `limit` + 1 bytes of it: enough for the view to answer 413, while the rest stays unread (the
    connection cannot serve another request). Broken framing raises ValueError."""
    parts, size = [], 0
    while True:
        chunk_size = _chunk_size(stream.readline(MAX_LINE + 1))
        if chunk_size == 0:
            break
        if size + chunk_size > limit:
            parts.append(stream.read(limit + 1 - size))
            return b"".join(parts), False
        data = stream.read(chunk_size)
        if len(data) < chunk_size:
            raise ValueError("the body ends inside a chunk")
        if stream.read(2) != b"\r\n":
            raise ValueError("a chunk does not end with CRLF")
        parts.append(data)
        size += chunk_size
    for _ in range(MAX_TRAILERS + 1):
        line = stream.readline(MAX_LINE + 1)
        if line == b"\r\n":
            return b"".join(parts), True
        if not line.endswith(b"\r\n"):
            raise ValueError("the trailer section does not end")
    raise ValueError(f"more than {MAX_TRAILERS} trailer fields")


def _chunk_size(line):
    if not line.endswith(b"\r\n"):
        raise ValueError("a chunk-size line does not end with CRLF")
    digits = line[:-2].split(b";", 1)[0].strip(b" \t")
    if not HEX.fullmatch(digits):
        raise ValueError(f"bad chunk size {digits[:20]!r}")
    return int(digits, 16)
