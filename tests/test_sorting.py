"""Sorting the trace list: every key in both directions gives the same order in the API and on the page."""

import re

import pytest

from traces.models import SORTS

pytestmark = pytest.mark.django_db

# The five traces of tests.helpers.post_five_traces, in the order of each sort; ties (three traces of
# 2 spans) go by arrival, the later first when descending.
EXPECTED = {
    "start_time": [1, 2, 3, 4, 5],
    "-start_time": [5, 4, 3, 2, 1],
    "duration": [4, 2, 5, 1, 3],  # 50 ms, 500 ms, 800 ms, 3 s, 12 s
    "-duration": [3, 1, 5, 2, 4],
    "spans": [4, 1, 2, 5, 3],  # 1, 2, 2, 2, 3
    "-spans": [3, 5, 2, 1, 4],
    "tokens": [4, 2, 5, 1, 3],  # 0, 350, 480, 1,200, 2,610
    "-tokens": [3, 1, 5, 2, 4],
    "cost": [4, 2, 5, 3, 1],  # $0, $0.00008, $0.00011, $0.00395, $0.0045
    "-cost": [1, 3, 5, 2, 4],
}


def test_every_sort_key_is_covered_in_both_directions():
    assert set(EXPECTED) == {prefix + key for key in SORTS for prefix in ("", "-")}


def api_order(client, sort):
    response = client.get("/api/v1/traces", {"sort": sort})
    assert response.status_code == 200, response.content
    return [int(trace["trace_id"], 16) for trace in response.json()["traces"]]


def page_order(client, sort):
    response = client.get("/traces", {"sort": sort})
    assert response.status_code == 200, response.content[:2000]
    return [int(trace_id, 16) for trace_id in re.findall(r'<tr id="trace-([0-9a-f]{32})"', response.text)]


@pytest.mark.parametrize("sort", EXPECTED)
def test_the_api_and_the_page_sort_the_same_way(client, five_traces, sort):
    assert api_order(client, sort) == EXPECTED[sort]
    assert page_order(client, sort) == EXPECTED[sort]
