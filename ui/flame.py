"""The trace page's flame graph and critical path box: traces.flame's boxes and traces.critical_path's
path, as the templates draw them (SVG geometry, labels, hover text and the links of each box).

Every box links to its span's page zoomed into that span (`?view=flame&measure=...&focus=<span_id>`),
so a zoom can be shared and works without JavaScript; static/js/trace.js swaps in the zoomed graph
and opens the span panel instead of loading the whole page.
"""

from urllib.parse import urlencode

from traces import critical_path, flame
from traces.formatting import cost, duration_ns, tokens
from traces.models import is_error
from ui.timeline import PALETTE

MEASURE_LABELS = {"duration": "Duration", "self": "Self time", "tokens": "Tokens", "cost": "Cost"}
ROW_PX = 22  # a level's height: a 20-pixel box and a 2-pixel gap
BOX_PX = 20
# Labels are drawn in boxes at least this wide (a fraction of the graph): narrower ones would show a
# letter or two; their hover text still names them.
LABEL_WIDTH = 0.05
# Why a measure draws nothing, by measure.
EMPTY = {
    "duration": "Every span of this trace is instantaneous: there is no duration to draw.",
    "self": "Every span of this trace is instantaneous: there is no time to draw.",
    "tokens": "No model call of this trace reported tokens.",
    "cost": "No model call of this trace has a cost.",
}


def _percent(fraction):
    return f"{fraction * 100:.3f}".rstrip("0").rstrip(".") or "0"


def value_text(measure, value, currency=None):
    if measure in ("duration", "self"):
        return duration_ns(value)
    if measure == "tokens":
        return f"{tokens(value)} tokens"
    return cost(value, currency if currency not in (None, "mixed") else "USD")


class DrawnBox:
    """One box as drawn: its place (x and width in percent, y in pixels), colour and marks, the text in
    it and over it, and, for a span's box, the URLs its click uses."""

    __slots__ = ("x", "w", "y", "label", "title", "palette", "error", "critical", "href", "zoom_url", "panel_url",
                 "span_id", "more", "focused", "inferred")

    def __init__(self, box, graph):
        self.x, self.w, self.y = _percent(box.x), _percent(box.w), box.depth * ROW_PX
        self.more = box.more
        share = _percent(box.value / graph.total) + "%" if graph.total else ""
        value = value_text(graph.measure, box.value, graph.layout.currency)
        self.inferred = False
        if box.more:
            self.span_id = ""
            self.palette, self.error = "more", False
            # Marked when the path runs through spans it merges, so that the path reads unbroken.
            on_path = sum(node.span.span_id in graph.critical_ids for node in box.merged)
            self.critical = bool(on_path)
            name = f"{box.count} more"
            self.title = (f"{box.count} more span{'s' if box.count != 1 else ''} too narrow to draw "
                          f"({box.spans} with their subtrees) · {value} · {share}"
                          + (f" · {on_path} on the critical path" if on_path else ""))
            self.href = self.zoom_url = self.panel_url = ""
        else:
            span = box.node.span
            self.span_id = span.span_id
            self.palette = PALETTE.get(span.category, "other")
            self.error = is_error(span.status_code)
            self.critical = span.span_id in graph.critical_ids
            self.inferred = span.span_id in graph.layout.inferred  # a stitched trace's root (traces.runs)
            name = span.name
            marks = ((" · on the critical path" if self.critical else "") + (" · error" if self.error else "")
                     + (" · inferred from timing" if self.inferred else ""))
            self.title = f"{span.name} · {value} · {share}{marks}"
            self.href = graph.span_url(span.span_id, focus=span.span_id)
            self.zoom_url = graph.url(focus=span.span_id)
            self.panel_url = graph.layout.span_url(span.span_id)
        self.focused = bool(self.span_id) and self.span_id == graph.focus
        self.label = name if box.w >= LABEL_WIDTH else ""


class Crumb:
    __slots__ = ("label", "url")

    def __init__(self, label, url):
        self.label, self.url = label, url


class FlameGraph:
    """The flame graph of a Layout's tree (ui.timeline) for one measure, zoomed into the span `focus`
    (a span id of the tree) or showing the whole trace; `critical` is the tree's CriticalPath."""

    def __init__(self, layout, trace_id, measure="duration", focus=None, critical=None):
        self.layout, self.trace_id = layout, trace_id
        self.measure = measure if measure in flame.MEASURES else "duration"
        self.critical_ids = critical.span_ids if critical is not None else frozenset()
        node = layout.node(focus) if focus else None
        self.focus = node.span.span_id if node is not None else ""
        self._flame = flame.layout([node] if node is not None else layout.roots, self.measure)
        self.total = self._flame.total
        self.boxes = [DrawnBox(box, self) for box in self._flame.boxes]
        self.height = max(self._flame.depth, 1) * ROW_PX
        self.empty = EMPTY[self.measure] if not self.boxes else ""
        self.total_text = value_text(self.measure, self.total, layout.currency)

    def _query(self, measure=None, focus=None):
        params = {"measure": measure or self.measure}
        if focus:
            params["focus"] = focus
        return urlencode(params)

    @property
    def query(self):
        """This graph's parameters after the view's, for URLs that must come back to it (the live poll)."""
        return "&" + self._query(focus=self.focus)

    def url(self, measure=None, focus=None):
        return self.layout.links.trace(self.trace_id, "flame") + "&" + self._query(measure, focus)

    def span_url(self, span_id, focus=None):
        return self.layout.span_url(span_id) + "&" + self._query(focus=focus)

    @property
    def measures(self):
        """[(measure, label, URL, selected)] for the switch: the same zoom in another measure."""
        return [(name, label, self.url(name, self.focus), name == self.measure)
                for name, label in MEASURE_LABELS.items()]

    @property
    def breadcrumbs(self):
        """The way back out of a zoom: the whole trace, then each ancestor of the focused span, then it."""
        crumbs = [Crumb("All spans", self.url())]
        if not self.focus:
            return crumbs
        parents = {}
        for node in self.layout.order:
            for child in node.children:
                parents[id(child)] = node
        chain = []
        node = self.layout.node(self.focus)
        while node is not None:
            chain.append(node)
            node = parents.get(id(node))
        return crumbs + [Crumb(node.span.name, self.url(focus=node.span.span_id)) for node in reversed(chain)]


def _share(part, total):
    """A share of the path as people read it: 77.1%, 0.4%, 0%."""
    return f"{part / total * 100:.1f}".removesuffix(".0") + "%" if total and part else "0%"


class KindShare:
    __slots__ = ("kind", "label", "ns", "text", "percent", "share")

    def __init__(self, kind, ns, total_ns):
        self.kind, self.label, self.ns = kind, critical_path.KIND_LABELS[kind], ns
        self.text = duration_ns(ns) if ns else "–"
        self.percent = _percent(ns / total_ns) if total_ns else "0"  # the bar's width
        self.share = _share(ns, total_ns)


class TopStep:
    __slots__ = ("span", "own", "share", "url", "kind")

    def __init__(self, step, total_ns, layout):
        self.span, self.kind = step.span, step.kind
        self.own = duration_ns(step.own_ns)
        self.share = _share(step.own_ns, total_ns)
        self.url = layout.span_url(step.span.span_id)


class PathSummary:
    """The "Critical path" box: the path's total, its time by kind of work (numbers and one stacked
    bar), and the spans whose shortening would help most."""

    def __init__(self, path, layout):
        self.total = duration_ns(path.total_ns)
        self.spans = len(path.steps)
        self.kinds = [KindShare(kind, ns, path.total_ns) for kind, ns in path.breakdown]
        self.bar = [share for share in self.kinds if share.ns > 0]
        self.top = [TopStep(step, path.total_ns, layout) for step in path.top]
        self.empty = path.total_ns <= 0
