"""Spans of one trace -> the span tree, with per-subtree totals and the order the timeline draws in.

Spans are model instances or SpanQuerySet.outline() rows; subtree tokens and cost follow the usage rule
of the trace's totals (traces.models.counts_as_usage), so a subtree never counts an agent's repeated usage."""

from traces.models import counts_as_usage, is_error


class Node:
    __slots__ = ("span", "children", "depth", "orphan", "subtree_spans", "subtree_errors", "subtree_tokens",
                 "subtree_cost")

    def __init__(self, span):
        self.span = span
        self.children = []
        self.depth = 0
        # The span names a parent that never arrived: shown at the top level, flagged.
        self.orphan = False
        self.subtree_spans = 1
        self.subtree_errors = int(is_error(span.status_code))
        usage = counts_as_usage(span.category)
        self.subtree_tokens = (span.total_tokens or 0) if usage else 0
        self.subtree_cost = (span.total_cost or 0.0) if usage else 0.0


def build(spans):
    """Root nodes (true roots, then orphans) for spans given in start order; children stay in start order.

    Iterative throughout, so that a chain of thousands of nested spans cannot exhaust the stack."""
    nodes = {span.span_id: Node(span) for span in spans}
    roots = []
    for span in spans:
        node = nodes[span.span_id]
        parent = nodes.get(span.parent_span_id) if span.parent_span_id else None
        if parent is None or parent is node:
            node.orphan = bool(span.parent_span_id) and parent is None
            roots.append(node)
        else:
            parent.children.append(node)
    roots.sort(key=lambda node: (node.orphan, node.span.start_ns))
    # A cycle of spans that name each other as parents has no root: show it at the top level.
    reachable = {id(node) for node in walk(roots)}
    for span in spans:
        node = nodes[span.span_id]
        if id(node) not in reachable:
            node.orphan = True
            parent = nodes.get(span.parent_span_id)
            if parent is not None and node in parent.children:
                parent.children.remove(node)
            roots.append(node)
            reachable.update(id(n) for n in walk([node]))
    order = walk(roots)
    for node in reversed(order):  # children before parents: sum subtrees bottom-up
        for child in node.children:
            node.subtree_spans += child.subtree_spans
            node.subtree_errors += child.subtree_errors
            node.subtree_tokens += child.subtree_tokens
            node.subtree_cost += child.subtree_cost
    return roots


def walk(roots):
    """Nodes in tree order (depth first, children in start order), with their depth set."""
    order = []
    stack = [(node, 0) for node in reversed(roots)]
    while stack:
        node, depth = stack.pop()
        node.depth = depth
        order.append(node)
        stack.extend((child, depth + 1) for child in reversed(node.children))
    return order
