"""Two span trees -> one list of rows, each a step of A, of B, or of both.

Steps are matched by their place in the tree: the children of two matched spans are aligned as
sequences, so that a step inserted, removed or repeated (an agent loop that ran three times in A and
five in B) leaves the steps around it matched. Two steps pair up when they have the same name and kind
of work, or failing that the same kind of work alone (a model call named after its model, "chat gpt-4o"
against "chat gpt-4o-mini", is still the same step); the alignment scores the first higher, and among
equal alignments pairs steps as early as it can, so that a loop's extra rounds are the last ones."""

from difflib import SequenceMatcher

from traces.tree import walk

SAME_STEP, SAME_KIND = 2, 1
# Past this many cells (children of A times children of B) the exact alignment would take seconds:
# difflib's matcher, on names and kinds alone, aligns such wide levels instead.
EXACT_CELLS = 250_000


class Row:
    """One step of the comparison: `a` and `b` are traces.tree.Node (either may be None), `depth`
    the step's depth in the tree, `number` its 1-based position in the comparison."""

    __slots__ = ("a", "b", "depth", "number")

    def __init__(self, a, b, depth):
        self.a, self.b, self.depth, self.number = a, b, depth, 0

    @property
    def side(self):
        """"both", "a" (only in A) or "b" (only in B)."""
        return "both" if self.a and self.b else "a" if self.a else "b"


def _score(a, b):
    if a.span.category != b.span.category:
        return 0
    return SAME_STEP if a.span.name == b.span.name else SAME_KIND


def _pairs(nodes_a, nodes_b):
    """[(node or None, node or None)] in order: the alignment of two sibling lists."""
    if len(nodes_a) * len(nodes_b) > EXACT_CELLS:
        return _wide_pairs(nodes_a, nodes_b)
    n, m = len(nodes_a), len(nodes_b)
    # best[i][j]: the best score aligning nodes_a[i:] with nodes_b[j:]
    best = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        row, below = best[i], best[i + 1]
        for j in range(m - 1, -1, -1):
            score = _score(nodes_a[i], nodes_b[j])
            row[j] = max(below[j], row[j + 1], below[j + 1] + score if score else 0)
    pairs, i, j = [], 0, 0
    while i < n and j < m:
        score = _score(nodes_a[i], nodes_b[j])
        if score and best[i][j] == best[i + 1][j + 1] + score:
            pairs.append((nodes_a[i], nodes_b[j]))
            i, j = i + 1, j + 1
        elif best[i][j] == best[i + 1][j]:
            pairs.append((nodes_a[i], None))
            i += 1
        else:
            pairs.append((None, nodes_b[j]))
            j += 1
    pairs.extend((node, None) for node in nodes_a[i:])
    pairs.extend((None, node) for node in nodes_b[j:])
    return pairs


def _wide_pairs(nodes_a, nodes_b):
    key = lambda node: (node.span.name, node.span.category)  # noqa: E731
    matcher = SequenceMatcher(None, [key(n) for n in nodes_a], [key(n) for n in nodes_b], autojunk=False)
    pairs = []
    for operation, a1, a2, b1, b2 in matcher.get_opcodes():
        if operation == "equal":
            pairs.extend(zip(nodes_a[a1:a2], nodes_b[b1:b2]))
        else:
            pairs.extend((node, None) for node in nodes_a[a1:a2])
            pairs.extend((None, node) for node in nodes_b[b1:b2])
    return pairs


def align(roots_a, roots_b):
    """Rows in tree order (depth first, A's and B's steps interleaved as they align), numbered."""
    rows = []
    stack = [(pair, 0) for pair in reversed(_pairs(roots_a, roots_b))]
    while stack:  # iterative: a chain of thousands of nested spans cannot exhaust the stack
        (a, b), depth = stack.pop()
        if a and b:
            rows.append(Row(a, b, depth))
            stack.extend((pair, depth + 1) for pair in reversed(_pairs(a.children, b.children)))
            continue
        # A step on one side only takes its whole subtree with it.
        for node in walk([a or b]):
            rows.append(Row(node if a else None, None if a else node, depth + node.depth))
    for number, row in enumerate(rows, 1):
        row.number = number
    return rows
