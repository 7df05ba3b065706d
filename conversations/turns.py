"""A session read as a conversation: its turns (runs, traces.runs) in time order, each with the user's
message, the assistant's answer and its figures.

The messages are read the way the span panel reads a prompt and a completion (traces.semconv): the
user's message is the last user message of the turn's first model call, or the input of its root span
(input.value, gen_ai.prompt...); the answer is the final completion of its last model call, or the
output of its root span. Only the spans these come from are loaded with their attributes."""

from django.db.models import Count, Max, Min, Q, Sum

from conversations.listing import PAGE_SIZE, TURN, paged, session_figures
from traces import semconv
from traces.models import Category, Span, StatusCode, Trace, stored_text
from traces.timeframe import datetime_from_ns
from ui.span_panel import LONG, ROLES, Value

TURNS_PER_PAGE = PAGE_SIZE
# What is read of a turn's spans to pick the ones whose messages count: never their attributes.
PICKING = ("id", "trace_id", "start_ns", "category", "parent_span_id", "status_code", "status_message", "name")


class UnknownSession(LookupError):
    pass


class Turn:
    """One run of the session: its traces (in start order), figures and messages."""

    def __init__(self, number, row):
        self.number = number
        self.key = row["turn"]
        self.start_ns, self.end_ns = row["start_ns"], row["end_ns"]
        self.trace_count, self.tokens, self.cost, self.errors = (
            row["trace_count"], row["tokens"], row["cost"], row["errors"])
        self.trace_ids = []
        self.trace_id = None  # the run's outermost trace: the page that shows the whole turn
        self.error_message = ""
        self.user_message = self.answer = None  # span_panel.Value, or None when no span said it

    @property
    def started_at(self):
        return datetime_from_ns(self.start_ns)

    @property
    def duration_ms(self):
        return (self.end_ns - self.start_ns) / 1e6

    @property
    def is_error(self):
        return self.errors > 0


class Conversation:
    """A session page: the session's totals and one page of its turns."""

    def __init__(self, session_id, totals, page):
        self.session_id = session_id
        self.totals = totals
        self.page = page

    @property
    def turns(self):
        return self.page.rows

    @property
    def duration_ms(self):
        return (self.totals["end_ns"] - self.totals["start_ns"]) / 1e6

    @classmethod
    def load(cls, session_id, page=1):
        """Five queries whatever the session's size (six when a turn's outermost trace lies outside the
        session); UnknownSession when no trace has this id."""
        traces = Trace.objects.filter(session_id=stored_text(session_id)) if session_id else Trace.objects.none()
        totals = traces.aggregate(**session_figures(), start_ns=Min("start_ns"), end_ns=Max("end_ns"))
        if not totals["trace_count"]:
            raise UnknownSession(f"no trace belongs to session {session_id!r}")
        rows = (traces.annotate(turn=TURN).values("turn")
                .annotate(start_ns=Min("start_ns"), end_ns=Max("end_ns"), trace_count=Count("id"), tokens=Sum("total_tokens"),
                          cost=Sum("total_cost"), errors=Sum("error_count"))
                .order_by("start_ns", "turn"))
        page = paged(rows, page, TURNS_PER_PAGE)
        offset = (page.number - 1) * TURNS_PER_PAGE
        page.rows = [Turn(offset + i + 1, row) for i, row in enumerate(page.rows)]
        if page.rows:
            _read_messages(traces, page.rows)
        return cls(session_id, totals, page)


def _read_messages(traces, turns):
    by_key = {turn.key: turn for turn in turns}
    members = {}  # trace pk -> its turn
    for pk, trace_id, key in (traces.annotate(turn=TURN).filter(turn__in=by_key)
                              .order_by("start_ns", "id").values_list("id", "trace_id", "turn")):
        turn = by_key[key]
        members[pk] = turn
        turn.trace_ids.append(trace_id)
        if pk == key:
            turn.trace_id = trace_id
    outside = [key for key, turn in by_key.items() if turn.trace_id is None]
    if outside:  # stitched into a run whose outermost trace has no session id: link to that trace
        for pk, trace_id in Trace.objects.filter(pk__in=outside).values_list("id", "trace_id"):
            by_key[pk].trace_id = trace_id
    for turn in turns:
        turn.trace_id = turn.trace_id or turn.trace_ids[0]

    spans = (Span.objects.filter(trace_id__in=members)
             .filter(Q(category=Category.LLM) | Q(parent_span_id="") | Q(status_code=StatusCode.ERROR))
             .order_by("start_ns", "id").values_list(*PICKING, named=True))
    picked = {}  # turn -> {"first": span, "last": span, "root": span}
    for span in spans:
        turn = members[span.trace_id]
        chosen = picked.setdefault(turn, {})
        if span.category == Category.LLM:
            chosen.setdefault("first", span)
            chosen["last"] = span
        if not span.parent_span_id and span.trace_id == turn.key:
            chosen.setdefault("root", span)
        if span.status_code == StatusCode.ERROR and not turn.error_message:
            turn.error_message = span.status_message or f"{span.name} failed"
    wanted = {span.id for chosen in picked.values() for span in chosen.values()}
    attributes = dict(Span.objects.filter(pk__in=wanted).values_list("id", "attributes")) if wanted else {}
    for turn, chosen in picked.items():
        turn.user_message = _said(chosen, "first", attributes, semconv.prompt, "user")
        turn.answer = _said(chosen, "last", attributes, semconv.completion, "assistant")


def _said(chosen, call, attributes, read, role):
    """The text of the last `role` message of that model call's content (or its plain text), else of the
    root span's, as a span_panel.Value that folds when long."""
    for which in (call, "root"):
        span = chosen.get(which)
        if span is None:
            continue
        text = message_text(read(_attributes_of(attributes, span.id)), role)
        if text:
            return display_text(text)
    return None


def _attributes_of(attributes, pk):
    found = attributes.get(pk)
    return found if isinstance(found, dict) else {}


def message_text(content, role):
    """The content of the last message in `role` (span_panel.ROLES spellings) of a semconv.prompt() or
    semconv.completion() result, or its plain text; "" when it has neither."""
    if not content:
        return ""
    messages = content.get("messages") or []
    for message in reversed(messages):
        if ROLES.get((message.get("role") or "").lower()) == role and message.get("content"):
            return message["content"]
    if role == "assistant" and messages and not any(message.get("role") for message in messages):
        return messages[-1].get("content") or ""
    return semconv.as_text(content.get("text"))


def display_text(text):
    """Text as the model wrote it (a JSON answer is never re-indented), folded when long."""
    return Value("text", text, LONG)
