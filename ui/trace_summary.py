"""What the trace page says about a trace as a whole: cost per currency, usage per model, and errors.

Everything is computed from the spans the timeline already loaded (no attributes), plus one query
for the trace's exception events, so the page's query count does not depend on its size.
"""

from traces.formatting import model_label
from traces.models import SpanEvent, counts_as_usage, is_error

# The errors section lists this many spans; a trace with more says how many it left out.
ERROR_LIMIT = 50


class ModelUsage:
    __slots__ = ("model", "calls", "errors", "input_tokens", "output_tokens", "total_tokens", "_costs",
                 "estimated_cost", "unpriced_spans")

    def __init__(self, model):
        self.model = model
        self.calls = self.errors = self.input_tokens = self.output_tokens = self.total_tokens = 0
        self._costs = {}
        # How much of the cost msgtrace estimated, and the calls it could not price (pricing.estimate).
        self.estimated_cost = 0.0
        self.unpriced_spans = 0

    def add(self, span):
        self.calls += 1
        self.errors += is_error(span.status_code)
        self.input_tokens += span.input_tokens or 0
        self.output_tokens += span.output_tokens or 0
        self.total_tokens += span.total_tokens or 0
        if span.total_cost is not None:
            currency = span.currency or "USD"
            self._costs[currency] = self._costs.get(currency, 0.0) + span.total_cost
        if span.cost_source == "estimated":
            self.estimated_cost += span.total_cost or 0.0
        elif span.cost_source == "unpriced":
            self.unpriced_spans += 1

    @property
    def costs(self):
        """[(currency, amount)], largest first: calls priced in several currencies are not added up.
        Empty when no call reported a cost ("–" then, rather than a misleading $0)."""
        return sorted(self._costs.items(), key=lambda item: -item[1])


def by_model(spans):
    """Usage per model over the model calls (counts_as_usage: what the trace's totals count, so the
    rows add up to them), most calls first, and the total row: ([ModelUsage], ModelUsage).
    traces.stats.by_model is the same over many traces."""
    rows = {}
    total = ModelUsage("")
    for span in spans:
        if not counts_as_usage(span.category):
            continue
        model = model_label(span.model)
        if model not in rows:
            rows[model] = ModelUsage(model)
        rows[model].add(span)
        total.add(span)
    return sorted(rows.values(), key=lambda row: (-row.calls, row.model)), total


class RecordedException:
    __slots__ = ("type", "message", "stacktrace", "time_ns")

    def __init__(self, attributes, time_ns):
        self.type = _text(attributes.get("exception.type"))
        self.message = _text(attributes.get("exception.message"))
        self.stacktrace = _text(attributes.get("exception.stacktrace"))
        self.time_ns = time_ns

    def key(self):
        return (self.type, self.message, self.stacktrace)


class ErrorEntry:
    __slots__ = ("node", "span", "exceptions", "handled")

    def __init__(self, node, exceptions):
        self.node, self.span = node, node.span
        self.exceptions = exceptions
        # An exception was recorded but the span's status is not ERROR: the code caught it.
        self.handled = not is_error(node.span.status_code)


def _text(value):
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def exception_events(trace):
    """span pk -> [RecordedException], from the trace's `exception` events, in one query."""
    events = (
        SpanEvent.objects.filter(span__trace=trace, name="exception")
        .order_by("span_id", "position")
        .values_list("span_id", "attributes", "time_ns")
    )
    result = {}
    for span_pk, attributes, time_ns in events:
        found = RecordedException(attributes if isinstance(attributes, dict) else {}, time_ns)
        seen = result.setdefault(span_pk, [])
        if all(found.key() != other.key() for other in seen):  # msgflux records each exception twice
            seen.append(found)
    return result


def errors(order, exceptions):
    """Error spans, and spans that recorded an exception, in tree order: the first ERROR_LIMIT as
    [ErrorEntry], and how many there are in all."""
    entries = [
        ErrorEntry(node, exceptions.get(node.span.id, []))
        for node in order
        if is_error(node.span.status_code) or node.span.id in exceptions
    ]
    return entries[:ERROR_LIMIT], len(entries)
