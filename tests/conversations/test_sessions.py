"""Sessions: /sessions and /sessions/<id>, GET /api/v1/sessions and /api/v1/sessions/{id}. A session reads
as a conversation, one turn per run in time order, with the user's message, the assistant's answer and the
turn's figures; the list aggregates in the database, sorts, searches and pages."""

import html
import re
from urllib.parse import quote

import pytest

from conversations import listing, turns
from tests.conversations.conversation import post_conversations
from tests.helpers import ago, body, post, span, tid
from traces.models import Trace

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
    return [html.unescape(value) for value in re.findall(r'<tr data-session="([^"]*)"', response.text)]


def turn_html(text, number):
    start = text.index(f'id="turn-{number}"')
    end = text.find('<li class="turn', start)
    return text[start:end if end != -1 else text.index("</ol>", start)]


# --- a session as a conversation ----------------------------------------------------------------


def test_the_turns_in_time_order_with_each_message_and_answer(client, conversations):
    session = api(client, "/sessions/chat-1")

    assert [(t["number"], t["trace_id"], t["user_message"], t["answer"]) for t in session["turns"]] == [
        (1, tid(11), "What is 2+2?", "4"),  # GenAI messages: the last user message, not the system one
        (2, tid(12), "And 3+3?", "6"),  # OpenInference: the last user message of the conversation so far
        (3, tid(13), "Bye", "Goodbye!"),  # no model call: the root's input.value and output.value
    ]


def test_each_turn_has_its_latency_tokens_cost_and_errors(client, conversations):
    session = api(client, "/sessions/chat-1")

    figures = [(t["duration_ms"], t["tokens"], round(t["cost"], 6), t["errors"], t["error_message"])
               for t in session["turns"]]
    assert figures == [(120.0, 15, 0.003, 0, ""), (300.0, 24, 0.005, 1, "tool timed out"), (40.0, 0, 0.0, 0, "")]


def test_the_session_totals(client, conversations):
    session = api(client, "/sessions/chat-1")

    assert (session["session_id"], session["user_id"], session["turn_count"], session["trace_count"]) == (
        "chat-1", "alice", 3, 3)
    assert (session["tokens"], round(session["cost"], 6), session["errors"], session["failed_traces"]) == (
        39, 0.008, 1, 1)
    assert session["duration_ms"] == 120_040.0  # the first turn's start to the last turn's end


def test_a_run_of_stitched_traces_is_one_turn(client, conversations):
    """msgtrace-sdk sends each span as a trace of its own: the agent and its model call are one run."""
    assert Trace.objects.get(trace_id=tid(16)).run_link == "stitched"
    session = api(client, "/sessions/chat-3")

    assert (session["turn_count"], session["trace_count"], session["tokens"]) == (1, 2, 100)
    (turn,) = session["turns"]
    assert (turn["trace_id"], turn["trace_ids"]) == (tid(15), [tid(15), tid(16)])
    assert (turn["user_message"], turn["answer"]) == ("Plan my trip", "Day 1: Lisbon.")
    assert (turn["duration_ms"], turn["tokens"], round(turn["cost"], 6)) == (1000.0, 100, 0.0005)


def test_the_page_shows_the_conversation_and_links_each_turn_to_its_trace(client, conversations):
    response = client.get("/sessions/chat-1")

    assert response.status_code == 200
    text = response.text
    for total, value in (("turns", "3"), ("traces", "3"), ("tokens", "39"), ("cost", "$0.0080"), ("errors", "1")):
        assert f'data-total="{total}">{value}<' in text, total
    assert 'href="/users/alice">alice<' in text
    first, second, third = (turn_html(text, n) for n in (1, 2, 3))
    assert "What is 2+2?" in first and '<div class="msg-text">4</div>' in first
    assert f'href="/traces/{tid(11)}"' in first and "120 ms" in first and "$0.0030" in first
    assert "And 3+3?" in second and "tool timed out" in second and '<li class="turn is-error" id="turn-2"' in text
    assert "Bye" in third and "Goodbye!" in third
    assert text.index('id="turn-1"') < text.index('id="turn-2"') < text.index('id="turn-3"')


def test_messages_are_text_never_markup_and_long_ones_fold(client):
    hostile = "<script>alert(1)</script>"
    long_answer = "word " * 2000
    post(client, body(span(trace=21, span=1, start_ms=ago(5), attributes={
        "session.id": "s-hostile", "input.value": hostile, "output.value": long_answer})))

    text = client.get("/sessions/s-hostile").text

    assert hostile not in text and html.escape(hostile) in text
    assert '<details class="fold">' in text and "10,000 characters" in text


def test_turns_beyond_a_page_are_on_the_next(client, monkeypatch):
    monkeypatch.setattr(turns, "TURNS_PER_PAGE", 2)
    for n in range(5):
        post(client, body(span(trace=30 + n, span=1, start_ms=ago(50 - n), attributes={
            "session.id": "long", "input.value": f"question {n}"})))

    first = api(client, "/sessions/long")
    third = api(client, "/sessions/long", page=3)

    assert [t["user_message"] for t in first["turns"]] == ["question 0", "question 1"]
    assert first["next_page"] == 2
    assert [(t["number"], t["user_message"]) for t in third["turns"]] == [(5, "question 4")]
    assert third["next_page"] is None and third["turn_count"] == 5
    page = client.get("/sessions/long?page=2").text
    assert 'href="?page=1"' in page and 'href="?page=3"' in page and "Turns 3–4 of 5" in page


def test_an_unknown_session_is_not_found(client, conversations):
    assert client.get("/sessions/nope").status_code == 404
    assert api(client, "/sessions/nope", status=404) == {"detail": "no trace belongs to session 'nope'"}
    assert client.get("/sessions/chat-1?page=0").status_code == 400


@pytest.mark.parametrize("session_id", ["a/b c", "<b>x</b>&y=1", "100%?#frag", "ünï ☃", "line\nbreak"])
def test_any_id_is_reachable_url_encoded_and_stays_text(client, session_id):
    post(client, body(span(trace=40, span=1, start_ms=ago(5), attributes={
        "session.id": session_id, "user.id": session_id, "input.value": "hello"})))

    encoded = quote(session_id, safe="")
    assert api(client, f"/sessions/{encoded}")["session_id"] == session_id
    assert api(client, f"/users/{encoded}")["user_id"] == session_id
    page = client.get(f"/sessions/{encoded}")
    assert page.status_code == 200 and f"<code class=\"conv-title-id\">{html.escape(session_id)}</code>" in page.text
    assert client.get(f"/users/{encoded}").status_code == 200
    listing_page = client.get("/sessions")
    assert listed(listing_page) == [session_id]
    href = re.search(r'<td class="conv-id" data-label="Session"><a href="([^"]+)"', listing_page.text).group(1)
    assert client.get(html.unescape(href)).status_code == 200


def test_the_page_costs_five_queries_whatever_the_session(client, conversations, django_assert_num_queries):
    with django_assert_num_queries(5):
        assert client.get("/sessions/chat-1").status_code == 200
    with django_assert_num_queries(5):
        assert client.get("/api/v1/sessions/chat-3").status_code == 200
    with django_assert_num_queries(1):
        assert client.get("/sessions/nope").status_code == 404


# --- the list ---------------------------------------------------------------------------------


def test_the_list_with_each_sessions_figures_latest_first(client, conversations):
    sessions = api(client, "/sessions")["sessions"]

    assert [s["session_id"] for s in sessions] == ["chat-3", "chat-2", "chat-1"]
    chat_1 = sessions[2]
    assert (chat_1["user_id"], chat_1["turn_count"], chat_1["trace_count"], chat_1["tokens"], chat_1["errors"]) == (
        "alice", 3, 3, 39, 1)
    assert round(chat_1["cost"], 6) == 0.008
    assert chat_1["last_at"] > chat_1["first_at"]


@pytest.mark.parametrize(("sort", "order"), [
    ("latest", ["chat-3", "chat-2", "chat-1"]),
    ("traces", ["chat-1", "chat-3", "chat-2"]),
    ("cost", ["chat-2", "chat-1", "chat-3"]),
    ("tokens", ["chat-2", "chat-3", "chat-1"]),
    ("errors", ["chat-1", "chat-2", "chat-3"]),  # ties by id
])
def test_the_list_sorts(client, conversations, sort, order):
    assert [s["session_id"] for s in api(client, "/sessions", sort=sort)["sessions"]] == order
    assert listed(client.get("/sessions", {"sort": sort})) == order


def test_the_list_searches_a_part_of_the_id(client, conversations):
    assert [s["session_id"] for s in api(client, "/sessions", q="AT-2")["sessions"]] == ["chat-2"]
    assert listed(client.get("/sessions", {"q": "t-1"})) == ["chat-1"]
    assert api(client, "/sessions", q="zzz")["sessions"] == []
    assert api(client, "/sessions", q="chat\x00")["sessions"] == []  # NUL, which ingest stores as U+FFFD
    assert client.get("/sessions", {"q": "chat\x00"}).status_code == 400


def test_the_list_counts_only_the_windows_traces(client, conversations):
    post(client, body(span(trace=50, span=1, start_ms=ago(3 * 24 * 60), attributes={"session.id": "old"})))

    assert "old" not in [s["session_id"] for s in api(client, "/sessions")["sessions"]]
    assert "old" in [s["session_id"] for s in api(client, "/sessions", window="7d")["sessions"]]
    assert listed(client.get("/sessions", {"window": "7d", "q": "old"})) == ["old"]


def test_the_list_pages(client, conversations, monkeypatch):
    monkeypatch.setattr(listing, "PAGE_SIZE", 2)
    monkeypatch.setattr(listing.paged, "__defaults__", (2,))

    first, second = api(client, "/sessions"), api(client, "/sessions", page=2)

    assert ([s["session_id"] for s in first["sessions"]], first["next_page"]) == (["chat-3", "chat-2"], 2)
    assert ([s["session_id"] for s in second["sessions"]], second["next_page"]) == (["chat-1"], None)
    assert 'href="/sessions?page=2"' in client.get("/sessions").text


def test_the_list_refuses_unknown_parameters(client):
    assert api(client, "/sessions", status=422, sort="name")["detail"].startswith("sort")
    assert client.get("/sessions", {"sort": "name"}).status_code == 400
    assert client.get("/sessions", {"window": "2y"}).status_code == 400


def test_an_htmx_request_gets_the_results_alone(client, conversations):
    response = client.get("/sessions", {"sort": "cost"}, HTTP_HX_REQUEST="true")

    assert response.text.lstrip().startswith('<section id="results"')
    assert listed(response) == ["chat-2", "chat-1", "chat-3"]


def test_the_list_costs_one_query(client, conversations, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert client.get("/sessions").status_code == 200
    with django_assert_num_queries(1):
        assert client.get("/api/v1/sessions", {"sort": "cost", "q": "chat"}).status_code == 200


def test_the_navigation_links_to_sessions_and_users(client):
    text = client.get("/sessions").text
    assert '<a href="/sessions" aria-current="page">Sessions</a>' in text
    assert '<a href="/users" >Users</a>' in text


def test_the_trace_page_and_the_trace_list_link_to_the_session_and_the_user(client, conversations):
    trace_page = client.get(f"/traces/{tid(12)}").text
    assert '<a class="conv-link" href="/sessions/chat-1">conversation</a>' in trace_page
    assert '<a class="conv-link" href="/users/alice">user page</a>' in trace_page

    row = re.search(rf'<tr id="trace-{tid(12)}".*?</tr>', client.get("/traces").text, re.S).group(0)
    assert 'href="/sessions/chat-1"' in row and 'href="/users/alice"' in row
    lone = re.search(rf'<tr id="trace-{tid(17)}".*?</tr>', client.get("/traces").text, re.S).group(0)
    assert "/sessions/" not in lone and 'href="/users/alice"' in lone


def test_the_sort_links_and_the_search_keep_the_other_choices(client, conversations):
    text = client.get("/sessions", {"sort": "cost", "window": "7d", "q": "chat"}, HTTP_HX_REQUEST="true").text

    assert '<a href="/sessions?q=chat&amp;sort=cost&amp;window=7d" hx-get="/sessions?q=chat&amp;sort=cost&amp;window=7d" aria-current="true">Cost</a>' in text
    assert 'href="/sessions?q=chat&amp;window=7d" hx-get="/sessions?q=chat&amp;window=7d" >Latest</a>' in text
    assert '<input type="hidden" name="sort" value="cost">' in text
    assert '<input type="hidden" name="window" value="7d">' in text


# As served, outside a transaction: on PostgreSQL a cancelled statement inside one would abort it.
@pytest.mark.django_db(transaction=True)
def test_a_list_that_reads_too_long_is_answered_503_saying_how_to_narrow_it(client, monkeypatch, settings):
    from tests.traces.test_query_limits import slow_read

    settings.MSGTRACE_QUERY_TIMEOUT_SECONDS = 0.3
    monkeypatch.setattr(listing, "paged", lambda *args: slow_read())

    page = client.get("/sessions", {"window": "all"})
    answer = client.get("/api/v1/users", {"window": "all"})

    assert page.status_code == 503 and "took longer than 0.3 s and was stopped" in html.unescape(page.text)
    assert answer.status_code == 503 and "narrow it" in answer.json()["detail"]
