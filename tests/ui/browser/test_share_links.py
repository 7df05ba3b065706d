"""Share links in a browser, with access control on: a member shares a trace from its page (the Share
panel, HTMX, the copy button), and someone who never signed in opens the link in a browser of their
own, reads the trace, opens a span's panel and finds no way into the rest of msgtrace. Screenshots of
the shared page at desktop and phone width for the docs."""

import subprocess
import sys

import pytest
from playwright.sync_api import expect

from tests import servers
from tests.ui.browser.support import overflow, post_otlp
from tests.ui.browser.test_screenshots import save
from traces import demo

PASSWORD = "a long passphrase 1"
CREATE_MEMBER = (
    "from django.contrib.auth import get_user_model; from accounts.roles import assign_role; "
    f"assign_role(get_user_model().objects.create_user('mia', password='{PASSWORD}'), 'member')"
)


@pytest.fixture(scope="module")
def guarded_site(tmp_path_factory, static_root):
    """msgtrace with access control on, 12 demo traces (sent while ingest is open) and a member, mia."""
    extra_env = {"MSGTRACE_STATIC_ROOT": str(static_root), "MSGTRACE_AUTH": "on"}
    with servers.gunicorn(tmp_path_factory.mktemp("shares"), workers=1, extra_env=extra_env) as server:
        for message in demo.build_requests(traces=12):
            post_otlp(server, message)
        subprocess.run([sys.executable, "manage.py", "shell", "-c", CREATE_MEMBER], cwd=servers.ROOT,
                       env=server.env, check=True, capture_output=True)
        yield server


def support_reply(server):
    """(trace id, span id) of a support bot's answer after a tool call: a model call whose panel has a
    whole conversation in it."""
    rows = server.query(
        "SELECT t.trace_id, s.span_id FROM traces_trace t JOIN traces_span s ON s.trace_id = t.id "
        "WHERE t.workflow_name = 'support_agent' AND t.status = 'ok' AND s.category = 'llm' AND EXISTS "
        "(SELECT 1 FROM traces_span tool WHERE tool.trace_id = t.id AND tool.category = 'tool') "
        "ORDER BY t.started_at DESC, s.start_ns DESC")
    assert rows, "the demo data has no support_agent run with a tool call"
    return rows[0]


def share_as_member(page, trace_id, days="30 days"):
    """Signs in as mia, shares the trace from its page and returns the link the Share panel shows."""
    page.goto(f"/traces/{trace_id}")
    site = page.url.split("/signin")[0]
    expect(page).to_have_url(f"{site}/signin?next=/traces/{trace_id}")
    page.get_by_label("Username").fill("mia")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{site}/traces/{trace_id}")

    page.locator("details.share > summary").click()
    page.get_by_label("Expires after").select_option(label=days)
    page.get_by_role("button", name="Create link").click()
    created = page.locator("details.share[open] [role=status]")
    expect(created).to_contain_text("Share link created.")
    url = page.locator("input[data-share-url]").input_value()
    assert url.startswith(f"{site}/share/")
    page.locator(".share-url button.copy").click()
    expect(page.locator("#toast")).to_have_text(f"Copied {url}")
    return url


def test_someone_who_never_signed_in_reads_the_shared_trace_and_nothing_else(open_page, guarded_site):
    trace_id, span_id = support_reply(guarded_site)
    member = open_page(guarded_site)
    member.context.grant_permissions(["clipboard-read", "clipboard-write"])
    url = share_as_member(member, trace_id)
    path = url.removeprefix(guarded_site.url)

    visitor = open_page(guarded_site, signed_in=False)  # a browser of their own: no session, no cookie
    visitor.goto(url)

    expect(visitor.locator(".trace-title h1")).to_have_text("support_agent")
    expect(visitor.locator(".share-note")).to_contain_text("Shared with you read-only")
    expect(visitor.locator(".mainnav")).to_have_count(0)
    expect(visitor.locator("details.share")).to_have_count(0)
    links = visitor.eval_on_selector_all("[href], [hx-get], [data-load], form[action]", """els => els.map(el =>
        el.getAttribute('href') || el.getAttribute('hx-get') || el.getAttribute('data-load') || el.getAttribute('action'))""")
    assert [link for link in links if not link.startswith((path, "/static/"))] == []

    visitor.locator(f"#s-{span_id} a[data-nav-open]").click()
    panel = visitor.locator("#span-panel")
    expect(panel.locator("h2#sp-title")).to_be_visible()
    expect(panel.locator(".chat .msg").first).to_be_visible()
    expect(visitor).to_have_url(f"{url}/spans/{span_id}")
    panel.locator("section[aria-labelledby=sp-prompt]").evaluate(
        "prompt => prompt.closest('#span-panel').scrollTop = prompt.offsetTop - 60")
    assert overflow(visitor) <= 1
    save(visitor, "share-link")

    # The rest of msgtrace asks the visitor to sign in.
    visitor.goto("/traces")
    expect(visitor).to_have_url(f"{guarded_site.url}/signin?next=/traces")


def test_on_a_phone_the_shared_trace_fits_the_screen(open_page, guarded_site):
    trace_id, span_id = support_reply(guarded_site)
    url = share_as_member(open_page(guarded_site), trace_id, days="1 day")

    visitor = open_page(guarded_site, phone=True, signed_in=False)
    visitor.goto(url)
    expect(visitor.locator("#trace-view .spans.timeline .row").first).to_be_visible()
    expect(visitor.locator(".share-note")).to_contain_text("Shared with you read-only")
    assert overflow(visitor) <= 1
    save(visitor, "share-link-phone")

    visitor.locator(f"#s-{span_id} a[data-nav-open]").click()
    expect(visitor.locator("#span-panel h2#sp-title")).to_be_visible()
    assert overflow(visitor) <= 1


def test_a_revoked_link_shows_its_visitor_why_and_nothing_of_the_trace(open_page, guarded_site):
    trace_id, _ = support_reply(guarded_site)
    member = open_page(guarded_site)
    url = share_as_member(member, trace_id, days="7 days")

    member.goto("/settings")
    row = member.locator("#shares tr", has=member.locator(f'a[href="{url}"]'))
    member.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Revoke").click()
    expect(member.locator(f'#shares a[href="{url}"]')).to_have_count(0)

    visitor = open_page(guarded_site, signed_in=False)
    response = visitor.goto(url)
    assert response.status == 410
    expect(visitor.get_by_role("heading")).to_have_text("This share link was revoked")
    expect(visitor.locator("#trace-view")).to_have_count(0)
