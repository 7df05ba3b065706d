"""The search language: one query string -> a Django filter for traces or for spans.

    service:api duration:>2s (model:gpt-4o* OR error:true) -name:healthcheck

text --tokenize--> tokens --parse--> AST (Term, Not, And, Or) --compile--> Q for Trace or Span.

The REST API and the UI both call trace_filter() / span_filter() and build no filters of their own, so
a query means the same thing wherever it is typed. docs/query-language.md is the user's reference and
lists the same fields as FIELDS below; a test keeps the two in step.
"""

import json
import math
import operator
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from functools import reduce

from django.db import NotSupportedError
from django.db.models import BooleanField, CharField, F, Func, OuterRef, Q, TextField
from django.db.models.lookups import BuiltinLookup, Exact, IContains

from traces.models import STEP_CATEGORIES, Category, Span, SpanExists, Status, StatusCode, step_name

# =============================================================================================
# Errors


class QueryError(ValueError):
    """A query that cannot be run: unknown field, bad number, a field that does not apply here.

    `message` names the problem, `column` (1-based) points at it, `hint` (maybe empty) says what
    would be accepted. str() reads "<message> at column <column>[; <hint>]".
    """

    def __init__(self, message, column, hint=""):
        self.message = message
        self.column = column
        self.hint = hint
        super().__init__(message, column, hint)

    def __str__(self):
        located = f"{self.message} at column {self.column}"
        return f"{located}; {self.hint}" if self.hint else located


class QuerySyntaxError(QueryError):
    """The text is not a query: unbalanced parentheses, an unterminated quote, a missing value."""


# =============================================================================================
# Tokens

WORD, STRING, FIELD, OP, LPAREN, RPAREN, AND, OR, NOT, MINUS, END = (
    "word", "string", "field", "op", "(", ")", "AND", "OR", "NOT", "-", "end",
)
_KEYWORDS = {"AND": AND, "and": AND, "OR": OR, "or": OR, "NOT": NOT, "not": NOT}
_OPERATORS = (">=", "<=", "!=", ">", "<", "=")  # longest first, so ">=" is not read as ">"
_TERM_STARTS = frozenset({WORD, STRING, FIELD, LPAREN, NOT, MINUS})
_STRING_ESCAPES = '"\\*'
# Deep enough for any query a person writes. SQLite's parser stack overflows on groups nested some 20
# deep ("parser stack overflow": alternating AND and OR groups of attribute terms, inside the
# statistics' subqueries, fail at 21), so the language stops below that.
MAX_DEPTH = 16
# A database parses "a AND b AND c ..." into a tree as deep as the chain is long, and SQLite refuses
# trees deeper than 1,000: terms beyond a few hundred fail there. 100 is far more than a person writes.
MAX_TERMS = 100


@dataclass(frozen=True)
class Token:
    kind: str
    text: str  # the word, the unescaped string, the field name, the operator or the keyword
    start: int  # offsets into the query text
    end: int
    parts: tuple = ()  # WORD and STRING: the text split at wildcard stars

    @property
    def column(self):
        return self.start + 1


def tokenize(text):
    """The query's tokens, ending with an END token. A bare word runs to whitespace, a parenthesis or a quote."""
    tokens = []
    i = 0
    while i < len(text):
        char = text[i]
        if char.isspace():
            i += 1
        elif char in "()":
            tokens.append(Token(LPAREN if char == "(" else RPAREN, char, i, i + 1))
            i += 1
        elif char == '"':
            tokens.append(_string(text, i))
            i = tokens[-1].end
        else:
            end = i
            while end < len(text) and not _breaks_word(text[end]):
                end += 1
            i = _bare(text, i, end, tokens)
    tokens.append(Token(END, "", len(text), len(text)))
    return tokens


def _breaks_word(char):
    return char.isspace() or char in '()"'


def _string(text, start):
    """A quoted string. Backslash escapes a quote, a backslash or a star; an unescaped star is a wildcard."""
    parts, current = [], []
    i = start + 1
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text) and text[i + 1] in _STRING_ESCAPES:
            current.append(text[i + 1])
            i += 2
            continue
        if char == '"':
            parts.append("".join(current))
            return Token(STRING, "*".join(parts), start, i + 1, tuple(parts))
        if char == "*":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    raise QuerySyntaxError("unterminated quote", start + 1)


def _bare(text, start, end, tokens):
    """Tokens of one bare run text[start:end]; returns where lexing goes on."""
    run = text[start:end]
    # "-" negates only when a term follows it directly: "a - b" searches for the text "-".
    if run[0] == "-" and (len(run) > 1 or (end < len(text) and text[end] in '("')):
        tokens.append(Token(MINUS, "-", start, start + 1))
        return start + 1
    if run in _KEYWORDS:
        tokens.append(Token(_KEYWORDS[run], run, start, end))
        return end
    colon = run.find(":")
    if colon < 0:
        tokens.append(_word(run, start))
        return end
    if colon == 0:
        raise QuerySyntaxError("expected a field name before ':'", start + 1)
    tokens.append(Token(FIELD, run[:colon], start, start + colon + 1))
    at = start + colon + 1
    op = next((op for op in _OPERATORS if text.startswith(op, at, end)), None)
    if op:
        tokens.append(Token(OP, op, at, at + len(op)))
        at += len(op)
    # The rest of the run is the value whatever it looks like: in name:AND, AND is a name.
    # A quoted value (workflow:"a b") is the STRING token lexed next, right against the colon.
    if at < end:
        tokens.append(_word(text[at:end], at))
    return end


def _word(text, start):
    return Token(WORD, text, start, start + len(text), tuple(text.split("*")))


# =============================================================================================
# The syntax tree. Columns are left out of equality: two queries that say the same are equal.


@dataclass(frozen=True)
class Value:
    text: str  # as written, without quotes and escapes
    parts: tuple  # text split at wildcard stars: one part when there is no wildcard
    quoted: bool = False
    column: int = field(default=0, compare=False)

    @property
    def wildcard(self):
        return len(self.parts) > 1

    @property
    def anything(self):
        """Only stars: matches any value that is present."""
        return self.wildcard and not any(self.parts)

    def __str__(self):
        if not self.quoted:
            return self.text
        return quoted(*self.parts)


def quoted(*parts):
    """A quoted query value that means exactly `parts` joined by wildcards (one part: the text itself)."""
    escaped = (part.replace("\\", "\\\\").replace('"', '\\"').replace("*", "\\*") for part in parts)
    return '"' + "*".join(escaped) + '"'


@dataclass(frozen=True)
class Term:
    field: str | None  # lowercased field name ("attr." keeps its key as written); None for free text
    op: str  # "=", "!=", ">", ">=", "<" or "<="
    value: Value
    column: int = field(default=0, compare=False)
    op_column: int = field(default=0, compare=False)

    def __str__(self):
        if self.field is None:
            return str(self.value)
        return f"{self.field}:{'' if self.op == '=' else self.op}{self.value}"


@dataclass(frozen=True)
class Not:
    operand: "Node"

    def __str__(self):
        return f"NOT {_grouped(self.operand, (And, Or))}"


@dataclass(frozen=True)
class And:
    operands: tuple  # empty for a blank query, which matches everything

    def __str__(self):
        return " AND ".join(_grouped(o, (Or,)) for o in self.operands)


@dataclass(frozen=True)
class Or:
    operands: tuple

    def __str__(self):
        # AND binds tighter anyway; the parentheses are for the reader.
        return " OR ".join(_grouped(o, (And,)) for o in self.operands)


Node = Term | Not | And | Or


def _grouped(node, needs_parentheses):
    return f"({node})" if isinstance(node, needs_parentheses) and len(node.operands) > 1 else str(node)


# =============================================================================================
# Parser. Grammar, loosest binding first:
#
#   query       := disjunction? END
#   disjunction := conjunction (OR conjunction)*
#   conjunction := negation (AND? negation)*        adjacent terms are ANDed
#   negation    := (NOT | "-") negation | primary
#   primary     := "(" disjunction ")" | FIELD OP? value | value
#   value       := WORD | STRING                    a field's value touches its colon


def parse(text):
    """The query's syntax tree; And(()) for blank text. Raises QuerySyntaxError."""
    return _Parser(text or "").query()


class _Parser:
    def __init__(self, text):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0
        self.terms = 0

    @property
    def peek(self):
        return self.tokens[self.i]

    def take(self):
        token = self.tokens[self.i]
        self.i += 1
        return token

    def query(self):
        if self.peek.kind == END:
            return And(())
        node = self.disjunction()
        if self.peek.kind == RPAREN:
            raise QuerySyntaxError("unmatched ')'", self.peek.column)
        return node

    def disjunction(self):
        operands = [self.conjunction()]
        while self.peek.kind == OR:
            self.expect_term_after(self.take())
            operands.append(self.conjunction())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def conjunction(self):
        operands = [self.negation()]
        while True:
            if self.peek.kind == AND:
                self.expect_term_after(self.take())
            elif self.peek.kind not in _TERM_STARTS:
                break
            operands.append(self.negation())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def negation(self):
        if self.peek.kind not in (NOT, MINUS):
            return self.primary()
        token = self.take()
        self.expect_term_after(token)
        with self.nested(token):
            return Not(self.negation())

    def primary(self):
        token = self.peek
        if token.kind == LPAREN:
            self.take()
            self.expect_term_after(token)
            with self.nested(token):
                node = self.disjunction()
            if self.peek.kind != RPAREN:
                raise QuerySyntaxError("unclosed '('", token.column)
            self.take()
            return node
        if token.kind in (FIELD, WORD, STRING):
            self.terms += 1
            if self.terms > MAX_TERMS:
                raise QuerySyntaxError(
                    f"the query has more than {MAX_TERMS} terms", token.column, "search with fewer terms"
                )
        if token.kind == FIELD:
            return self.field_term()
        if token.kind in (WORD, STRING):
            self.take()
            return Term(None, "=", _value(token), token.column, token.column)
        if token.kind in (AND, OR):
            raise QuerySyntaxError(f"expected a term before '{token.text}'", token.column)
        if token.kind == RPAREN:
            raise QuerySyntaxError("unmatched ')'", token.column)
        raise QuerySyntaxError("expected a term", token.column)

    def field_term(self):
        name = self.take()
        last = name
        op = "="
        if self.peek.kind == OP:
            last = self.take()
            op = last.text
        token = self.peek
        if token.kind not in (WORD, STRING) or token.start != last.end:
            written = self.text[name.start : last.end]
            raise QuerySyntaxError(f"expected a value after '{written}'", last.end + 1)
        self.take()
        # field:=value is field:value
        return Term(_field_name(name.text), op, _value(token), name.column, last.column)

    def expect_term_after(self, token):
        if self.peek.kind not in _TERM_STARTS:
            raise QuerySyntaxError(f"expected a term after '{token.text}'", self.peek.column)

    @contextmanager
    def nested(self, token):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise QuerySyntaxError(f"the query nests deeper than {MAX_DEPTH} levels", token.column)
        try:
            yield
        finally:
            self.depth -= 1


def _value(token):
    return Value(token.text, token.parts, token.kind == STRING, token.column)


def _field_name(written):
    # Field names are case-insensitive; attribute keys are not.
    if written[:5].lower() == "attr.":
        return "attr." + written[5:]
    return written.lower()


# =============================================================================================
# Values: numbers, durations, text patterns

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,3})?"
_PLAIN_NUMBER = re.compile(_NUMBER)
_SCALED_NUMBER = re.compile(f"(?P<number>{_NUMBER})(?P<scale>[kKM]?)")
_DURATION = re.compile(f"(?P<number>{_NUMBER})(?P<unit>.*)", re.DOTALL)
_SCALES = {"": 1, "k": 1000, "K": 1000, "M": 1_000_000}
_MS_PER_UNIT = {
    "ns": Decimal("0.000001"), "us": Decimal("0.001"), "ms": Decimal(1),
    "s": Decimal(1000), "m": Decimal(60_000), "h": Decimal(3_600_000),
}
_HEX = re.compile(r"[0-9a-f]+")
_LOOKUPS = {"=": "exact", ">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}
_BIGINT = 2**63


def _number(term):
    """The term's value as a Decimal: 0.01, 1000, 1e3, 1k (thousand) or 2M (million)."""
    match = _SCALED_NUMBER.fullmatch(term.value.text)
    if not match:
        raise QueryError(f"expected a number for '{term.field}:', got '{term.value.text}'", term.value.column)
    return Decimal(match["number"]) * _SCALES[match["scale"]]


def _duration_ms(term):
    """The term's value in milliseconds: 250ms, 1.5s, 2m, 1h; a bare number is milliseconds."""
    match = _DURATION.fullmatch(term.value.text)
    if not match:
        raise QueryError(
            f"expected a duration for '{term.field}:' (like 250ms, 1.5s, 2m or 1h), got '{term.value.text}'",
            term.value.column,
        )
    unit = match["unit"].lower() or "ms"
    if unit not in _MS_PER_UNIT:
        raise QueryError(
            f"unknown duration unit '{match['unit']}'",
            term.value.column + len(match["number"]),
            "use ns, us, ms, s, m or h (a bare number is milliseconds)",
        )
    return Decimal(match["number"]) * _MS_PER_UNIT[unit]


def _pattern(target, value):
    """An exact, case-sensitive match (one that an index serves), or a case-insensitive wildcard match.
    target is a column path or an expression."""
    if not value.wildcard:
        return _lookup(target, "exact", value.text)
    if value.anything:
        return ~_lookup(target, "exact", "")
    return Q(_Like(F(target) if isinstance(target, str) else target, value.parts))


class _Like(IContains):
    """text LIKE 'part%part%part', case-insensitive the way Django's icontains is on each database.

    LIKE rather than a regular expression: both databases match '%' without backtracking (a failed
    match after the last '%' gives up at once), so a pattern with many stars costs about
    len(text) x stars. A regular expression such as ^a.*a.*a.*b$ on SQLite is Python's re, which
    backtracks: against 60 a's it ran for minutes. rhs is the value's parts; each is escaped so that
    %, _ and \\ in a value are themselves.
    """

    def process_rhs(self, compiler, connection):
        rhs, params = BuiltinLookup.process_rhs(self, compiler, connection)
        params[0] = "%".join(connection.ops.prep_for_like_query(part) for part in self.rhs)
        return rhs, params


def _lookup(target, lookup, value):
    if isinstance(target, str):
        return Q(**{f"{target}__{lookup}": value})
    return Q(target.get_lookup(lookup)(target, value))


def _containing(value):
    """Free text matches anywhere in the text: the same value with a wildcard on each side."""
    return Value(value.text, ("", *value.parts, ""), value.quoted, value.column)


def _hex_prefix(value, length):
    text = value.text.lower()
    return text if not value.wildcard and len(text) <= length and _HEX.fullmatch(text) else None


def _compare(column, op, number, whole, term):
    """column <op> number. A whole-number column takes a fractional bound by rounding it inwards."""
    if not whole:
        value = float(number)
        if not math.isfinite(value):
            raise QueryError(f"the number '{term.value.text}' is out of range", term.value.column)
        return Q(**{f"{column}__{_LOOKUPS[op]}": value})
    if number != number.to_integral_value():
        if op == "=":
            return Q(pk__in=[])  # no whole number equals a fraction
        op, number = (">=", math.ceil(number)) if op in (">", ">=") else ("<=", math.floor(number))
    number = int(number)
    if not -_BIGINT <= number < _BIGINT:
        raise QueryError(f"the number '{term.value.text}' is out of range", term.value.column)
    return Q(**{f"{column}__{_LOOKUPS[op]}": number})


def _equality_only(term, takes):
    if term.op != "=":
        raise QueryError(f"'{term.op}' does not apply to '{term.field}:', which takes {takes}", term.op_column)


def _any(queries):
    return reduce(operator.or_, queries)


# =============================================================================================
# Compiling terms. Each factory returns a handler: Term -> Q for one model. "!=" never reaches a
# handler: field:!=value is compiled as NOT field:value.


def _text(*columns):
    """Text fields; with several columns, a match in any of them."""

    def compile(term):
        _equality_only(term, "text")
        return _any(_pattern(column, term.value) for column in columns)

    return compile


def _numeric(column, whole=False):
    def compile(term):
        return _compare(column, term.op, _number(term), whole, term)

    return compile


def _duration(column, per_ms, whole=False):
    def compile(term):
        return _compare(column, term.op, _duration_ms(term) * per_ms, whole, term)

    return compile


def _choice(options):
    """A closed set of values, case-insensitive: {value: () -> Q}."""
    listed = ", ".join(options)

    def compile(term):
        _equality_only(term, f"one of {listed}")
        key = term.value.text.lower()
        if term.value.wildcard or key not in options:
            raise QueryError(
                f"'{term.value.text}' is not a valid '{term.field}:' value", term.value.column, f"use one of: {listed}"
            )
        return options[key]()

    return compile


def _id_prefix(column, length):
    """A hexadecimal id or the start of one; a trailing star is allowed and changes nothing."""

    def compile(term):
        _equality_only(term, "an id")
        value = term.value
        if len(value.parts) == 2 and not value.parts[1]:
            value = Value(value.parts[0], (value.parts[0],), value.quoted, value.column)
        prefix = _hex_prefix(value, length)
        if not prefix:
            raise QueryError(
                f"expected a hexadecimal id (or its first digits, up to {length}) for '{term.field}:', "
                f"got '{term.value.text}'",
                term.value.column,
            )
        return _starting_with(column, prefix, length)

    return compile


def _starting_with(column, prefix, length):
    if len(prefix) == length:
        return Q(**{column: prefix})
    # The same set as a range as well: SQLite's LIKE never uses an index, a range does. Every digit
    # after the prefix is below "g", in byte order and in any collation that orders letters.
    return Q(**{f"{column}__startswith": prefix, f"{column}__gte": prefix, f"{column}__lt": prefix + "g"})


def _any_span(handler):
    """A span-level field on traces: true when at least one of the trace's spans matches.

    Each term gets its own EXISTS, so `kind:llm kind:tool` finds traces with an LLM span and a tool
    span, not one span that is both; the span search answers the latter.
    """

    def compile(term):
        return Q(SpanExists(Span.objects.filter(trace=OuterRef("pk")).filter(handler(term))))

    return compile


# Attribute values are addressed with SQL of our own rather than Django's key lookups: those write
# SQLite JSON paths with non-ASCII characters escaped, which SQLite does not unescape (a key such as
# "ключ" is never found), read an all-digit key as an array index, and split keys on "__".


def _sqlite_path(key):
    return "$." + json.dumps(key, ensure_ascii=False)


class _Attribute(Func):
    """Base of the expressions on one key of the span's `attributes` JSON object."""

    def __init__(self, key):
        super().__init__(F("attributes"))
        self.key = key

    def as_sql(self, compiler, connection, **extra):
        raise NotSupportedError("attribute queries run on SQLite and PostgreSQL only")

    def _column(self, compiler):
        return compiler.compile(self.get_source_expressions()[0])


class _AttributeKind(_Attribute):
    """The JSON type of the value, named alike on both databases: number, string, true, false, null,
    object, array; '' when the key is missing, never NULL, so that NOT stays the complement.

    Every attribute condition checks the kind first. Without it the databases disagree: SQLite ranks
    text above every number and reads true as 1, PostgreSQL ranks strings below numbers and booleans
    above them.
    """

    output_field = CharField()

    def as_sqlite(self, compiler, connection):
        column, params = self._column(compiler)
        sql = (
            f"COALESCE(CASE JSON_TYPE({column}, %s) WHEN 'integer' THEN 'number' WHEN 'real' THEN 'number' "
            f"WHEN 'text' THEN 'string' ELSE JSON_TYPE({column}, %s) END, '')"
        )
        path = _sqlite_path(self.key)
        return sql, (*params, path, *params, path)

    def as_postgresql(self, compiler, connection):
        column, params = self._column(compiler)
        sql = (
            f"COALESCE(CASE jsonb_typeof({column} -> %s) WHEN 'boolean' THEN ({column} -> %s)::text "
            f"ELSE jsonb_typeof({column} -> %s) END, '')"
        )
        return sql, (*params, self.key, *params, self.key, *params, self.key)


class _AttributeText(_Attribute):
    """The value as text; meaningful where the kind is string, and there open to Django's text lookups."""

    output_field = TextField()

    def as_sqlite(self, compiler, connection):
        column, params = self._column(compiler)
        return f"JSON_EXTRACT({column}, %s)", (*params, _sqlite_path(self.key))

    def as_postgresql(self, compiler, connection):
        column, params = self._column(compiler)
        return f"({column} ->> %s)", (*params, self.key)


class _AttributeCompare(_Attribute):
    """value <op> number; meaningful where the kind is number.

    PostgreSQL compares the jsonb values themselves, which is exact for integers beyond 2**53 where a
    cast to double precision would not be.
    """

    output_field = BooleanField()
    SQL_OPERATORS = {"=": "=", ">": ">", ">=": ">=", "<": "<", "<=": "<="}

    def __init__(self, key, op, number):
        super().__init__(key)
        self.op = self.SQL_OPERATORS[op]
        self.number = number

    def as_sqlite(self, compiler, connection):
        column, params = self._column(compiler)
        return f"JSON_EXTRACT({column}, %s) {self.op} %s", (*params, _sqlite_path(self.key), self.number)

    def as_postgresql(self, compiler, connection):
        column, params = self._column(compiler)
        return f"({column} -> %s) {self.op} %s::jsonb", (*params, self.key, json.dumps(self.number))


def _kind_is(key, kind):
    return Q(Exact(_AttributeKind(key), kind))


def _attribute(term):
    """attr.<key>: a span attribute. Unquoted numbers and true/false match JSON numbers and booleans;
    anything else, or anything quoted, matches strings; `*` alone matches any value."""
    key = term.field[len("attr.") :]
    if not key:
        raise QueryError("expected an attribute key after 'attr.'", term.column + len("attr."))
    value = term.value
    if value.anything and term.op == "=":
        return ~_kind_is(key, "")
    if not value.quoted and _PLAIN_NUMBER.fullmatch(value.text):
        number = Decimal(value.text)
        whole = number == number.to_integral_value() and abs(number) < _BIGINT
        number = int(number) if whole else float(number)
        if not math.isfinite(number):
            raise QueryError(f"the number '{value.text}' is out of range", value.column)
        return _kind_is(key, "number") & Q(_AttributeCompare(key, term.op, number))
    if term.op != "=":
        raise QueryError(
            f"'{term.op}' needs a number, got '{value.text}'", value.column, "comparisons apply to numeric attributes"
        )
    if not value.quoted and value.text.lower() in ("true", "false"):
        return _kind_is(key, value.text.lower())
    return _kind_is(key, "string") & _pattern(_AttributeText(key), value)


def _trace_text(term):
    q = _any(_pattern(c, _containing(term.value)) for c in ("root_span_name", "workflow_name", "service_name"))
    prefix = _hex_prefix(term.value, 32)
    return q | _starting_with("trace_id", prefix, 32) if prefix else q


def _span_text(term):
    q = _pattern("name", _containing(term.value))
    if prefix := _hex_prefix(term.value, 16):
        q |= _starting_with("span_id", prefix, 16)
    if prefix := _hex_prefix(term.value, 32):
        q |= _starting_with("trace__trace_id", prefix, 32)
    return q


@dataclass(frozen=True)
class Field:
    name: str
    traces: object  # Term -> Q on Trace, or None when the field says nothing about traces
    spans: object  # Term -> Q on Span, or None


def _trace_failed(failed):
    return lambda: Q(status=Status.ERROR if failed else Status.OK)


def _span_failed(failed):
    # Unset counts as not failed: most instrumentation never sets OK.
    return lambda: Q(status_code=StatusCode.ERROR) if failed else ~Q(status_code=StatusCode.ERROR)


def _step(term):
    """A workflow step (traces.flows) by its name: a module, tool, agent or model call."""
    _equality_only(term, "text")
    return Q(category__in=STEP_CATEGORIES) & _pattern(step_name(), term.value)


CATEGORIES = {value: (lambda value=value: Q(category=value)) for value in Category.values}
COST_SOURCES = {value: (lambda value=value: Q(cost_source=value)) for value in ("reported", "estimated", "unpriced")}

FIELDS = {
    f.name: f
    for f in (
        Field("duration", _duration("duration_ms", 1), _duration("duration_ns", 1_000_000, whole=True)),
        Field(
            "error",
            _choice({"true": _trace_failed(True), "false": _trace_failed(False)}),
            _choice({"true": _span_failed(True), "false": _span_failed(False)}),
        ),
        Field(
            "status",
            _choice({"ok": _trace_failed(False), "error": _trace_failed(True)}),
            _choice({"ok": _span_failed(False), "error": _span_failed(True)}),
        ),
        Field("name", _text("root_span_name"), _text("name")),
        Field("service", _text("service_name"), _text("service_name")),
        Field("workflow", _text("workflow_name"), _text("workflow_name")),
        Field("model", _any_span(_text("model", "response_model")), _text("model", "response_model")),
        Field("provider", _any_span(_text("provider")), _text("provider")),
        Field("kind", _any_span(_choice(CATEGORIES)), _choice(CATEGORIES)),
        Field("cost_source", _any_span(_choice(COST_SOURCES)), _choice(COST_SOURCES)),
        Field("tool", _any_span(_text("tool_name")), _text("tool_name")),
        Field("agent", _any_span(_text("agent_name")), _text("agent_name")),
        Field("step", _any_span(_step), _step),
        Field("user", _text("user_id"), _text("user_id")),
        Field("session", _text("session_id"), _text("session_id")),
        Field("cost", _numeric("total_cost"), _numeric("total_cost")),
        Field("tokens", _numeric("total_tokens", whole=True), _numeric("total_tokens", whole=True)),
        Field("spans", _numeric("span_count", whole=True), None),
        Field("errors", _numeric("error_count", whole=True), None),
        Field("trace", _id_prefix("trace_id", 32), _id_prefix("trace__trace_id", 32)),
        Field("id", _id_prefix("trace_id", 32), _id_prefix("trace__trace_id", 32)),
        Field("span", _any_span(_id_prefix("span_id", 16)), _id_prefix("span_id", 16)),
        Field("attr.<key>", _any_span(_attribute), _attribute),
    )
}
FREE_TEXT = Field("", _trace_text, _span_text)
FIELD_NAMES = tuple(FIELDS)


def _field(term):
    if term.field is None:
        return FREE_TEXT
    found = FIELDS.get("attr.<key>" if term.field.startswith("attr.") else term.field)
    if found is None:
        raise QueryError(f"unknown field '{term.field}'", term.column, "known fields: " + ", ".join(FIELD_NAMES))
    return found


# =============================================================================================
# Public entry points


def trace_filter(query):
    """A Q for Trace.objects from a query string (or a tree from parse()); Q() for a blank query."""
    return query_filter(query, "traces")


def span_filter(query):
    """A Q for Span.objects from a query string (or a tree from parse()); Q() for a blank query."""
    return query_filter(query, "spans")


def query_filter(query, target):
    """target is "traces" or "spans". Raises QuerySyntaxError or QueryError."""
    if target not in ("traces", "spans"):
        raise ValueError(f"target must be 'traces' or 'spans', not {target!r}")
    if isinstance(query, str):
        # Stored text never holds NUL (ingest turns it into U+FFFD, which PostgreSQL can store):
        # search for what was stored. Same length, so columns in error messages stay right.
        query = query.replace("\x00", "\ufffd")
    node = parse(query) if query is None or isinstance(query, str) else query
    return _compile(node, target)


def _compile(node, target):
    if isinstance(node, Term):
        return _compile_term(node, target)
    if isinstance(node, Not):
        return ~_compile(node.operand, target)
    parts = [_compile(operand, target) for operand in node.operands]
    if not parts:
        return Q()
    return reduce(operator.and_ if isinstance(node, And) else operator.or_, parts)


def _compile_term(term, target):
    found = _field(term)
    handler = getattr(found, target)
    if handler is None:
        other = "spans" if target == "traces" else "traces"
        raise QueryError(f"{term.field}: applies to {other}, not {target}", term.column)
    if term.op == "!=":
        return ~handler(Term(term.field, "=", term.value, term.column, term.op_column))
    return handler(term)
