"""What a client sends stays text in the browser. Span names, attribute keys and values, prompts and
completions, model and service names, resource attributes and status messages that hold HTML, a
`javascript:` URL or htmx attributes are shown literally on every page that shows them (the trace
list, the dashboard, the trace page's timeline and tree, the span panel, a run, ingest health and the
Django admin), and nothing in them acts: no script runs, no dialog opens, no element of theirs exists,
no request goes to the URLs their markup or htmx attributes name, and the Content-Security-Policy has
nothing to refuse (PageProblems fails the test on any refusal)."""

import json
import re
import time
from urllib.parse import urlencode

import pytest
from playwright.sync_api import expect

from tests import helpers as h
from tests.ui.browser.support import MS, create_superuser, post_otlp, serve

# Each payload would set window.__pwned, open a dialog, add an element whose id starts with "pwned" or
# request a URL under /pwned/, were it ever markup, code or an htmx attribute instead of text.
SERVICE = '<img id="pwned-service" src="/pwned/service.png" onerror="window.__pwned=1">checkout'
ROOT = '<div id="pwned-root" hx-get="/pwned/root" hx-trigger="load">support agent</div>'
STEP = "<script>window.__pwned=1</script>ask the model"
MODEL = '<img src="/pwned/model.png" onerror="alert(1)">gpt-evil'
STATUS = '<iframe id="pwned-frame" src="/pwned/frame"></iframe>timed out'
ATTRIBUTE_KEY = '" hx-get="/pwned/key" hx-trigger="load" data-x="'
JAVASCRIPT_URL = "javascript:window.__pwned=1"
LINK = '<a id="pwned-link" href="javascript:window.__pwned=1" hx-get="/pwned/link" hx-trigger="load">docs</a>'
PROMPT = '<svg id="pwned-svg" onload="window.__pwned=1"></svg>What is the weather?'
COMPLETION = ('<button id="pwned-button" hx-on:htmx:load="window.__pwned=1" hx-get="/pwned/completion" '
              'hx-trigger="load">Sunny</button>')
RESOURCE = '<object id="pwned-object" data="/pwned/object"></object>eu-west'
SDK = '<b id="pwned-sdk" hx-get="/pwned/sdk" hx-trigger="load">otel</b>'
RUN_OUTER = '<div id="pwned-run" hx-get="/pwned/run" hx-trigger="load">outer step</div>'
RUN_INNER = '<script src="/pwned/run.js"></script>inner step'

PASSWORD = "a long passphrase"


def hostile_requests():
    """An agent trace (root and a failed model call carrying every kind of value) and a run of two
    one-span traces, the inner inside the outer's time: (messages, agent trace id, outer trace id)."""
    now = time.time_ns()
    resource = {"deployment.region": RESOURCE, "telemetry.sdk.name": SDK, "telemetry.sdk.version": "1.0"}
    agent, outer, inner = ((now << 16 | n) & ((1 << 127) - 1) for n in (1, 2, 3))
    root = h.span(trace=agent, span=1, name=ROOT)
    call = h.span(trace=agent, span=2, parent=1, name=STEP, model=MODEL, tokens=(120, 30), error=STATUS,
                  attributes={ATTRIBUTE_KEY: JAVASCRIPT_URL, "docs.link": LINK,
                              "gen_ai.input.messages": json.dumps([{"role": "user", "content": PROMPT}]),
                              "gen_ai.output.messages": json.dumps([{"role": "assistant", "content": COMPLETION}])})
    run = [h.span(trace=outer, span=3, name=RUN_OUTER), h.span(trace=inner, span=4, name=RUN_INNER)]
    for span, start_ms, duration_ms in ((root, 2000, 900), (call, 1900, 500), (run[0], 1500, 900),
                                        (run[1], 1400, 300)):
        span.start_time_unix_nano = now - start_ms * MS
        span.end_time_unix_nano = span.start_time_unix_nano + duration_ms * MS
    messages = [h.request(root, call, service=SERVICE, resource=resource)]
    messages += [h.request(span, service=SERVICE, resource=resource) for span in run]
    return messages, h.tid(agent), h.tid(outer)


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory, static_root):
    """A server holding only the hostile traces, sent through its OTLP endpoint, and an admin."""
    with serve(tmp_path_factory.mktemp("inert"), static_root, workers=1) as server:
        messages, server.agent, server.outer = hostile_requests()
        for message in messages:
            post_otlp(server, message)
        create_superuser(server, "admin", PASSWORD)
        yield server


@pytest.fixture
def watched(open_page, hostile_site):
    """A signed-in page on the hostile site that records every request and dialog."""
    page = open_page(hostile_site)
    page.requests, page.dialogs = [], []
    page.on("request", lambda request: page.requests.append(request.url))
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(page)
    return page


def sign_in(page):
    """Through whichever sign-in page the admin sends an anonymous visitor to."""
    page.goto("/admin/")
    page.locator('input[name="username"]').fill("admin")
    page.locator('input[name="password"]').fill(PASSWORD)
    page.locator('input[name="password"]').press("Enter")
    expect(page).to_have_url(re.compile(r"/admin/$"))


def nothing_acted(page):
    """Nothing the payloads carry ran, exists as an element, opened a dialog or was requested."""
    page.wait_for_load_state("networkidle")  # htmx's "load" triggers would have fired by now
    assert page.evaluate("window.__pwned") is None
    assert page.locator('[id^="pwned"]').count() == 0
    assert page.dialogs == []
    assert [url for url in page.requests if "/pwned/" in url] == []


def shows(page, locator, *texts):
    for text in texts:
        expect(locator).to_contain_text(text)
    nothing_acted(page)


def test_the_trace_list_shows_names_as_text(watched, hostile_site):
    watched.goto("/traces")

    agent_row = watched.locator(f"#trace-{hostile_site.agent}")
    shows(watched, agent_row, ROOT, SERVICE)
    shows(watched, watched.locator(f"#trace-{hostile_site.outer}"), RUN_OUTER)
    # The delete button's question quotes the name; it is asked only when clicked.
    assert ROOT in agent_row.locator("form[hx-confirm]").get_attribute("hx-confirm")

    # Filtered by that service, whose name the filter field then holds.
    watched.goto("/traces?" + urlencode({"service": SERVICE}))
    expect(watched.locator("#filters input[name=service]")).to_have_value(SERVICE)
    shows(watched, watched.locator(f"#trace-{hostile_site.agent}"), ROOT, SERVICE)


def test_the_dashboard_and_its_charts_show_names_as_text(watched):
    watched.goto("/")

    shows(watched, watched.locator(".latest-grid"), ROOT, SERVICE)
    model = watched.locator(".model-chart .model-name", has_text="gpt-evil")
    expect(model).to_have_text(MODEL)
    assert model.get_attribute("title") == MODEL
    # The refresh every 10 s swaps the figures in again through htmx.
    with watched.expect_response(lambda response: "window=" in response.url, timeout=15_000):
        pass
    expect(watched.locator(".model-chart .model-name", has_text="gpt-evil")).to_have_text(MODEL)
    nothing_acted(watched)


def test_the_trace_page_timeline_and_tree_show_names_as_text(watched, hostile_site):
    watched.goto(f"/traces/{hostile_site.agent}")

    assert ROOT in watched.title()
    shows(watched, watched.locator(".trace-head"), ROOT, SERVICE, MODEL)
    timeline = watched.locator("#trace-view .spans.timeline .body")
    shows(watched, timeline, ROOT, STEP)
    step_bar = timeline.locator(".row", has_text="ask the model").locator(".ln")
    assert step_bar.get_attribute("title").startswith(STEP + " · ")
    shows(watched, watched.locator(".errors"), STEP, STATUS)

    watched.get_by_role("tab", name="Tree").click()
    tree = watched.locator("#trace-view .spans.tree .body")
    shows(watched, tree, ROOT, STEP)


def test_the_span_panel_shows_every_value_as_text(watched, hostile_site):
    watched.goto(f"/traces/{hostile_site.agent}")
    watched.locator("#trace-view .spans .row a[data-nav-open]", has_text="ask the model").click()

    panel = watched.locator("#span-panel")
    expect(panel.locator("#sp-title")).to_have_text(STEP)
    shows(watched, panel, MODEL, STATUS, ATTRIBUTE_KEY, JAVASCRIPT_URL, LINK, PROMPT, COMPLETION, RESOURCE, SERVICE,
          SDK)
    assert panel.locator('a[href^="javascript:"], [href*="pwned"], [src*="pwned"]').count() == 0

    # Opened at its own URL, the same panel is part of the page.
    watched.goto(watched.url)
    shows(watched, watched.locator("#span-panel"), STEP, PROMPT, COMPLETION, LINK)


def test_a_run_shows_its_members_names_as_text(watched, hostile_site):
    watched.goto(f"/traces/{hostile_site.outer}")

    expect(watched.locator(".run-note")).to_contain_text("Part of a run of 2 traces")
    shows(watched, watched.locator("#trace-view .spans .body"), RUN_OUTER, RUN_INNER)


def test_ingest_health_shows_service_client_and_model_as_text(watched):
    watched.goto("/ingest-health")

    service = watched.locator(".health-service", has=watched.get_by_role("heading", name=SERVICE))
    shows(watched, service, SERVICE, f"{SDK} 1.0", MODEL)


def test_the_django_admin_shows_names_as_text(watched, hostile_site):
    watched.goto("/admin/traces/trace/")
    shows(watched, watched.locator("#changelist"), ROOT, SERVICE)

    pk = hostile_site.scalar("SELECT id FROM traces_trace WHERE trace_id = %s", (hostile_site.agent,))
    watched.goto(f"/admin/traces/trace/{pk}/change/")
    shows(watched, watched.locator("#content"), ROOT, STEP, MODEL, STATUS, SERVICE)
