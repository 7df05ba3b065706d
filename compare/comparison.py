"""What changed between two runs: each run's figures and their deltas, the aligned steps with their
values side by side, and a one-line summary.

A run is compared whole (traces.runs): the run of each given trace, from its outermost trace, so that a
msgflux agent call that arrived as a handful of one-span traces compares as one tree."""

from traces import runs, semconv, tree
from traces.formatting import cost, duration, model_label, tokens
from traces.models import Category, Span, StatusCode, Trace, counts_as_usage, is_error
from ui import span_panel

from compare import words
from compare.alignment import align

# A step's duration is marked as changed past this fraction: timings never repeat to the microsecond.
DURATION_NOISE = 0.1
FIGURES = (
    ("duration_ms", "Duration"), ("tokens", "Tokens"), ("cost", "Cost"), ("errors", "Errors"),
    ("model_calls", "Model calls"), ("tool_calls", "Tool calls"),
)
DETAILED = frozenset({Category.LLM.value, Category.TOOL.value})
# Bounds for long runs: the model calls and tool runs whose prompts, completions, arguments and results
# are diffed (in tree order, until DIFF_CHARS characters of text have been read; the spans' attributes
# are loaded DETAIL_BATCH steps at a time), and the steps the page lists. The figures, the summary and
# the API cover every step.
DETAILED_STEPS = 200
DIFF_CHARS = 2_000_000
DETAIL_BATCH = 50
STEPS_SHOWN = 1_000


class Run:
    """One side: the run of `trace`, its span tree and its figures (counted as the trace page counts them)."""

    def __init__(self, trace):
        self.members = Trace.objects.run_members(trace)
        self.root = self.members[0]
        self.spans, _ = runs.run_outline(self.members)
        self.roots = tree.build(self.spans)
        self.hex_ids = {member.pk: member.trace_id for member in self.members}
        usage = [span for span in self.spans if counts_as_usage(span.category)]
        self.duration_ms = self.root.duration_ms
        self.tokens = sum(span.total_tokens or 0 for span in usage)
        self.cost = round(sum(span.total_cost or 0.0 for span in usage), 10)
        self.errors = sum(1 for span in self.spans if is_error(span.status_code))
        self.model_calls = len(usage)
        self.tool_calls = sum(1 for span in self.spans if span.category == Category.TOOL)

    @property
    def trace_id(self):
        return self.root.trace_id

    @property
    def name(self):
        return self.root.root_span_name or self.root.workflow_name or self.root.trace_id

    def trace_of(self, span):
        return self.hex_ids[span.trace_id]


class Diff:
    """Two texts and their word-level diff (compare.words)."""

    __slots__ = ("a", "b")

    def __init__(self, a, b):
        self.a, self.b = a or "", b or ""

    @property
    def differs(self):
        return self.a != self.b

    @property
    def html(self):
        return words.html(self.a, self.b)

    @property
    def changes(self):
        return words.changes(self.a, self.b)


def transcript(content):
    """A prompt or completion (span_panel.Content, as the span panel reads it) as plain text: one block
    per message, its role first, then its text, the tool calls it asked for and the results it carried."""
    if content is None:
        return ""
    if content.text is not None:
        return content.text.text
    blocks = []
    for message in content.messages:
        lines = [f"{message.role}:"]
        if message.content is not None:
            lines.append(message.content.text)
        lines += [f"→ {call.name}({call.arguments.text if call.arguments else ''})" for call in message.tool_calls]
        lines += [f"← {call.call_id}: {call.result.text if call.result else ''}" for call in message.tool_responses]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


class Step:
    """One aligned row: the span of each side (an outline row, or None when only the other side has
    it), their values side by side, and for a model call or a tool run on both sides, the diffs."""

    def __init__(self, row, run_a, run_b):
        self.number, self.depth, self.side = row.number, row.depth, row.side
        self.a = row.a.span if row.a else None
        self.b = row.b.span if row.b else None
        self.trace_a = run_a.trace_of(self.a) if self.a else None
        self.trace_b = run_b.trace_of(self.b) if self.b else None
        either = self.a or self.b
        self.name = either.name
        self.category = either.category
        self.prompt = self.completion = self.arguments = self.result = None
        self.parameters = []

    @property
    def category_label(self):
        return Category(self.category).label if self.category in Category.values else self.category

    @property
    def renamed(self):
        return self.side == "both" and self.a.name != self.b.name

    @property
    def diffs(self):
        """[(title, Diff)] of what the step read on both sides: prompt and completion, or arguments and result."""
        found = (("Prompt", self.prompt), ("Completion", self.completion), ("Arguments", self.arguments),
                 ("Result", self.result))
        return [(title, diff) for title, diff in found if diff is not None]

    def values(self, span):
        if span is None:
            return None
        usage = counts_as_usage(span.category)
        return {
            "duration_ms": span.duration_ns / 1e6,
            "tokens": span.total_tokens if usage else None,
            "cost": span.total_cost if usage else None,
            "status": StatusCode(span.status_code).label if span.status_code in StatusCode.values else "unset",
            "model": span.model,
        }

    @property
    def differs(self):
        """The names of the values that changed between A and B (empty unless the step is on both sides)."""
        if self.side != "both":
            return []
        a, b = self.values(self.a), self.values(self.b)
        changed = [field for field in ("tokens", "cost", "status", "model") if a[field] != b[field]]
        slower = max(a["duration_ms"], b["duration_ms"])
        if slower and abs(a["duration_ms"] - b["duration_ms"]) / slower > DURATION_NOISE:
            changed.insert(0, "duration_ms")
        return changed

    def cells(self):
        """[(label, text in A, text in B, changed)] for the page: the values either side has."""
        a, b, changed = self.values(self.a), self.values(self.b), self.differs
        shown = (("duration_ms", "Duration", duration), ("tokens", "Tokens", tokens),
                 ("cost", "Cost", cost), ("status", "Status", str), ("model", "Model", model_label))
        return [
            (label, show(a[field]) if a and (a[field] is not None) else "–",
             show(b[field]) if b and (b[field] is not None) else "–", field in changed)
            for field, label, show in shown
            if any(side and side[field] not in (None, "") for side in (a, b))
        ]

    def read(self, span_a, span_b):
        """The diffs of a step on both sides, from the two spans with their attributes."""
        attributes_a = span_a.attributes if isinstance(span_a.attributes, dict) else {}
        attributes_b = span_b.attributes if isinstance(span_b.attributes, dict) else {}
        if self.category == Category.LLM:
            self.prompt = _content_diff(semconv.prompt, attributes_a, attributes_b)
            self.completion = _content_diff(semconv.completion, attributes_a, attributes_b)
            self.parameters = _parameter_changes(span_a, attributes_a, span_b, attributes_b)
        if self.category == Category.TOOL:
            calls_a = span_panel.tool_calls(span_a, attributes_a)
            calls_b = span_panel.tool_calls(span_b, attributes_b)
            self.arguments = Diff(_joined(calls_a, "arguments"), _joined(calls_b, "arguments"))
            self.result = Diff(_joined(calls_a, "result"), _joined(calls_b, "result"))


def _content_diff(read, attributes_a, attributes_b):
    a = transcript(span_panel.Content.of(read(attributes_a)))
    b = transcript(span_panel.Content.of(read(attributes_b)))
    return Diff(a, b) if a or b else None


def _parameter_changes(span_a, attributes_a, span_b, attributes_b):
    """[(parameter, value in A, value in B)] for the request parameters that differ ("–": not sent)."""
    a = {key: value.text for key, value in span_panel.LlmFacts(span_a, attributes_a).parameters}
    b = {key: value.text for key, value in span_panel.LlmFacts(span_b, attributes_b).parameters}
    return [(key, a.get(key, "–"), b.get(key, "–")) for key in sorted(a.keys() | b.keys()) if a.get(key) != b.get(key)]


def _joined(calls, field):
    return "\n".join(getattr(call, field).text for call in calls if getattr(call, field) is not None)


class UnknownTrace(LookupError):
    """No trace has this id."""


class Comparison:
    """Run A against run B: `a` and `b` (Run), `steps` (Step, in tree order), `deltas` (B minus A)."""

    @classmethod
    def between(cls, trace_id_a, trace_id_b):
        """The comparison of the runs of two traces given by (valid, lowercase) id; UnknownTrace names
        the first id that no trace has."""
        traces = {trace.trace_id: trace for trace in Trace.objects.filter(trace_id__in={trace_id_a, trace_id_b})}
        for trace_id in (trace_id_a, trace_id_b):
            if trace_id not in traces:
                raise UnknownTrace(f"no trace {trace_id}")
        return cls(traces[trace_id_a], traces[trace_id_b])

    def __init__(self, trace_a, trace_b):
        self.a, self.b = Run(trace_a), Run(trace_b)
        self.steps = [Step(row, self.a, self.b) for row in align(self.a.roots, self.b.roots)]
        self._read_details()

    def _read_details(self):
        """The attributes of the model calls and tool runs found on both sides, a batch of steps per query,
        within DETAILED_STEPS and DIFF_CHARS; `undetailed` counts the steps left without their diffs."""
        detailed = [step for step in self.steps if step.side == "both" and step.category in DETAILED
                    and step.b.category == step.category]
        self.undetailed = max(0, len(detailed) - DETAILED_STEPS)
        detailed, budget = detailed[:DETAILED_STEPS], DIFF_CHARS
        for start in range(0, len(detailed), DETAIL_BATCH):
            if budget <= 0:
                self.undetailed += len(detailed) - start
                break
            batch = detailed[start:start + DETAIL_BATCH]
            ids = {span.id for step in batch for span in (step.a, step.b)}
            loaded = Span.objects.filter(id__in=ids).only("id", "attributes", "tool_name", "currency", "input_cost",
                                                           "output_cost", "total_cost", "cost_source").in_bulk()
            for step in batch:
                step.read(loaded[step.a.id], loaded[step.b.id])
                budget -= sum(len(diff.a) + len(diff.b) for _, diff in step.diffs)

    @property
    def shown_steps(self):
        """The steps the page lists: the first STEPS_SHOWN in tree order."""
        return self.steps[:STEPS_SHOWN]

    @property
    def hidden_steps(self):
        return max(0, len(self.steps) - STEPS_SHOWN)

    @property
    def deltas(self):
        return {field: _delta(getattr(self.a, field), getattr(self.b, field)) for field, _ in FIGURES}

    def figures(self):
        """[(label, A as text, B as text, the delta as text, the delta's sign)] for the page."""
        shown = {"duration_ms": duration, "tokens": tokens, "cost": cost}
        rows = []
        for field, label in FIGURES:
            show = shown.get(field, str)
            a, b, delta = getattr(self.a, field), getattr(self.b, field), self.deltas[field]
            sign = "+" if delta > 0 else "−" if delta < 0 else "±"
            rows.append((label, show(a), show(b), f"{sign}{show(abs(delta))}", "up" if delta > 0 else
                         "down" if delta < 0 else "same"))
        return rows

    @property
    def model_switches(self):
        """[(step number, model in A, model in B)] for the model calls on both sides whose model changed."""
        return [(step.number, step.a.model, step.b.model) for step in self.steps
                if step.side == "both" and step.a.model and step.b.model and step.a.model != step.b.model]

    @property
    def only_in_a(self):
        return sum(1 for step in self.steps if step.side == "a")

    @property
    def only_in_b(self):
        return sum(1 for step in self.steps if step.side == "b")

    @property
    def summary(self):
        """One line: how B differs from A, e.g. "B took 2.30 s longer, cost $0.02 more, made 2 more tool
        calls; step 3 switched from gpt-4o to gpt-4o-mini"."""
        deltas = self.deltas
        parts = []
        if deltas["duration_ms"]:
            parts.append(f"took {duration(abs(deltas['duration_ms']))} {_more(deltas['duration_ms'], 'longer', 'less')}")
        if deltas["cost"]:
            parts.append(f"cost {cost(abs(deltas['cost']))} {_more(deltas['cost'], 'more', 'less')}")
        if deltas["tokens"]:
            parts.append(f"used {_count(deltas['tokens'], 'token', tokens)}")
        for field, noun in (("model_calls", "model call"), ("tool_calls", "tool call")):
            if deltas[field]:
                parts.append(f"made {_count(deltas[field], noun)}")
        if deltas["errors"]:
            parts.append(f"had {_count(deltas['errors'], 'error')}")
        line = "B " + ", ".join(parts) if parts else "A and B match in duration, tokens, cost, errors and calls"
        switches = [f"step {number} switched from {a} to {b}" for number, a, b in self.model_switches]
        return "; ".join([line, *switches])


def _delta(a, b):
    return round(b - a, 10) if isinstance(a, float) or isinstance(b, float) else b - a


def _more(delta, more, less):
    return more if delta > 0 else less


def _count(delta, noun, show=str):
    size = abs(delta)
    return f"{show(size)} {'more' if delta > 0 else 'fewer'} {noun}{'' if size == 1 else 's'}"
