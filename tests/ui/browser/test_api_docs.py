"""The API docs (/api/v1/docs, django-ninja's Swagger UI) work in a browser under the same
Content-Security-Policy as every page: their scripts and styles come from msgtrace's static files,
nothing is refused, and "Try it out" reaches the API."""

from playwright.sync_api import expect

from tests.ui.browser.support import DEMO_TRACES, api

RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation",
    (event) => window.__violations.push(event.violatedDirective + " " + event.blockedURI));
"""


def test_the_api_docs_render_and_call_the_api_with_nothing_refused(desktop, site):
    requests = []
    desktop.on("request", lambda request: requests.append(request.url))
    desktop.add_init_script(RECORD_VIOLATIONS)
    desktop.goto("/")
    desktop.get_by_role("navigation", name="Main").get_by_role("link", name="API").click()

    expect(desktop).to_have_url(site.url + "/api/v1/docs")
    expect(desktop.locator(".swagger-ui .info .title")).to_contain_text("msgtrace")
    operation = desktop.locator(".opblock-get", has=desktop.locator('[data-path="/api/v1/traces"]')).first
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    # The demo traces, and any that browser tests run before this one posted.
    total = api(site, "/traces")["total"]
    assert total >= DEMO_TRACES
    operation.get_by_role("button", name="Execute").click()

    status = operation.locator(".live-responses-table .response .response-col_status").first
    expect(status).to_have_text("200")
    expect(operation.locator(".live-responses-table .microlight").first).to_contain_text(f'"total": {total}')
    assert desktop.evaluate("window.__violations") == []
    elsewhere = [url for url in requests if not url.startswith(site.url)]
    assert elsewhere == []  # no CDN, no online validator
