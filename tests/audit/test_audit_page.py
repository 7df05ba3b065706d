"""The audit log page at /settings/audit: admins only; newest first, 50 a page, filtered by action and
by actor; whatever an actor or target holds is shown as text."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from audit.models import Action, AuditEvent

pytestmark = pytest.mark.django_db


def event(minutes_ago, action, actor, target="", count=None, via="ui", address="192.0.2.7"):
    return AuditEvent.objects.create(at=timezone.now() - timedelta(minutes=minutes_ago), action=action, actor=actor,
                                     target=target, count=count, via=via, address=address)


@pytest.fixture
def history():
    """Three things that happened, besides the admin's own sign-in (which is newer than all of them)."""
    event(30, Action.SIGN_IN_FAILED, "mallory", "mallory", address="203.0.113.9")
    event(20, Action.DELETE_TRACES, "Maria", "0af7651916cd43dd8448eb211c80319c 1bf7651916cd43dd8448eb211c80319d",
          count=2, via="api")
    event(10, Action.DELETE_TRACES, "retention", "…", count=4500, via="retention", address=None)


def cells(html, label):
    return re.findall(rf'<td data-label="{label}"[^>]*>(.*?)</td>', html, re.S)


def test_anonymous_visitors_are_sent_to_sign_in(access_control):
    response = Client().get("/settings/audit")

    assert response.status_code == 302
    assert response["Location"] == "/signin?next=/settings/audit"


@pytest.mark.parametrize("role", ["viewer", "member"])
def test_viewers_and_members_are_refused(signed_in, history, role):
    response = signed_in(role).get("/settings/audit")

    assert response.status_code == 403
    page = response.content.decode()
    assert "Your role may not manage msgtrace" in page
    assert "mallory" not in page and "Maria" not in page


def test_admins_see_who_did_what_newest_first(signed_in, history):
    response = signed_in("admin", "ada").get("/settings/audit")

    assert response.status_code == 200
    page = response.content.decode()
    assert cells(page, "Actor") == ["ada", "retention", "Maria", "mallory"]
    assert cells(page, "Action") == ["Signed in", "Deleted traces", "Deleted traces", "Failed sign-in"]
    assert cells(page, "Count") == ["", "4500", "2", ""]
    assert cells(page, "Via") == ["ui", "retention", "api", "ui"]
    # force_login's sign-in has no request address; retention acts from no address at all
    assert cells(page, "Address") == ["", "", "<code>192.0.2.7</code>", "<code>203.0.113.9</code>"]
    assert "<code>0af7651916cd43dd8448eb211c80319c 1bf7651916cd43dd8448eb211c80319d</code>" in page
    assert "4 events on this page" in page
    assert 'rel="next"' not in page


def test_filters_by_action_and_by_part_of_the_actors_name_in_any_case(signed_in, history):
    admin = signed_in("admin", "ada")

    deletions = admin.get("/settings/audit", {"action": "delete_traces"}).content.decode()
    marias = admin.get("/settings/audit", {"actor": " mAR "}).content.decode()
    both = admin.get("/settings/audit", {"action": "sign_in_failed", "actor": "mar"}).content.decode()

    assert cells(deletions, "Actor") == ["retention", "Maria"]
    assert cells(marias, "Actor") == ["Maria"]
    assert cells(both, "Actor") == []
    assert "No events match" in both
    assert '<option value="sign_in_failed" selected>' in both


def test_an_unknown_action_or_a_forged_cursor_is_explained(signed_in, history):
    admin = signed_in("admin", "ada")

    unknown = admin.get("/settings/audit", {"action": "drop_tables"})
    forged = admin.get("/settings/audit", {"cursor": "bm90IGEgY3Vyc29y"})

    assert unknown.status_code == forged.status_code == 400
    assert "Select a valid choice. drop_tables is not one of the available choices." in unknown.content.decode()
    assert "start again from the newest events" in forged.content.decode()


def test_pages_of_fifty_go_back_in_time_in_a_fixed_number_of_queries(signed_in, django_assert_num_queries):
    admin = signed_in("admin", "ada")
    for n in range(120):
        event(n + 1, Action.SIGN_IN, f"user-{n:03}")

    # the session, its user, one page of events, and the recent searches the top bar's search box offers
    with django_assert_num_queries(4):
        first = admin.get("/settings/audit").content.decode()
    older = re.search(r'href="(/settings/audit\?cursor=[^"]+)"[^>]*rel="next"', first).group(1)
    second = admin.get(older.replace("&amp;", "&")).content.decode()
    older = re.search(r'href="(/settings/audit\?cursor=[^"]+)"[^>]*rel="next"', second).group(1)
    third = admin.get(older.replace("&amp;", "&")).content.decode()

    assert cells(first, "Actor") == ["ada"] + [f"user-{n:03}" for n in range(49)]
    assert cells(second, "Actor") == [f"user-{n:03}" for n in range(49, 99)]
    assert cells(third, "Actor") == [f"user-{n:03}" for n in range(99, 120)]
    assert 'rel="next"' not in third
    assert '<a class="button" href="/settings/audit"' in third  # « Newest
    assert "21 events on this page" in third


def test_paging_keeps_the_filters(signed_in):
    admin = signed_in("admin", "ada")
    for n in range(60):
        event(n + 1, Action.DELETE_TRACES, f"user-{n:03}", count=1)

    first = admin.get("/settings/audit", {"action": "delete_traces"}).content.decode()
    older = re.search(r'href="([^"]+)"[^>]*rel="next"', first).group(1).replace("&amp;", "&")
    second = admin.get(older).content.decode()

    assert older.startswith("/settings/audit?action=delete_traces&cursor=")
    assert cells(second, "Actor") == [f"user-{n:03}" for n in range(50, 60)]


def test_hostile_actors_and_targets_are_shown_as_text(signed_in):
    event(5, Action.SIGN_IN_FAILED, '<img src=x onerror="alert(1)">', "javascript:alert(document.cookie)")
    event(4, Action.SHARE_REVOKED, "</td></tr><script>alert(2)</script>", '"><a href="javascript:alert(3)">x</a>')

    page = signed_in("admin", "ada").get("/settings/audit").content.decode()

    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    assert "&lt;/td&gt;&lt;/tr&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in page
    assert "<code>javascript:alert(document.cookie)</code>" in page
    assert "&quot;&gt;&lt;a href=&quot;javascript:alert(3)&quot;&gt;x&lt;/a&gt;" in page
    assert "<img" not in page and "<script>alert" not in page and 'href="javascript:' not in page


def test_a_long_target_opens_on_demand(signed_in):
    ids = " ".join(f"{n:032x}" for n in range(1, 101)) + " …"
    event(1, Action.DELETE_TRACES, "retention", ids, count=250_000, via="retention")

    page = signed_in("admin", "ada").get("/settings/audit").content.decode()

    summary = re.search(r"<summary><code>(.*?)…</code></summary><code>(.*?)</code>", page)
    assert summary.group(1) == ids[:140]
    assert summary.group(2) == ids


def test_filtering_from_htmx_answers_only_the_events(signed_in, history):
    response = signed_in("admin", "ada").get("/settings/audit", {"action": "", "actor": " maria "},
                                             HTTP_HX_REQUEST="true")

    page = response.content.decode()
    assert response["HX-Push-Url"] == "/settings/audit?actor=maria"  # not the blank action the form sent
    assert page.lstrip().startswith('<section id="events"')
    assert "<html" not in page
    assert cells(page, "Actor") == ["Maria"]


def test_the_settings_page_links_to_the_audit_log_for_admins_only(signed_in):
    assert 'href="/settings/audit"' in signed_in("admin").get("/settings").content.decode()
    assert 'href="/settings/audit"' not in signed_in("member").get("/settings").content.decode()
    assert 'href="/settings/audit"' not in signed_in("viewer").get("/settings").content.decode()
