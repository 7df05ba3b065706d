"""What a printed trace report holds: the header and totals of the trace (or of its whole run), its
spans as timeline bars in tree order, its errors with their stack traces, usage and cost per model, and
the prompts and completions of its model calls.

A report is bounded whatever the size of the trace, so that a PDF of 5,000 spans renders in seconds
and stays a few megabytes: past SPAN_LIMIT spans the rows stop and one line summarizes what was left
out, and past TRANSCRIPT_LIMIT model calls the transcripts stop likewise. Errors are listed before
anything is cut, so a failure deep in a big run is never what the summary hides.
"""

from traces.formatting import tokens
from traces.models import Category, Span, counts_as_usage, is_error
from traces import semconv
from ui import span_panel, trace_summary
from ui.trace_page import RunFigures, layout_for

# Rows drawn in the timeline and tree; a bigger trace is drawn shallowest levels first (as the page
# draws it) and the rest is summarized in one line.
SPAN_LIMIT = 500
# Model calls whose prompt and completion are printed.
TRANSCRIPT_LIMIT = 50
# Error spans printed with their exceptions; every error of a normal trace fits.
ERROR_LIMIT = 200
# Past these a message or a stack trace is cut, with a note saying how much was left out.
MESSAGE_CHARS = 4000
STACK_LINES = 60
# Messages printed of one prompt or completion: the first (the system prompt, usually) and the latest.
MESSAGE_LIMIT = 12
# Levels the timeline opens: deep enough for any real agent, bounded by SPAN_LIMIT anyway.
MAX_DEPTH = 64


def clipped(text, limit=MESSAGE_CHARS):
    """The text, or its first `limit` characters and how many more there were."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n… {len(text) - limit:,} more characters not printed"


def clipped_lines(text, limit=STACK_LINES):
    """The text, or its first and last lines around a note of how many lines were left out: a stack
    trace's last lines name the error."""
    lines = text.split("\n")
    if len(lines) <= limit:
        return clipped(text)
    head, tail = lines[: limit - 10], lines[-10:]
    return clipped("\n".join([*head, f"… {len(lines) - limit:,} lines not printed", *tail]))


class PrintedMessage:
    """One message of a conversation as printed: its role, and its text with the tool calls it asked for
    and the results it carried, each on a line of its own."""

    __slots__ = ("role", "role_class", "text")

    def __init__(self, role, role_class, parts):
        self.role, self.role_class = role, role_class
        self.text = clipped("\n".join(part for part in parts if part))


def printed_messages(content):
    """A prompt or completion (span_panel.Content) -> [PrintedMessage]; [] when the span had none. A long
    conversation keeps its first message and its latest ones, with a note of how many were left out."""
    if content is None:
        return []
    if content.text is not None:
        return [PrintedMessage("text", "other", [content.text.text])]
    printed = []
    for message in content.messages:
        parts = [message.content.text if message.content is not None else ""]
        parts += [f"→ {call.name}({call.arguments.text if call.arguments else ''})" for call in message.tool_calls]
        parts += [f"← {call.call_id}: {call.result.text if call.result else ''}" for call in message.tool_responses]
        printed.append(PrintedMessage(message.role, message.role_class, parts))
    if len(printed) > MESSAGE_LIMIT:
        skipped = len(printed) - MESSAGE_LIMIT
        note = PrintedMessage("…", "other", [f"{skipped:,} earlier messages not printed"])
        printed = [printed[0], note, *printed[-(MESSAGE_LIMIT - 1):]]
    return printed


class Transcript:
    """A model call's prompt and completion, read from its attributes as the span panel reads them."""

    __slots__ = ("span", "prompt", "completion")

    def __init__(self, span, attributes):
        self.span = span
        self.prompt = printed_messages(span_panel.Content.of(semconv.prompt(attributes)))
        self.completion = printed_messages(span_panel.Content.of(semconv.completion(attributes)))

    @property
    def parts(self):
        return [("Prompt", self.prompt), ("Completion", self.completion)]


class PrintedError:
    """An error span with its exceptions, their stack traces cut to STACK_LINES."""

    __slots__ = ("span", "handled", "exceptions")

    def __init__(self, entry):
        self.span, self.handled = entry.span, entry.handled
        self.exceptions = [(exception.type or "Exception", exception.message, clipped_lines(exception.stacktrace))
                           for exception in entry.exceptions]


class LeftOut:
    """What the timeline did not draw, counted: its spans, errors, model calls and tool calls."""

    def __init__(self, spans):
        self.spans = len(spans)
        self.errors = sum(1 for span in spans if is_error(span.status_code))
        self.model_calls = sum(1 for span in spans if counts_as_usage(span.category))
        self.tool_calls = sum(1 for span in spans if span.category == Category.TOOL)

    def __bool__(self):
        return self.spans > 0

    def line(self, errors_listed):
        """"4,500 more spans not shown: 112 errors (listed under Errors), 2,250 model calls, 1,125 tool calls"."""
        parts = []
        if self.errors:
            listed = " (listed under Errors)" if errors_listed else ""
            parts.append(f"{_count(self.errors, 'error')}{listed}")
        if self.model_calls:
            parts.append(_count(self.model_calls, "model call"))
        if self.tool_calls:
            parts.append(_count(self.tool_calls, "tool call"))
        head = f"{_count(self.spans, 'more span')} not shown"
        return f"{head}: {', '.join(parts)}" if parts else head


def _count(number, noun):
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def exception_events(members):
    """span pk -> [RecordedException] over every trace of the run: one query per trace, and a run
    holds a handful."""
    found = {}
    for member in members:
        found |= trace_summary.exception_events(member)
    return found


class TraceReport:
    """The report of `trace`, or of its whole run when it belongs to one (as the trace page shows it)."""

    def __init__(self, trace):
        self.trace = trace
        self.layout, spans, self.members = layout_for(trace, "timeline")
        self.run = self.members if len(self.members) > 1 else None
        self.figures = trace if self.run is None else RunFigures(self.members)
        self.rows = [row for row in self.layout.rows(budget=SPAN_LIMIT, max_depth=MAX_DEPTH) if not row.more]
        drawn = {row.span.span_id for row in self.rows}
        self.left_out = LeftOut([span for span in spans if span.span_id not in drawn])
        self.models, self.models_total = trace_summary.by_model(spans)
        self._errors(exception_events(self.members))
        self._transcripts()

    def _errors(self, exceptions):
        entries = [trace_summary.ErrorEntry(node, exceptions.get(node.span.id, [])) for node in self.layout.order
                   if is_error(node.span.status_code) or node.span.id in exceptions]
        self.errors = [PrintedError(entry) for entry in entries[:ERROR_LIMIT]]
        self.errors_total = len(entries)
        self.errors_left_out = len(entries) - len(self.errors)

    def _transcripts(self):
        """The first TRANSCRIPT_LIMIT model calls in tree order, with their attributes in one query."""
        calls = [node.span for node in self.layout.order if node.span.category == Category.LLM]
        shown = calls[:TRANSCRIPT_LIMIT]
        attributes = dict(Span.objects.filter(id__in=[span.id for span in shown]).values_list("id", "attributes"))
        self.transcripts = [Transcript(span, attributes.get(span.id) if isinstance(attributes.get(span.id), dict)
                                       else {}) for span in shown]
        self.transcripts_left_out = len(calls) - len(shown)

    @property
    def title(self):
        return self.trace.root_span_name or self.trace.trace_id

    @property
    def summary_line(self):
        return self.left_out.line(errors_listed=self.errors_left_out == 0) if self.left_out else ""

    @property
    def ticks(self):
        return self.layout.ticks()

    @property
    def tokens_line(self):
        return f"{tokens(self.figures.input_tokens)} / {tokens(self.figures.output_tokens)}"


class ComparisonReport:
    """The report of a comparison (compare.comparison.Comparison): its steps cut at SPAN_LIMIT."""

    def __init__(self, comparison):
        self.comparison = comparison
        self.steps = comparison.steps[:SPAN_LIMIT]
        self.steps_left_out = len(comparison.steps) - len(self.steps)

    @property
    def title(self):
        return f"Compare {self.comparison.a.name} with {self.comparison.b.name}"
