"""The trace list in a browser: search, filters, sorting, pages, deleting, history and the rows that join live.
Every expectation is checked against the REST API, which lists the same traces by the same rules."""

import json
import re
from urllib.parse import urlencode

from playwright.sync_api import expect

from tests.ui.browser.support import (
    ROWS, api, duration_ms, fresh_trace, get, listed, post_otlp, query, row_ids, wait_for_rows,
)

PAGE = 50


def search(page, text):
    page.fill("#search", text)
    page.press("#search", "Enter")


def test_the_first_page_lists_the_newest_traces(desktop, site):
    desktop.goto("/traces")

    wait_for_rows(desktop, listed(site, limit=PAGE))
    newest = api(site, "/traces", limit=1, group="run")["traces"][0]
    first = desktop.locator(ROWS).first
    expect(first.locator(".trace-link")).to_have_text(newest["root_span_name"])
    expect(first.locator(".col-service")).to_have_text(newest["service_name"])


def test_a_query_shows_only_the_matching_traces_and_lands_in_the_url(desktop, site):
    q = "model:gpt-4o-mini AND error:true"
    expected = listed(site, q=q)
    assert 0 < len(expected) < PAGE  # the demo data has a few failed runs that called gpt-4o-mini
    desktop.goto("/traces")

    search(desktop, q)

    wait_for_rows(desktop, expected)
    rows = desktop.locator(ROWS)
    for i in range(rows.count()):
        expect(rows.nth(i)).to_have_class(re.compile(r"\bis-error\b"))
        expect(rows.nth(i).locator(".col-models")).to_contain_text("gpt-4o-mini")
    expect(desktop).to_have_url(re.compile(r"[?&]q=model%3Agpt-4o-mini"))
    assert query(desktop)["q"] == q


def test_a_query_with_a_syntax_error_says_what_and_where_inline(desktop, site):
    q = "model:gpt-4o-mini AND (error:true"
    status, body = get(site, "/api/v1/traces?" + urlencode({"q": q}))
    assert status == 400
    desktop.goto("/traces")

    search(desktop, q)

    problem = desktop.locator(".query-error")
    expect(problem).to_be_visible()
    detail = json.loads(body)
    expect(problem).to_contain_text(detail["detail"])
    expect(problem).to_contain_text(f"column {detail['column']}")
    expect(desktop.locator(ROWS)).to_have_count(0)
    expect(desktop.locator("#toast")).to_be_hidden()


def test_the_status_filter_keeps_only_failed_traces(desktop, site):
    expected = listed(site, status="error", limit=PAGE)
    desktop.goto("/traces")

    desktop.select_option("#filters select[name=status]", "error")

    wait_for_rows(desktop, expected)
    assert len(expected) >= 6
    expect(desktop.locator(ROWS + ":not(.is-error)")).to_have_count(0)
    assert query(desktop) == {"status": "error"}


def test_sorting_by_duration_orders_the_rows_and_a_second_click_reverses_them(desktop, site):
    desktop.goto("/traces")
    header = desktop.locator("th.col-duration")

    header.locator("a").click()

    wait_for_rows(desktop, listed(site, sort="-duration", limit=PAGE))
    expect(header).to_have_attribute("aria-sort", "descending")
    durations = [duration_ms(t) for t in desktop.locator(ROWS + " .dur-value").all_inner_texts()]
    assert durations == sorted(durations, reverse=True)
    assert durations[0] > 25_000  # the long research run comes first

    header.locator("a").click()

    wait_for_rows(desktop, listed(site, sort="duration", limit=PAGE))
    expect(header).to_have_attribute("aria-sort", "ascending")
    durations = [duration_ms(t) for t in desktop.locator(ROWS + " .dur-value").all_inner_texts()]
    assert durations == sorted(durations)
    assert durations[0] < 100
    assert query(desktop)["sort"] == "duration"


def test_the_next_page_shows_the_following_traces_and_previous_comes_back(desktop, site):
    everything = listed(site)
    assert len(everything) > PAGE
    desktop.goto("/traces")
    wait_for_rows(desktop, everything[:PAGE])

    desktop.locator("a[rel=next]").click()

    wait_for_rows(desktop, everything[PAGE : 2 * PAGE])
    assert "cursor" in query(desktop)
    assert not set(everything[:PAGE]) & set(row_ids(desktop))

    desktop.locator("a[rel=prev]").click()

    wait_for_rows(desktop, everything[:PAGE])


def test_deleting_a_trace_asks_first_then_removes_its_row_and_the_trace(desktop, site):
    message, trace_id, name = fresh_trace()
    post_otlp(site, message)
    desktop.goto("/traces")
    row = desktop.locator(f"#trace-{trace_id}")
    expect(row).to_be_visible()
    questions = []

    desktop.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    row.locator("button[title='Delete this trace']").click()

    expect(row).to_be_visible()
    assert get(site, f"/api/v1/traces/{trace_id}")[0] == 200
    assert name in questions[0] and "2 spans" in questions[0]

    desktop.once("dialog", lambda dialog: dialog.accept())
    row.locator("button[title='Delete this trace']").click()

    expect(row).to_have_count(0)
    assert get(site, f"/api/v1/traces/{trace_id}")[0] == 404
    assert trace_id not in listed(site)


def test_the_url_keeps_the_filters_and_back_and_forward_restore_them(desktop, site):
    desktop.goto("/traces")
    search(desktop, "service:support-bot")
    expect(desktop).to_have_url(re.compile(r"q=service%3Asupport-bot"))
    wait_for_rows(desktop, listed(site, q="service:support-bot", limit=PAGE))
    desktop.select_option("#filters select[name=status]", "error")
    expect(desktop).to_have_url(re.compile(r"status=error"))
    both = listed(site, q="service:support-bot", status="error", limit=PAGE)
    wait_for_rows(desktop, both)
    assert query(desktop) == {"q": "service:support-bot", "status": "error"}

    desktop.go_back()

    expect(desktop).to_have_url(re.compile(r"\?q=service%3Asupport-bot$"))
    wait_for_rows(desktop, listed(site, q="service:support-bot", limit=PAGE))
    expect(desktop.locator("#search")).to_have_value("service:support-bot")
    expect(desktop.locator("#filters select[name=status]")).to_have_value("")

    desktop.go_forward()

    expect(desktop).to_have_url(re.compile(r"status=error"))
    wait_for_rows(desktop, both)
    expect(desktop.locator("#search")).to_have_value("service:support-bot")
    expect(desktop.locator("#filters select[name=status]")).to_have_value("error")

    desktop.go_back()
    wait_for_rows(desktop, listed(site, q="service:support-bot", limit=PAGE))
    desktop.go_back()

    expect(desktop).to_have_url(re.compile(r"/traces$"))
    wait_for_rows(desktop, listed(site, limit=PAGE))
    expect(desktop.locator("#search")).to_have_value("")


def test_new_traces_join_the_top_of_the_list_at_the_next_poll(desktop, site):
    desktop.clock.install()
    desktop.goto("/traces")
    wait_for_rows(desktop, listed(site, limit=PAGE))
    fresh = [fresh_trace() for _ in range(2)]
    for message, _, _ in fresh:
        post_otlp(site, message)

    desktop.clock.fast_forward("00:03")  # the list asks every 2 seconds (MSGTRACE_LIVE_POLL_SECONDS)

    wait_for_rows(desktop, listed(site, limit=PAGE + 2))
    assert set(row_ids(desktop)[:2]) == {trace_id for _, trace_id, _ in fresh}
    expect(desktop.locator(".new-traces-link")).to_have_count(0)
