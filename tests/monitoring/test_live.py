"""/metrics of msgtrace as shipped (deploy/gunicorn.conf.py): 2 gunicorn workers and the OTLP/gRPC process
each count what they answered, and whichever worker answers a scrape sums them all."""

import re
import threading
import urllib.request

import grpc
import pytest

from tests import helpers as h
from tests import servers
from tests.monitoring.support import Scrape
from traces.otlp_grpc import METHOD

TOKEN = "scrape-token"
SPANS_PER_REQUEST = 3


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("shipped")
    grpc_port = servers.free_port()
    folder = tmp_path / "metrics"
    env = {"MSGTRACE_METRICS_TOKEN": TOKEN, "MSGTRACE_GRPC_PORT": str(grpc_port),
           "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    with servers.gunicorn(tmp_path, workers=2, extra_env=env, args=servers.AS_SHIPPED) as server:
        servers.wait_for_port(grpc_port, server.process)
        server.grpc_target, server.metrics_dir = f"127.0.0.1:{grpc_port}", folder
        yield server


def post(server, n):
    """One export request on a connection of its own: SPANS_PER_REQUEST spans of trace n, one a model call."""
    payload = h.body(h.span(trace=n, span=1), h.span(trace=n, span=2, parent=1),
                     h.span(trace=n, span=3, parent=1, model="gpt-4o", tokens=(100, 10)), service="live")
    request = urllib.request.Request(f"{server.url}/v1/traces", data=payload,
                                     headers={"Content-Type": "application/x-protobuf"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
    return len(payload)


def scrape(server):
    request = urllib.request.Request(f"{server.url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return Scrape(response.read().decode())


def counting_pids(server, path):
    """Processes that counted requests to `path`: each writes its counters to a file of its own, whose keys
    hold the label values. (Every msgtrace process, the alert scheduler too, has a file.)"""
    return {int(re.fullmatch(r"counter_(\d+)\.db", file.name).group(1))
            for file in server.metrics_dir.glob("counter_*.db") if f'"{path}"'.encode() in file.read_bytes()}


def grpc_pid(server):
    return int(re.search(r"otlp grpc: serving port \d+ in process (\d+)", server.log_path.read_text()).group(1))


def test_requests_spread_over_both_workers_and_grpc_are_all_counted(shipped):
    sent, sizes, lock = [], [], threading.Lock()

    def send(first):
        for n in range(first, first + 5):
            size = post(shipped, n)
            with lock:
                sent.append(n)
                sizes.append(size)

    # Concurrent batches until both workers have answered some (each writes its own counter file).
    batch = 0
    while len(counting_pids(shipped, "/v1/traces")) < 2 and batch < 20:
        threads = [threading.Thread(target=send, args=(1000 * batch + 100 * t + 1,)) for t in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        batch += 1
    assert len(counting_pids(shipped, "/v1/traces")) == 2, "both workers answered export requests"

    with grpc.insecure_channel(shipped.grpc_target) as channel:
        channel.unary_unary(METHOD)(h.body(h.span(trace=999_999, span=1), service="live"), timeout=20)
    assert counting_pids(shipped, METHOD) == {grpc_pid(shipped)}

    # Each scrape lands on either worker; all of them read the same sums.
    for scraped in [scrape(shipped) for _ in range(6)]:
        assert scraped.value("msgtrace_ingest_requests_total", path="/v1/traces", encoding="protobuf",
                             status="200") == len(sent)
        assert scraped.value("msgtrace_ingest_requests_total", path=METHOD, encoding="protobuf", status="OK") == 1
        assert scraped.value("msgtrace_ingest_request_bytes_total", path="/v1/traces",
                             encoding="protobuf") == sum(sizes)
        assert scraped.value("msgtrace_ingest_spans_stored_total") == SPANS_PER_REQUEST * len(sent) + 1
        assert scraped.value("msgtrace_ingest_duration_seconds_count", path="/v1/traces") == len(sent)
        assert scraped.value("msgtrace_model_tokens_total", model="gpt-4o", service="live",
                             direction="input") == 100 * len(sent)
        assert scraped.value("msgtrace_store_traces") == len(sent) + 1
        assert scraped.value("msgtrace_store_spans") == SPANS_PER_REQUEST * len(sent) + 1


def test_the_shipped_server_asks_for_the_token(shipped):
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{shipped.url}/metrics", timeout=30)
    assert refused.value.code == 401
