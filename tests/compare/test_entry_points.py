"""Where a comparison starts: two checked rows of the trace list, or a trace page's link to the previous
run of its workflow."""

import re

import pytest

from tests import helpers as h
from tests.compare.runs import llm, post_run

pytestmark = pytest.mark.django_db


def test_each_row_of_the_list_has_a_check_box_for_the_compare_form(client):
    a, b = post_run(client, 1, llm(), start_ms=h.ago(20)), post_run(client, 2, llm(), start_ms=h.ago(10))

    text = client.get("/traces").text
    assert '<form id="compare-form" class="compare-action" method="get" action="/compare" data-compare-action>' in text
    assert re.findall(r'<input type="checkbox" name="pick" value="(\w+)" form="compare-form" data-compare-pick', text) \
        == [b, a]


def test_a_trace_page_links_to_the_comparison_with_the_previous_run_of_its_workflow(client):
    first = post_run(client, 1, llm(), workflow="weather")
    post_run(client, 2, llm(), workflow="other")
    third = post_run(client, 3, llm(), workflow="weather")

    link = '<a class="compare-previous" href="/compare?a={}&amp;b={}">Compare with the previous run of this workflow</a>'
    assert link.format(first, third) in client.get(f"/traces/{third}").text
    assert "compare-previous" not in client.get(f"/traces/{first}").text  # no earlier run of "weather"


def test_a_trace_without_a_workflow_has_no_comparison_link(client):
    post_run(client, 1, llm(), workflow="")
    later = post_run(client, 2, llm(), workflow="")
    assert "compare-previous" not in client.get(f"/traces/{later}").text
