"""Ingest and delete racing over one trace, with real clients against gunicorn: every ingest is
acknowledged and stored (in the trace as it exists when it commits), every delete answers 204 or
404, and no span is ever left without its trace or missing from its trace's counts."""

import threading
import urllib.error
import urllib.request

import pytest

from tests import helpers as h

pytestmark = pytest.mark.slow

ROUNDS = 40
TRACE = 7
TRACE_ID = h.trace_id(TRACE).hex()


def call(url, method, data=None):
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/x-protobuf"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def ingest(url, client, statuses):
    for n in range(ROUNDS):
        first = (client * ROUNDS + n) * 5 + 1
        spans = [h.span(trace=TRACE, span=first + k, name=f"step {first + k}", start_ms=first + k) for k in range(5)]
        spans.append(h.span(trace=100 + client * ROUNDS + n, span=1, name="bystander"))
        statuses.append(call(url + "/v1/traces", "POST", h.body(*spans)))


def delete(url, statuses):
    for _ in range(ROUNDS):
        statuses.append(call(f"{url}/api/v1/traces/{TRACE_ID}", "DELETE"))


def test_ingest_racing_a_delete_loses_nothing_it_acknowledged(server):
    ingested, deleted = [], []
    threads = [threading.Thread(target=ingest, args=(server.url, client, ingested)) for client in range(2)]
    threads.append(threading.Thread(target=delete, args=(server.url, deleted)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)

    assert ingested == [200] * (2 * ROUNDS)
    assert len(deleted) == ROUNDS and set(deleted) <= {204, 404}
    assert 204 in deleted
    # Every bystander trace of every request is stored, whatever happened to the shared one.
    assert server.scalar("SELECT COUNT(*) FROM traces_trace WHERE root_span_name = 'bystander'") == 2 * ROUNDS
    assert server.scalar(
        "SELECT COUNT(*) FROM traces_span s LEFT JOIN traces_trace t ON t.id = s.trace_id WHERE t.id IS NULL"
    ) == 0
    counts = server.query(
        "SELECT t.span_count, (SELECT COUNT(*) FROM traces_span s WHERE s.trace_id = t.id) FROM traces_trace t"
    )
    assert all(recorded == actual for recorded, actual in counts)
    assert "Traceback" not in server.log_path.read_text()
