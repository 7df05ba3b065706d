"""The trace list at /traces: filters, sorting, cursor pages, the query language's errors, the live
"new traces" notice, deleting a trace, and what it costs in queries."""

import html
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from tests import helpers as h
from tests.helpers import ago, tid
from traces.models import Span, SpanEvent, Trace
from ui.views import traces as list_view

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def listed(response, status=200):
    """The traces the page shows, as the small integers the fixture gave them, in page order."""
    assert response.status_code == status, response.content[:2000]
    return [int(trace_id, 16) for trace_id in re.findall(r'<tr id="trace-([0-9a-f]{32})"', response.text)]


def row(response, n):
    match = re.search(rf'<tr id="trace-{tid(n)}".*?</tr>', response.text, re.S)
    assert match, f"trace {n} is not on the page"
    return match.group(0)


def link(response, rel):
    """The href of the pager link with this rel (or class text), unescaped."""
    match = re.search(rf'<a class="button" href="([^"]+)"[^>]*>[^<]*{rel}', response.text)
    return html.unescape(match.group(1)) if match else None


# --- the table -------------------------------------------------------------------------------


def test_every_trace_newest_first_with_its_figures(client, five_traces):
    response = client.get("/traces")

    assert listed(response) == [5, 4, 3, 2, 1]
    research = row(response, 3)
    for text in ("research flow", ">web<", "12.00 s", ">3<", "2,610", "$0.0039", "claude-3-5-haiku", "gpt-4o"):
        assert text in research, text
    assert 'data-nav-item' in research and f'href="/traces/{tid(3)}" data-nav-open' in research
    assert 'class="badge error">1<' in row(response, 2)  # the failed model call
    assert '<tbody data-nav-list>' in response.text
    assert 'id="search"' in response.text and 'name="q"' in response.text
    assert 'aria-current="page">Traces<' in response.text


def test_duration_bars_are_relative_to_the_slowest_trace_on_the_page(client, five_traces):
    response = client.get("/traces")

    assert 'style="width: 100.0%"' in row(response, 3)  # 12 s, the slowest
    assert 'style="width: 6.7%"' in row(response, 5)  # 800 ms of 12 s
    assert 'style="width: 100.0%"' in row(client.get("/traces?service=api"), 1)  # 3 s is the slowest of api


def test_each_cell_is_labelled_for_the_phone_layout(client, five_traces):
    cells = re.findall(r'<td class="col-(\w+)[^"]*" data-label="([^"]+)"', row(client.get("/traces"), 3))
    assert [label for _, label in cells] == ["Started", "Trace", "Service", "Duration", "Spans", "Errors", "Tokens",
                                             "Cost", "Models"]


def test_start_times_are_moments_the_browser_renders(client, five_traces):
    oldest = row(client.get("/traces"), 1)
    assert '<time datetime="' in oldest and 'data-moment="relative"' in oldest


def test_a_trace_whose_root_has_not_arrived_says_so(client):
    h.post(client, h.body(h.span(trace=9, span=2, parent=1, name="child first", start_ms=ago(0))))
    assert "root pending" in row(client.get("/traces"), 9)


# --- filters ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query, expected",
    [
        ("q=error:true", [4, 2]),
        ("q=duration:>1s AND service:web", [3]),
        ("q=model:gpt-4o*", [5, 3, 2, 1]),
        ("status=error", [4, 2]),
        ("status=ok", [5, 3, 1]),
        ("service=web", [4, 3]),
        ("workflow=support", [5, 2, 1]),
        ("model=gpt-4o", [3, 1]),
        ("min_duration_ms=600", [5, 3, 1]),
        ("max_duration_ms=600", [4, 2]),
        ("min_duration_ms=600&max_duration_ms=5000", [5, 1]),
        ("start=1h", [5, 4, 3]),
        ("start=15m", [5, 4]),
        ("start=7d", [5, 4, 3, 2, 1]),
        ("service=api&status=error", [2]),
        ("q=&status=&service=&min_duration_ms=", [5, 4, 3, 2, 1]),  # a form sent with blank fields
    ],
)
def test_each_filter_shows_exactly_the_matching_traces(client, five_traces, query, expected):
    assert listed(client.get(f"/traces?{query}")) == expected


def test_an_iso_start_bounds_the_list(client, five_traces):
    start = (datetime.now(timezone.utc) - timedelta(hours=6)).isoformat()
    assert listed(client.get("/traces", {"start": start})) == [5, 4, 3, 2]


def test_the_filter_form_shows_the_filters_of_the_url(client, five_traces):
    page = client.get("/traces?q=error:true&status=error&service=web&min_duration_ms=10&start=1h").text

    assert 'value="error:true"' in page
    assert '<option value="error" selected>' in page
    assert 'name="service" value="web"' in page
    assert 'name="min_duration_ms" value="10.0"' in page or 'name="min_duration_ms" value="10"' in page
    assert 'name="start" value="1h"' in page
    assert '<a class="clear" href="/traces">' in page


def test_no_match_says_so_and_offers_to_clear_the_filters(client, five_traces):
    page = client.get("/traces?service=nowhere").text

    assert "No traces match" in page and 'href="/traces">clear them all' in page
    assert "Waiting for your first trace" not in page


def test_an_empty_store_shows_how_to_send_the_first_trace(client):
    page = client.get("/traces").text

    assert "Waiting for your first trace" in page
    assert "http://testserver/api/v1/traces/export" in page
    assert "OTEL_EXPORTER_OTLP_ENDPOINT=http://testserver:4317\n" in html.unescape(page)  # gRPC: the SDKs' default


# --- the query language's errors -------------------------------------------------------------


def test_a_syntax_error_shows_the_message_and_a_caret_under_its_column(client, five_traces):
    response = client.get("/traces", {"q": "service:api duration:"})

    assert listed(response, status=400) == []
    page = html.unescape(response.text)
    assert "expected a value after 'duration:'</strong> at column 22" in page
    assert '<code>service:api duration:\n                     <span class="caret">^</span></code>' in page
    assert 'value="service:api duration:"' in page  # what was typed stays in the box


def test_an_unknown_field_names_the_known_ones(client, five_traces):
    page = html.unescape(client.get("/traces", {"q": "colour:red"}).text)

    assert "unknown field 'colour'</strong> at column 1" in page
    assert "known fields:" in page


@pytest.mark.parametrize(
    "query, message",
    [
        ("min_duration_ms=fast", "Min duration (ms)</strong>: Enter a number."),
        ("min_duration_ms=-1", "Min duration (ms)</strong>: Ensure this value is greater than or equal to 0."),
        ("min_duration_ms=500&max_duration_ms=100", "must not be less than the minimum"),
        ("start=yesterday", "is not a time"),
        ("status=maybe", "Select a valid choice"),
        ("sort=name", "Select a valid choice"),
        ("cursor=nonsense", "the cursor is not one this server handed out"),
    ],
)
def test_invalid_parameters_are_explained_on_the_page_answered_400(client, five_traces, query, message):
    response = client.get(f"/traces?{query}")

    assert listed(response, status=400) == []
    assert message in html.unescape(response.text)
    assert 'id="search"' in response.text  # the whole page, with the form to correct them


def test_htmx_gets_the_explanation_as_a_fragment_it_swaps_in(client, five_traces):
    # HTMX swaps in 2xx answers only: the fragment is the error message, answered 200.
    response = client.get("/traces", {"q": "(error:true"}, **HTMX)

    assert listed(response) == []
    assert "unclosed '('</strong> at column 1" in html.unescape(response.text)


# --- sorting ---------------------------------------------------------------------------------


def test_column_headers_sort_descending_first_then_toggle(client, five_traces):
    page = client.get("/traces?service=api").text
    assert '<th scope="col" class="col-start_time" aria-sort="descending">' in page
    assert 'href="/traces?service=api&amp;sort=start_time"' in page  # newest first now: next, oldest first
    assert 'href="/traces?service=api&amp;sort=-duration"' in page

    page = client.get("/traces?service=api&sort=-duration").text
    assert 'aria-sort="descending"' in page and 'href="/traces?service=api&amp;sort=duration"' in page
    page = client.get("/traces?service=api&sort=duration").text
    assert 'aria-sort="ascending"' in page and 'href="/traces?service=api&amp;sort=-duration"' in page
    assert 'href="/traces?service=api"' in page  # back to the default sort: no parameter
    assert '<input type="hidden" name="sort" value="duration" form="filters">' in page  # filtering keeps it


# --- pages -----------------------------------------------------------------------------------


@pytest.fixture
def pages_of_two(monkeypatch):
    monkeypatch.setattr(list_view, "PAGE_SIZE", 2)


def test_cursor_pages_go_forwards_and_back(client, five_traces, pages_of_two):
    first = client.get("/traces")
    assert listed(first) == [5, 4]
    assert link(first, "Previous") is None and link(first, "First page") is None

    second = client.get(link(first, "Next"))
    assert listed(second) == [3, 2]
    third = client.get(link(second, "Next"))
    assert listed(third) == [1]
    assert link(third, "Next") is None

    assert listed(client.get(link(third, "Previous"))) == [3, 2]
    back_to_first = client.get(link(second, "Previous"), **HTMX)
    assert listed(back_to_first) == [5, 4]
    assert back_to_first["HX-Push-Url"] == "/traces"  # the top, however it was reached
    assert link(back_to_first, "Previous") is None
    assert listed(client.get(link(third, "First page"))) == [5, 4]


def test_pages_keep_the_filters_and_the_sort(client, five_traces, pages_of_two):
    first = client.get("/traces?service=api&sort=duration")
    assert listed(first) == [2, 5]
    following = link(first, "Next")
    assert parse_qs(urlsplit(following).query).keys() == {"service", "sort", "cursor"}
    assert listed(client.get(following)) == [1]


def test_pages_stay_put_while_new_traces_arrive(client, five_traces, pages_of_two):
    first = client.get("/traces")
    h.post(client, h.body(h.span(trace=6, span=600, name="newest", start_ms=ago(0))))
    assert listed(client.get(link(first, "Next"))) == [3, 2]


def test_past_the_last_page_offers_the_first(client, five_traces):
    last = client.get(f"/traces?cursor={_cursor_after_everything(client)}")
    assert listed(last) == [] and "No more traces" in last.text and 'href="/traces"' in last.text


def _cursor_after_everything(client):
    from traces.pagination import encode_cursor

    return encode_cursor(datetime(2000, 1, 1, tzinfo=timezone.utc), 1)


# --- HTMX ------------------------------------------------------------------------------------


def test_htmx_requests_get_only_the_results_and_a_clean_url(client, five_traces):
    response = client.get("/traces?q=&status=error&service=&sort=-start_time", **HTMX)

    assert listed(response) == [4, 2]
    assert "<html" not in response.text and 'id="filters"' not in response.text
    assert response.text.lstrip().startswith('<section id="results"')
    assert response["HX-Push-Url"] == "/traces?status=error"
    assert "HX-Request" in response["Vary"]


def test_a_history_restore_gets_the_whole_page(client, five_traces):
    response = client.get("/traces?status=error", HTTP_HX_HISTORY_RESTORE_REQUEST="true", **HTMX)
    assert "<html" in response.text and listed(response) == [4, 2]


def test_every_htmx_link_also_works_without_javascript(client, five_traces, pages_of_two):
    page = client.get("/traces?service=api").text
    for tag in re.findall(r"<a [^>]*hx-get[^>]*>", page):
        assert re.search(r'href="([^"]+)"[^>]*hx-get="\1"', tag), tag
    assert '<form id="filters" class="filters" method="get" action="/traces" hx-get="/traces"' in page


# --- new traces ------------------------------------------------------------------------------


def poll_url(response):
    match = re.search(r'<div id="new-traces"[^>]*hx-get="([^"]+)"[^>]*hx-trigger="every 2s, live-now"', response.text)
    return html.unescape(match.group(1)) if match else None


def test_the_poll_brings_the_matching_traces_newer_than_the_newest_shown_as_rows(client, five_traces):
    url = poll_url(client.get("/traces?service=api"))
    assert parse_qs(urlsplit(url).query)["service"] == ["api"]
    assert listed(client.get(url, **HTMX)) == []

    h.post(client, h.body(h.span(trace=6, span=600, name="newer", start_ms=ago(0)), service="api"))
    h.post(client, h.body(h.span(trace=7, span=700, name="other service", start_ms=ago(0)), service="web"))
    h.post(client, h.body(h.span(trace=8, span=800, name="late but old", start_ms=ago(120)), service="api"))
    answer = client.get(url, **HTMX)
    assert listed(answer) == [6] and "newer" in row(answer, 6)
    assert '<template><tbody hx-swap-oob="afterbegin:#results tbody[data-nav-list]">' in answer.text
    assert "<html" not in answer.text and answer.text.lstrip().startswith('<div id="new-traces"')

    # The next poll counts from the row it just added.
    h.post(client, h.body(h.span(trace=9, span=900, name="newest", start_ms=ago(0) + 5), service="api"))
    assert listed(client.get(poll_url(answer), **HTMX)) == [9]


def test_an_empty_list_counts_every_trace_that_arrives(client):
    url = poll_url(client.get("/traces"))
    h.post(client, h.body(h.span(trace=1, span=1, name="first ever", start_ms=ago(60 * 24 * 400))))
    assert "1 new trace — show" in client.get(url, **HTMX).text


def test_only_the_newest_first_top_page_polls(client, five_traces, pages_of_two):
    first = client.get("/traces")
    assert poll_url(first)
    assert poll_url(client.get(link(first, "Next"))) is None
    assert poll_url(client.get("/traces?sort=-duration")) is None


# --- deleting --------------------------------------------------------------------------------


def test_each_row_deletes_after_a_confirmation_with_or_without_javascript(client, five_traces):
    research = row(client.get("/traces?status=ok"), 3)
    assert f'<form method="get" action="/traces/{tid(3)}/delete" hx-post="/traces/{tid(3)}/delete"' in research
    assert 'hx-confirm="Delete the trace “research flow” and its 3 spans? This cannot be undone."' in research
    assert 'hx-target="closest tr"' in research and 'hx-push-url="false"' in research
    assert '<input type="hidden" name="next" value="/traces?status=ok">' in research


def test_the_confirmation_page_deletes_without_javascript(client, five_traces):
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(f"/traces/{tid(3)}/delete?next=/traces%3Fstatus%3Dok")
    assert page.status_code == 200
    assert "Delete this trace?" in page.text and "research flow" in page.text and "its 3 spans" in page.text
    assert f'<form method="post" action="/traces/{tid(3)}/delete"' in page.text

    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    response = browser.post(f"/traces/{tid(3)}/delete", {"csrfmiddlewaretoken": token, "next": "/traces?status=ok"})

    assert response.status_code == 302 and response["Location"] == "/traces?status=ok"
    assert not Trace.objects.filter(trace_id=tid(3)).exists()
    assert not Span.objects.filter(trace__trace_id=tid(3)).exists()
    assert Trace.objects.count() == 4 and Span.objects.count() == 10 - 3


def test_deleting_from_htmx_answers_nothing_so_the_row_goes(client, five_traces):
    h.post(client, h.body(h.span(trace=7, span=1, name="with events", events=[{"name": "e"}])))
    response = client.post(f"/traces/{tid(7)}/delete", {"next": "/traces"}, **HTMX)

    assert response.status_code == 200 and response.content == b""
    assert not Trace.objects.filter(trace_id=tid(7)).exists() and not SpanEvent.objects.exists()
    assert listed(client.get("/traces")) == [5, 4, 3, 2, 1]


def test_deleting_goes_back_only_to_this_site(client, five_traces):
    response = client.post(f"/traces/{tid(1)}/delete", {"next": "https://evil.example/"})
    assert response["Location"] == "/traces"


def test_deleting_an_unknown_trace_is_a_404(client, five_traces):
    assert client.get(f"/traces/{tid(99)}/delete").status_code == 404
    assert client.post(f"/traces/{tid(99)}/delete").status_code == 404
    assert Trace.objects.count() == 5


# --- queries ---------------------------------------------------------------------------------


def test_the_list_costs_one_query_however_many_traces(client, five_traces, django_assert_num_queries):
    for n in range(10, 40):
        h.post(client, h.body(h.span(trace=n, span=1, name=f"t{n}", start_ms=ago(n),
                                    attributes={"gen_ai.request.model": f"m{n}"})))
    with django_assert_num_queries(2):  # and the saved views of the sidebar
        assert len(listed(client.get("/traces?q=service:api OR duration:>1ms&sort=-cost"))) == 35
    # The top of the newest-first list also reads the store's version for its live poll (ui.live).
    with django_assert_num_queries(2):
        client.get("/traces?status=ok", **HTMX)
    top = client.get("/traces")
    url, tag = poll_url(top), etag(top)
    with django_assert_num_queries(1):  # nothing new: the version alone, and a 304
        assert client.get(url, HTTP_IF_NONE_MATCH=tag, **HTMX).status_code == 304


def etag(response):
    return html.unescape(re.search(r'<div id="new-traces"[^>]*data-live-etag="([^"]+)"', response.text).group(1))


def test_a_query_with_a_syntax_error_costs_no_query(client, five_traces, django_assert_num_queries):
    with django_assert_num_queries(0):
        client.get("/traces?q=(oops", **HTMX)
