"""The HTTP edge: bodies framed with Transfer-Encoding: chunked are stored under every server msgtrace
runs on, and clients that stall or trickle their bodies neither keep other requests waiting nor hold
a worker past MSGTRACE_BODY_TIMEOUT_SECONDS."""

import http.client
import io
import socket
import threading
import time
from urllib.parse import urlsplit

import pytest
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from tests import helpers as h
from tests import servers
from traces import request_body

pytestmark = pytest.mark.slow


def batch(trace, spans, padding=200):
    """A protobuf export of `spans` spans in one trace, about `padding` bytes of attributes each."""
    message = h.request(*[h.span(trace=trace, span=n + 1, name=f"step {n}", attributes={"note": "x" * padding})
                          for n in range(spans)])
    return message.SerializeToString()


def post_chunked(server, payload, **kwargs):
    return servers.post_chunked(server.url, payload, **kwargs)


def stored(server, trace):
    return server.spans_of(h.trace_id(trace).hex())


# --- chunked bodies ------------------------------------------------------------------------------------


def test_a_chunked_export_is_stored_under_gunicorn(server):
    status, body = post_chunked(server, batch(trace=1, spans=400))
    assert status == 200, body
    assert ExportTraceServiceResponse.FromString(body).partial_success.rejected_spans == 0
    assert stored(server, 1) == 400
    assert "status=200 spans=400 stored=400" in server.log_path.read_text()


def test_a_chunked_gzip_export_is_stored_under_the_shipped_worker_model(tmp_path):
    with servers.gunicorn(tmp_path, args=servers.AS_SHIPPED) as server:
        status, body = post_chunked(server, h.gz(batch(trace=2, spans=300)), Content_Encoding="gzip")
        assert status == 200, body
        assert stored(server, 2) == 300


def test_a_chunked_export_is_stored_under_runserver(tmp_path):
    with servers.runserver(tmp_path) as server:
        status, body = post_chunked(server, batch(trace=3, spans=400), chunk_size=5_000)
        assert status == 200, body
        assert stored(server, 3) == 400
        # The connection carried on after the body: a second chunked export on a new one is stored too.
        assert post_chunked(server, h.gz(batch(trace=4, spans=10)), Content_Encoding="gzip")[0] == 200
        assert stored(server, 4) == 10


@pytest.mark.parametrize("run", ["gunicorn", "runserver"])
def test_a_chunked_body_over_the_limit_is_413_and_nothing_is_stored(tmp_path, run):
    limit = {"MSGTRACE_MAX_BODY_BYTES": "50000"}
    start = servers.gunicorn(tmp_path, extra_env=limit) if run == "gunicorn" else servers.runserver(tmp_path, limit)
    with start as server:
        payload = batch(trace=5, spans=400)
        assert len(payload) > 50_000
        status, body = post_chunked(server, payload)
        assert status == 413
        assert "over the limit of 50000 bytes" in status_pb2.Status.FromString(body).message
        assert stored(server, 5) == 0
        assert post_chunked(server, batch(trace=6, spans=100))[0] == 200  # just under the limit
        assert stored(server, 6) == 100


def test_dechunk_reads_extensions_and_trailers_and_stops_at_the_limit():
    payload = bytes(range(256)) * 40
    assert request_body.dechunk(io.BytesIO(servers.chunked(payload, 1000) + b"NEXT"), 1 << 20) == (payload, True)
    stream = io.BytesIO(servers.chunked(payload, 1000))
    assert request_body.dechunk(stream, 4500) == (payload[:4501], False)
    assert request_body.dechunk(io.BytesIO(b"0\r\n\r\n"), 10) == (b"", True)


@pytest.mark.parametrize("framed", [
    b"zz\r\nabc\r\n0\r\n\r\n",        # not hex
    b"0x3\r\nabc\r\n0\r\n\r\n",       # Python's int() would take it; HTTP does not
    b"5\r\nabc",                       # ends inside a chunk
    b"3\r\nabcXY0\r\n\r\n",            # a chunk without its CRLF
    b"3\r\nabc\r\n0\r\nTrailer: 1\r\n",  # trailers that never end
    b"3\r\nabc\r\n",                   # no last chunk
])
def test_dechunk_rejects_broken_framing(framed):
    with pytest.raises(ValueError):
        request_body.dechunk(io.BytesIO(framed), 1 << 20)


# --- slow clients -------------------------------------------------------------------------------------


def stall(server, payload, sent):
    """Opens a connection that sends the headers of a POST announcing all of `payload` and the first
    `sent` bytes of it, then nothing more. Returns the socket."""
    address = urlsplit(server.url)
    sock = socket.create_connection((address.hostname, address.port), timeout=30)
    head = (f"POST /v1/traces HTTP/1.1\r\nHost: {address.netloc}\r\nContent-Type: {h.PROTOBUF}\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n").encode()
    sock.sendall(head + payload[:sent])
    return sock


def answer(sock):
    """The status and google.rpc.Status message of the answer on a raw socket."""
    response = http.client.HTTPResponse(sock)
    response.begin()
    return response.status, status_pb2.Status.FromString(response.read()).message


def health_seconds(server):
    started = time.monotonic()
    connection = http.client.HTTPConnection(urlsplit(server.url).hostname, urlsplit(server.url).port, timeout=30)
    connection.request("GET", "/health")
    response = connection.getresponse()
    assert response.status == 200 and b'"ok"' in response.read()
    connection.close()
    return time.monotonic() - started


def test_stalled_bodies_keep_no_one_waiting_and_end_with_408(tmp_path):
    deadline = 6
    with servers.gunicorn(tmp_path, args=servers.AS_SHIPPED,
                          extra_env={"MSGTRACE_BODY_TIMEOUT_SECONDS": str(deadline)}) as server:
        payload = batch(trace=7, spans=400)  # about 100 KB
        assert len(payload) > 100_000
        started = time.monotonic()
        stalled = [stall(server, payload, 40_000) for _ in range(6)]
        time.sleep(0.5)  # every stalled request is in a worker, reading its body
        assert health_seconds(server) < 3
        status, body = post_chunked(server, batch(trace=8, spans=50))
        assert status == 200 and stored(server, 8) == 50
        answers = [answer(sock) for sock in stalled]
        elapsed = time.monotonic() - started
        assert answers == [(408, f"the body did not arrive within {deadline} s (MSGTRACE_BODY_TIMEOUT_SECONDS)")] * 6
        assert deadline - 0.5 < elapsed < deadline + 10
        for sock in stalled:
            assert sock.recv(1) == b"", "the connection is closed after a 408"
            sock.close()
        assert stored(server, 7) == 0
        assert health_seconds(server) < 3


def test_a_trickled_body_is_cut_off_at_the_deadline(tmp_path):
    """A byte now and then resets no clock: the deadline is for the whole body."""
    deadline = 2
    with servers.gunicorn(tmp_path, args=servers.AS_SHIPPED,
                          extra_env={"MSGTRACE_BODY_TIMEOUT_SECONDS": str(deadline)}) as server:
        payload = batch(trace=9, spans=100)
        sock = stall(server, payload, 1000)
        stop = threading.Event()

        def trickle():
            sent = 1000
            while not stop.wait(0.2) and sent < len(payload) - 1:
                try:
                    sock.sendall(payload[sent : sent + 1])
                except OSError:
                    return
                sent += 1

        started = time.monotonic()
        trickler = threading.Thread(target=trickle)
        trickler.start()
        try:
            status, message = answer(sock)
        finally:
            stop.set()
            trickler.join()
            sock.close()
        assert status == 408 and "within 2 s" in message
        assert time.monotonic() - started < deadline + 5
        assert stored(server, 9) == 0
