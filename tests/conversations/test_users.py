"""Users: /users and /users/<id>, GET /api/v1/users and /api/v1/users/{id}: each user's sessions, usage and
cost by day, and their latest errors."""

import html
import re
from datetime import datetime, timezone

import pytest

from tests.conversations.conversation import post_conversations
from tests.helpers import tid

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversations(client):
    return post_conversations(client)


def api(client, path, status=200, **params):
    response = client.get("/api/v1" + path, params)
    assert response.status_code == status, response.content[:1000]
    return response.json()


def listed(response):
    assert response.status_code == 200, response.content[:1000]
    return [html.unescape(value) for value in re.findall(r'<tr data-user="([^"]*)"', response.text)]


def test_a_users_totals_sessions_and_latest_errors(client, conversations):
    alice = api(client, "/users/alice")

    assert (alice["user_id"], alice["session_count"], alice["trace_count"], alice["tokens"], alice["errors"]) == (
        "alice", 1, 4, 39, 2)
    assert alice["failed_traces"] == 2 and round(alice["cost"], 6) == 0.008
    assert [(s["session_id"], s["turn_count"], s["trace_count"]) for s in alice["sessions"]] == [("chat-1", 3, 3)]
    assert [(e["trace_id"], e["message"], e["session_id"]) for e in alice["latest_errors"]] == [
        (tid(17), "quota exceeded", ""), (tid(12), "tool timed out", "chat-1")]


def test_usage_by_day_over_thirty_days(client, conversations):
    usage = api(client, "/users/alice")["usage"]

    assert len(usage) == 30
    assert usage[-1]["day"] == datetime.now(timezone.utc).date().isoformat()
    assert sum(day["traces"] for day in usage) == 4
    assert sum(day["tokens"] for day in usage) == 39
    assert round(sum(day["cost"] for day in usage), 6) == 0.008
    assert sum(day["failed_traces"] for day in usage) == 2


def test_the_page_shows_sessions_the_cost_chart_and_errors(client, conversations):
    response = client.get("/users/alice")

    assert response.status_code == 200
    text = response.text
    for total, value in (("sessions", "1"), ("traces", "4"), ("tokens", "39"), ("cost", "$0.0080"), ("errors", "2")):
        assert f'data-total="{total}">{value}<' in text, total
    assert 'href="/sessions/chat-1">chat-1<' in text
    assert text.count('<g class="usage-day') == 30 and text.count("<rect ") == 1  # one day with cost
    assert "quota exceeded" in text and f'href="/traces/{tid(17)}"' in text


def test_the_list_of_users_sorted_and_searched(client, conversations):
    assert [u["user_id"] for u in api(client, "/users")["users"]] == ["alice", "carol", "bob"]
    assert [u["user_id"] for u in api(client, "/users", sort="cost")["users"]] == ["bob", "alice", "carol"]
    assert [u["user_id"] for u in api(client, "/users", sort="traces")["users"]] == ["alice", "carol", "bob"]
    carol = api(client, "/users", q="CAR")["users"]
    assert [(u["user_id"], u["session_count"], u["trace_count"], u["tokens"]) for u in carol] == [("carol", 1, 2, 100)]
    assert listed(client.get("/users", {"sort": "errors"})) == ["alice", "bob", "carol"]


def test_an_unknown_user_is_not_found(client, conversations):
    assert client.get("/users/nobody").status_code == 404
    assert api(client, "/users/nobody", status=404) == {"detail": "no trace belongs to user 'nobody'"}


def test_the_pages_cost_a_fixed_number_of_queries(client, conversations, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert client.get("/users").status_code == 200
    with django_assert_num_queries(5):
        assert client.get("/users/alice").status_code == 200
    with django_assert_num_queries(5):
        assert client.get("/api/v1/users/bob").status_code == 200
