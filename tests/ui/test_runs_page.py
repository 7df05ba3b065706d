"""The trace list and the trace page show runs (traces.runs) whole."""

import pytest

from tests.helpers import CORPUS
from tests.traces.test_runs import send, span_requests
from traces.models import Trace

pytestmark = pytest.mark.django_db


@pytest.fixture
def runs_004_006(client):
    for capture in ("004", "006"):
        send(client, span_requests(CORPUS / "msgflux" / f"{capture}.bin"))


def test_the_list_shows_one_row_per_run_with_the_runs_totals(client, runs_004_006):
    page = client.get("/traces").text
    assert page.count('class="trace-link"') == 3
    assert "+7 stitched" in page and "+2 stitched" in page
    agent = Trace.objects.get(trace_id__startswith="1fd310bc")
    row = page[page.index(f'id="trace-{agent.trace_id}"'):]
    row = row[: row.index("</tr>")]
    assert 'data-label="Spans">8<' in row
    assert "List every trace" in page


def test_the_toggle_lists_every_trace(client, runs_004_006):
    page = client.get("/traces?group=trace").text
    assert page.count('class="trace-link"') == 19
    assert "stitched</span>" not in page
    assert "One row per run" in page


def test_a_members_page_shows_the_whole_run_with_inferred_edges(client, runs_004_006):
    member = Trace.objects.get(trace_id__startswith="bb1506a1")  # Get Forecast
    page = client.get(f"/traces/{member.trace_id}?view=tree").text
    assert "Part of a run of 8 traces" in page
    for name in ("Forecast Agent", "Forecastagent Tool Library", "scatter_gather", "Get Forecast", "openai.chat"):
        assert f">{name}</a>" in page
    assert page.count("inferred from timing</span>") == 7
    generator = Trace.objects.get(trace_id__startswith="5c40f55a")
    assert f"/traces/{generator.trace_id}/spans/" in page  # each span links within its own trace


def test_a_run_pages_header_counts_the_whole_run_like_its_row_in_the_list(client, runs_004_006):
    member = Trace.objects.get(trace_id__startswith="bb1506a1")  # Get Forecast, the failing tool
    page = client.get(f"/traces/{member.trace_id}").text
    facts = page[page.index('<dl class="facts">') : page.index("</dl>", page.index('<dl class="facts">'))]

    # 8 one-span traces, the tool's failure, and the two model calls' 139 + 27 tokens (msgflux/004.bin)
    assert "<dt>Spans</dt><dd>8</dd>" in facts
    assert '<dt>Errors</dt><dd class="error-text">1</dd>' in facts
    assert "<dt>Tokens in / out</dt><dd>139 " in facts and "</span> 27</dd>" in facts
    assert '<span class="badge error">1 error</span>' in page


def test_an_ambiguous_trace_is_not_drawn_inside_the_run(client, runs_004_006):
    order_agent = Trace.objects.get(trace_id__startswith="d283068a")
    page = client.get(f"/traces/{order_agent.trace_id}").text
    assert "Part of a run of 8 traces" in page
    assert ">Chit Chat</a>" not in page


def test_a_run_page_costs_one_query_more_than_a_trace_alone(client, runs_004_006, django_assert_num_queries):
    """The one more: the run's traces (index trace_run_root); their spans come in the same one query. (The
    trace alone costs 4 with the link to the previous run of its workflow.)"""
    member = Trace.objects.get(trace_id__startswith="bb1506a1")
    with django_assert_num_queries(5):
        client.get(f"/traces/{member.trace_id}")
