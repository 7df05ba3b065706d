"""The demo data: varied enough to show every part of the UI, and safe to load twice."""

import re
from datetime import datetime, timedelta, timezone

import pytest

from traces import demo, semconv
from traces.models import Span, SpanEvent, Trace

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 14, 15, 9, 26, tzinfo=timezone.utc)


@pytest.fixture
def loaded():
    return demo.load(now=NOW)


def test_loading_stores_the_reported_numbers_of_traces_and_spans(loaded):
    traces, spans = loaded

    assert traces == 60 == Trace.objects.count()
    assert spans == Span.objects.count()
    assert spans == sum(Trace.objects.values_list("span_count", flat=True))
    assert 600 < spans < 1500


def test_loading_twice_with_the_same_seed_stores_nothing_twice(loaded):
    assert demo.load(now=NOW + timedelta(minutes=5)) == (0, 0)

    assert Trace.objects.count() == loaded[0]
    assert Span.objects.count() == loaded[1]


def test_another_seed_tells_another_story(loaded):
    traces, spans = demo.load(traces=5, now=NOW, seed=8)

    assert traces == 5
    assert Trace.objects.count() == loaded[0] + 5


def test_the_same_seed_builds_the_same_bytes():
    first = [r.SerializeToString() for r in demo.build_requests(traces=12, now=NOW)]
    again = [r.SerializeToString() for r in demo.build_requests(traces=12, now=NOW)]

    assert first == again
    assert first != [r.SerializeToString() for r in demo.build_requests(traces=12, now=NOW, seed=8)]


def test_several_services_workflows_models_users_and_shared_sessions(loaded):
    assert set(Trace.objects.values_list("service_name", flat=True)) == {"support-bot", "sql-copilot", "research-agent"}
    assert set(Trace.objects.values_list("workflow_name", flat=True)) == {
        "support_agent", "ticket_triage", "text_to_sql", "sql_autocomplete", "deep_research"}
    assert set(Span.objects.exclude(model="").values_list("model", flat=True)) == {
        "gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet", "claude-3-5-haiku", "o3-mini", "text-embedding-3-small",
    }
    assert len(set(Trace.objects.values_list("user_id", flat=True))) >= 5
    sessions = list(Trace.objects.values_list("session_id", flat=True))
    assert "" not in sessions
    shared = {s for s in sessions if sessions.count(s) > 1}
    assert len(shared) >= 5


def test_every_kind_of_work_is_present(loaded):
    categories = set(Span.objects.values_list("category", flat=True))

    assert {"workflow", "agent", "llm", "tool", "retriever", "embedding", "guardrail"} <= categories
    assert Span.objects.filter(category="workflow", parent_span_id="").count() == 60


def test_about_one_trace_in_ten_fails_with_an_exception_event(loaded):
    failed = Trace.objects.filter(status="error")

    assert failed.count() == 6
    events = SpanEvent.objects.filter(name="exception", span__trace__in=failed)
    types = set(events.values_list("attributes__exception.type", flat=True))
    assert types == {"TimeoutError", "openai.RateLimitError", "anthropic.RateLimitError",
                     "psycopg.errors.UndefinedColumn"}
    timeout = Span.objects.filter(trace__in=failed, status_code=2, category="tool", events__name="exception").first()
    assert re.fullmatch(r"TimeoutError: \w+ service did not answer within 10.0 s", timeout.status_message)
    assert timeout.duration_ns == 10 * 10**9
    assert "Traceback (most recent call last)" in timeout.events.get().attributes["exception.stacktrace"]
    # one of them, at least, is found by a search combining a model and errors
    assert Trace.objects.matching("model:gpt-4o-mini AND error:true").exists()


def test_traces_spread_over_the_last_36_hours_denser_towards_now(loaded):
    ends = sorted(Trace.objects.values_list("ended_at", flat=True))

    assert NOW - timedelta(hours=36, minutes=1) < ends[0]
    assert NOW - timedelta(minutes=2) < ends[-1] < NOW
    last_12h = sum(1 for e in ends if e > NOW - timedelta(hours=12))
    first_12h = sum(1 for e in ends if e < NOW - timedelta(hours=24))
    assert last_12h > 2 * first_12h


def test_durations_range_from_tens_of_milliseconds_to_about_forty_seconds(loaded):
    durations = sorted(Trace.objects.values_list("duration_ms", flat=True))

    assert 5 < durations[0] < 100
    assert 25_000 < durations[-1] < 60_000
    assert sum(1 for d in durations if 1000 < d < 10_000) > 20


def test_two_long_traces_one_of_about_300_spans(loaded):
    counts = sorted(Trace.objects.values_list("span_count", flat=True), reverse=True)

    assert 280 <= counts[0] <= 320
    assert 50 <= counts[1] < 100
    assert counts[2] < 40


def test_tokens_and_costs_follow_each_models_price(loaded):
    for span in Span.objects.filter(category="llm", status_code=0):
        model = demo.MODELS[span.model]
        assert span.currency == "USD"
        assert span.input_cost == pytest.approx(span.input_tokens * model.input_price, rel=1e-3)
        assert span.output_cost == pytest.approx(span.output_tokens * model.output_price, rel=1e-3)
    gpt4o = Span.objects.filter(model="gpt-4o").first()
    assert gpt4o.input_cost / gpt4o.input_tokens == pytest.approx(2.50 / 1e6, rel=1e-3)
    trace = Trace.objects.filter(workflow_name="support_agent", status="ok").first()
    calls = Span.objects.filter(trace=trace, category__in=["llm", "embedding"])
    assert trace.total_tokens == sum(s.total_tokens for s in calls) > 0
    assert trace.total_cost == pytest.approx(sum(s.total_cost for s in calls))


def test_chat_spans_carry_a_transcript_with_tool_calls_in_both_conventions(loaded):
    genai = Span.objects.filter(operation="chat", attributes__has_key="gen_ai.input.messages")
    with_tool_result = next(s for s in genai if '"tool_call_response"' in s.attributes["gen_ai.input.messages"])
    prompt = semconv.prompt(with_tool_result.attributes)["messages"]
    assert [m["role"] for m in prompt][:2] == ["system", "user"]
    assert any(m.get("tool_calls") for m in prompt)
    assert any(m.get("tool_responses") for m in prompt)
    assert semconv.completion(with_tool_result.attributes)["messages"][0]["role"] == "assistant"

    openinference = Span.objects.filter(name="ChatCompletion").first()
    assert openinference.category == "llm" and openinference.model == "gpt-4o"
    assert semconv.prompt(openinference.attributes)["source"] == "llm.input_messages"
    assert semconv.completion(openinference.attributes)["messages"][0]["content"].startswith("SELECT")


def test_tool_and_retriever_spans_carry_their_inputs_and_outputs(loaded):
    tool = Span.objects.filter(category="tool", tool_name="run_sql", status_code=0).first()
    assert tool.operation == "execute_tool"
    assert tool.attributes["gen_ai.tool.call.arguments"].startswith('{"sql": "SELECT')
    assert '"row_count"' in tool.attributes["gen_ai.tool.response"]

    kb = Span.objects.filter(category="retriever", name="kb_search").first()
    assert kb.attributes["input.value"]
    assert '"documents"' in kb.attributes["output.value"]
    assert Span.objects.filter(category="embedding", parent_span_id=kb.span_id, trace=kb.trace).exists()
