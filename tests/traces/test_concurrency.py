"""Several gunicorn workers ingesting at once: every request is answered 200 and every span is
stored once, with trace aggregates equal to what the stored spans add up to."""

import threading
import urllib.request

import pytest

from tests import helpers as h
from tests import servers

CLIENTS = 8
REQUESTS_PER_CLIENT = 15
SPANS_PER_REQUEST = 40
TRACES = 12  # few traces, so that concurrent requests keep touching the same trace rows


@pytest.fixture
def busy_server(tmp_path):
    with servers.gunicorn(tmp_path, workers=3) as running:
        yield running


def client_batches(client):
    """Spans of TRACES shared traces; every client sends its own spans, and repeats one request."""
    batches = []
    for n in range(REQUESTS_PER_CLIENT):
        spans = []
        for k in range(SPANS_PER_REQUEST):
            serial = (client * REQUESTS_PER_CLIENT + n) * SPANS_PER_REQUEST + k + 1
            trace = serial % TRACES + 1
            spans.append(h.span(
                trace=trace, span=serial + 1000, parent=1000 + trace, name=f"call {serial}", start_ms=serial,
                kind=3, error="failed" if serial % 17 == 0 else None,
                attributes={"gen_ai.request.model": f"model-{serial % 3}", "gen_ai.usage.input_tokens": serial % 50,
                            "gen_ai.usage.output_tokens": 5},
            ))
        if client == 0 and n == 0:  # the roots, sent by one client alongside everything else
            spans += [h.span(trace=t, span=1000 + t, name=f"root {t}", start_ms=0, duration_ms=10**6)
                      for t in range(1, TRACES + 1)]
        batches.append(h.body(*spans))
    batches.append(batches[len(batches) // 2])  # a retry of a request already acknowledged
    return batches


def send_all(url, batches, statuses):
    for payload in batches:
        request = urllib.request.Request(url + "/v1/traces", data=payload, method="POST",
                                         headers={"Content-Type": "application/x-protobuf"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                statuses.append(response.status)
        except urllib.error.HTTPError as exc:
            statuses.append(exc.code)


def test_concurrent_clients_never_see_database_is_locked_and_lose_nothing(busy_server):
    statuses = []
    threads = [threading.Thread(target=send_all, args=(busy_server.url, client_batches(c), statuses))
               for c in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)

    assert statuses == [200] * (CLIENTS * (REQUESTS_PER_CLIENT + 1)), busy_server.log_path.read_text()[-4000:]
    unique_spans = CLIENTS * REQUESTS_PER_CLIENT * SPANS_PER_REQUEST + TRACES
    assert busy_server.scalar("SELECT COUNT(*) FROM traces_span") == unique_spans
    assert busy_server.scalar("SELECT COUNT(*) FROM traces_trace") == TRACES
    assert "locked" not in busy_server.log_path.read_text()

    stored = busy_server.query(
        "SELECT trace_id, span_count, error_count, start_ns, end_ns, input_tokens, output_tokens, "
        "has_root, root_span_name FROM traces_trace ORDER BY trace_id"
    )
    from_spans = busy_server.query(
        "SELECT t.trace_id, COUNT(*), SUM(CASE WHEN s.status_code = 2 THEN 1 ELSE 0 END), MIN(s.start_ns), "
        "MAX(s.end_ns), SUM(COALESCE(s.input_tokens, 0)), SUM(COALESCE(s.output_tokens, 0)) "
        "FROM traces_span s JOIN traces_trace t ON t.id = s.trace_id GROUP BY t.trace_id ORDER BY t.trace_id"
    )
    assert [row[:7] for row in stored] == [tuple(row) for row in from_spans]
    assert [(row[0], row[7], row[8]) for row in stored] == [
        (f"{t:032x}", True, f"root {t}") for t in sorted(range(1, TRACES + 1), key=lambda t: f"{t:032x}")
    ]
