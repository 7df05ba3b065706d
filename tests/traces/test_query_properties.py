"""Whatever a visitor types, the query language either returns a filter the database runs, or says
what is wrong with a QueryError (QuerySyntaxError when the text is not a query). Nothing else: no
database error, no recursion error, no TypeError.

Hypothesis writes the queries: arbitrary text (unicode, NUL, control characters), and text built
from the grammar's own pieces (fields, operators, quotes, escapes, wildcards, keywords, parentheses),
which reaches much further past the parser. Each filter runs against a small store of real traces,
on SQLite and PostgreSQL alike. Derandomized, so CI sees the same examples on every run.
"""

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import helpers as h
from traces.models import Span, Trace
from traces.query import FIELD_NAMES, QueryError, query_filter

pytestmark = pytest.mark.django_db

EXAMPLES = settings(
    max_examples=120,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

FIELDS = [name for name in FIELD_NAMES if name != "attr.<key>"] + ["attr.", "Duration", "nope"]
ATTRIBUTE_KEYS = ["tier", "gen_ai.request.temperature", "ключ", "a b", "", "1", "x__y", "\x00"]
OPERATORS = ["", "=", "!=", ">", ">=", "<", "<=", "=>", "!", "<>"]
KEYWORDS = ["AND", "OR", "NOT", "and", "or", "not", "-", "(", ")", "()"]
WORDS = [
    "gpt-4o", "gpt*", "*4o", "*", "**", "a*b*c", "llm", "tool", "true", "false", "ok", "error", "0", "-1",
    "1e3", "1e999", "-1e-999", "2.5k", "1.5M", "9" * 30, "1.5s", "250ms", "2m", "1h", "5d", "1ns", "nan", "inf",
    "5b8efff7", "0" * 32, "f" * 33, "%", "_", "\\", "'", "`", "ü", "💥", "\x00", "\u202e", "NULL", "; DROP",
]

text = st.text(st.characters(codec="utf-8"), max_size=60)
word = st.one_of(st.sampled_from(WORDS), st.text(st.characters(codec="utf-8", exclude_characters=' ()"'),
                                                 min_size=1, max_size=12))
quoted = st.lists(st.one_of(word, st.sampled_from(["\\\"", "\\\\", "\\*", "\\", " ", "*", "("])), max_size=5).map(
    lambda parts: '"' + "".join(parts) + '"'
)
value = st.one_of(word, quoted)
field = st.one_of(st.sampled_from(FIELDS), st.sampled_from(ATTRIBUTE_KEYS).map(lambda key: "attr." + key))
term = st.one_of(
    st.builds(lambda f, op, v: f"{f}:{op}{v}", field, st.sampled_from(OPERATORS), value),
    value,
    st.builds(lambda f, op: f"{f}:{op}", field, st.sampled_from(OPERATORS)),  # no value
)
piece = st.one_of(term, term, term, st.sampled_from(KEYWORDS))
structured = st.lists(st.tuples(piece, st.sampled_from([" ", " ", "", "  ", "\t"])), max_size=14).map(
    lambda pieces: "".join(p + gap for p, gap in pieces)
)
# Groups the parser accepts, nested: these reach the database with real structure.
grouped = st.recursive(
    term,
    lambda inner: st.one_of(
        st.builds(lambda a, b: f"({a} OR {b})", inner, inner),
        st.builds(lambda a, b: f"{a} {b}", inner, inner),
        st.builds(lambda a: f"-({a})", inner),
        st.builds(lambda a: f"NOT {a}", inner),
    ),
    max_leaves=12,
)


@pytest.fixture
def store(client):
    """A few traces with the fields and attribute types the queries read."""
    h.post(client, h.body(
        h.span(trace=1, span=1, name="chat", duration_ms=1500, attributes={
            "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "gen_ai.request.temperature": 0.7,
            "gen_ai.usage.input_tokens": 120, "gen_ai.usage.output_tokens": 30, "tier": "gold", "ключ": "знач",
            "user.id": "alice", "session.id": "s-42"}),
        h.span(trace=1, span=2, parent=1, name="search_docs", error="boom",
               attributes={"gen_ai.tool.name": "search", "retry": True, "a b": 42, "1": [1, 2]}),
        service="api"))
    h.post(client, h.body(h.span(trace=2, span=3, name="100% a_b\\c", attributes={"tier": "42", "x__y": {"k": 1}}),
                          service="wörker"))
    return client


def runs_or_says_why(query):
    for target, model in (("traces", Trace), ("spans", Span)):
        try:
            where = query_filter(query, target)
        except QueryError:
            continue  # the language's own answer: message and column
        # A savepoint, so that on PostgreSQL a failure is reported as itself, not as an aborted transaction.
        with transaction.atomic():
            list(model.objects.filter(where)[:5])
            model.objects.filter(where).count()


@EXAMPLES
@given(query=text)
def test_any_text_runs_or_is_a_query_error(store, query):
    runs_or_says_why(query)


@EXAMPLES
@given(query=structured)
def test_text_made_of_the_grammars_pieces_runs_or_is_a_query_error(store, query):
    runs_or_says_why(query)


@EXAMPLES
@given(query=grouped)
def test_nested_groups_of_terms_run_or_are_a_query_error(store, query):
    runs_or_says_why(query)
