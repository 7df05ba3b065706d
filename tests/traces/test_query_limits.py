"""What a visitor can type into a search never holds a worker or answers 500: wildcards cost what the
text's length does, a read past MSGTRACE_QUERY_TIMEOUT_SECONDS is stopped and answered 503, and
parameters no database can take (huge offsets, moments past the year 9999, forged cursors, a
thousand terms) are answered 400 or 422 with a message, by the API and by the pages alike."""

import base64
import html
import json
import time
from urllib.parse import urlencode

import pytest
from django.db import connection

from tests import helpers as h
from traces import api as traces_api
from traces.models import Span, Trace
from traces.query import MAX_DEPTH, MAX_TERMS, QuerySyntaxError, parse, span_filter, trace_filter
from traces.query_limits import QueryTimeout, time_limit
from ui.views import traces as list_view

pytestmark = pytest.mark.django_db

BACKTRACKER = '"*a*a*a*a*a*a*a*a*b"'  # against 60 a's, a backtracking matcher tries ~60**8 ways
LISTS = ["/api/v1/traces", "/api/v1/spans", "/api/v1/stats", "/api/v1/traces/export?format=csv", "/traces"]


@pytest.fixture
def store(client):
    # One after another, so that no trace's timing puts it inside another's run.
    h.post(client, h.body(h.span(trace=1, span=1, name="a" * 60, start_ms=0)))
    h.post(client, h.body(h.span(trace=2, span=2, name="a" * 59 + "b", start_ms=20)))
    h.post(client, h.body(h.span(trace=3, span=3, name="100% a_b\\c*d", start_ms=40)))
    return client


def get(client, path, params):
    joined = path + ("&" if "?" in path else "?") + urlencode(params)
    response = client.get(joined)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response.status_code, body.decode()


def cursor(value):
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def slow_read():
    """A statement that runs for seconds on either database."""
    with connection.cursor() as db:
        if connection.vendor == "postgresql":
            db.execute("SELECT pg_sleep(5)")
        else:
            db.execute(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000000) "
                "SELECT count(*) FROM n"
            )
        return db.fetchall()


# --- wildcards -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/traces", "/api/v1/spans", "/traces"])
def test_a_pattern_with_many_stars_answers_at_once(store, path):
    started = time.monotonic()
    status, body = get(store, path, {"q": f"name:{BACKTRACKER}"})

    assert time.monotonic() - started < 2
    assert status == 200
    assert h.trace_id(2).hex() in body and h.trace_id(1).hex() not in body


def test_the_same_pattern_on_attributes_and_free_text_answers_at_once(store):
    started = time.monotonic()
    spans = Span.objects.filter(span_filter(f"attr.x:{BACKTRACKER} OR {BACKTRACKER}"))
    assert [span.name for span in spans] == ["a" * 59 + "b"]
    assert Trace.objects.filter(trace_filter(f"model:{BACKTRACKER} OR {BACKTRACKER}")).count() == 1
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    "query, found",
    [
        ('name:"100%*"', True),  # % and _ are themselves, not LIKE's wildcards
        ('name:"100_*"', False),
        ('name:"*a_b*"', True),
        ('name:"*aXb*"', False),
        ('name:"*b\\\\c*"', True),  # a backslash, escaped inside quotes
        ('name:"*c\\*d"', True),  # an escaped star is a star
        ('name:"*c\\*"', False),
        ('name:"100*A_B*D"', True),  # a star ignores case
        ("name:1*%*_*\\*", True),
    ],
)
def test_wildcard_values_match_percent_underscore_and_backslash_literally(store, query, found):
    assert Span.objects.filter(span_filter(query)).exists() is found


# --- the time limit --------------------------------------------------------------------------


def test_a_read_past_the_limit_is_stopped():
    started = time.monotonic()
    with pytest.raises(QueryTimeout, match="took longer than 0.3 s"):
        with time_limit(0.3):
            slow_read()
    assert time.monotonic() - started < 3


def test_a_read_within_the_limit_is_untouched_and_the_limit_ends_with_the_block(store):
    with time_limit(5):
        assert Trace.objects.count() == 3
    time.sleep(0.05)
    assert Trace.objects.count() == 3


def test_an_error_of_its_own_is_not_called_a_timeout():
    with pytest.raises(Exception) as raised:
        with time_limit(5):
            with connection.cursor() as db:
                db.execute("SELECT * FROM no_such_table")
    assert not isinstance(raised.value, QueryTimeout)


def test_the_api_answers_503_saying_how_to_narrow_the_query(store, monkeypatch, settings):
    settings.MSGTRACE_QUERY_TIMEOUT_SECONDS = 0.3
    monkeypatch.setattr(traces_api, "page", lambda *args: slow_read())

    response = store.get("/api/v1/traces", {"q": "name:a*"})

    assert response.status_code == 503
    assert "took longer than 0.3 s" in response.json()["detail"]
    assert "narrow it" in response.json()["detail"]


# As served, outside a transaction: on PostgreSQL a cancelled statement inside one would abort it, and
# the rest of the page (the saved views beside the list) could not read.
@pytest.mark.django_db(transaction=True)
def test_the_trace_list_answers_503_with_the_message_on_the_page(store, monkeypatch, settings):
    settings.MSGTRACE_QUERY_TIMEOUT_SECONDS = 0.3
    monkeypatch.setattr(list_view, "page", lambda *args: slow_read())

    response = store.get("/traces", {"q": "name:a*"})

    assert response.status_code == 503
    assert "took longer than 0.3 s and was stopped; narrow it" in html.unescape(response.text)
    assert 'value="name:a*"' in response.text  # the form stays, to narrow the query in


# --- parameters no database can take ---------------------------------------------------------


def test_a_query_of_more_than_max_terms_is_a_syntax_error_naming_the_cap():
    trace_filter(" ".join(["x"] * MAX_TERMS))
    with pytest.raises(QuerySyntaxError, match=f"more than {MAX_TERMS} terms") as raised:
        trace_filter(" ".join(["x"] * (MAX_TERMS + 1)))
    assert raised.value.column == 2 * MAX_TERMS + 1


@pytest.mark.parametrize("joiner", [" ", " OR ", " AND NOT "])
@pytest.mark.parametrize("term", ["x", "abc", "name:a*b*c", "model:gpt*4*o", "attr.k:a*b", "attr.k:>5", "span:ab"])
def test_the_most_terms_allowed_run_on_the_database(term, joiner):
    query = joiner.join([term] * MAX_TERMS)
    assert Trace.objects.filter(trace_filter(query)).count() == 0
    assert Span.objects.filter(span_filter(query)).count() == 0


@pytest.mark.parametrize("leaf", ["abc", "model:x*y", "attr.k:a*b", "attr.k:>5", "span:ab"])
@pytest.mark.parametrize("negated", [False, True])
def test_groups_nested_as_deep_as_allowed_run_on_the_database_and_in_statistics(client, leaf, negated):
    # AND and OR alternate, so that no level flattens into the one around it.
    opening = "".join(("-" if negated else "") + (f"({leaf} OR " if level % 2 else f"({leaf} ")
                      for level in range(MAX_DEPTH // (2 if negated else 1)))
    query = opening + leaf + ")" * opening.count("(")
    parse(query)  # exactly as deep as allowed
    with pytest.raises(QuerySyntaxError, match="nests deeper"):
        parse("-(" + query + ")" if negated else "(" + query + ")")

    assert Trace.objects.filter(trace_filter(query)).count() == 0
    assert Span.objects.filter(span_filter(query)).count() == 0
    status, body = get(client, "/api/v1/stats", {"q": query, "window": "all"})
    assert status == 200, body


HOSTILE = [
    ("q", " ".join(["x"] * 1000), "more than 100 terms"),
    ("q", " OR ".join(["model:x"] * 1000), "more than 100 terms"),
    ("start", "1000000d", "is out of range"),
    ("start", "1" * 400 + "d", "is out of range"),
    ("start", "9999-12-31T23:59:59-23:00", "is out of range"),
    ("start", "0001-01-01T00:00:00+23:00", "is out of range"),
    ("end", "1000000d", "is out of range"),
    ("cursor", cursor([5, 1]), "cursor"),  # a number where the newest-first order needs a time
    ("cursor", cursor([{"t": "2026-01-01T00:00:00"}, 1]), "cursor"),  # a time without its offset
    ("cursor", cursor([{"t": "9999-12-31T23:59:59-23:00"}, 1]), "cursor"),
    ("cursor", cursor([{"t": "2026-01-01T00:00:00Z"}, 2**64]), "cursor"),
    ("cursor", cursor([{"t": "2026-01-01T00:00:00Z"}, True]), "cursor"),
    ("cursor", cursor([1, 2, 3]), "cursor"),
    ("cursor", cursor({"a": 1}), "cursor"),
    ("cursor", cursor("x"), "cursor"),
    ("cursor", base64.urlsafe_b64encode(b"[1e400, 1]").decode(), "cursor"),
    ("cursor", base64.urlsafe_b64encode(b"\xff\xfe").decode(), "cursor"),
    ("cursor", "not base64 at all!", "cursor"),
    ("cursor", "ąę", "cursor"),
]


def _takes(path, name):
    if name == "cursor":
        return path in ("/api/v1/traces", "/api/v1/spans", "/traces")
    return not (name == "end" and path == "/traces")


@pytest.mark.parametrize(
    "path, name, value, message",
    [(path, *case) for path in LISTS for case in HOSTILE if _takes(path, case[0])],
    ids=[f"{path}-{case[0]}-{i}" for path in LISTS for i, case in enumerate(HOSTILE) if _takes(path, case[0])],
)
def test_parameters_no_database_can_take_are_explained_not_answered_500(store, path, name, value, message):
    if name == "cursor" and path == "/api/v1/spans" and value == cursor([5, 1]):
        value = cursor([{"t": "2026-01-01T00:00:00Z"}, 1])  # spans page by a number: a time is the wrong type

    status, body = get(store, path, {name: value})

    if path.startswith("/api/"):
        assert status in (400, 422), body
        assert message in json.loads(body)["detail"]
    else:
        assert status == 400
        # The page's form caps the length of its fields first.
        assert message in html.unescape(body) or "Ensure this value has at most" in body


@pytest.mark.parametrize(
    "sort, value",
    [("duration", "2026-01-01"), ("-cost", True), ("spans", 1.5), ("-tokens", 2**63), ("duration", [1])],
)
def test_a_cursor_must_hold_a_value_of_the_type_its_order_reads(store, sort, value):
    forged = cursor([{"t": value} if sort == "duration" and isinstance(value, str) else value, 1])
    status, body = get(store, "/api/v1/traces", {"sort": sort, "cursor": forged})
    assert status == 422 and "cursor" in json.loads(body)["detail"]
    status, body = get(store, "/traces", {"sort": sort, "cursor": forged})
    assert status == 400 and "start again from the first page" in html.unescape(body)


@pytest.mark.parametrize("offset, status", [(2**63, 422), (10**12 + 1, 422), (10**12, 200)])
def test_an_offset_is_capped_far_below_what_sql_overflows_at(store, offset, status):
    response = store.get("/api/v1/traces", {"offset": offset})
    assert response.status_code == status
    if status == 200:
        assert response.json()["traces"] == []


def test_cursors_this_server_hands_out_still_page_every_order(store):
    for sort in ["-start_time", "duration", "-spans", "tokens", "-cost"]:
        first = store.get("/api/v1/traces", {"sort": sort, "limit": 2}).json()
        rest = store.get("/api/v1/traces", {"sort": sort, "limit": 2, "cursor": first["next_cursor"]})
        assert rest.status_code == 200 and len(rest.json()["traces"]) == 1
    first = store.get("/api/v1/spans", {"limit": 2}).json()
    assert len(store.get("/api/v1/spans", {"limit": 2, "cursor": first["next_cursor"]}).json()["spans"]) == 1


@pytest.mark.parametrize("name, value", [("min_duration_ms", "inf"), ("min_duration_ms", "1e400"),
                                         ("max_duration_ms", "nan")])
def test_durations_that_are_not_finite_numbers_are_refused_or_match_nothing(store, name, value):
    status, _ = get(store, "/api/v1/traces", {name: value})
    assert status in (200, 422)
    status, _ = get(store, "/traces", {name: value})
    assert status in (200, 400)


def test_the_dashboard_ignores_parameters_it_does_not_take(store):
    for name, value, _ in HOSTILE:
        assert store.get("/", {name: value, "window": "7d"}).status_code == 200


def test_the_dashboard_answers_503_in_plain_text_when_its_figures_take_too_long(store, monkeypatch, settings):
    from ui.views import dashboard

    settings.MSGTRACE_QUERY_TIMEOUT_SECONDS = 0.3
    monkeypatch.setattr(dashboard.trace_stats, "summarize", lambda *args: slow_read())

    response = store.get("/", {"window": "all"})

    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/plain")
    assert "took longer than 0.3 s" in response.text and "pick a shorter window" in response.text
