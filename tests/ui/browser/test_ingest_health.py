"""The ingest-health page in a browser: reached from the navigation, it shows what a client sent and
explains a rejected span; screenshots at desktop and phone width for the docs."""

import urllib.request

import pytest
from playwright.sync_api import expect

from tests import helpers as h
from tests.ui.browser.support import api, fresh_trace, overflow, serve
from tests.ui.browser.test_screenshots import save

OTEL = {"telemetry.sdk.name": "opentelemetry", "telemetry.sdk.version": "1.45.2", "telemetry.sdk.language": "python"}


def export(server, message, user_agent="OTel-OTLP-Exporter-Python/1.45.2"):
    request = urllib.request.Request(
        server.url + "/v1/traces", data=message.SerializeToString(), method="POST",
        headers={"Content-Type": "application/x-protobuf", "User-Agent": user_agent},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200


@pytest.fixture(scope="module")
def health_site(tmp_path_factory, static_root):
    """A server to which two clients sent: "checkout" a good trace, its retry and a span with a
    5-byte trace id; "support-bot" (known by its User-Agent) two traces."""
    with serve(tmp_path_factory.mktemp("health"), static_root) as server:
        message, _, _ = fresh_trace(service="checkout", spans=3)
        message.resource_spans[0].resource.attributes.extend(h.key_values(OTEL))
        export(server, message)
        export(server, message)
        broken = h.span(trace=7, span=7, start_ms=h.ago(1))
        broken.trace_id = b"\x01" * 5
        export(server, h.request(broken, service="checkout", resource=OTEL))
        for _ in range(2):
            export(server, fresh_trace(service="support-bot", spans=2)[0], user_agent="python-requests/2.32")
        yield server


def test_the_page_is_reached_from_the_navigation_and_agrees_with_the_api(open_page, health_site):
    page = open_page(health_site)
    page.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Ingest health").click()
    expect(page).to_have_url(health_site.url + "/ingest-health")
    checkout = page.locator('[data-client="opentelemetry 1.45.2"]')
    expect(checkout.locator('[data-figure="requests"]')).to_have_text("3")
    expect(checkout.locator('[data-figure="spans_stored"]')).to_have_text("3")
    expect(checkout.locator('[data-figure="duplicates"]')).to_have_text("3")
    expect(checkout.locator('[data-figure="rejected"]')).to_have_text("1")
    expect(checkout).to_contain_text("1 span rejected: trace_id must be 16 bytes — OTLP trace ids are 16 bytes")
    bot = page.locator('[data-client="python-requests/2.32"]')
    expect(bot.locator('[data-figure="requests"]')).to_have_text("2")
    expect(bot.locator('[data-figure="spans_stored"]')).to_have_text("4")
    clients = {c["client"]: c for c in api(health_site, "/ingest/health")["clients"]}
    assert (clients["opentelemetry 1.45.2"]["rejected"], clients["python-requests/2.32"]["spans_stored"]) == (1, 4)


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_screenshot(open_page, health_site, device):
    page = open_page(health_site, phone=device == "phone")
    page.goto("/ingest-health")
    expect(page.locator("[data-client]")).to_have_count(2)

    assert overflow(page) <= 1
    save(page, f"ingest-health-{device}")
