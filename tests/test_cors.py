"""Browser-based exporters: CORS is answered on the OTLP ingest paths for the origins in
MSGTRACE_CORS_ORIGINS, and on the REST API only for those in MSGTRACE_CORS_API_ORIGINS, never
with credentials: "*" for exporters must not let any web page read or delete traces."""

import pytest

from tests import helpers as h
from traces.models import Span

pytestmark = pytest.mark.django_db

INGEST_PATHS = ["/v1/traces", "/api/v1/traces/export"]


@pytest.fixture(autouse=True)
def allowed_origin(settings):
    settings.MSGTRACE_CORS_ORIGINS = ["https://app.example"]
    settings.MSGTRACE_CORS_API_ORIGINS = []


def preflight(client, path, origin="https://app.example", method="POST"):
    return client.options(path, HTTP_ORIGIN=origin, HTTP_ACCESS_CONTROL_REQUEST_METHOD=method,
                          HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type,authorization")


@pytest.mark.parametrize("path", INGEST_PATHS)
def test_preflight_from_an_allowed_origin_is_answered_on_the_ingest_paths(client, path):
    response = preflight(client, path)

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "https://app.example"
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert {"content-type", "authorization"} <= set(response["Access-Control-Allow-Headers"].split(", "))
    assert "Access-Control-Allow-Credentials" not in response


def test_an_export_from_an_allowed_origin_carries_the_cors_header(client):
    response = h.post(client, h.body(h.span(name="from a browser")), origin="https://app.example")

    assert response["Access-Control-Allow-Origin"] == "https://app.example"
    assert Span.objects.get().name == "from a browser"


def test_other_origins_and_the_pages_get_no_cors_headers(client):
    assert "Access-Control-Allow-Origin" not in preflight(client, "/v1/traces", origin="https://evil.example")
    assert "Access-Control-Allow-Origin" not in preflight(client, "/traces")
    assert "Access-Control-Allow-Origin" not in preflight(client, "/", method="GET")


def test_a_star_for_exporters_opens_ingest_to_every_origin_but_not_the_api(client, settings):
    settings.MSGTRACE_CORS_ORIGINS = ["*"]
    h.post(client, h.body(h.span(trace=5, name="secret prompt")))
    trace_id = h.trace_id(5).hex()

    for path in INGEST_PATHS:
        response = preflight(client, path, origin="https://any.example")
        assert response["Access-Control-Allow-Origin"] in ("https://any.example", "*")
        assert "Access-Control-Allow-Credentials" not in response
    read = client.get("/api/v1/traces", HTTP_ORIGIN="https://evil.example")
    assert read.status_code == 200 and "Access-Control-Allow-Origin" not in read
    for method in ("DELETE", "GET"):
        response = preflight(client, f"/api/v1/traces/{trace_id}", origin="https://evil.example", method=method)
        assert "Access-Control-Allow-Origin" not in response
    assert "Access-Control-Allow-Origin" not in client.get("/api/v1/stats", HTTP_ORIGIN="https://evil.example")


def test_the_api_answers_cors_only_for_the_origins_named_for_it(client, settings):
    settings.MSGTRACE_CORS_API_ORIGINS = ["https://dashboard.example"]

    allowed = client.get("/api/v1/traces", HTTP_ORIGIN="https://dashboard.example")
    other = client.get("/api/v1/traces", HTTP_ORIGIN="https://app.example")

    assert allowed["Access-Control-Allow-Origin"] == "https://dashboard.example"
    assert "Access-Control-Allow-Credentials" not in allowed
    assert "Access-Control-Allow-Origin" not in other
