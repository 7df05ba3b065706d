"""Live pages: the trace page, the trace list and the dashboard poll their fragments with the ETag of
what they show; an unchanged store answers 304 after one indexed read, an ingest brings the new content."""

import html
import re

import pytest
from django.contrib.auth.models import User

from tests import helpers as h
from tests.helpers import ago, tid

HTMX = {"HTTP_HX_REQUEST": "true"}
pytestmark = pytest.mark.django_db


def poll(response):
    """(url, ETag) of the page's live poll."""
    tag = re.search(r'<[^>]*data-live-etag="([^"]*)"[^>]*>', response.text)
    assert tag, "the page has no live poll"
    url = re.search(r'hx-get="([^"]+)"', tag.group(0)).group(1)
    return html.unescape(url), html.unescape(tag.group(1))


def facts(page):
    start = page.index('<div id="trace-facts"')
    return re.sub(r"\s+", " ", page[start: page.index("</dl>", start)])


def root_and_child(trace=1):
    return h.body(h.span(trace=trace, span=1, name="agent", start_ms=ago(0), duration_ms=500),
                  h.span(trace=trace, span=2, parent=1, name="plan", start_ms=ago(0) + 10))


def test_a_trace_page_gets_304_until_its_spans_grow_then_its_tree_header_and_sections(client):
    h.post(client, root_and_child())
    page = client.get(f"/traces/{tid(1)}?view=tree")
    url, tag = poll(page)
    assert url == f"/traces/{tid(1)}?live=1&view=tree"
    assert "<dt>Spans</dt><dd>2</dd>" in facts(page.text)

    unchanged = client.get(url, HTTP_IF_NONE_MATCH=tag, **HTMX)
    assert unchanged.status_code == 304 and unchanged["ETag"] == tag and unchanged.content == b""

    h.post(client, h.body(h.span(trace=1, span=3, parent=2, name="search the web", start_ms=ago(0) + 20,
                                 error="timeout")))
    grown = client.get(url, HTTP_IF_NONE_MATCH=tag, **HTMX)
    assert grown.status_code == 200 and grown["ETag"] != tag and "no-cache" in grown["Cache-Control"]
    text = grown.text
    assert text.lstrip().startswith('<section id="trace-view"')  # swapped in place of the spans
    assert ">search the web</a>" in text and 'aria-selected="true">Tree</a>' in text
    assert "<dt>Spans</dt><dd>3</dd>" in facts(text)
    assert '<div id="trace-facts" class="trace-facts" hx-swap-oob="true">' in text
    assert '<div id="trace-status" class="trace-status" hx-swap-oob="true">' in text
    assert 'id="trace-sections" class="trace-sections" hx-swap-oob="true"' in text and "timeout" in text
    assert "<html" not in text and 'id="span-panel"' not in text  # the open span panel stays as it is
    # The answer carries the poll again, with the new ETag.
    assert poll(grown) == (url, grown["ETag"])
    assert client.get(url, HTTP_IF_NONE_MATCH=grown["ETag"], **HTMX).status_code == 304


def test_a_trace_page_says_how_long_it_has_been_quiet_and_whether_its_root_arrived(client):
    h.post(client, h.body(h.span(trace=2, span=5, parent=4, name="orphan", start_ms=ago(0))))
    page = client.get(f"/traces/{tid(2)}").text
    bar = re.search(r'<div class="live-bar"[^>]*>', page).group(0)
    assert 'data-quiet-seconds="0"' in bar and 'data-complete-after="10"' in bar and "data-has-root" not in bar

    h.post(client, h.body(h.span(trace=2, span=4, name="root", start_ms=ago(0))))
    assert "data-has-root" in re.search(r'<div class="live-bar"[^>]*>', client.get(f"/traces/{tid(2)}").text).group(0)


def test_a_span_page_polls_its_trace(client):
    h.post(client, root_and_child())
    assert poll(client.get(f"/traces/{tid(1)}/spans/{h.span_id(2).hex()}"))[0] == f"/traces/{tid(1)}?live=1&view=timeline"


def test_the_list_gets_304_until_a_trace_arrives_then_its_row(client):
    h.post(client, root_and_child(trace=1))
    url, tag = poll(client.get("/traces"))
    assert client.get(url, HTTP_IF_NONE_MATCH=tag, **HTMX).status_code == 304

    h.post(client, root_and_child(trace=2))
    answer = client.get(url, HTTP_IF_NONE_MATCH=tag, **HTMX)
    assert answer.status_code == 200 and answer["ETag"] != tag
    assert re.findall(r'<tr id="trace-([0-9a-f]{32})"', answer.text) == [tid(2)]
    next_url, next_tag = poll(answer)
    assert next_tag == answer["ETag"] and "new_since=" in next_url
    assert client.get(next_url, HTTP_IF_NONE_MATCH=next_tag, **HTMX).status_code == 304


def test_the_dashboard_gets_304_until_a_trace_arrives_then_its_figures(client):
    h.post(client, root_and_child(trace=1))
    url, tag = poll(client.get("/"))
    assert url == "/?window=24h"
    assert client.get(url, HTTP_IF_NONE_MATCH=tag, **HTMX).status_code == 304

    h.post(client, root_and_child(trace=2))
    answer = client.get(url, HTTP_IF_NONE_MATCH=tag, **HTMX)
    assert answer.status_code == 200 and answer["ETag"] != tag
    total = re.search(r'Traces</span>\s*<span class="stat-value">(\d+)<', answer.text).group(1)
    assert total == "2"


def test_an_unchanged_poll_costs_one_query(client, django_assert_num_queries):
    h.post(client, root_and_child())
    for page in ("/traces", "/", f"/traces/{tid(1)}"):
        url, tag = poll(client.get(page))
        with django_assert_num_queries(1):  # a trace alone: finding it reads its updated_at
            assert client.get(url, HTTP_IF_NONE_MATCH=tag, **HTMX).status_code == 304, page


def test_polls_are_closed_to_anonymous_visitors_and_open_to_readers(client, access_control):
    h.post(client, root_and_child())
    url = f"/traces/{tid(1)}?live=1&view=timeline"
    assert client.get(url, **HTMX).status_code in (302, 401, 403)
    client.force_login(User.objects.create_user("reader", password="x" * 12))
    assert client.get(url, **HTMX).status_code == 200
