"""The trace page's timeline and span tree: which rows to draw, where each bar sits, and the time axis.

Both views draw the same rows: one per span, in tree order (traces.tree.walk), indented by depth.
A trace of a few hundred spans is drawn whole. A bigger one is drawn shallowest levels first until
ROW_BUDGET rows are used or COLLAPSE_DEPTH levels are open; the subtrees left closed are fetched
when opened (ui.views.trace_detail.subtree), and a level with more children than the budget comes
in slices behind a "more" row. So the page costs the same to serve and to lay out in the browser
whatever the size of the trace, while every span stays one click away.
"""

import math
from collections import deque
from functools import cached_property

from traces import critical_path, tree
from traces.formatting import duration_ns as format_duration_ns
from traces.models import is_error
from ui.links import SITE

ROW_BUDGET = 400
COLLAPSE_DEPTH = 3
# Category -> the colour the bar is drawn in (static/css/trace.css, --kind-* in base.css).
PALETTE = {
    "llm": "llm", "embedding": "embedding", "retriever": "retriever", "reranker": "retriever",
    "tool": "tool", "agent": "agent", "workflow": "workflow", "chain": "workflow", "module": "workflow",
}
VIEWS = ("timeline", "tree", "flame")
NS = {"ns": 1, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000}


class Row:
    """One drawn row: a span with its geometry and figures, or a "more" row standing for a slice."""

    __slots__ = ("node", "span", "depth", "expanded", "load_url", "url", "x", "w", "label_at", "more", "count",
                 "currency", "duration", "inferred", "critical")

    def __init__(self, node=None, depth=0, expanded=False, load_url="", url="", more=False, count=0, currency=None):
        self.node = node
        self.currency = currency
        self.span = node.span if node is not None else None
        self.depth = depth
        self.expanded = expanded  # its children are drawn below it
        self.load_url = load_url  # its children are fetched from here when opened
        self.url = url
        self.more = more
        self.count = count
        self.x = self.w = "0"
        self.label_at = ""
        self.duration = ""
        self.inferred = False  # its parent edge was inferred from timing (traces.runs)
        self.critical = False  # on the trace's critical path (traces.critical_path)

    @property
    def toggle(self):
        return bool(self.node is not None and self.node.children)

    @property
    def children(self):
        return len(self.node.children)

    @property
    def descendants(self):
        return self.node.subtree_spans - 1

    @property
    def subtree_tokens(self):
        """None when no span of the subtree reported usage: "–" reads better than "0" then."""
        return self.node.subtree_tokens or None

    @property
    def subtree_cost(self):
        return self.node.subtree_cost or None

    @property
    def palette(self):
        return PALETTE.get(self.span.category, "other")

    @property
    def is_error(self):
        return is_error(self.span.status_code)

    @property
    def orphan(self):
        return self.node.orphan


def _percent(value):
    """A CSS percentage with no more digits than a pixel needs."""
    return f"{value:.3f}".rstrip("0").rstrip(".") or "0"


class Layout:
    """The span tree of one trace, placed on the trace's time axis."""

    def __init__(self, trace, spans, view="timeline", inferred=(), span_traces=None, links=SITE):
        """`trace` sets the time axis; for a run (traces.runs) it is the outermost trace, `inferred` holds
        the span ids whose parent edge was inferred from timing, `span_traces` each span's trace id.
        `links` (ui.links) says where the rows link to."""
        self.trace = trace
        self.links = links
        self.inferred = inferred
        self.span_traces = span_traces or {}
        self.view = view if view in VIEWS else "timeline"
        self.start_ns = trace.start_ns
        self.total_ns = max(trace.end_ns - trace.start_ns, 1)
        self.roots = tree.build(spans)
        self.order = tree.walk(self.roots)
        # The subtree sums add up costs: in the one currency the trace's spans priced in, or "mixed".
        currencies = {span.currency or "USD" for span in spans if span.total_cost is not None}
        self.currency = (currencies.pop() if len(currencies) == 1 else "mixed") if currencies else None

    @cached_property
    def critical(self):
        """The tree's critical path (traces.critical_path), which the rows and the flame graph mark."""
        return critical_path.critical_path(self.roots)

    def span_url(self, span_id):
        trace_id = self.span_traces.get(span_id, self.trace.trace_id)
        return self.links.span(trace_id, span_id, self.view)

    def subtree_url(self, span_id=None, offset=0):
        return self.links.subtree(self.trace.trace_id, span_id, self.view, offset)

    def node(self, span_id):
        for node in self.order:
            if node.span.span_id == span_id:
                return node
        return None

    def rows(self, under=None, offset=0, budget=None, max_depth=None):
        """Rows for the top level (under=None) or for the children of the node `under`, from `offset`."""
        budget = ROW_BUDGET if budget is None else budget
        max_depth = COLLAPSE_DEPTH if max_depth is None else max_depth
        siblings = self.roots if under is None else under.children
        tops = siblings[offset : offset + budget]
        rest = len(siblings) - offset - len(tops)
        expanded = _open(tops, budget, max_depth)
        rows = []
        stack = list(reversed(tops))
        while stack:
            node = stack.pop()
            is_open = expanded is None or id(node) in expanded
            row = Row(node, node.depth, is_open and bool(node.children), url=self.span_url(node.span.span_id),
                      currency=self.currency)
            row.inferred = node.span.span_id in self.inferred
            row.critical = node.span.span_id in self.critical.span_ids
            if node.children and not is_open:
                row.load_url = self.subtree_url(node.span.span_id)
            self._place(row)
            rows.append(row)
            if is_open:
                stack.extend(reversed(node.children))
        if rest > 0:
            depth = tops[0].depth if tops else 0
            parent_id = under.span.span_id if under is not None else None
            rows.append(Row(depth=depth, more=True, count=rest, url=self.subtree_url(parent_id, offset + len(tops))))
        return rows

    def _place(self, row):
        span = row.span
        x = min(max((span.start_ns - self.start_ns) / self.total_ns * 100, 0.0), 100.0)
        w = min(max(span.duration_ns / self.total_ns * 100, 0.0), 100.0 - x)
        row.x, row.w = _percent(x), _percent(w)
        row.duration = format_duration_ns(span.duration_ns)
        # The duration label goes after the bar; before it when the bar ends near the right edge;
        # inside it when the bar spans nearly the whole axis.
        row.label_at = "" if x + w <= 82 else "l" if x > 14 else "in"

    def ticks(self, target=5):
        return ticks(self.trace.end_ns - self.trace.start_ns, target)

    def tick_step_percent(self, target=5):
        step = nice_step(self.total_ns, target)
        return _percent(step / self.total_ns * 100)


def _open(tops, budget, max_depth):
    """ids of the nodes whose children are drawn, or None when everything fits.

    Breadth first, so that a big trace shows its outline (every step of an agent) before the detail
    of its first step; a node opens only when all its children fit in what is left of the budget."""
    if sum(node.subtree_spans for node in tops) <= budget:
        return None
    base = tops[0].depth if tops else 0
    drawn = len(tops)
    expanded = set()
    queue = deque(tops)
    while queue:
        node = queue.popleft()
        if not node.children or node.depth - base >= max_depth or drawn + len(node.children) > budget:
            continue
        expanded.add(id(node))
        drawn += len(node.children)
        queue.extend(node.children)
    return expanded


# --- the time axis ------------------------------------------------------------------------------

_STEPS = (1, 2, 2.5, 5)
# Beyond a minute, steps people count in: 1, 2, 5, 10, 15, 30 minutes, then hours.
_LONG_STEPS = tuple(s * 1_000_000_000 for s in (60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400))


def nice_step(total_ns, target=5):
    """The round step (1, 2, 2.5 or 5 x 10^n ns; whole minutes or hours past a minute) that cuts
    total_ns into about `target` intervals."""
    raw = max(total_ns / target, 1)
    if raw >= 45 * 1_000_000_000:
        return next((step for step in _LONG_STEPS if step >= raw), _LONG_STEPS[-1] * math.ceil(raw / _LONG_STEPS[-1]))
    magnitude = 10 ** math.floor(math.log10(raw))
    for multiple in _STEPS:
        if multiple * magnitude >= raw:
            return multiple * magnitude
    return 10 * magnitude


def _unit(total_ns):
    if total_ns < 1_000:
        return "ns"
    if total_ns < 1_000_000:
        return "µs"
    if total_ns < 1_000_000_000:
        return "ms"
    return "s"


def tick_label(value_ns, unit):
    if value_ns == 0:
        return "0"
    if value_ns >= 60 * 1_000_000_000 and unit == "s":
        minutes, seconds = divmod(round(value_ns / 1_000_000_000), 60)
        hours, minutes = divmod(minutes, 60)
        if hours:
            return f"{hours}h" + (f" {minutes:02d}m" if minutes else "")
        return f"{minutes}m" + (f" {seconds:02d}s" if seconds else "")
    return f"{value_ns / NS[unit]:.4g} {unit}"


class Tick:
    __slots__ = ("x", "label", "edge")

    def __init__(self, x, label, position):
        self.x, self.label = x, label
        # Labels are centred on their tick, except where that would push them past the axis's ends.
        self.edge = "start" if position < 4 else "end" if position > 94 else ""


def ticks(total_ns, target=5):
    """Tick marks across [0, total_ns]: x as a CSS percentage, and a label in one unit for the axis."""
    if total_ns <= 0:  # every span of the trace is instantaneous
        return [Tick("0", "0", 0)]
    step = nice_step(total_ns, target)
    unit = _unit(total_ns)
    count = int(total_ns // step)
    return [Tick(_percent(i * step / total_ns * 100), tick_label(i * step, unit), i * step / total_ns * 100)
            for i in range(count + 1)]
