"""GET /metrics: what ingest counted (requests by path, encoding and status, spans stored, duplicated and
rejected, bytes, latency, tokens and cost by model and service) and what the store holds, in Prometheus'
text format, for a bearer token or for anyone when made public.

In one process the counters live as long as the process, so each test reads what its own requests added:
the difference between a scrape before and one after."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from monitoring import metrics
from tests.helpers import post, request, span
from tests.monitoring.support import Scrape
from traces.models import Span, Trace

pytestmark = pytest.mark.django_db

SHORT_ID = b"\x01" * 5  # a trace id of 5 bytes instead of 16: that span is rejected
TOKEN = "prometheus-scrapes-with-this"


@pytest.fixture
def public(settings):
    settings.MSGTRACE_METRICS_PUBLIC = True


def scrape(client, **headers):
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return Scrape(response.content.decode())


def model_call(trace, number, model, tokens, cost, parent=None):
    return span(trace=trace, span=number, parent=parent, model=model, tokens=tokens, cost=cost)


@pytest.fixture
def ingested(client, public):
    """Scrapes before and after these requests, and returns both with the bodies' sizes:
    1. /v1/traces, protobuf, 200: a root and a gpt-4o call (1000 in, 200 out, $0.0025 + $0.002) of
       service "api": 2 spans stored;
    2. the same request again (an exporter retry): 2 duplicates;
    3. /api/v1/traces/export, protobuf, 200: a gpt-4o-mini call of service "web" (300 in, 50 out,
       $0.00005 + $0.00003) and a span with a 5-byte trace id: 1 stored, 1 rejected;
    4. /v1/traces, json, 400: a body that is not JSON;
    5. /v1/traces, 415: Content-Type text/plain."""
    before = scrape(client)
    first = request(span(trace=1, span=1), model_call(1, 2, "gpt-4o", (1000, 200), (0.0025, 0.002), parent=1),
                    service="api").SerializeToString()
    for _ in range(2):
        assert post(client, first).status_code == 200
    invalid = span(trace=2, span=4)
    invalid.trace_id = SHORT_ID
    third = request(model_call(3, 5, "gpt-4o-mini", (300, 50), (0.00005, 0.00003)), invalid,
                    service="web").SerializeToString()
    assert post(client, third, path="/api/v1/traces/export").status_code == 200
    assert post(client, b"{not json", content_type="application/json").status_code == 400
    assert post(client, b"hello", content_type="text/plain").status_code == 415
    return before, scrape(client), len(first), len(third)


def change(before, after, name, **labels):
    return after.value(name, **labels) - before.value(name, **labels)


def test_requests_are_counted_by_path_encoding_and_status(ingested):
    before, after, first, third = ingested
    requests = "msgtrace_ingest_requests_total"
    assert change(before, after, requests, path="/v1/traces", encoding="protobuf", status="200") == 2
    assert change(before, after, requests, path="/api/v1/traces/export", encoding="protobuf", status="200") == 1
    assert change(before, after, requests, path="/v1/traces", encoding="json", status="400") == 1
    assert change(before, after, requests, path="/v1/traces", encoding="unknown", status="415") == 1
    size = "msgtrace_ingest_request_bytes_total"
    assert change(before, after, size, path="/v1/traces", encoding="protobuf") == 2 * first
    assert change(before, after, size, path="/api/v1/traces/export", encoding="protobuf") == third
    assert change(before, after, size, path="/v1/traces", encoding="json") == len(b"{not json")


def test_spans_are_counted_as_stored_duplicated_and_rejected(ingested):
    before, after, _, _ = ingested
    assert change(before, after, "msgtrace_ingest_spans_stored_total") == 3
    assert change(before, after, "msgtrace_ingest_spans_duplicated_total") == 2
    assert change(before, after, "msgtrace_ingest_spans_rejected_total") == 1


def test_every_request_is_timed_in_the_latency_histogram(ingested):
    before, after, _, _ = ingested
    histogram = "msgtrace_ingest_duration_seconds"
    assert change(before, after, f"{histogram}_count", path="/v1/traces") == 4
    assert change(before, after, f"{histogram}_count", path="/api/v1/traces/export") == 1
    assert change(before, after, f"{histogram}_bucket", path="/v1/traces", le="+Inf") == 4
    assert 0 < change(before, after, f"{histogram}_sum", path="/v1/traces") < 60


def test_tokens_and_cost_are_counted_by_model_and_service_once_per_stored_span(ingested):
    before, after, _, _ = ingested
    tokens = "msgtrace_model_tokens_total"
    assert change(before, after, tokens, model="gpt-4o", service="api", direction="input") == 1000
    assert change(before, after, tokens, model="gpt-4o", service="api", direction="output") == 200
    assert change(before, after, tokens, model="gpt-4o-mini", service="web", direction="input") == 300
    assert change(before, after, tokens, model="gpt-4o-mini", service="web", direction="output") == 50
    cost = "msgtrace_model_cost_total"
    assert change(before, after, cost, model="gpt-4o", service="api") == pytest.approx(0.0045)
    assert change(before, after, cost, model="gpt-4o-mini", service="web") == pytest.approx(0.00008)


def test_the_store_figures_are_read_at_scrape_time(ingested):
    _, after, _, _ = ingested
    assert after.value("msgtrace_store_traces") == Trace.objects.count() == 2
    assert after.value("msgtrace_store_spans") == Span.objects.count() == 3
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_database_size(current_database())")
            assert after.value("msgtrace_database_size_bytes") > 0
        else:
            cursor.execute("SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()")
            assert after.value("msgtrace_database_size_bytes") == cursor.fetchone()[0]


def test_the_whole_exposition_parses_with_prometheus_clients_parser(ingested):
    _, after, _, _ = ingested
    kinds = {name: family.type for name, family in after.families.items()}
    assert {
        "msgtrace_ingest_requests": "counter", "msgtrace_ingest_request_bytes": "counter",
        "msgtrace_ingest_spans_stored": "counter", "msgtrace_ingest_spans_duplicated": "counter",
        "msgtrace_ingest_spans_rejected": "counter", "msgtrace_ingest_duration_seconds": "histogram",
        "msgtrace_model_tokens": "counter", "msgtrace_model_cost": "counter",
        "msgtrace_store_traces": "gauge", "msgtrace_store_spans": "gauge", "msgtrace_database_size_bytes": "gauge",
    }.items() <= kinds.items()
    assert all(name.startswith("msgtrace_") for name in kinds)


def test_a_large_store_is_estimated_not_counted(ingested, monkeypatch):
    """Past EXACT_COUNT_UP_TO ids the planner's figure is read (after ANALYZE here), and no COUNT(*)
    of the span table runs."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE traces_span")
        cursor.execute("ANALYZE traces_trace")
    monkeypatch.setattr(metrics, "EXACT_COUNT_UP_TO", 1)
    with CaptureQueriesContext(connection) as queries:
        assert metrics.row_count(Span) == 3
        assert metrics.row_count(Trace) == 2
    assert not [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]


def test_model_and_service_names_past_the_cap_are_counted_as_other(monkeypatch):
    monkeypatch.setattr(metrics, "LABEL_VALUES_KEPT", 2)
    label = metrics._Capped()
    assert [label(name) for name in ("gpt-4o", "claude", "gemini", "gpt-4o", "")] == [
        "gpt-4o", "claude", "other", "gpt-4o", "other"]


# --- access -------------------------------------------------------------------------------------


def test_without_a_token_configured_metrics_are_closed_and_say_how_to_open_them(client, settings):
    settings.MSGTRACE_METRICS_TOKEN = ""
    response = client.get("/metrics")
    assert response.status_code == 403
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert "set MSGTRACE_METRICS_TOKEN" in response.content.decode()
    assert "MSGTRACE_METRICS_PUBLIC=true" in response.content.decode()


def test_a_configured_token_is_required_and_must_match(client, settings, access_control):
    """Prometheus has no session: the token alone lets it in, with access control on."""
    settings.MSGTRACE_METRICS_TOKEN = TOKEN
    missing = client.get("/metrics")
    assert missing.status_code == 401
    assert missing["WWW-Authenticate"] == 'Bearer realm="msgtrace metrics"'
    assert "Authorization: Bearer" in missing.content.decode()
    assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}x"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
    scraped = scrape(client, Authorization=f"Bearer {TOKEN}")
    assert "msgtrace_store_spans" in scraped.names()


def test_public_mode_answers_anyone(client, public, access_control):
    assert "msgtrace_store_traces" in scrape(client).names()


def test_metrics_answers_get_only(client, public):
    assert client.post("/metrics").status_code == 405


# --- alerts -------------------------------------------------------------------------------------


def test_alert_states_and_delivery_attempts_are_read_from_the_alerts_tables(client, public):
    """Rules "errors" (firing), "latency" (ok) and "cost" (resolved); a webhook notification delivered on
    its second attempt (a 500, then a 200), a Slack one failed once and still pending."""
    from django.utils import timezone

    from alerts.models import Delivery, Event, Notification, Rule, State, Target, TargetKind

    now = timezone.now()
    errors = Rule.objects.create(name="errors", state=State.FIRING)
    Rule.objects.create(name="latency", state=State.OK)
    Rule.objects.create(name="cost", state=State.RESOLVED)
    event = Event.objects.create(rule=errors, at=now, state=State.FIRING, message="error rate 12% > 5%",
                                 traces_url="/traces")
    hook = Target.objects.create(name="hook", kind=TargetKind.WEBHOOK, url="https://hooks.example.com/x")
    slack = Target.objects.create(name="slack", kind=TargetKind.SLACK, url="https://slack.example.com/y")
    sent = Notification.objects.create(event=event, target=hook, payload={}, status="sent", attempts=2)
    waiting = Notification.objects.create(event=event, target=slack, payload={}, status="pending", attempts=1)
    Delivery.objects.create(notification=sent, at=now, attempt=1, status_code=500, latency_ms=20)
    Delivery.objects.create(notification=sent, at=now, attempt=2, status_code=200, latency_ms=15)
    Delivery.objects.create(notification=waiting, at=now, attempt=1, latency_ms=5000, error="timed out")

    scraped = scrape(client)

    assert [scraped.value("msgtrace_alert_rules", state=state) for state in ("ok", "firing", "resolved")] == [1, 1, 1]
    assert {name: scraped.value("msgtrace_alert_rule_firing", rule=name) for name in ("errors", "latency", "cost")} == {
        "errors": 1, "latency": 0, "cost": 0}
    deliveries = "msgtrace_alert_deliveries_total"
    assert scraped.value(deliveries, kind="webhook", outcome="succeeded") == 1
    assert scraped.value(deliveries, kind="webhook", outcome="failed") == 1
    assert scraped.value(deliveries, kind="slack", outcome="succeeded") == 0
    assert scraped.value(deliveries, kind="slack", outcome="failed") == 1
    assert scraped.value("msgtrace_alert_notifications_pending", kind="slack") == 1
    assert scraped.value("msgtrace_alert_notifications_pending", kind="webhook") == 0
