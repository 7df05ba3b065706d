"""The boxes of a flame graph (drawn as an icicle, the roots on top) of a span tree, for one measure.

Every span is a box as wide as its measure, its children laid out inside it from the left in start
order, each in proportion to its own measure. What "its measure" is:
- duration: the span's duration. Children that ran in parallel can add up to more than their parent:
  they are then narrowed together to fit inside it (a child of 25% of its parent's duration still
  takes 25% of its width when its siblings fit).
- self: the span's self time (its duration less the time its children cover) summed over its subtree:
  the classic flame graph, where a box is as wide as all the work done in it.
- tokens, cost: the subtree's usage as traces.tree sums it (model calls only, so an agent's repeated
  usage never counts twice).

Geometry only, in fractions of the graph's width: where the page draws it and where its boxes link
to is ui.flame's. A box narrower than `min_width` is merged with its narrow siblings into one "N more"
box, and the graph stops opening spans at `max_boxes`, so that a trace of any size draws a bounded,
legible number of boxes.
"""

from traces.tree import walk

MEASURES = ("duration", "self", "tokens", "cost")
MIN_WIDTH = 0.004  # about 4 pixels of a 1,000-pixel graph
MAX_BOXES = 1200


class Box:
    """A span's box (`node` set), or a box standing for the narrow sibling spans `merged` (`node` None),
    `count` of them, `spans` spans in all with their subtrees."""

    __slots__ = ("node", "depth", "x", "w", "value", "count", "spans", "merged")

    def __init__(self, node, depth, x, w, value, merged=()):
        self.node, self.depth, self.x, self.w, self.value = node, depth, x, w, value
        self.merged = merged
        self.count = len(merged) or 1
        self.spans = sum(child.subtree_spans for child in merged) if merged else node.subtree_spans

    @property
    def more(self):
        return self.node is None


class Flame:
    """The boxes in breadth-first order (a parent before its children), the measure's total over the
    graph's width, and the number of levels drawn."""

    def __init__(self, boxes, total):
        self.boxes = boxes
        self.total = total
        self.depth = max((box.depth for box in boxes), default=-1) + 1


def self_time_ns(node):
    """The span's duration less the time its children cover (their union, clipped to the span)."""
    span = node.span
    covered, reach = 0, span.start_ns
    for start, end in sorted((child.span.start_ns, child.span.end_ns) for child in node.children):
        start, end = max(start, reach), min(end, span.end_ns)
        if end > start:
            covered += end - start
            reach = end
    return max(span.end_ns - span.start_ns - covered, 0)


def values(roots, measure):
    """{id(node): the node's measure} for every node of the tree."""
    order = walk(roots)
    if measure == "duration":
        return {id(node): max(node.span.end_ns - node.span.start_ns, 0) for node in order}
    if measure == "tokens":
        return {id(node): node.subtree_tokens for node in order}
    if measure == "cost":
        return {id(node): node.subtree_cost for node in order}
    if measure != "self":
        raise ValueError(f"unknown measure {measure!r}; one of {', '.join(MEASURES)}")
    result = {}
    for node in reversed(order):  # children before parents
        result[id(node)] = self_time_ns(node) + sum(result[id(child)] for child in node.children)
    return result


def layout(roots, measure="duration", min_width=MIN_WIDTH, max_boxes=MAX_BOXES):
    """The Flame of the tree whose top-level nodes are `roots` (traces.tree.build; one node to zoom
    into its subtree). Top-level spans share the graph's width as children of one span would; for
    duration, that span lasts from the first start to the last end."""
    value = values(roots, measure)
    if measure == "duration" and roots:
        total = max(node.span.end_ns for node in roots) - min(node.span.start_ns for node in roots)
    else:
        total = sum(value[id(node)] for node in roots)
    boxes = []
    if total <= 0:
        return Flame(boxes, total)
    # Breadth first, so that when the box budget runs out the graph still shows its outline.
    level = [(roots, 0.0, 1.0, total, 0)]
    while level:
        following = []
        for children, x, width, parent_value, depth in level:
            room = max_boxes - len(boxes)
            if room <= 0:
                break
            for box in _row(children, x, width, parent_value, depth, value, min_width, room):
                boxes.append(box)
                if box.node is not None and box.node.children:
                    following.append((box.node.children, box.x, box.w, box.value, depth + 1))
        level = following
    return Flame(boxes, total)


def _row(children, x, width, parent_value, depth, value, min_width, room):
    """The boxes of one parent's children inside [x, x + width]: the wide ones in start order, then one
    "N more" box for the narrow ones; all of them as one "N more" box when there is no room for that."""
    measured = sum(value[id(child)] for child in children)
    if parent_value <= 0 or measured <= 0:
        return []
    scale = width / max(parent_value, measured)
    wide, narrow = [], []
    for child in children:
        w = value[id(child)] * scale
        if w >= min_width:
            wide.append((child, w))
        elif w > 0:
            narrow.append((child, w))
    if len(wide) + bool(narrow) > room:
        narrow, wide = wide + narrow, []
    boxes, at = [], x
    for child, w in wide:
        boxes.append(Box(child, depth, at, w, value[id(child)]))
        at += w
    if narrow:
        boxes.append(Box(None, depth, at, sum(w for _, w in narrow), sum(value[id(child)] for child, _ in narrow),
                         merged=[child for child, _ in narrow]))
    return boxes
