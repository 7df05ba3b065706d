"""The query language: what each query form finds in a known store, and how bad queries are reported.

Five traces are ingested through the OTLP endpoint; every query is run against Trace and Span and the
exact set of traces (by label) or the exact list of span names it returns is asserted.
"""

from pathlib import Path

import pytest
from django.db.models import Q

from tests import helpers as h
from traces.models import Span, Trace
from traces.query import (
    FIELD_NAMES,
    And,
    Not,
    QueryError,
    QuerySyntaxError,
    Term,
    Value,
    parse,
    span_filter,
    trace_filter,
)

pytestmark = pytest.mark.django_db

CHAT = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
PIPELINE = "b2c3d4e5f60718293a4b5c6d7e8f90a1"
AGENT = "c3d4e5f60718293a4b5c6d7e8f90a1b2"
HEALTH = "d4e5f60718293a4b5c6d7e8f90a1b2c3"
BATCH = "e5f60718293a4b5c6d7e8f90a1b2c3d4"
LABELS = {CHAT: "chat", PIPELINE: "pipeline", AGENT: "agent", HEALTH: "health", BATCH: "batch"}
ALL_TRACES = set(LABELS.values())
ALL_SPANS = sorted([
    "chat", "openai.chat", "search_docs",
    "retriever.pipeline", "retriever.query", "embed",
    "agent.run", "anthropic.chat",
    "GET /health",
    "nightly batch", "step", "step", "step", "step", "step",
])
SEARCH_DOCS_SPAN = CHAT[:14] + "03"


def span(trace, number, name, start_ms=0, duration_ms=10, parent=None, attributes=None, error=None):
    """A span whose id is its trace id's first 14 digits and then `number`, so ids share prefixes by trace."""
    return h.span(
        trace=int(trace, 16),
        span=int(trace[:14] + f"{number:02x}", 16),
        parent=None if parent is None else int(trace[:14] + f"{parent:02x}", 16),
        name=name,
        start_ms=start_ms,
        duration_ms=duration_ms,
        attributes=attributes,
        error=error,
    )


@pytest.fixture(autouse=True)
def store(client):
    chat = [
        span(CHAT, 1, "chat", duration_ms=1500, attributes={
            "workflow.name": "customer support", "user.id": "alice", "session.id": "s-42", "tier": "42",
        }),
        span(CHAT, 2, "openai.chat", 10, 1200, parent=1, attributes={
            "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
            "gen_ai.response.model": "gpt-4o-2024-08-06", "gen_ai.provider.name": "openai",
            "gen_ai.usage.input_tokens": 800, "gen_ai.usage.output_tokens": 400,
            "gen_ai.usage.cost.total": 0.012, "gen_ai.request.temperature": 0.7,
        }),
        span(CHAT, 3, "search_docs", 1300, 150, parent=1, attributes={"gen_ai.tool.name": "search_docs"}),
    ]
    pipeline = [
        span(PIPELINE, 1, "retriever.pipeline", duration_ms=250, attributes={
            "workflow.name": "indexing", "user.id": "bob",
        }),
        span(PIPELINE, 2, "retriever.query", 10, 100, parent=1, attributes={
            "openinference.span.kind": "RETRIEVER", "tier": "gold",
        }),
        span(PIPELINE, 3, "embed", 120, 80, parent=1, attributes={
            "gen_ai.operation.name": "embeddings", "gen_ai.request.model": "text-embedding-3-small",
            "gen_ai.usage.input_tokens": 50, "gen_ai.usage.cost.total": 0.0001,
        }),
    ]
    agent = [
        span(AGENT, 1, "agent.run", duration_ms=65_000, attributes={
            "gen_ai.agent.name": "planner", "workflow.name": "customer support escalation",
            "user.id": "alice", "session.id": "s-7",
        }),
        span(AGENT, 2, "anthropic.chat", 500, 64_000, parent=1, error="rate limited", attributes={
            "gen_ai.request.model": "claude-3.5-sonnet", "gen_ai.provider.name": "anthropic",
            "gen_ai.usage.input_tokens": 2000, "gen_ai.usage.output_tokens": 1000,
            "gen_ai.usage.cost.total": 0.09, "gen_ai.request.temperature": 0.2, "retry": True,
        }),
    ]
    health = [
        span(HEALTH, 1, "GET /health", duration_ms=5, attributes={"http.status_code": 200, "tier": 42, "flag": 1}),
    ]
    batch = [span(BATCH, 1, "nightly batch", duration_ms=7_201_000, attributes={"workflow.name": "Nightly Batch"})] + [
        span(BATCH, n, "step", 1000 * n, 1000, parent=1, error="disk full" if n in (2, 3) else None,
             attributes={"retry": False} if n == 4 else None)
        for n in range(2, 7)
    ]
    for service, spans in (("api", chat), ("worker", pipeline), ("api", agent), ("api", health), ("batch", batch)):
        assert h.post(client, h.body(*spans, service=service)).status_code == 200
    assert Trace.objects.count() == 5 and Span.objects.count() == 15


def traces(query):
    return {LABELS[t] for t in Trace.objects.filter(trace_filter(query)).values_list("trace_id", flat=True)}


def spans(query):
    return sorted(Span.objects.filter(span_filter(query)).values_list("name", flat=True))


def but(*excluded):
    return ALL_TRACES - set(excluded)


def spans_but(*excluded):
    names = list(ALL_SPANS)
    for name in excluded:
        names.remove(name)
    return names


def cases(*pairs):
    return pytest.mark.parametrize("query, expected", pairs, ids=[query or "<blank>" for query, _ in pairs])


# =============================================================================================
# Traces, field by field


@cases(
    ("duration:>1000ms", {"chat", "agent", "batch"}),
    ("duration:>1s", {"chat", "agent", "batch"}),
    ("duration:>1e3", {"chat", "agent", "batch"}),
    ("duration:>=1500", {"chat", "agent", "batch"}),
    ("duration:1500", {"chat"}),
    ("duration:=1.5s", {"chat"}),
    ("duration:!=1500ms", but("chat")),
    ("duration:<1500", {"pipeline", "health"}),
    ("duration:<=250ms", {"pipeline", "health"}),
    ("duration:<0.1s", {"health"}),
    ("duration:>1m", {"agent", "batch"}),
    ("duration:>1.5m", {"batch"}),
    ("duration:>2h", {"batch"}),
    ("duration:<=2h", but("batch")),
    ("duration:<10000us", {"health"}),
    ("duration:<6000000ns", {"health"}),
    ("duration:>5MS", but("health")),
)
def test_trace_duration_compares_in_every_unit_and_a_bare_number_is_milliseconds(query, expected):
    assert traces(query) == expected


@cases(
    ("error:true", {"agent", "batch"}),
    ("error:TRUE", {"agent", "batch"}),
    ("error:false", {"chat", "pipeline", "health"}),
    ("error:!=true", {"chat", "pipeline", "health"}),
    ("status:error", {"agent", "batch"}),
    ("status:ok", {"chat", "pipeline", "health"}),
    ("status:Ok", {"chat", "pipeline", "health"}),
)
def test_trace_error_and_status_follow_the_trace_status(query, expected):
    assert traces(query) == expected


@cases(
    ("model:gpt-4o", {"chat"}),
    ("model:gpt-4o-2024-08-06", {"chat"}),
    ("model:claude-3.5-sonnet", {"agent"}),
    ("model:GPT-4O", set()),
    ("model:gpt*", {"chat"}),
    ("model:GPT*", {"chat"}),
    ("model:*small", {"pipeline"}),
    ("model:*-3*", {"pipeline", "agent"}),
    ("model:*", {"chat", "pipeline", "agent"}),
    ("model:!=gpt-4o", but("chat")),
    ("provider:openai", {"chat"}),
    ("provider:anthro*", {"agent"}),
    ("tool:search_docs", {"chat"}),
    ("tool:search*", {"chat"}),
    ("agent:planner", {"agent"}),
    ("span:" + SEARCH_DOCS_SPAN, {"chat"}),
    ("span:c3d4", {"agent"}),
)
def test_trace_model_provider_tool_agent_and_span_match_any_span_of_the_trace(query, expected):
    assert traces(query) == expected


@cases(
    ("kind:llm", {"chat", "agent"}),
    ("kind:LLM", {"chat", "agent"}),
    ("kind:retriever", {"pipeline"}),
    ("kind:embedding", {"pipeline"}),
    ("kind:tool", {"chat"}),
    ("kind:agent", {"agent"}),
    ("kind:guardrail", set()),
    ("kind:other", but("agent")),
    ("-kind:other", {"agent"}),
    ("kind:llm kind:tool", {"chat"}),
    ("kind:llm kind:retriever", set()),
)
def test_trace_kind_finds_traces_with_a_span_of_that_category_each_term_on_its_own(query, expected):
    assert traces(query) == expected


@cases(
    ("service:api", {"chat", "agent", "health"}),
    ("service:worker", {"pipeline"}),
    ("service:API", set()),
    ("service:ap*", {"chat", "agent", "health"}),
    ("service:!=api", {"pipeline", "batch"}),
    ('workflow:"customer support"', {"chat"}),
    ("workflow:indexing", {"pipeline"}),
    ("workflow:customer*", {"chat", "agent"}),
    ("workflow:*escalation", {"agent"}),
    ('workflow:"customer support*"', {"chat", "agent"}),
    ('workflow:"*SUPPORT*"', {"chat", "agent"}),
    ("workflow:nightly", set()),
    ("workflow:nightly*", {"batch"}),
    ("workflow:*", {"chat", "pipeline", "agent", "batch"}),
    ("name:chat", {"chat"}),
    ("name:Chat", set()),
    ("name:retriever*", {"pipeline"}),
    ("name:*run", {"agent"}),
    ("name:*batch*", {"batch"}),
    ("name:GET*health", {"health"}),
    ("name:g*h", {"health"}),
    ("name:n*b*h", {"batch"}),
    ('name:"GET /health"', {"health"}),
    ('name:"nightly*"', {"batch"}),
    (r'name:"nightly\*"', set()),
    ("user:alice", {"chat", "agent"}),
    ("user:bob", {"pipeline"}),
    ("user:*", {"chat", "pipeline", "agent"}),
    ("session:s-42", {"chat"}),
    ("session:s-*", {"chat", "agent"}),
)
def test_trace_text_fields_match_exactly_or_by_case_insensitive_wildcard(query, expected):
    assert traces(query) == expected


@cases(
    ("cost:>0.01", {"chat", "agent"}),
    ("cost:>=1e-2", {"chat", "agent"}),
    ("cost:0.09", {"agent"}),
    ("cost:<=0.0001", {"pipeline", "health", "batch"}),
    ("cost:<0", set()),
    ("tokens:>=1000", {"chat", "agent"}),
    ("tokens:>=1k", {"chat", "agent"}),
    ("tokens:>1.5k", {"agent"}),
    ("tokens:1200", {"chat"}),
    ("tokens:!=1200", but("chat")),
    ("tokens:<100", {"pipeline", "health", "batch"}),
    ("tokens:>1199.5", {"chat", "agent"}),
    ("tokens:<=1200.5", but("agent")),
    ("tokens:50.5", set()),
    ("spans:>5", {"batch"}),
    ("spans:3", {"chat", "pipeline"}),
    ("spans:<2", {"health"}),
    ("errors:>0", {"agent", "batch"}),
    ("errors:2", {"batch"}),
    ("errors:0", {"chat", "pipeline", "health"}),
)
def test_trace_numbers_compare_with_every_operator(query, expected):
    assert traces(query) == expected


@cases(
    ("trace:a1b2", {"chat"}),
    ("id:A1B2", {"chat"}),
    ("trace:" + CHAT, {"chat"}),
    ("id:e5*", {"batch"}),
    ("trace:b2c3", {"pipeline"}),
    ("trace:!=a1", but("chat")),
)
def test_trace_id_matches_the_start_of_the_id_in_any_case(query, expected):
    assert traces(query) == expected


@cases(
    ("attr.gen_ai.request.temperature:>0.5", {"chat"}),
    ("attr.gen_ai.request.temperature:<0.5", {"agent"}),
    ("attr.gen_ai.request.temperature:>=0.2", {"chat", "agent"}),
    ("attr.gen_ai.request.temperature:0.7", {"chat"}),
    ("attr.gen_ai.request.temperature:!=0.7", but("chat")),
    ("attr.gen_ai.request.model:gpt-4o", {"chat"}),
    ("attr.http.status_code:200", {"health"}),
    ("attr.http.status_code:>=200", {"health"}),
    ('attr.http.status_code:"200"', set()),
    ("attr.tier:42", {"health"}),
    ('attr.tier:"42"', {"chat"}),
    ("attr.tier:>10", {"health"}),
    ("attr.tier:<100", {"health"}),
    ("attr.tier:gold", {"pipeline"}),
    ("attr.tier:GOLD", set()),
    ("attr.tier:gol*", {"pipeline"}),
    ("attr.tier:*OL*", {"pipeline"}),
    ("attr.tier:4*", {"chat"}),
    ("attr.tier:*", {"chat", "pipeline", "health"}),
    ("attr.retry:true", {"agent"}),
    ("attr.retry:false", {"batch"}),
    ("attr.retry:*", {"agent", "batch"}),
    ("-attr.retry:*", {"chat", "pipeline", "health"}),
    ("attr.flag:1", {"health"}),
    ("attr.flag:true", set()),
    ("attr.retry:1", set()),
    ('attr.retry:"true"', set()),
    ("attr.missing:*", set()),
)
def test_trace_attributes_compare_numbers_numerically_and_never_mix_types(query, expected):
    assert traces(query) == expected


@pytest.mark.parametrize(
    "query, found",
    [
        ("attr.ключ:значение", True),
        ("attr.ключ:*", True),
        ("attr.0:1", True),
        ("attr.a__b:x", True),
        ("attr.contains:y", True),
        ("attr.exact:*", False),
        ("attr.big:9007199254740993", True),
        ("attr.big:9007199254740992", False),
        ("attr.big:>9007199254740992", True),
        ("attr.kv:*", True),
        ("attr.kv.inner:1", False),
    ],
)
def test_attribute_keys_are_taken_literally_whatever_characters_they_hold(client, query, found):
    odd = "f" * 32
    h.post(client, h.body(span(odd, 1, "odd keys", attributes={
        "ключ": "значение", "0": 1, "a__b": "x", "contains": "y", "big": 9007199254740993, "kv": {"inner": 1},
    })))
    assert ("odd keys" in spans(query)) is found
    assert (odd in Trace.objects.filter(trace_filter(query)).values_list("trace_id", flat=True)) is found


@cases(
    ("chat", {"chat"}),
    ("support", {"chat", "agent"}),
    ('"customer support"', {"chat", "agent"}),
    ('"nightly batch"', {"batch"}),
    ('"GET /health"', {"health"}),
    ("health", {"health"}),
    ("api", {"chat", "agent", "health"}),
    ("worker", {"pipeline"}),
    ("retriev*", {"pipeline"}),
    ("a1b2", {"chat"}),
    ("B2C3", {"pipeline"}),
    ("zzz", set()),
)
def test_trace_free_text_searches_names_workflow_service_and_the_start_of_the_id(query, expected):
    assert traces(query) == expected


@cases(
    ("", ALL_TRACES),
    ("   ", ALL_TRACES),
    ("service:api error:true", {"agent"}),
    ("service:api AND error:true", {"agent"}),
    ("service:api and error:true", {"agent"}),
    ("service:worker OR error:true", {"pipeline", "agent", "batch"}),
    ("service:worker or error:true", {"pipeline", "agent", "batch"}),
    ("NOT service:api", {"pipeline", "batch"}),
    ("not service:api", {"pipeline", "batch"}),
    ("-service:api", {"pipeline", "batch"}),
    ("service:api AND NOT error:true", {"chat", "health"}),
    ("service:api -error:true", {"chat", "health"}),
    ("(service:worker OR service:batch) error:true", {"batch"}),
    ("service:worker OR service:batch error:true", {"pipeline", "batch"}),
    ("service:worker OR service:batch AND error:true", {"pipeline", "batch"}),
    ("NOT error:true OR service:batch", {"chat", "pipeline", "health", "batch"}),
    ("NOT (error:true OR service:batch)", {"chat", "pipeline", "health"}),
    ("-(error:true OR service:batch)", {"chat", "pipeline", "health"}),
    ("NOT NOT error:true", {"agent", "batch"}),
    ("((service:api))", {"chat", "agent", "health"}),
    ("model:gpt-4o OR model:claude-3.5-sonnet", {"chat", "agent"}),
    ("support -escalation", {"chat"}),
    ("duration:>1s cost:>0 user:alice -error:true", {"chat"}),
)
def test_trace_queries_combine_with_and_or_not_and_parentheses(query, expected):
    assert traces(query) == expected


# =============================================================================================
# Spans


@cases(
    ("duration:>1s", ["agent.run", "anthropic.chat", "chat", "nightly batch", "openai.chat"]),
    ("duration:>=1s", ["agent.run", "anthropic.chat", "chat", "nightly batch", "openai.chat"] + ["step"] * 5),
    ("duration:1.2s", ["openai.chat"]),
    ("duration:<100", ["GET /health", "embed"]),
    ("duration:<=100ms", ["GET /health", "embed", "retriever.query"]),
    ("duration:<5001us", ["GET /health"]),
    ("duration:>1.5m", ["nightly batch"]),
    ("duration:>1h", ["nightly batch"]),
    ("duration:>0.0000001ms", ALL_SPANS),
    ("error:true", ["anthropic.chat", "step", "step"]),
    ("status:error", ["anthropic.chat", "step", "step"]),
    ("error:false", spans_but("anthropic.chat", "step", "step")),
    ("status:ok", spans_but("anthropic.chat", "step", "step")),
    ("model:gpt-4o", ["openai.chat"]),
    ("model:gpt-4o-2024-08-06", ["openai.chat"]),
    ("model:*sonnet", ["anthropic.chat"]),
    ("model:*", ["anthropic.chat", "embed", "openai.chat"]),
    ("provider:openai", ["openai.chat"]),
    ("kind:llm", ["anthropic.chat", "openai.chat"]),
    ("kind:tool", ["search_docs"]),
    ("kind:retriever", ["retriever.query"]),
    ("kind:embedding", ["embed"]),
    ("kind:agent", ["agent.run"]),
    ("kind:other", ["GET /health", "chat", "nightly batch", "retriever.pipeline"] + ["step"] * 5),
    ("tool:search_docs", ["search_docs"]),
    ("agent:planner", ["agent.run"]),
    ("service:worker", ["embed", "retriever.pipeline", "retriever.query"]),
    ("workflow:customer*", ["agent.run", "chat"]),
    ("workflow:*", ["agent.run", "chat", "nightly batch", "retriever.pipeline"]),
    ("name:retriever*", ["retriever.pipeline", "retriever.query"]),
    ("name:*.chat", ["anthropic.chat", "openai.chat"]),
    ("name:*CHAT", ["anthropic.chat", "chat", "openai.chat"]),
    ("name:step", ["step"] * 5),
    ("cost:>0.01", ["anthropic.chat", "openai.chat"]),
    ("cost:<0.001", ["embed"]),
    ("tokens:<100", ["embed"]),
    ("tokens:>=1k", ["anthropic.chat", "openai.chat"]),
    ("tokens:!=50", spans_but("embed")),
    ("user:alice", ["agent.run", "chat"]),
    ("session:s-42", ["chat"]),
    ("trace:a1b2", ["chat", "openai.chat", "search_docs"]),
    ("id:C3D4", ["agent.run", "anthropic.chat"]),
    ("span:" + SEARCH_DOCS_SPAN, ["search_docs"]),
    ("span:a1b2", ["chat", "openai.chat", "search_docs"]),
)
def test_span_fields_match_the_span_itself(query, expected):
    assert spans(query) == expected


@cases(
    ("attr.tier:*", ["GET /health", "chat", "retriever.query"]),
    ("attr.tier:42", ["GET /health"]),
    ('attr.tier:"42"', ["chat"]),
    ("attr.tier:>=42", ["GET /health"]),
    ("attr.tier:g*", ["retriever.query"]),
    ("attr.gen_ai.request.temperature:>0.5", ["openai.chat"]),
    ("attr.gen_ai.request.temperature:<=0.7", ["anthropic.chat", "openai.chat"]),
    ("attr.retry:true", ["anthropic.chat"]),
    ("attr.retry:false", ["step"]),
    ("NOT attr.tier:42", spans_but("GET /health")),
    ("-attr.tier:*", spans_but("GET /health", "chat", "retriever.query")),
    ("attr.tier:!=gold", spans_but("retriever.query")),
)
def test_span_attributes_are_the_spans_own(query, expected):
    assert spans(query) == expected


@cases(
    ("chat", ["anthropic.chat", "chat", "openai.chat"]),
    ("retriever", ["retriever.pipeline", "retriever.query"]),
    ('"GET /health"', ["GET /health"]),
    ("a1b2", ["chat", "openai.chat", "search_docs"]),
    ("c3d4", ["agent.run", "anthropic.chat"]),
    (SEARCH_DOCS_SPAN, ["search_docs"]),
)
def test_span_free_text_searches_the_name_and_the_start_of_span_and_trace_ids(query, expected):
    assert spans(query) == expected


@cases(
    ("kind:llm OR tool:*", ["anthropic.chat", "openai.chat", "search_docs"]),
    ("service:api kind:llm", ["anthropic.chat", "openai.chat"]),
    ("service:api -kind:llm", ["GET /health", "agent.run", "chat", "search_docs"]),
    ("error:true service:batch", ["step", "step"]),
    ("(kind:llm OR kind:embedding) tokens:<1000", ["embed"]),
    ("name:step AND NOT error:true", ["step"] * 3),
    ("", ALL_SPANS),
)
def test_span_queries_combine_like_trace_queries(query, expected):
    assert spans(query) == expected


# =============================================================================================
# The parser


def term(field, text, op="="):
    return Term(field, op, Value(text, tuple(text.split("*"))))


def test_values_with_dashes_dots_and_stars_lex_as_single_words():
    assert parse("model:gpt-4o session:s-42 name:retriever* model:claude-3.5 s-42") == And((
        term("model", "gpt-4o"), term("session", "s-42"), term("name", "retriever*"),
        term("model", "claude-3.5"), term(None, "s-42"),
    ))


@pytest.mark.parametrize("op", ["=", "!=", ">", ">=", "<", "<="])
def test_every_comparison_operator_is_read(op):
    assert parse(f"cost:{op}5") == term("cost", "5", op)


def test_field_equals_value_is_the_same_query_as_field_value():
    assert parse("cost:=5") == parse("cost:5")
    assert trace_filter("cost:=5") == trace_filter("cost:5")


def test_field_names_are_case_insensitive_but_attribute_keys_are_not():
    assert parse("Duration:>5 ATTR.Http.Method:GET") == And(
        (term("duration", "5", ">"), term("attr.Http.Method", "GET"))
    )


def test_a_field_value_is_taken_whole_even_when_it_looks_like_a_keyword_or_has_colons():
    assert parse("name:AND") == term("name", "AND")
    assert parse("attr.url:http://x/y") == term("attr.url", "http://x/y")


def test_quoted_values_keep_spaces_escaped_quotes_and_escaped_stars():
    assert parse(r'workflow:"say \"hi\" now"').value.text == 'say "hi" now'
    assert parse(r'name:"a\\b"').value.text == "a\\b"
    assert parse(r'name:"a\*b"').value == Value("a*b", ("a*b",), quoted=True)
    assert parse('name:"a*b"').value == Value("a*b", ("a", "b"), quoted=True)


def test_quoted_free_text_is_one_term():
    phrase = Value("customer support", ("customer support",), quoted=True)
    assert parse('"customer support" x') == And((Term(None, "=", phrase), term(None, "x")))


def test_a_lone_minus_is_text_but_a_minus_before_a_term_negates_it():
    assert parse("a - b") == And((term(None, "a"), term(None, "-"), term(None, "b")))
    assert parse("-a -(b) -\"c\"") == And((
        Not(term(None, "a")), Not(term(None, "b")), Not(Term(None, "=", Value("c", ("c",), True))),
    ))


def test_a_negative_number_after_an_operator_is_a_value():
    assert parse("cost:>-1") == term("cost", "-1", ">")


@pytest.mark.parametrize(
    "query, structure",
    [
        ("a b OR c", "(a AND b) OR c"),
        ("a OR b c", "a OR (b AND c)"),
        ("a OR b AND c", "a OR (b AND c)"),
        ("NOT a b", "NOT a AND b"),
        ("NOT a OR b", "NOT a OR b"),
        ("NOT (a OR b)", "NOT (a OR b)"),
        ("-a OR b", "NOT a OR b"),
        ("(a OR b) (c OR d)", "(a OR b) AND (c OR d)"),
        ("a and b or not c", "(a AND b) OR NOT c"),
        ("((a))", "a"),
    ],
)
def test_not_binds_tighter_than_and_which_binds_tighter_than_or(query, structure):
    assert str(parse(query)) == structure


@pytest.mark.parametrize(
    "query",
    [
        'duration:>2s model:gpt-4o* (error:true OR cost:>0.05) -name:"health check"',
        r'workflow:"say \"hi\"" attr.tier:"42" name:"a\*b*"',
        "a b OR NOT (c OR d:!=e)",
    ],
)
def test_a_parsed_query_prints_as_a_query_that_parses_the_same(query):
    assert parse(str(parse(query))) == parse(query)


def test_terms_and_values_carry_their_columns():
    second = parse("service:api  duration:>5s").operands[1]
    assert (second.column, second.op_column, second.value.column) == (14, 23, 24)


def test_a_blank_query_matches_everything():
    assert parse("") == parse("  \t") == And(())
    assert trace_filter("") == trace_filter("   ") == span_filter(None) == Q()


def test_error_classes_are_value_errors_and_a_syntax_error_is_a_query_error():
    assert issubclass(QuerySyntaxError, QueryError)
    assert issubclass(QueryError, ValueError)


@pytest.mark.parametrize(
    "query, message, column",
    [
        ("duration:", "expected a value after 'duration:'", 10),
        ("duration:>", "expected a value after 'duration:>'", 11),
        ('workflow: "customer support"', "expected a value after 'workflow:'", 10),
        ("(a OR b) duration:<= x", "expected a value after 'duration:<='", 21),
        ("(a OR b", "unclosed '('", 1),
        ("a (b (c)", "unclosed '('", 3),
        ("a OR b)", "unmatched ')'", 7),
        (")", "unmatched ')'", 1),
        ('name:"abc', "unterminated quote", 6),
        ('a "b\\"', "unterminated quote", 3),
        ("a AND", "expected a term after 'AND'", 6),
        ("a OR AND b", "expected a term after 'OR'", 6),
        ("a AND )", "expected a term after 'AND'", 7),
        ("AND a", "expected a term before 'AND'", 1),
        ("a (OR b)", "expected a term after '('", 4),
        ("NOT", "expected a term after 'NOT'", 4),
        ("a -(", "expected a term after '('", 5),
        ("NOT NOT", "expected a term after 'NOT'", 8),
        ("()", "expected a term after '('", 2),
        (":x", "expected a field name before ':'", 1),
        ("(" * 17 + "a" + ")" * 17, "the query nests deeper than 16 levels", 17),
    ],
)
def test_syntax_errors_name_the_problem_and_its_column(query, message, column):
    with pytest.raises(QuerySyntaxError) as raised:
        parse(query)
    assert (raised.value.message, raised.value.column) == (message, column)
    assert str(raised.value) == f"{message} at column {column}"


@pytest.mark.parametrize(
    "query, error",
    [
        (
            "durtion:>5",
            "unknown field 'durtion' at column 1; known fields: duration, error, status, name, service, workflow, "
            "model, provider, kind, cost_source, tool, agent, step, user, session, cost, tokens, spans, errors, trace, id, span, "
            "attr.<key>",
        ),
        ("a attr:x", "unknown field 'attr' at column 3; known fields: " + ", ".join(FIELD_NAMES)),
        ("cost:>abc", "expected a number for 'cost:', got 'abc' at column 7"),
        ("tokens:12x", "expected a number for 'tokens:', got '12x' at column 8"),
        ("duration:>fast", "expected a duration for 'duration:' (like 250ms, 1.5s, 2m or 1h), got 'fast' at column 11"),
        (
            "duration:>5d",
            "unknown duration unit 'd' at column 12; use ns, us, ms, s, m or h (a bare number is milliseconds)",
        ),
        (
            "duration:>2h30m",
            "unknown duration unit 'h30m' at column 12; use ns, us, ms, s, m or h (a bare number is milliseconds)",
        ),
        ("name:>x", "'>' does not apply to 'name:', which takes text at column 6"),
        ("error:>=true", "'>=' does not apply to 'error:', which takes one of true, false at column 7"),
        ("error:maybe", "'maybe' is not a valid 'error:' value at column 7; use one of: true, false"),
        ("status:fine", "'fine' is not a valid 'status:' value at column 8; use one of: ok, error"),
        (
            "kind:bogus",
            "'bogus' is not a valid 'kind:' value at column 6; use one of: llm, embedding, retriever, reranker, "
            "tool, agent, chain, workflow, module, guardrail, evaluator, other",
        ),
        ("trace:xyz", "expected a hexadecimal id (or its first digits, up to 32) for 'trace:', got 'xyz' at column 7"),
        (
            "span:" + "a" * 17,
            f"expected a hexadecimal id (or its first digits, up to 16) for 'span:', got '{'a' * 17}' at column 6",
        ),
        ("attr.:1", "expected an attribute key after 'attr.' at column 6"),
        ("attr.tier:>gold", "'>' needs a number, got 'gold' at column 12; comparisons apply to numeric attributes"),
        ('attr.tier:>"5"', "'>' needs a number, got '5' at column 12; comparisons apply to numeric attributes"),
        ("tokens:>1e999", "the number '1e999' is out of range at column 9"),
    ],
)
def test_semantic_errors_name_the_problem_and_its_column(query, error):
    for build in (trace_filter, span_filter):
        with pytest.raises(QueryError) as raised:
            build(query)
        assert not isinstance(raised.value, QuerySyntaxError)
        assert str(raised.value) == error


@pytest.mark.parametrize(
    "query, error",
    [
        ("spans:>50", "spans: applies to traces, not spans at column 1"),
        ("kind:llm errors:>0", "errors: applies to traces, not spans at column 10"),
    ],
)
def test_trace_totals_are_rejected_in_span_queries(query, error):
    with pytest.raises(QueryError) as raised:
        span_filter(query)
    assert str(raised.value) == error
    trace_filter(query)  # and are fine for traces


def test_an_error_carries_message_column_and_hint_apart():
    with pytest.raises(QueryError) as raised:
        trace_filter("service:api kind:nope")
    assert (raised.value.message, raised.value.column) == ("'nope' is not a valid 'kind:' value", 18)
    assert raised.value.hint.startswith("use one of: llm, ")


def test_the_user_documentation_lists_every_field():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "query-language.md").read_text()
    for name in FIELD_NAMES:
        assert f"| `{name}" in doc, name
