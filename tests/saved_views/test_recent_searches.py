"""Recent searches: each distinct query a signed-in user runs on the trace list, newest first, the last 20
kept, offered by both search boxes through a <datalist>."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.roles import Role, assign_role
from saved_views.models import RecentSearch

pytestmark = pytest.mark.django_db
User = get_user_model()


def signed_in(name, role=Role.VIEWER):
    user = User.objects.create_user(name, password="a long passphrase 1")
    assign_role(user, role)
    client = Client()
    client.force_login(user)
    client.user = user
    return client


def offered(response):
    """The searches the page's <datalist id="recent-searches"> offers, in order."""
    match = re.search(r'<datalist id="recent-searches">(.*?)</datalist>', response.text, re.S)
    assert match, "no recent searches on the page"
    return re.findall(r'<option value="([^"]*)">', match.group(1))


@pytest.fixture
def vic(access_control):
    return signed_in("vic")


def test_the_newest_20_distinct_searches_are_kept_newest_first(vic):
    for n in range(25):
        vic.get("/traces", {"q": f"name:step-{n}"})
    vic.get("/traces", {"q": "  name:step-7 "})  # run again: it moves to the top, once

    kept = list(RecentSearch.objects.of(vic.user).values_list("q", flat=True))

    assert len(kept) == 20
    assert kept[:3] == ["name:step-7", "name:step-24", "name:step-23"]
    assert kept[-1] == "name:step-5"  # step-0 to step-4 were dropped; step-7 was already among the 20
    assert RecentSearch.objects.filter(q="name:step-7").count() == 1


def test_both_search_boxes_offer_the_history(vic):
    vic.get("/traces", {"q": "error:true"})
    vic.get("/traces", {"q": "model:gpt-4o*", "cursor": ""})

    page = vic.get("/traces")

    assert offered(page) == ["model:gpt-4o*", "error:true"]
    assert page.text.count('list="recent-searches"') == 2  # the list's search box and the top bar's
    assert offered(vic.get("/")) == ["model:gpt-4o*", "error:true"]


def test_blank_unreadable_and_anonymous_searches_are_not_recorded(vic, settings):
    vic.get("/traces", {"q": "   "})
    vic.get("/traces", {"q": "duration:>>2s"})  # refused with 400: never run
    vic.get("/traces", {"status": "error"})
    settings.MSGTRACE_AUTH = False
    Client().get("/traces", {"q": "error:true"})  # no user to remember it for

    assert not RecentSearch.objects.exists()
    assert offered(vic.get("/traces")) == []


def test_each_user_sees_only_their_own_searches(vic):
    other = signed_in("ola")
    vic.get("/traces", {"q": "error:true"})
    other.get("/traces", {"q": 'name:"<b>bold</b>"'})

    assert offered(vic.get("/traces")) == ["error:true"]
    assert offered(other.get("/traces")) == ["name:&quot;&lt;b&gt;bold&lt;/b&gt;&quot;"]  # text, never markup
