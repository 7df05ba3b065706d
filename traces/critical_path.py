"""The critical path of a span tree: the chain of spans that set its end-to-end latency.

Pure functions over traces.tree nodes (a trace's or a whole run's tree), by the classic backwards walk:
from the end of a span, take the child that ended last before that point, walk into it, then continue
from that child's start with the child that ended last before it, and so on down to the span's start.
Time in a span not covered by a child taken so is the span's own time on the path: the time its
parent spent waiting on it is counted in the child, never twice. Of parallel branches only the one
that finished last at each point is on the path, since shortening the others would not end the
trace sooner.

Clock skew is clipped, never trusted: a child that starts before its parent or outlives it counts only
for the part inside its parent (and inside the window its parent was given on the path).
"""

from traces.models import Category

# The kinds of work the breakdown names, in the order it lists them; every other category is "other".
KINDS = ("llm", "tool", "retriever", "agent", "other")
KIND_LABELS = {"llm": "LLM", "tool": "Tool", "retriever": "Retriever", "agent": "Agent", "other": "Other"}
_KIND_OF = {
    Category.LLM.value: "llm", Category.EMBEDDING.value: "llm",
    Category.RETRIEVER.value: "retriever", Category.RERANKER.value: "retriever",
    Category.TOOL.value: "tool", Category.AGENT.value: "agent",
}
TOP = 3


def kind_of(category):
    """The breakdown's kind of work for a span category: embeddings are model calls, rerankers retrieval."""
    return _KIND_OF.get(category, "other")


class Step:
    """A span on the path, its window on the path [start_ns, end_ns] and its own time in that window."""

    __slots__ = ("node", "start_ns", "end_ns", "own_ns", "order")

    def __init__(self, node, start_ns, end_ns, own_ns, order):
        self.node = node
        self.start_ns, self.end_ns, self.own_ns = start_ns, end_ns, own_ns
        self.order = order  # walk order: parents before their children, later children before earlier

    @property
    def span(self):
        return self.node.span

    @property
    def kind(self):
        return kind_of(self.node.span.category)


class CriticalPath:
    """`steps` in the order the path runs (start to end, a parent before the children it waited on);
    `total_ns` the latency it explains, `untraced_ns` the part of it no top-level span covers."""

    def __init__(self, steps, total_ns, untraced_ns):
        self.steps = sorted(steps, key=lambda step: (step.start_ns, step.order))
        self.total_ns = total_ns
        self.untraced_ns = untraced_ns
        self.span_ids = frozenset(step.span.span_id for step in steps)

    @property
    def breakdown(self):
        """[(kind, own time in ns)] for every kind in KINDS: where the path's time goes."""
        sums = dict.fromkeys(KINDS, 0)
        for step in self.steps:
            sums[step.kind] += step.own_ns
        sums["other"] += self.untraced_ns
        return list(sums.items())

    @property
    def top(self):
        """The TOP steps with the largest own time: the spans whose shortening would end the trace sooner
        by the most. Spans that only waited on their children are not among them."""
        ranked = sorted((step for step in self.steps if step.own_ns > 0), key=lambda step: (-step.own_ns, step.order))
        return ranked[:TOP]


def _taken(children, lo, hi):
    """[(child, start, end)] of the children on the path through the window [lo, hi], latest first."""
    taken = []
    cursor = hi
    # Of the children starting before the cursor, the first in this order is the one whose end, clipped
    # to the cursor, is the latest; the cursor only moves back, so one pass finds every one.
    for child in sorted(children, key=lambda node: (-node.span.end_ns, node.span.start_ns)):
        if cursor <= lo:
            break
        start, end = max(child.span.start_ns, lo), min(child.span.end_ns, cursor)
        if child.span.start_ns >= cursor or end <= start:
            continue  # after the cursor, before the window, or instantaneous: not what anything waited on
        taken.append((child, start, end))
        cursor = start
    return taken


def critical_path(roots):
    """The critical path through the tree whose top-level nodes are `roots` (traces.tree.build).

    Top-level spans (a root and orphans, or a run's trees) are walked as the children of one span over
    their whole extent, so the path crosses between them as it would between siblings; time none of them
    covers is counted as untraced."""
    if not roots:
        return CriticalPath([], 0, 0)
    lo = min(node.span.start_ns for node in roots)
    hi = max(node.span.end_ns for node in roots)
    steps = []
    pending = _taken(roots, lo, hi)
    untraced = (hi - lo) - sum(end - start for _, start, end in pending)
    pending.reverse()  # a stack: the earliest on top, so the walk numbers the path from its start
    # Iterative, so that a chain of thousands of nested spans cannot exhaust the stack.
    while pending:
        node, start, end = pending.pop()
        if not node.children:  # most spans of a big trace: all of their part is their own
            steps.append(Step(node, start, end, end - start, len(steps)))
            continue
        children = _taken(node.children, start, end)
        own = (end - start) - sum(child_end - child_start for _, child_start, child_end in children)
        steps.append(Step(node, start, end, own, len(steps)))
        pending.extend(children)  # latest first, so the earliest comes off next
    return CriticalPath(steps, hi - lo, untraced)
