"""Saved views of the trace list: saving one from the list's sidebar or the API, applying it, renaming,
sharing and deleting it, who sees and changes which view, and what a view refuses to store."""

import html
import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.models import ApiKey
from accounts.roles import Role, assign_role
from saved_views.models import SavedView
from tests import helpers as h

pytestmark = pytest.mark.django_db
User = get_user_model()
JSON = "application/json"


def signed_in(name, role=Role.MEMBER):
    user = User.objects.create_user(name, password="a long passphrase 1")
    assign_role(user, role)
    client = Client()
    client.force_login(user)
    client.user = user
    return client


def with_key(*scopes):
    _, secret = ApiKey.objects.issue("tests", scopes)
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


def listed(response):
    """The fixture's traces the list shows, as small integers, in page order."""
    assert response.status_code == 200, response.content[:2000]
    return [int(trace_id, 16) for trace_id in re.findall(r'<tr id="trace-([0-9a-f]{32})"', response.text)]


def sidebar(response):
    match = re.search(r'<details class="saved-views".*?</details>\s*<form id="filters"', response.text, re.S)
    assert match, "no saved views sidebar"
    return match.group(0)


def section(response, title):
    """The names linked under one heading of the sidebar ("My views" or "Shared views")."""
    part = sidebar(response).split(f"<h2>{title}</h2>")[1].split("</ul>")[0]
    return [html.unescape(name) for name in re.findall(r'class="view-link"[^>]*>([^<]*)</a>', part)]


def create(client, name, params=None, shared=False):
    return client.post("/api/v1/views", {"name": name, "params": params or {}, "shared": shared}, content_type=JSON)


@pytest.fixture
def members(client, access_control):
    h.post_five_traces(client)
    return signed_in("ann"), signed_in("ben")


# --- saving and applying ---------------------------------------------------------------------------


def test_saving_the_list_stores_its_normalized_filters_and_opens_the_view(members):
    ann, _ = members
    here = "/traces?q=+model:gpt-4o*+&service=+api+&min_duration_ms=100.0&sort=-start_time&group=trace&cursor=abc"

    response = ann.post("/traces/views", {"name": "  Slow   API calls ", "list": here})

    view = SavedView.objects.get()
    assert (view.name, view.owner, view.shared) == ("Slow API calls", ann.user, False)
    # Stripped, the default sort and the page left out, numbers as the list's URL spells them.
    assert view.params == {"q": "model:gpt-4o*", "service": "api", "min_duration_ms": "100", "group": "trace"}
    assert response.status_code == 302 and response.url == view.url
    assert view.url == "/traces?q=model%3Agpt-4o%2A&service=api&min_duration_ms=100&group=trace"


def test_applying_a_view_shows_exactly_its_filters(members):
    ann, _ = members
    view_url = create(ann, "support on api", {"service": "api", "workflow": "support", "sort": "duration"}).json()["url"]

    response = ann.get(view_url)

    assert listed(response) == [2, 5, 1]  # the api service's support traces, shortest first
    assert 'name="service" value="api"' in response.text and 'name="workflow" value="support"' in response.text
    assert section(response, "My views") == ["support on api"]
    assert listed(ann.get("/traces")) == [5, 4, 3, 2, 1]


def test_the_save_form_saves_the_list_it_is_on(members):
    ann, _ = members
    response = ann.get("/traces?status=error&group=trace", HTTP_HX_REQUEST="true")

    # The list's fragment, re-rendered on every filter change, carries the URL the sidebar's form saves.
    assert '<input type="hidden" name="list" value="/traces?status=error&amp;group=trace" form="save-view">' in response.text
    assert 'id="save-view"' in ann.get("/traces").text


def test_views_are_listed_by_name_in_the_api(members):
    ann, ben = members
    create(ann, "b mine", {"status": "error"})
    create(ben, "a shared by ben", {"model": "gpt-4o"}, shared=True)

    views = ann.get("/api/v1/views").json()

    assert [(v["name"], v["owner"], v["shared"], v["params"]) for v in views] == [
        ("a shared by ben", "ben", True, {"model": "gpt-4o"}),
        ("b mine", "ann", False, {"status": "error"}),
    ]
    assert views[1]["url"] == "/traces?status=error"


# --- private and shared ------------------------------------------------------------------------------


def test_a_private_view_is_invisible_to_everyone_else(members):
    ann, ben = members
    view_id = create(ann, "ann's secret", {"q": "error:true"}).json()["id"]
    admin = signed_in("ada", Role.ADMIN)

    for other in (ben, admin, with_key("read", "write")):
        assert other.get("/api/v1/views").json() == []
        assert other.patch(f"/api/v1/views/{view_id}", {"name": "x"}, content_type=JSON).status_code == 404
        assert other.delete(f"/api/v1/views/{view_id}").status_code == 404
    assert "ann&#x27;s secret" not in ben.get("/traces").text
    assert SavedView.objects.get().name == "ann's secret"


def test_a_shared_view_is_offered_to_the_team(members):
    ann, ben = members
    create(ann, "errors", {"status": "error"}, shared=True)
    viewer = signed_in("vic", Role.VIEWER)

    assert section(ben.get("/traces"), "Shared views") == ["errors"]
    assert section(ann.get("/traces"), "My views") == ["errors"]
    assert section(viewer.get("/traces"), "Shared views") == ["errors"]
    assert [v["name"] for v in with_key("read").get("/api/v1/views").json()] == ["errors"]


def test_sharing_and_unsharing_a_view(members):
    ann, ben = members
    view_id = create(ann, "errors", {"status": "error"}).json()["id"]

    changed = ann.patch(f"/api/v1/views/{view_id}", {"shared": True}, content_type=JSON)
    assert changed.status_code == 200 and changed.json()["shared"] is True
    assert [v["name"] for v in ben.get("/api/v1/views").json()] == ["errors"]
    ann.patch(f"/api/v1/views/{view_id}", {"shared": False}, content_type=JSON)
    assert ben.get("/api/v1/views").json() == []


# --- renaming and deleting ---------------------------------------------------------------------------


def test_the_owner_renames_and_deletes_a_view_from_the_sidebar(members):
    ann, _ = members
    view = SavedView.objects.create(name="old", owner=ann.user, params={"status": "error"})

    renamed = ann.post(f"/traces/views/{view.pk}/rename", {"name": "Errors only", "next": "/traces?model=gpt-4o"})
    assert renamed.status_code == 302 and renamed.url == "/traces?model=gpt-4o"
    assert section(ann.get("/traces"), "My views") == ["Errors only"]

    deleted = ann.post(f"/traces/views/{view.pk}/delete", {"next": "https://elsewhere.example/"})
    assert deleted.status_code == 302 and deleted.url == "/traces"  # never sent off-site
    assert not SavedView.objects.exists()


def test_renaming_and_deleting_through_the_api(members):
    ann, _ = members
    view_id = create(ann, "old", {"status": "error"}).json()["id"]

    renamed = ann.patch(f"/api/v1/views/{view_id}", {"name": "new"}, content_type=JSON)
    assert renamed.status_code == 200 and renamed.json()["name"] == "new"
    assert ann.delete(f"/api/v1/views/{view_id}").status_code == 204
    assert ann.get("/api/v1/views").json() == []


def test_only_the_owner_or_an_admin_changes_a_shared_view(members):
    ann, ben = members
    view_id = create(ann, "errors", {"status": "error"}, shared=True).json()["id"]
    admin = signed_in("ada", Role.ADMIN)

    refused = ben.patch(f"/api/v1/views/{view_id}", {"name": "mine now"}, content_type=JSON)
    assert refused.status_code == 403 and "owner or an admin" in refused.json()["detail"]
    assert ben.delete(f"/api/v1/views/{view_id}").status_code == 403
    assert ben.post(f"/traces/views/{view_id}/delete").status_code == 403
    assert 'class="view-actions"' not in sidebar(ben.get("/traces"))  # no rename or delete offered
    assert admin.patch(f"/api/v1/views/{view_id}", {"name": "Errors"}, content_type=JSON).json()["name"] == "Errors"
    assert admin.delete(f"/api/v1/views/{view_id}").status_code == 204


# --- roles and API keys ----------------------------------------------------------------------------------


def test_viewers_use_shared_views_but_save_none(members):
    viewer = signed_in("vic", Role.VIEWER)

    assert viewer.post("/traces/views", {"name": "x", "list": "/traces"}).status_code == 403
    assert create(viewer, "x").status_code == 403
    page = viewer.get("/traces")
    assert 'id="save-view"' not in page.text and "Members save views" in sidebar(page)
    assert not SavedView.objects.exists()


def test_anonymous_callers_are_refused(members):
    anonymous = Client()
    assert anonymous.get("/api/v1/views").status_code == 401
    assert anonymous.post("/traces/views", {"name": "x", "list": "/traces"}).status_code == 302  # to the sign-in page
    assert not SavedView.objects.exists()


def test_an_api_key_lists_shared_views_and_saves_only_with_the_write_scope(members):
    ann, _ = members
    create(ann, "private", {"status": "ok"})
    reader, writer = with_key("read"), with_key("read", "write")

    assert create(reader, "nope").status_code == 403
    saved = create(writer, "from CI", {"service": "web"})
    assert saved.status_code == 201
    assert (saved.json()["owner"], saved.json()["shared"]) == (None, True)  # a key owns nothing: the team does
    assert [v["name"] for v in reader.get("/api/v1/views").json()] == ["from CI"]
    unshare = writer.patch(f"/api/v1/views/{saved.json()['id']}", {"shared": False}, content_type=JSON)
    assert unshare.status_code == 422 and "always shared" in unshare.json()["detail"]
    assert reader.delete(f"/api/v1/views/{saved.json()['id']}").status_code == 403
    assert writer.delete(f"/api/v1/views/{saved.json()['id']}").status_code == 204


def test_without_access_control_views_have_no_owner_and_are_shared(client):
    h.post_five_traces(client)

    client.post("/traces/views", {"name": "everyone's", "list": "/traces?status=error"})

    view = SavedView.objects.get()
    assert (view.owner, view.shared) == (None, True)
    page = client.get("/traces")
    assert "Access control is off: views are saved without an owner and shared with everyone." in sidebar(page)
    assert section(page, "Shared views") == ["everyone's"]
    assert "<h2>My views</h2>" not in sidebar(page)


# --- what a view refuses -------------------------------------------------------------------------------


def test_a_hostile_name_is_shown_as_text(members):
    ann, _ = members
    create(ann, '<img src=x onerror=alert(1)>"', {"status": "error"})

    page = ann.get("/traces")

    assert "<img src=x" not in page.text
    assert '&lt;img src=x onerror=alert(1)&gt;&quot;' in sidebar(page)


@pytest.mark.parametrize("params, message", [
    ({"q": "duration:>>2s"}, "q: "),
    ({"min_duration_ms": "fast"}, "min_duration_ms: Enter a number."),
    ({"min_duration_ms": 10, "max_duration_ms": 5}, "max_duration_ms: must not be less than the minimum"),
    ({"start": "last tuesday"}, "start: "),
    ({"sort": "name"}, "sort: Select a valid choice."),
    ({"cursor": "abc"}, "unknown parameter: cursor"),
])
def test_invalid_parameters_are_refused_with_a_message(members, params, message):
    ann, _ = members

    response = create(ann, "bad", params)

    assert response.status_code == 422 and message in response.json()["detail"]
    assert not SavedView.objects.exists()


def test_a_blank_name_or_an_unreadable_list_is_refused(members):
    ann, _ = members

    assert create(ann, "   ").status_code == 422
    assert create(ann, "x" * 101).status_code == 422
    refused = ann.post("/traces/views", {"name": "bad", "list": "/traces?q=duration:>>2s"})
    assert refused.status_code == 400 and "The view was not saved" in refused.text and "q: " in refused.text
    assert ann.post("/traces/views", {"name": " ", "list": "/traces"}).status_code == 400
    assert not SavedView.objects.exists()
