"""Share links: a member makes a read-only link to one trace (with its run) that works without signing
in, for 1, 7 or 30 days or until revoked. Behind it: that trace's page, span panel and subtrees, and
not one link, page or API answer beyond them."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import signing
from django.test import Client
from django.utils import timezone

from accounts.models import SHARE_LINK_SALT, ShareLink
from accounts.roles import Role, assign_role
from audit.models import Action, AuditEvent
from tests import helpers as h
from tests.traces.test_runs import send, span_requests
from traces.models import Trace

pytestmark = pytest.mark.django_db
User = get_user_model()
HTMX = {"HTTP_HX_REQUEST": "true"}
SHARED, OTHER = h.tid(1), h.tid(2)
ROOT, AGENT, CHAT, TOOL = (h.span_id(n).hex() for n in (1, 2, 3, 4))
# Every attribute that makes the browser fetch or go somewhere.
URL_ATTRIBUTES = re.compile(r'\b(?:href|src|action|hx-get|hx-post|data-load)="([^"]*)"')


@pytest.fixture
def traces(client, access_control):
    """Trace 1 (flow > agent > chat, tool; linking to trace 2) and trace 2, posted while ingest is open."""
    h.post(client, h.body(
        h.span(trace=1, span=1, name="support flow", duration_ms=100,
               attributes={"user.id": "alice", "session.id": "s-42", "workflow.name": "support"}),
        h.span(trace=1, span=2, parent=1, name="weather agent", start_ms=10, duration_ms=80),
        h.span(trace=1, span=3, parent=2, name="chat gpt-4o", start_ms=15, duration_ms=30, model="gpt-4o",
               tokens=(100, 20), attributes={"gen_ai.prompt": "What is the weather in Lisbon?"}),
        h.span(trace=1, span=4, parent=2, name="get_weather", start_ms=50, duration_ms=20, links=[(2, 9)]),
        h.span(trace=2, span=9, name="billing job", start_ms=500, duration_ms=40),
        service="support-bot",
    ))


def user(name, role):
    account = User.objects.create_user(name, password="a long passphrase 1")
    assign_role(account, role)
    return account


def signed_in(name, role=Role.MEMBER):
    client = Client()
    client.force_login(user(name, role))
    return client


def create_link(client, trace_id=SHARED, days=7):
    """Shares the trace as the Share panel does; the share URL's path."""
    response = client.post(f"/traces/{trace_id}/share", {"days": days}, **HTMX)
    assert response.status_code == 200, response.content[:300]
    url = re.search(r'data-copy="(http://testserver/share/[^"]+)"', response.text).group(1)
    return url.removeprefix("http://testserver")


def urls(page):
    """Every URL the page links to, fetches or posts to, but its static files."""
    return [url for url in URL_ATTRIBUTES.findall(page) if not url.startswith("/static/")]


# --- creating a link ---------------------------------------------------------------------------------


def test_a_member_creates_a_link_that_is_shown_once_with_a_copy_button(traces):
    member = signed_in("mia")

    response = member.post(f"/traces/{SHARED}/share", {"days": 7}, **HTMX)

    link = ShareLink.objects.get()
    assert (link.trace_id, link.created_by.username, link.revoked_at) == (SHARED, "mia", None)
    assert timedelta(days=7) - timedelta(minutes=1) < link.expires_at - timezone.now() <= timedelta(days=7)
    url = f"http://testserver/share/{link.token}"
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<details class="share" id="share" open>')  # the panel alone
    assert f'value="{url}"' in response.text and f'data-copy="{url}"' in response.text
    assert "Share link created." in response.text and "<script" not in response.text


def test_without_javascript_the_form_answers_with_the_trace_page_and_the_link(traces):
    response = signed_in("mia").post(f"/traces/{SHARED}/share", {"days": 1})

    assert response.status_code == 200
    assert "<h1>support flow</h1>" in response.text and 'class="mainnav"' in response.text
    assert f'value="http://testserver/share/{ShareLink.objects.get().token}"' in response.text


@pytest.mark.parametrize("days", [1, 7, 30])
def test_the_creator_picks_how_long_it_works(traces, days):
    signed_in("mia").post(f"/traces/{SHARED}/share", {"days": days}, **HTMX)
    lifetime = ShareLink.objects.get().expires_at - timezone.now()
    assert timedelta(days=days) - timedelta(minutes=1) < lifetime <= timedelta(days=days)


@pytest.mark.parametrize("days", ["365", "0", "", "a week"])
def test_any_other_lifetime_is_refused(traces, days):
    response = signed_in("mia").post(f"/traces/{SHARED}/share", {"days": days}, **HTMX)
    assert response.status_code == 400
    assert '<details class="share" id="share" open>' in response.text and 'class="field-error"' in response.text
    assert not ShareLink.objects.exists()


def test_creating_a_link_is_audited(traces):
    signed_in("mia").post(f"/traces/{SHARED}/share", {"days": 30}, **HTMX)
    event = AuditEvent.objects.get(action=Action.SHARE_CREATED)
    link = ShareLink.objects.get()
    assert (event.actor, event.target, event.via) == ("mia", f"link {link.pk} to {SHARED} for 30 days", "ui")


def test_members_and_admins_see_the_share_button_viewers_neither_see_it_nor_may_post(traces):
    for role in (Role.MEMBER, Role.ADMIN):
        page = signed_in(f"a {role}", role).get(f"/traces/{SHARED}").text
        assert f'action="/traces/{SHARED}/share"' in page and "<summary class=\"button\">Share</summary>" in page
    viewer = signed_in("vic", Role.VIEWER)
    assert "/share" not in viewer.get(f"/traces/{SHARED}").text
    assert viewer.post(f"/traces/{SHARED}/share", {"days": 7}).status_code == 403
    assert not ShareLink.objects.exists()


def test_anonymous_visitors_cannot_create_one(traces):
    assert Client().post(f"/traces/{SHARED}/share", {"days": 7}).status_code == 302
    assert not ShareLink.objects.exists()


def test_an_unknown_trace_cannot_be_shared(traces):
    assert signed_in("mia").post(f"/traces/{h.tid(77)}/share", {"days": 7}).status_code == 404
    assert not ShareLink.objects.exists()


# --- what the link shows ------------------------------------------------------------------------------


def test_anyone_with_the_link_sees_the_trace_without_signing_in(traces):
    path = create_link(signed_in("mia"))

    page = Client().get(path)

    assert page.status_code == 200
    assert "<h1>support flow</h1>" in page.text
    for name in ("support flow", "weather agent", "chat gpt-4o", "get_weather"):
        assert f"data-nav-open>{name}</a>" in page.text
    assert f"{path}/spans/{CHAT}" in page.text
    assert "<dt>Spans</dt><dd>4</dd>" in page.text
    expires = ShareLink.objects.get().expires_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    assert "Shared with you read-only. This link works until" in page.text and expires in page.text
    assert page["Cache-Control"].startswith("max-age=0") and "no-store" in page["Cache-Control"]


def test_the_span_panel_and_the_subtrees_come_through_the_same_link(traces):
    path = create_link(signed_in("mia"))
    anonymous = Client()

    panel = anonymous.get(f"{path}/spans/{CHAT}", **HTMX)
    assert panel.status_code == 200
    assert 'id="sp-title" tabindex="-1">chat gpt-4o</h2>' in panel.text
    assert "What is the weather in Lisbon?" in panel.text
    assert f'class="parent" href="{path}/spans/{AGENT}"' in panel.text
    assert f'class="close" href="{path}"' in panel.text

    opened = anonymous.get(f"{path}/spans/{CHAT}?view=tree")  # opened directly: the page with the panel
    assert opened.status_code == 200 and "<h1>support flow</h1>" in opened.text and 'id="sp-title"' in opened.text
    assert f'href="{path}?view=tree"' in opened.text

    rows = anonymous.get(f"{path}/subtree/{AGENT}?view=tree", **HTMX)
    assert rows.status_code == 200
    assert re.findall(r"data-nav-open>([^<]+)</a>", rows.text) == ["chat gpt-4o", "get_weather"]
    top = anonymous.get(f"{path}/subtree?view=timeline", **HTMX)
    assert re.findall(r"data-nav-open>([^<]+)</a>", top.text) == [
        "support flow", "weather agent", "chat gpt-4o", "get_weather"]

    tree = anonymous.get(f"{path}?view=tree", **HTMX)  # the Tree tab
    assert tree.text.lstrip().startswith('<section id="trace-view"') and f'href="{path}?view=tree"' in tree.text


def test_the_shared_page_offers_nothing_beyond_the_share(traces):
    path = create_link(signed_in("mia"))

    page = Client().get(path).text

    assert urls(page) and all(url.startswith(path) for url in urls(page)), urls(page)
    assert 'class="mainnav"' not in page and 'class="globalsearch"' not in page and "Sign out" not in page
    assert "Traces</a>" not in page  # no way back to the list
    assert "Share</summary>" not in page and "/delete" not in page
    # The service, workflow, model and user are said, not links to the list.
    assert "<dd>support-bot</dd>" in page and "<dd>alice</dd>" in page
    assert '<span class="badge">gpt-4o</span>' in page


def test_a_signed_in_member_on_a_share_link_sees_the_share_not_the_site(traces):
    member = signed_in("mia")
    path = create_link(member)
    page = member.get(path).text
    assert all(url.startswith(path) for url in urls(page)) and "Share</summary>" not in page


def test_a_span_links_to_a_trace_outside_the_share_only_by_its_id(traces):
    path = create_link(signed_in("mia"))

    panel = Client().get(f"{path}/spans/{TOOL}", **HTMX).text

    assert f"<code>{OTHER}</code>" in panel and "(trace not stored here)" not in panel
    assert all(url.startswith(path) for url in urls(panel)), urls(panel)


def test_spans_of_other_traces_are_not_found_through_the_link(traces):
    path = create_link(signed_in("mia"))
    anonymous = Client()
    other_span = h.span_id(9).hex()

    for url in (f"{path}/spans/{other_span}", f"{path}/subtree/{other_span}", f"{path}/spans/{'0' * 16}",
                f"{path}/spans/not-a-span"):
        response = anonymous.get(url, **HTMX)
        assert response.status_code == 404, url
        assert "No such span in this share" in response.text and "billing job" not in response.text


def test_the_api_and_every_other_page_stay_closed_to_the_visitor(traces):
    create_link(signed_in("mia"))
    anonymous = Client()
    anonymous.get(f"/share/{ShareLink.objects.get().token}")

    for page in ("/", "/traces", f"/traces/{SHARED}", f"/traces/{OTHER}", f"/traces/{SHARED}/spans/{CHAT}",
                 f"/traces/{SHARED}/subtree", "/settings", "/ingest-health"):
        response = anonymous.get(page)
        assert response.status_code == 302 and response["Location"].startswith("/signin"), page
    for endpoint in ("/api/v1/traces", f"/api/v1/traces/{SHARED}", "/api/v1/stats"):
        assert anonymous.get(endpoint).status_code == 401, endpoint


def test_a_run_is_shared_whole_and_nothing_beside_it(client, access_control):
    """msgflux/004.bin is one run of 8 one-span traces; 006.bin another, beside it."""
    for capture in ("004", "006"):
        send(client, span_requests(h.CORPUS / "msgflux" / f"{capture}.bin"))
    tool = Trace.objects.get(trace_id__startswith="bb1506a1")  # Get Forecast, three levels down the run
    generator = Trace.objects.get(trace_id__startswith="5c40f55a")
    elsewhere = Trace.objects.get(trace_id__startswith="d283068a")  # Order Agent, of the other run
    path = create_link(signed_in("mia"), tool.trace_id)
    anonymous = Client()

    page = anonymous.get(path).text
    assert "Part of a run of 8 traces" in page and page.count("data-nav-open>") == 8
    assert all(url.startswith(path) for url in urls(page)), urls(page)
    member_span = generator.spans.get().span_id
    assert anonymous.get(f"{path}/spans/{member_span}", **HTMX).status_code == 200
    assert anonymous.get(f"{path}/spans/{elsewhere.spans.get().span_id}", **HTMX).status_code == 404
    assert "Order Agent" not in page


# --- when it stops working ----------------------------------------------------------------------------


def test_an_expired_link_stops_working_at_once(traces):
    path = create_link(signed_in("mia"))
    anonymous = Client()
    assert anonymous.get(path).status_code == 200
    ShareLink.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    for url in (path, f"{path}/spans/{CHAT}", f"{path}/subtree/{AGENT}"):
        response = anonymous.get(url)
        assert response.status_code == 410, url
        assert "This share link has expired" in response.text and "support flow" not in response.text
        assert urls(response.text) == []


def test_a_revoked_link_stops_working_at_once(traces):
    member = signed_in("mia")
    path = create_link(member)
    link = ShareLink.objects.get()

    assert member.post(f"/settings/share-links/{link.pk}/revoke").status_code == 302

    response = Client().get(path)
    assert response.status_code == 410
    assert "This share link was revoked" in response.text and "support flow" not in response.text
    assert Client().get(f"{path}/spans/{CHAT}", **HTMX).status_code == 410


def test_a_tampered_or_made_up_token_is_refused(traces):
    path = create_link(signed_in("mia"))
    token = path.removeprefix("/share/")
    link = ShareLink.objects.get()
    forged = [
        token[:-1] + ("A" if token[-1] != "A" else "B"),  # the signature altered
        signing.Signer(salt=SHARE_LINK_SALT).sign_object(link.pk + 1).split(":")[0] + ":" + token.split(":")[1],
        signing.Signer(salt="another purpose").sign_object(link.pk),  # signed, but not as a share link
        str(link.pk),
        "x" * 300,
    ]
    for bad in forged:
        response = Client().get(f"/share/{bad}")
        assert response.status_code == 404, bad
        assert "This share link is not valid" in response.text and "support flow" not in response.text


def test_a_link_to_a_deleted_trace_says_so(traces):
    path = create_link(signed_in("mia"))
    Trace.objects.filter(trace_id=SHARED).delete_with_spans()
    response = Client().get(path)
    assert response.status_code == 410 and "The shared trace was deleted" in response.text


# --- the settings page --------------------------------------------------------------------------------


def test_the_settings_page_lists_each_members_own_links_with_their_urls_and_admins_every_link(traces):
    mia, max_ = signed_in("mia"), signed_in("max")
    mias, maxs = create_link(mia), create_link(max_, OTHER)
    admin = signed_in("ada", Role.ADMIN)

    assert f'href="http://testserver{mias}"' in mia.get("/settings").text
    assert maxs not in mia.get("/settings").text
    page = admin.get("/settings").text
    assert f'href="http://testserver{mias}"' in page and f'href="http://testserver{maxs}"' in page


def test_only_its_creator_or_an_admin_may_revoke_a_link(traces):
    mia = signed_in("mia")
    create_link(mia)
    create_link(mia, OTHER)
    first, second = ShareLink.objects.order_by("pk")

    refused = signed_in("max").post(f"/settings/share-links/{first.pk}/revoke", **HTMX)
    assert refused.status_code == 403
    first.refresh_from_db()
    assert first.is_usable

    assert mia.post(f"/settings/share-links/{first.pk}/revoke", **HTMX).status_code == 200
    assert signed_in("ada", Role.ADMIN).post(f"/settings/share-links/{second.pk}/revoke").status_code == 302
    assert not ShareLink.objects.usable().exists()
    revoked = AuditEvent.objects.filter(action=Action.SHARE_REVOKED).order_by("pk")
    assert [(event.actor, event.target) for event in revoked] == [
        ("mia", f"link {first.pk} to {SHARED}"), ("ada", f"link {second.pk} to {OTHER}")]
    assert Client().get(f"/share/{first.token}").status_code == 410


def test_a_viewer_cannot_revoke_a_link(traces):
    create_link(signed_in("mia"))
    link = ShareLink.objects.get()
    assert signed_in("vic", Role.VIEWER).post(f"/settings/share-links/{link.pk}/revoke").status_code == 403
    link.refresh_from_db()
    assert link.is_usable


# --- cost ---------------------------------------------------------------------------------------------


def test_the_shared_page_costs_one_query_more_than_the_trace_page(traces, django_assert_num_queries):
    """The one more: the link's row, read at every request."""
    path = create_link(signed_in("mia"))
    anonymous = Client()
    with django_assert_num_queries(4):
        anonymous.get(path)
