"""Ingest health: what each client's requests brought, counted as ingest answers them, shown by
GET /api/v1/ingest/health and the ingest-health page over a window."""

import html
import re
from datetime import datetime, timedelta, timezone

import pytest

from ingest_health.models import IngestCounter, IngestRejection
from traces.models import Span
from traces.retention import trim_ingest_counters
from tests import helpers
from tests.helpers import ago, post, request, span

pytestmark = pytest.mark.django_db

OTEL = {"telemetry.sdk.name": "opentelemetry", "telemetry.sdk.version": "1.45.2", "telemetry.sdk.language": "python"}
EXPORTER_UA = "OTel-OTLP-Exporter-Python/1.45.2"
SHORT_ID = b"\x01" * 5  # a trace id of 5 bytes instead of 16


@pytest.fixture
def two_clients(client, settings):
    """Client "billing" (OpenTelemetry Python SDK 1.45.2, named by telemetry.sdk.*) sends:
    1. a trace of 3 spans;  2. the same request again (an exporter retry: 3 duplicates);
    3. two spans, one with a 5-byte trace id (1 stored, 1 rejected);
    4. a span whose prompt is over MSGTRACE_MAX_ATTRIBUTE_BYTES (64 here): 1 stored, 1 truncated;
    5. a child span whose parent never arrives, started 20 minutes ago (a rootless trace);
    6. a child span whose parent may still come, started 2 minutes ago (not counted as rootless).
    Client "msgtrace-app" (msgtrace-sdk 1.2.0, which names no SDK: known by its User-Agent) sends
    its captured request msgtrace-sdk/001.bin (1 span) twice (1 duplicate), with the User-Agent it was
    captured with (the OpenTelemetry exporter's: msgtrace-sdk exports through it)."""
    settings.MSGTRACE_MAX_ATTRIBUTE_BYTES = 64
    trace = [span(trace=1, span=1, start_ms=ago(5)), span(trace=1, span=2, parent=1, start_ms=ago(5)),
             span(trace=1, span=3, parent=1, start_ms=ago(5))]
    billing = dict(service="billing", resource=OTEL)
    for _ in range(2):
        assert post(client, request(*trace, **billing), user_agent=EXPORTER_UA).status_code == 200
    invalid = span(trace=2, span=4, start_ms=ago(4))
    invalid.trace_id = SHORT_ID
    assert post(client, request(span(trace=2, span=5, start_ms=ago(4)), invalid, **billing)).status_code == 200
    long_prompt = span(trace=3, span=6, start_ms=ago(3), attributes={"prompt": "x" * 200})
    assert post(client, request(long_prompt, **billing)).status_code == 200
    orphan = span(trace=4, span=7, parent=99, start_ms=ago(20))
    recent_orphan = span(trace=5, span=8, parent=98, start_ms=ago(2))
    assert post(client, request(orphan, recent_orphan, **billing)).status_code == 200
    captured = helpers.CORPUS / "msgtrace-sdk" / "001.bin"
    for _ in range(2):
        assert post(client, captured.read_bytes(), path="/api/v1/traces/export", user_agent=EXPORTER_UA).status_code == 200
    return client


def health(client, window="24h"):
    response = client.get(f"/api/v1/ingest/health?window={window}")
    assert response.status_code == 200
    return response.json()


def by_client(document):
    return {item["client"]: item for item in document["clients"]}


def test_every_figure_of_two_clients_on_the_api(two_clients):
    document = health(two_clients)
    clients = by_client(document)
    assert set(clients) == {"opentelemetry 1.45.2", "OTel-OTLP-Exporter-Python/1.45.2"}
    billing = clients["opentelemetry 1.45.2"]
    assert {key: billing[key] for key in ("service_name", "sdk_name", "sdk_version", "user_agent")} == {
        "service_name": "billing", "sdk_name": "opentelemetry", "sdk_version": "1.45.2", "user_agent": ""}
    assert (billing["requests"], billing["failed_requests"], billing["spans_stored"], billing["duplicates"],
            billing["rejected"], billing["truncated"]) == (5, 0, 3 + 1 + 1 + 2, 3, 1, 1)
    [rejection] = billing["last_rejections"]
    assert (rejection["spans"], rejection["status"], rejection["message"]) == (1, 200, "trace_id must be 16 bytes")
    assert rejection["explanation"].startswith("OTLP trace ids are 16 bytes")
    sdk = clients["OTel-OTLP-Exporter-Python/1.45.2"]
    assert (sdk["service_name"], sdk["sdk_name"], sdk["user_agent"]) == ("msgtrace-app", "", EXPORTER_UA)
    assert (sdk["requests"], sdk["failed_requests"], sdk["spans_stored"], sdk["duplicates"], sdk["rejected"],
            sdk["truncated"], sdk["last_rejections"]) == (2, 0, 1, 1, 0, 0, [])
    for item in (billing, sdk):
        last = datetime.fromisoformat(item["last_request_at"])
        assert timedelta(0) <= datetime.now(timezone.utc) - last < timedelta(minutes=2)
    services = {item["service_name"]: item for item in document["services"]}
    assert set(services) == {"billing", "msgtrace-app"}
    assert services["billing"]["rootless_traces"] == 1  # trace 4; trace 5 is too recent to tell
    assert services["msgtrace-app"]["rootless_traces"] == 0


def text_of(fragment):
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment))).strip()


def figures(fragment):
    return {name: text_of(value) for name, value in re.findall(r'data-figure="(\w+)">(.*?)</dd>', fragment, re.S)}


def block(page, marker):
    """The HTML from `marker` to the next client or service block."""
    start = page.index(marker)
    ends = [page.find(end, start + len(marker)) for end in ("data-client=", "</section>")]
    return page[start : min(end for end in ends if end > 0)]


def test_the_page_shows_every_figure_and_explains_the_rejection(two_clients):
    response = two_clients.get("/ingest-health?window=24h")
    assert response.status_code == 200
    page = response.content.decode()
    assert re.search(r'<a href="/ingest-health" aria-current="page">Ingest health</a>', page)
    billing = figures(block(page, 'data-client="opentelemetry 1.45.2"'))
    assert {k: v for k, v in billing.items() if k != "last_request_at"} == {
        "requests": "5", "failed_requests": "0", "spans_stored": "7", "duplicates": "3", "rejected": "1",
        "truncated": "1"}
    assert billing["last_request_at"].endswith("UTC")
    sdk = figures(block(page, 'data-client="OTel-OTLP-Exporter-Python/1.45.2"'))
    assert (sdk["requests"], sdk["spans_stored"], sdk["duplicates"], sdk["rejected"], sdk["truncated"]) == (
        "2", "1", "1", "0", "0")
    text = text_of(page)
    assert "1 span rejected: trace_id must be 16 bytes — OTLP trace ids are 16 bytes" in text
    assert "3 spans arrived again (exporter retries) and were stored once." in text
    assert "1 attribute value exceeded MSGTRACE_MAX_ATTRIBUTE_BYTES and were stored truncated." in text
    assert "1 trace still without a root span 10 minutes after starting" in text
    assert figures(block(page, ">billing</h2>"))["rootless_traces"] == "1"
    assert figures(block(page, ">msgtrace-app</h2>"))["rootless_traces"] == "0"


def test_a_window_without_requests_shows_none(two_clients):
    IngestCounter.objects.update(minute=datetime.now(timezone.utc) - timedelta(hours=3))
    assert health(two_clients, "1h")["clients"] == []
    assert len(health(two_clients, "24h")["clients"]) == 2
    page = two_clients.get("/ingest-health?window=1h").content.decode()
    assert "No requests in the last hour" in page


def test_a_refused_request_is_counted_with_its_reason(client, settings):
    settings.MSGTRACE_MAX_BODY_BYTES = 100
    body = request(span(start_ms=ago(1), attributes={"prompt": "y" * 300})).SerializeToString()
    assert post(client, body, user_agent="curl/8.5").status_code == 413
    [item] = health(client)["clients"]
    assert (item["client"], item["requests"], item["failed_requests"], item["spans_stored"]) == ("curl/8.5", 1, 1, 0)
    [rejection] = item["last_rejections"]
    assert (rejection["spans"], rejection["status"]) == (0, 413)
    assert rejection["message"] == "the body is over the limit of 100 bytes (MSGTRACE_MAX_BODY_BYTES)"
    assert "MSGTRACE_MAX_BODY_BYTES" in rejection["explanation"]


def test_requests_with_a_wrong_key_share_one_row_whatever_they_claim(client, settings):
    settings.MSGTRACE_INGEST_KEYS = ["right"]
    for agent in ("a/1", "b/2", "c/3"):
        assert post(client, request(span(start_ms=ago(1))), user_agent=agent, authorization="Bearer wrong").status_code == 401
    [item] = health(client)["clients"]
    assert (item["client"], item["requests"], item["failed_requests"]) == ("unknown client", 3, 3)
    assert [r["message"].split(" (User-Agent")[1] for r in item["last_rejections"]] == [": c/3)", ": b/2)", ": a/1)"]
    assert "ingest key" in item["last_rejections"][0]["explanation"]


def test_only_the_last_five_rejection_messages_of_a_client_are_kept(client):
    for n in range(7):
        bad = span(trace=10 + n, span=1, start_ms=ago(1))
        bad.span_id = b"\x02" * (3 + n % 2)
        assert post(client, request(bad, service="noisy"), user_agent="x/1").status_code == 200
    assert IngestRejection.objects.filter(service_name="noisy").count() == 5
    [item] = health(client)["clients"]
    assert item["rejected"] == 7 and len(item["last_rejections"]) == 5


def test_retention_trims_counters_with_the_traces_they_counted(two_clients, settings):
    settings.MSGTRACE_RETENTION_DAYS = 7
    now = datetime.now(timezone.utc)
    assert trim_ingest_counters(now + timedelta(days=6)) == 0
    deleted = trim_ingest_counters(now + timedelta(days=8))
    assert deleted == IngestCounter.objects.count() + deleted and not IngestRejection.objects.exists()
    assert health(two_clients, "all")["clients"] == []


def test_counters_never_fail_an_ingest(client, monkeypatch):
    from ingest_health import record

    def broken(*args):
        raise RuntimeError("counters unavailable")

    monkeypatch.setattr(record, "_record", broken)
    assert post(client, request(span(start_ms=ago(1)))).status_code == 200
    assert Span.objects.count() == 1 and not IngestCounter.objects.exists()


def test_a_stored_request_is_counted_in_its_ingests_own_transaction(client):
    """One commit for the spans and their count: the counter's upsert runs inside the transaction (here a
    savepoint of the test's) that stores the spans, in a savepoint of its own."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert post(client, request(span(trace=1, span=1, start_ms=ago(1)), service="billing")).status_code == 200
    statements = [query["sql"] for query in queries.captured_queries]
    trace_insert = next(n for n, sql in enumerate(statements) if sql.startswith("INSERT INTO traces_trace"))
    counter_upserts = [n for n, sql in enumerate(statements) if sql.startswith("INSERT INTO ingest_health_ingestcounter")]
    ingest = max(n for n, sql in enumerate(statements[:trace_insert]) if sql.startswith("SAVEPOINT"))
    savepoint = statements[ingest].split()[1]
    ingest_end = next(n for n, sql in enumerate(statements) if n > ingest and sql.startswith("RELEASE SAVEPOINT")
                      and sql.split()[-1] == savepoint)
    assert len(counter_upserts) == 1 and trace_insert < counter_upserts[0] < ingest_end
    assert statements[counter_upserts[0] - 1].startswith("SAVEPOINT")
    [counter] = IngestCounter.objects.all()
    assert (counter.service_name, counter.requests, counter.spans_stored) == ("billing", 1, 1)


def test_a_count_the_database_refuses_never_costs_the_spans_it_counts(client, monkeypatch):
    """The count fails inside the ingest's transaction (on PostgreSQL a failed statement would doom the
    whole transaction but for the count's savepoint), and again once the request is answered."""
    from ingest_health import record

    monkeypatch.setattr(record, "_UPSERT", record._UPSERT.replace("ingest_health_ingestcounter", "no_such_table", 1))
    assert post(client, request(span(trace=1, span=1, start_ms=ago(1)), span(trace=1, span=2, parent=1,
                                                                            start_ms=ago(1)))).status_code == 200
    assert Span.objects.count() == 2 and not IngestCounter.objects.exists()


def test_a_count_that_failed_with_the_spans_is_made_once_the_request_is_answered(client, monkeypatch):
    from ingest_health import record

    calls, write = [], record._record

    def failing_once(*args):
        calls.append(args)
        if len(calls) == 1:
            raise RuntimeError("counters busy")
        write(*args)

    monkeypatch.setattr(record, "_record", failing_once)
    assert post(client, request(span(trace=1, span=1, start_ms=ago(1)), span(trace=1, span=1, start_ms=ago(1)),
                                service="billing", resource=OTEL)).status_code == 200
    [item] = health(client)["clients"]
    assert (item["client"], item["requests"], item["spans_stored"], item["duplicates"]) == (
        "opentelemetry 1.45.2", 1, 1, 1)
    assert len(calls) == 2 and Span.objects.count() == 1


def test_figures_the_store_does_not_keep_yet_read_not_available(two_clients):
    from ingest_health.report import has_field

    services = {s["service_name"]: s for s in health(two_clients)["services"]}
    page = two_clients.get("/ingest-health").content.decode()
    if not has_field(Span, "cost_source"):
        assert services["billing"]["unpriced_models"] is None
    if services["billing"]["stitched_runs"] is None:
        assert "not available" in page


def test_an_unpriced_model_is_counted_with_its_spans_and_tokens_and_explained(client):
    calls = [span(trace=20, span=n, start_ms=ago(3), model="house-llm-7b", tokens=(100, 20 * n)) for n in (1, 2)]
    priced = span(trace=20, span=3, start_ms=ago(3), model="gpt-4o-mini", tokens=(10, 5), cost=(0.01, 0.02))
    assert post(client, request(*calls, priced, service="chatbot", resource=OTEL)).status_code == 200
    [service] = health(client)["services"]
    assert service["unpriced_models"] == [{"model": "house-llm-7b", "spans": 2, "tokens": 100 + 20 + 100 + 40}]
    text = text_of(client.get("/ingest-health").content.decode())
    assert "house-llm-7b: 2 spans with 260 tokens have no price, so their cost counts as $0" in text
