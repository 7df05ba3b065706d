"""Browser-based exporters: CORS preflight is answered on the OTLP paths and the API, for the
origins in MSGTRACE_CORS_ORIGINS only."""

import pytest

from tests import helpers as h
from traces.models import Span

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def allowed_origin(settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example"]


def preflight(client, path, origin="https://app.example"):
    return client.options(path, HTTP_ORIGIN=origin, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
                          HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type,authorization")  # fmt: skip


@pytest.mark.parametrize("path", ["/v1/traces", "/api/v1/traces/export", "/api/v1/traces"])
def test_preflight_from_an_allowed_origin_is_answered(client, path):
    response = preflight(client, path)

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "https://app.example"
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert {"content-type", "authorization"} <= set(response["Access-Control-Allow-Headers"].split(", "))


def test_an_export_from_an_allowed_origin_carries_the_cors_header(client):
    response = h.post(client, h.body(h.span(name="from a browser")), origin="https://app.example")

    assert response["Access-Control-Allow-Origin"] == "https://app.example"
    assert Span.objects.get().name == "from a browser"


def test_other_origins_and_the_pages_get_no_cors_headers(client):
    assert "Access-Control-Allow-Origin" not in preflight(client, "/v1/traces", origin="https://evil.example")
    assert "Access-Control-Allow-Origin" not in preflight(client, "/traces")
