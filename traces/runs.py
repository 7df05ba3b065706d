"""Runs: traces of one process that belong together, grouped back by their timing.

Some clients start every span as a trace of its own (msgflux through msgtrace-sdk starts spans
without making them current), so one agent call arrives as a handful of one-span traces. A run puts
them back together as a grouping over stored traces: spans and trace ids are never rewritten.

The rule (the README's "Runs" section says the same):
- Only a trace with a root span (no parent span id) takes part. A trace that arrives with a real
  (remote) parent never has a root, so it is never stitched, nor does it enclose anything.
- Only traces that are a single root span take part, as enclosers and as enclosed: a trace of several
  spans was linked by its client's own context, and the concurrent requests of a busy service must never
  absorb one another (nor cost ingest a regrouping). A trace that grows past one span leaves its run.
- R encloses T when both roots come from the same resource (service.name and every other resource
  attribute) and T's interval lies within R's; of two traces with the same interval, the one with
  the smaller trace id encloses the other.
- The enclosers of T must nest in one another. When two of them cross (two unrelated runs overlap
  around T), T is marked ambiguous and stays alone.
- Otherwise T hangs under the tightest encloser P, unless P is a sequential step and T crosses a
  sibling (a trace whose tightest encloser is also P) that started before T and was itself accepted:
  the steps of one agent run one after another, so a trace that began while a step was running and
  outlived it is a concurrent run (two agents under asyncio.gather), marked ambiguous. Fan-out spans
  (FAN_OUT) have children that overlap one another by design.
- A run's root is the outermost trace reached by following stitched links.

Every decision is a function of the stored traces around it, never of arrival order, and each
ingest recomputes every decision its traces can change (those inside the touched traces and inside
their old and new enclosers): the grouping converges to the same result whatever the order, and a
retried batch changes nothing. The traces around a window are found with one index range per
duration class (index trace_run_window), never by scanning the store.
"""

from bisect import bisect_left, bisect_right
from operator import attrgetter

from django.conf import settings

from traces.models import RunLink

STITCHED, AMBIGUOUS, NONE = RunLink.STITCHED.value, RunLink.AMBIGUOUS.value, RunLink.NONE.value

# msgflux's fan-out functions: their children run concurrently on purpose.
FAN_OUT = frozenset({
    "scatter_gather", "ascatter_gather", "bcast_gather", "abcast_gather", "map_gather", "amap_gather",
    "msg_scatter_gather", "msg_bcast_gather", "aspawn", "spawn", "background_task", "await_for_event",
    "wait_for_event", "wait_for", "gather",
})

# Duration classes: class k holds traces shorter than 2**k ms (class 0: under 1 ms). A trace longer
# than 2**MAX_CLASS ms (about 50 days) encloses nothing.
MAX_CLASS = 32
# Touched traces closer than this are looked up together.
WINDOW_GAP_NS = 1_000_000_000
# A constant of msgtrace's own in the advisory-lock key space, beside the resource id.
LOCK_SPACE = 0x6D74 << 48

COLUMNS = (
    "id", "trace_id", "start_ns", "end_ns", "root_span_name", "run_resource_id", "run_class", "run_parent_id",
    "run_link", "run_root_id", "run_trace_count", "span_count",
)
# The run columns of a touched trace that ingest reads with its lock on the row (traces.store).
STATE = ("run_resource_id", "run_class", "run_parent_id", "run_link", "run_root_id", "run_trace_count")
WRITTEN = ("resource", "klass", "parent", "link", "root")
# What the totals of a trace stitched into another's run are: it is the outermost of no run.
NO_RUN_TOTALS = (0, None, None, None, None)


def duration_class(duration_ns):
    return min(MAX_CLASS, (max(0, duration_ns) // 1_000_000).bit_length())


class Node:
    __slots__ = (
        "pk", "trace_id", "s", "e", "name", "resource", "klass", "parent", "link", "root", "count", "spans", "was",
        "key",
    )

    def __init__(self, row):
        pk, self.trace_id, self.s, self.e, self.name, resource, klass, parent, link, root, count, self.spans = row
        self.pk, self.resource, self.klass, self.parent, self.link = pk, resource, klass, parent, link or NONE
        self.root, self.count = root or pk, count or 1
        self.was = (resource, klass, parent, self.link, self.root)
        # Outermost first: earlier start, then later end, then the smaller trace id. (A trace's interval
        # is fixed once loaded; the key is compared many times per regrouping.)
        self.key = (self.s, -self.e, self.trace_id)

    @classmethod
    def of_state(cls, state):
        """A touched trace as ingest just merged it (its span_count, interval and root name are the batch's)."""
        return cls((
            state["id"], state["trace_id"], state["start_ns"], state["end_ns"], state["root_span_name"],
            *[state[column] for column in STATE], state["span_count"],
        ))

    @property
    def old_root(self):
        """The run's outermost trace as stored before this regrouping."""
        return self.was[-1]

    def values(self):
        """The fields stitch() writes, in WRITTEN's order (spelled out: it runs for every trace loaded)."""
        return (self.resource, self.klass, self.parent, self.link, self.root)

    def encloses(self, other):
        return self.s <= other.s and other.e <= self.e and self.key < other.key


_SET_LINKS = "run_resource_id=%s, run_class=%s, run_parent_id=%s, run_link=%s, run_root_id=%s"
_SET_TOTALS = "run_trace_count=%s, run_span_count=%s, run_error_count=%s, run_total_tokens=%s, run_total_cost=%s"
# One statement text per kind of write, whatever the batch: each is compiled once per connection.
UPDATE_LINKS = f"UPDATE traces_trace SET {_SET_LINKS} WHERE id=%s"
UPDATE_LINKS_AND_TOTALS = f"UPDATE traces_trace SET {_SET_LINKS}, {_SET_TOTALS} WHERE id=%s"
REFRESH_TOTALS = (
    "UPDATE traces_trace SET (run_trace_count, run_span_count, run_error_count, run_total_tokens, run_total_cost) "
    "= (SELECT COUNT(*), SUM(m.span_count), SUM(m.error_count), SUM(m.total_tokens), SUM(m.total_cost) "
    "FROM traces_trace m WHERE m.run_root_id = %s) WHERE id=%s"
)


def stitch(cursor, postgres, states, fresh, resources):
    """Regroups the runs the batch's traces can change. Called inside ingest's transaction, after the
    traces' aggregates are updated; `states` carry each touched trace's STATE columns, `resources`
    maps resource fingerprints to their ids."""
    if not settings.MSGTRACE_STITCH_RUNS:
        return
    by_resource = {}
    for trace_id, spans in fresh.items():
        state = states[trace_id]
        if not spans or not state["has_root"]:
            continue
        if len(spans) > 1 and state["span_count"] == len(spans):
            continue  # arrived whole with several spans: it never took part, and never will
        node = Node.of_state(state)
        if node.spans != 1 and node.resource is None:
            continue  # grown past one span before it ever had a root here: it never took part
        node.klass = duration_class(node.e - node.s)
        if node.resource is None:
            root = min((span for span in spans if not span.parent_span_id), key=lambda span: span.start_ns, default=None)
            node.resource = resources[root.resource.fingerprint] if root is not None else None
        if node.resource is not None:
            by_resource.setdefault(node.resource, []).append(node)
    if not by_resource:
        return
    changed, refresh = [], set()
    for resource in sorted(by_resource):
        if postgres:  # one regrouping per process at a time; SQLite's write lock already serializes
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_SPACE + resource])
        _regroup(cursor, postgres, resource, by_resource[resource], changed, refresh)
    # A trace that was the outermost of a run (if only of itself) and is now stitched into another's
    # is the outermost of none: its totals are known without a query and go with its new link (it
    # changed). Only the runs' outermost traces are summed from their members.
    absorbed = {node.pk: node for node in changed if node.root != node.pk and (node.old_root == node.pk or node.count > 1)}
    refresh.difference_update(absorbed)
    links = [(*node.values(), node.pk) for node in changed if node.pk not in absorbed]
    if links:
        cursor.executemany(UPDATE_LINKS, links)
    if absorbed:
        cursor.executemany(UPDATE_LINKS_AND_TOTALS, [(*node.values(), *NO_RUN_TOTALS, pk) for pk, node in absorbed.items()])
    if refresh:
        cursor.executemany(REFRESH_TOTALS, [(pk, pk) for pk in sorted(refresh)])


# The traces of one resource whose interval meets [lo, hi]: per duration class present (found by
# skipping from one class to the next in index trace_run_window, never by reading its traces), those
# starting within reach of the window (no earlier than its start less 2**k ms, the longest of class k),
# one range of that index each; one statement whatever the classes, compiled once per connection. PostgreSQL must not flatten the
# per-class lookup into a join it may answer by scanning the table: OFFSET 0 keeps it a lookup.
_CLASSES = (
    "WITH RECURSIVE classes(k) AS ("
    "SELECT MIN(run_class) FROM traces_trace WHERE run_resource_id=%s "
    "UNION ALL SELECT (SELECT MIN(run_class) FROM traces_trace WHERE run_resource_id=%s AND run_class>k) "
    "FROM classes WHERE k IS NOT NULL) "
)
OVERLAPPING = {
    False: _CLASSES + f"SELECT {','.join('t.' + c for c in COLUMNS)} FROM classes JOIN traces_trace t "
    "ON t.run_resource_id=%s AND t.run_class=classes.k AND t.start_ns >= %s - (1 << classes.k) * 1000000 "
    "AND t.start_ns <= %s AND t.end_ns >= %s",
    True: _CLASSES + f"SELECT {','.join('t.' + c for c in COLUMNS)} FROM classes CROSS JOIN LATERAL ("
    f"SELECT {','.join(COLUMNS)} FROM traces_trace WHERE run_resource_id=%s AND run_class=classes.k "
    "AND start_ns >= %s - (1::bigint << classes.k) * 1000000 AND start_ns <= %s AND end_ns >= %s OFFSET 0) t",
}


def overlapping(cursor, postgres, resource, lo, hi, known=()):
    """The traces of `resource` whose interval meets [lo, hi], but those in `known`."""
    cursor.execute(OVERLAPPING[postgres], [resource, resource, resource, lo, hi, lo])
    # Windows of one regrouping overlap: rows already loaded are not built again.
    return [Node(row) for row in cursor.fetchall() if row[0] not in known]


def _windows(intervals):
    merged = []
    for lo, hi in sorted(intervals):
        if merged and lo <= merged[-1][1] + WINDOW_GAP_NS:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return merged


def _regroup(cursor, postgres, resource, touched, changed, refresh):
    nodes, loaded = {}, []

    def load(windows):
        """Whether traces were added (a Grouping is a function of the traces loaded: kept until then)."""
        before = len(nodes)
        for lo, hi in windows:
            if any(a <= lo and hi <= b for a, b in loaded):
                continue
            loaded.append((lo, hi))
            for node in overlapping(cursor, postgres, resource, lo, hi, nodes):
                nodes[node.pk] = node
        return len(nodes) > before

    for node in touched:  # this batch's view of them is newer than the stored one
        nodes[node.pk] = node
    load(_windows((node.s, node.e) for node in touched))
    group = Grouping(nodes)
    scopes = {node.pk for node in touched}
    for node in touched:
        tightest = group.tightest(node)
        scopes.update(pk for pk in (node.parent, tightest and tightest.pk) if pk in nodes)
    if load(_windows((nodes[pk].s, nodes[pk].e) for pk in scopes)):
        group = Grouping(nodes)
    targets = {pk: nodes[pk] for pk in scopes}
    for scope in [nodes[pk] for pk in scopes]:
        for node in group.inside(scope):
            targets[node.pk] = node
    # A decision weighs every sibling under the tightest encloser: their windows are read whole. And
    # it is weighed by them: a sibling that began earlier and is accepted or no longer (its own
    # enclosers changed) decides whether a later one crosses it, so every sibling is decided again.
    parents = {parent.pk: parent for parent in map(group.tightest, targets.values()) if parent is not None}
    uncovered = any(not any(a <= p.s and p.e <= b for a, b in loaded) for p in parents.values())
    if uncovered and load(_windows((parent.s, parent.e) for parent in parents.values())):
        group = Grouping(nodes)
        parents = {parent.pk: parent for parent in map(group.tightest, targets.values()) if parent is not None}
    for parent in parents.values():
        for node in group.inside(parent):
            targets[node.pk] = node
    for node in targets.values():
        node.parent, node.link = group.decide(node)
    for node in targets.values():
        node.root = group.root_of(node)
        if node.spans != 1:
            node.resource = None  # out of the index: never looked up again
    touched_ids = {node.pk for node in touched}
    for node in targets.values():
        if node.values() != node.was or node.pk in touched_ids:
            changed.append(node)
        old_root = node.old_root
        if node.root != node.pk or (old_root and old_root != node.pk):
            refresh.update(pk for pk in (node.root, old_root) if pk)
        if node.count > 1:
            refresh.add(node.pk)


class Grouping:
    """The decisions of the rule above over a set of traces of one resource (traces.runs)."""

    def __init__(self, nodes):
        self.nodes = nodes
        # A trace that grew past one span is only here to leave: it encloses nothing any more.
        self.ordered = sorted((node for node in nodes.values() if node.spans == 1), key=attrgetter("key"))
        self.starts = [node.s for node in self.ordered]
        self._enclosers, self._accepted = {}, {}

    def enclosers(self, node):
        """Outermost first."""
        found = self._enclosers.get(node.pk)
        if found is None:
            # Node.encloses spelled out over the traces that start no later (the hot loop of a
            # regrouping): of two with the same interval, the smaller trace id encloses the other.
            s, e, trace_id = node.s, node.e, node.trace_id
            found = [
                other for other in self.ordered[: bisect_right(self.starts, s)]
                if other.e >= e and other is not node and (other.s < s or other.e > e or other.trace_id < trace_id)
            ]
            self._enclosers[node.pk] = found
        return found

    def tightest(self, node):
        enclosers = self.enclosers(node)
        return enclosers[-1] if enclosers else None

    def nested(self, node):
        """Whether the enclosers of `node` nest in one another (no two unrelated runs around it)."""
        enclosers = self.enclosers(node)
        return all(outer.encloses(inner) for outer, inner in zip(enclosers, enclosers[1:]))

    def inside(self, scope):
        window = self.ordered[bisect_left(self.starts, scope.s) : bisect_right(self.starts, scope.e)]
        return [node for node in window if node.e <= scope.e and scope.encloses(node)]

    def accepted(self, parent):
        """The children of a sequential `parent` that did not begin inside an earlier sibling's time
        and outlive it: in start order, each is accepted unless it crosses one accepted before it."""
        found = self._accepted.get(parent.pk)
        if found is None:
            found, kept = set(), []
            for node in self.inside(parent):
                if node.spans != 1 or self.tightest(node) is not parent or not self.nested(node):
                    continue
                if not any(other.s < node.s < other.e < node.e for other in kept):
                    kept.append(node)
                    found.add(node.pk)
            self._accepted[parent.pk] = found
        return found

    def decide(self, node):
        """(the tightest encloser's id or None, its RunLink)."""
        parent = self.tightest(node)
        if parent is None or node.spans != 1:
            return None, NONE
        if not self.nested(node):
            return parent.pk, AMBIGUOUS
        if parent.name in FAN_OUT or node.pk in self.accepted(parent):
            return parent.pk, STITCHED
        return parent.pk, AMBIGUOUS

    def root_of(self, node):
        seen = set()
        while node.link == STITCHED and node.parent in self.nodes and node.pk not in seen:
            seen.add(node.pk)
            node = self.nodes[node.parent]
        return node.pk


def run_outline(members):
    """The spans of a run's traces as SpanQuerySet.outline() rows (plus `trace_id`, the trace's pk), in
    start order, where the root span of each stitched trace names its enclosing trace's root span as
    parent; and the ids of the spans whose parent is so inferred from timing."""
    from traces.models import OUTLINE_FIELDS, Span

    by_pk = {member.pk: member for member in members}
    rows = list(
        Span.objects.filter(trace_id__in=list(by_pk)).in_start_order().values_list(*OUTLINE_FIELDS, "trace_id", named=True)
    )
    roots = {}
    for row in rows:
        if not row.parent_span_id:
            roots.setdefault(row.trace_id, row)
    stitched = {}  # the root span's row id -> its enclosing trace's root span id
    for member in members:
        root, parent = roots.get(member.pk), roots.get(member.run_parent_id)
        if member.run_link == STITCHED and root is not None and parent is not None:
            stitched[root.id] = parent.span_id
    rows = [row._replace(parent_span_id=stitched[row.id]) if row.id in stitched else row for row in rows]
    return rows, {row.span_id for row in rows if row.id in stitched}
