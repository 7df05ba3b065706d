"""Comparing two runs, /compare?a=&b= and GET /api/v1/compare: steps aligned by their place in the tree
(inserted, removed and repeated steps on one side only), each run's figures and B's deltas, a one-line
summary, and word-level diffs of prompts, completions and tool arguments."""

import html
import re

import pytest

from compare import words
from tests.compare.runs import group, llm, post_run, tool

pytestmark = pytest.mark.django_db


def compared(client, a, b):
    response = client.get("/api/v1/compare", {"a": a, "b": b})
    assert response.status_code == 200, response.content[:500]
    return response.json()


def page(client, a, b):
    response = client.get("/compare", {"a": a, "b": b})
    assert response.status_code == 200, response.content[:500]
    return response.text


def outline(result):
    """(number, depth, side, name in A, name in B) of each step."""
    return [(step["number"], step["depth"], step["side"], (step["a"] or {}).get("name"), (step["b"] or {}).get("name"))
            for step in result["steps"]]


def step_html(text, number):
    start = text.index(f'id="step-{number}"')
    end = text.find("<li class=\"step", start)
    return text[start:end if end != -1 else None]


def value(label, a, b, changed=False):
    """A step's value as the page shows it, A above B, highlighted when it changed."""
    return (f'<div class="value{" changed" if changed else ""}"><span class="label">{label}</span>'
            f'<span class="a">{a}</span><span class="b">{b}</span></div>')


def summary(text):
    return html.unescape(re.search(r'<p class="summary" id="compare-summary">(.*?)</p>', text, re.S).group(1))


# --- the word diff ---------------------------------------------------------------------------------


def test_the_word_diff_marks_exactly_the_changed_words_and_escapes_every_token():
    assert words.changes("the weather in Paris today", "the weather in Berlin today") == [
        ("same", "the weather in "), ("del", "Paris"), ("ins", "Berlin"), ("same", " today")]
    assert words.html("say <b>hi</b>", "say <i>hi</i>") == (
        "say &lt;<del>b</del><ins>i</ins>&gt;hi&lt;/<del>b</del><ins>i</ins>&gt;")


# --- a changed prompt --------------------------------------------------------------------------------


def test_a_changed_prompt_shows_exactly_the_changed_words(client):
    a = post_run(client, 1, llm(prompt="What is the weather in Paris today?"))
    b = post_run(client, 2, llm(prompt="What is the weather in Berlin today?"))

    result = compared(client, a, b)
    assert outline(result) == [(1, 0, "both", "weather agent", "weather agent"),
                               (2, 1, "both", "chat gpt-4o", "chat gpt-4o")]
    call = result["steps"][1]
    assert call["prompt"] == [["same", "system:\nYou answer weather questions.\n\nuser:\nWhat is the weather in "],
                              ["del", "Paris"], ["ins", "Berlin"], ["same", " today?"]]
    assert call["completion"] == [["same", "assistant:\nSunny, 22 degrees."]]
    assert call["differs"] == [] and call["parameters"] == []
    assert result["summary"] == "A and B match in duration, tokens, cost, errors and calls"

    text = step_html(page(client, a, b), 2)
    assert re.findall(r"<(del|ins)>(.*?)</\1>", text) == [("del", "Paris"), ("ins", "Berlin")]
    assert '<summary>Prompt <span class="badge changed">changed</span></summary>' in text
    assert '<summary>Completion <span class="muted">the same</span></summary>' in text


# --- a changed model ------------------------------------------------------------------------------------


def test_a_changed_model_is_the_same_step_and_the_summary_says_it_switched(client):
    a = post_run(client, 1, llm(model="gpt-4o", tokens=(1000, 200), cost=(0.0025, 0.002)))
    b = post_run(client, 2, llm(model="gpt-4o-mini", tokens=(1000, 200), cost=(0.00015, 0.00012), temperature=0.2))

    result = compared(client, a, b)
    assert outline(result)[1] == (2, 1, "both", "chat gpt-4o", "chat gpt-4o-mini")
    call = result["steps"][1]
    assert (call["a"]["model"], call["b"]["model"]) == ("gpt-4o", "gpt-4o-mini")
    assert call["differs"] == ["cost", "model"]
    assert call["parameters"] == [{"name": "temperature", "a": "0.7", "b": "0.2"}]
    assert result["deltas"] == {"duration_ms": 0.0, "tokens": 0, "cost": -0.00423, "errors": 0, "model_calls": 0,
                                "tool_calls": 0}
    assert result["summary"] == "B cost $0.0042 less; step 2 switched from gpt-4o to gpt-4o-mini"

    text = page(client, a, b)
    assert summary(text) == "B cost $0.0042 less; step 2 switched from gpt-4o to gpt-4o-mini"
    step = step_html(text, 2)
    assert value("Model", "gpt-4o", "gpt-4o-mini", changed=True) in step
    assert value("Cost", "$0.0045", "$0.0003", changed=True) in step
    assert value("Tokens", "1,200", "1,200") in step
    assert ">Tokens<" not in step_html(text, 1)  # the agent's own step counts no usage on either side
    assert '<span class="label">temperature</span> <del>0.7</del> → <ins>0.2</ins>' in step


# --- an extra tool call -----------------------------------------------------------------------------------


def test_an_extra_tool_call_is_only_in_b_and_the_steps_around_it_still_align(client):
    a = post_run(client, 1, llm(), tool("get_weather"), llm(answer="Sunny."))
    b = post_run(client, 2, llm(), tool("get_weather", arguments={"city": "Lyon"}), tool("get_time"),
                 llm(answer="Sunny."))

    result = compared(client, a, b)
    assert outline(result) == [
        (1, 0, "both", "weather agent", "weather agent"), (2, 1, "both", "chat gpt-4o", "chat gpt-4o"),
        (3, 1, "both", "get_weather", "get_weather"), (4, 1, "b", None, "get_time"),
        (5, 1, "both", "chat gpt-4o", "chat gpt-4o"),
    ]
    assert (result["only_in_a"], result["only_in_b"]) == (0, 1)
    assert result["steps"][2]["arguments"] == [["same", '{\n  "city": "'], ["del", "Paris"], ["ins", "Lyon"],
                                               ["same", '"\n}']]
    assert result["steps"][2]["result"] == [["same", '{\n  "temp_c": 22\n}']]
    assert result["deltas"]["tool_calls"] == 1 and result["deltas"]["duration_ms"] == 100.0
    assert (result["a"]["tool_calls"], result["b"]["tool_calls"]) == (1, 2)
    assert result["summary"] == "B took 100 ms longer, made 1 more tool call"

    text = page(client, a, b)
    assert '<span class="badge only-b">only in B</span>' in step_html(text, 4)
    assert text.count("only-b") == 1 and "only-a\"" not in text
    assert '<tr><th scope="row">Tool calls</th><td class="num">1</td><td class="num">2</td>' \
           '<td class="num delta delta-up">+1</td></tr>' in text
    assert re.findall(r"<(del|ins)>(.*?)</\1>", step_html(text, 3)) == [("del", "Paris"), ("ins", "Lyon")]


# --- a loop that ran more often -------------------------------------------------------------------------------


def test_a_loop_of_three_rounds_against_five_aligns_three_and_leaves_two_only_in_b(client):
    def rounds(count):
        return [group("round", llm(), tool("search")) for _ in range(count)]

    a = post_run(client, 1, *rounds(3))
    b = post_run(client, 2, *rounds(5))

    result = compared(client, a, b)
    rows = outline(result)
    assert [(depth, side, name_b) for _, depth, side, _, name_b in rows] == (
        [(0, "both", "weather agent")]
        + [(1, "both", "round"), (2, "both", "chat gpt-4o"), (2, "both", "search")] * 3
        + [(1, "b", "round"), (2, "b", "chat gpt-4o"), (2, "b", "search")] * 2)
    assert (result["only_in_a"], result["only_in_b"]) == (0, 6)
    assert result["deltas"] == {"duration_ms": 400.0, "tokens": 240, "cost": 0.003, "errors": 0, "model_calls": 2,
                                "tool_calls": 2}
    assert result["summary"] == "B took 400 ms longer, cost $0.0030 more, used 240 more tokens, made 2 more " \
                                "model calls, made 2 more tool calls"

    text = page(client, a, b)
    assert text.count('<span class="badge only-b">only in B</span>') == 6
    assert "16 aligned by their place in the tree · 6 only in B" in text


# --- an error that appears -------------------------------------------------------------------------------------


def test_an_error_that_appears_counts_in_the_deltas_and_highlights_the_status(client):
    a = post_run(client, 1, llm(), tool("get_weather"))
    b = post_run(client, 2, llm(), tool("get_weather", error="timeout"))

    result = compared(client, a, b)
    failed = result["steps"][2]
    assert (failed["a"]["status"], failed["b"]["status"], failed["differs"]) == ("unset", "error", ["status"])
    assert result["deltas"]["errors"] == 1 and (result["a"]["errors"], result["b"]["errors"]) == (0, 1)
    assert result["summary"] == "B had 1 more error"

    step = step_html(page(client, a, b), 3)
    assert value("Status", "unset", "error", changed=True) in step


# --- asking -----------------------------------------------------------------------------------------------------


def test_an_unknown_id_is_404_and_a_malformed_one_422(client):
    a = post_run(client, 1, llm())
    unknown = "f" * 32

    response = client.get("/api/v1/compare", {"a": a, "b": unknown})
    assert (response.status_code, response.json()) == (404, {"detail": f"no trace {unknown}"})
    response = client.get("/api/v1/compare", {"a": "xyz", "b": a})
    assert (response.status_code, response.json()) == (422, {"detail": "a: a trace id is 32 hexadecimal digits"})

    response = client.get("/compare", {"a": a, "b": unknown})
    assert response.status_code == 404 and f"no trace {unknown}" in response.text
    response = client.get("/compare", {"a": a, "b": "xyz"})
    assert response.status_code == 400 and "b: a trace id is 32 hexadecimal digits" in response.text


def test_the_lists_two_checked_rows_open_the_comparisons_url_with_the_earlier_run_as_a(client):
    a, b = post_run(client, 1, llm()), post_run(client, 2, llm())

    response = client.get("/compare", {"pick": [b, a.upper()]})  # newest first, as the list shows them
    assert response.status_code == 302 and response["Location"] == f"/compare?a={a}&b={b}"
    response = client.get("/compare", {"pick": [a]})
    assert response.status_code == 400
    assert "Check exactly two traces in the list to compare them (1 checked)." in response.text


def test_a_run_stitched_from_one_span_traces_compares_whole(client):
    """msgflux sends each step as a trace of its own: the run of the given trace is compared, from its
    outermost trace, whichever member the URL names."""
    from tests import helpers as h

    def stitched(n, model):
        outer = h.span(trace=n, span=n * 10, name="agent", start_ms=n * 600_000, duration_ms=500)
        inner = h.span(trace=n + 1, span=n * 10 + 1, model=model, start_ms=n * 600_000 + 100, duration_ms=100,
                       tokens=(10, 5), cost=(0.001, 0.001))
        assert h.post(client, h.body(outer, inner)).status_code == 200
        return h.tid(n + 1)  # the inner trace: its run is the whole agent call

    result = compared(client, stitched(10, "gpt-4o"), stitched(20, "gpt-4o-mini"))
    assert result["a"]["run_trace_ids"] == [h.tid(10), h.tid(11)] and result["a"]["trace_id"] == h.tid(10)
    assert outline(result) == [(1, 0, "both", "agent", "agent"), (2, 1, "both", "chat gpt-4o", "chat gpt-4o-mini")]
    assert result["summary"] == "A and B match in duration, tokens, cost, errors and calls; " \
                                "step 2 switched from gpt-4o to gpt-4o-mini"


def test_the_comparison_is_closed_to_anonymous_visitors(client, access_control):
    a, b = post_run(client, 1, llm()), post_run(client, 2, llm())
    assert client.get("/api/v1/compare", {"a": a, "b": b}).status_code == 401
    response = client.get("/compare", {"a": a, "b": b})
    assert response.status_code == 302 and response["Location"].startswith("/signin?next=")


def test_hostile_prompts_and_names_stay_text(client):
    a = post_run(client, 1, llm(prompt='<script>alert("a")</script> hello'), name="<b>agent</b>")
    b = post_run(client, 2, llm(prompt='<img src=x onerror="alert(1)"> hello'), name="<b>agent</b>")

    text = page(client, a, b)
    assert "<script>alert" not in text and "<img src=x" not in text and "<b>agent" not in text
    assert ("&lt;<del>script&gt;</del><ins>img src=x onerror=&quot;</ins>alert(<ins>1)</ins>&quot;"
            "<del>a&quot;)&lt;/script</del>&gt; hello") in text
    assert '<span class="name">&lt;b&gt;agent&lt;/b&gt;</span>' in text


def test_a_comparison_costs_a_fixed_number_of_queries(client, django_assert_num_queries):
    a = post_run(client, 1, *[llm(), tool()] * 20)
    b = post_run(client, 2, *[llm(), tool()] * 25)
    # the two traces, the spans of each run (no attributes), the attributes of the steps on both sides
    # (DETAIL_BATCH steps a query)
    with django_assert_num_queries(4):
        compared(client, a, b)
    with django_assert_num_queries(4):
        page(client, a, b)
