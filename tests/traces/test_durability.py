"""A server killed in the middle of requests has stored each batch whole or not at all, and every
batch it acknowledged is there."""

import threading
import time
import urllib.error
import urllib.request

from tests import helpers as h
from tests import servers

SPANS_PER_REQUEST = 2000
REQUESTS = 24


def batch(n):
    """One request = one trace of SPANS_PER_REQUEST spans, so a trace's size tells what was kept."""
    return h.body(*[h.span(trace=n, span=k + 1, parent=None if k == 0 else 1, name=f"s{k}", start_ms=k,
                           attributes={"gen_ai.prompt": "p" * 500, "n": k})
                    for k in range(SPANS_PER_REQUEST)])


def test_a_killed_server_keeps_every_acknowledged_batch_whole(tmp_path):
    payloads = [batch(n + 1) for n in range(REQUESTS)]
    acknowledged, lock = set(), threading.Lock()

    def send(numbers, url):
        for n in numbers:
            request = urllib.request.Request(url + "/v1/traces", data=payloads[n - 1], method="POST",
                                             headers={"Content-Type": "application/x-protobuf"})
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    if response.status == 200:
                        with lock:
                            acknowledged.add(n)
            except (urllib.error.URLError, ConnectionError, OSError):
                return  # the server is gone

    with servers.gunicorn(tmp_path, workers=2) as server:
        clients = [threading.Thread(target=send, args=(range(c + 1, REQUESTS + 1, 3), server.url)) for c in range(3)]
        for client in clients:
            client.start()
        deadline = time.monotonic() + 60
        while len(acknowledged) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        server.kill()  # mid-flight: other requests are being decoded or written right now
        for client in clients:
            client.join(timeout=60)
        sizes = dict(server.query("SELECT t.trace_id, COUNT(s.id) FROM traces_trace t "
                                  "LEFT JOIN traces_span s ON s.trace_id = t.id GROUP BY t.trace_id"))
        span_counts = dict(server.query("SELECT trace_id, span_count FROM traces_trace"))

    assert 3 <= len(acknowledged) < REQUESTS, "the kill should land while requests are in flight"
    stored = {int(trace_id, 16): count for trace_id, count in sizes.items()}
    assert set(stored.values()) == {SPANS_PER_REQUEST}, "a batch was stored in part"
    assert acknowledged <= set(stored), "an acknowledged batch was lost"
    assert all(span_counts[trace_id] == SPANS_PER_REQUEST for trace_id in sizes)
