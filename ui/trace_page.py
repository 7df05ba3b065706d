"""The trace page as every view that shows it draws it: the trace, its timeline or tree, errors and
usage per model, and a span panel drawn open beside it; and the page for an id with no trace."""

from django import forms
from django.shortcuts import render

from accounts.access import caller_of
from accounts.roles import WRITE
from traces import flame as flame_boxes
from traces import runs
from traces.models import Trace
from ui import flame, live, timeline, trace_summary
from ui.forms import ShareLinkForm
from ui.links import SITE

TEMPLATE = "ui/trace_detail.html"


class TraceViewForm(forms.Form):
    view = forms.ChoiceField(choices=[(name, name) for name in timeline.VIEWS], required=False)
    offset = forms.IntegerField(min_value=0, required=False)


class FlameForm(forms.Form):
    measure = forms.ChoiceField(choices=[(name, name) for name in flame_boxes.MEASURES], required=False)
    focus = forms.RegexField(regex=r"^[0-9a-fA-F]{16}$", required=False)


def parameters(request):
    """(view, offset) from the query string; a value that does not validate falls back to its default."""
    form = TraceViewForm(request.GET)
    form.is_valid()  # cleaned_data then holds the fields that did validate
    return form.cleaned_data.get("view") or "timeline", form.cleaned_data.get("offset") or 0


def not_found(request, trace_id, span_id=None):
    trace = Trace.objects.with_trace_id(trace_id) if span_id else None  # "the trace exists, the span does not"
    context = {"trace_id": trace_id, "span_id": span_id, "trace": trace}
    return render(request, "ui/trace_not_found.html", context, status=404)


def layout_for(trace, view, links=SITE):
    """(the Layout of the trace's whole run, its spans, the run's traces): a trace alone is its own run."""
    members = Trace.objects.run_members(trace)
    if len(members) == 1:
        spans = list(trace.spans.outline())
        return timeline.Layout(trace, spans, view, links=links), spans, members
    spans, inferred = runs.run_outline(members)
    hex_ids = {member.pk: member.trace_id for member in members}
    span_traces = {span.span_id: hex_ids[span.trace_id] for span in spans}
    return timeline.Layout(members[0], spans, view, inferred, span_traces, links), spans, members


def view_context(request, trace, layout):
    """What the chosen view draws: the timeline's or tree's rows, or the flame graph (zoomed into the span
    `focus` names, in the `measure` asked for; a value that does not validate falls back to its default)."""
    if layout.view != "flame":
        return {"rows": layout.rows(), "flame": None, "flame_query": ""}
    form = FlameForm(request.GET)
    form.is_valid()
    measure, focus = form.cleaned_data.get("measure") or "duration", (form.cleaned_data.get("focus") or "").lower()
    graph = flame.FlameGraph(layout, trace.trace_id, measure, focus, layout.critical)
    return {"rows": (), "flame": graph, "flame_query": graph.query}


def view_tab(request, trace, view, links=SITE):
    """The Timeline, Tree or Flame graph tab alone, which HTMX swaps in."""
    layout, _, members = layout_for(trace, view, links)
    context = {"trace": trace, "layout": layout, "links": links} | view_context(request, trace, layout)
    return render(request, TEMPLATE + "#trace-view", context | live_context(trace, members, links))


def live_context(trace, members, links):
    """The poll that keeps the page growing while spans arrive; msgtrace's own pages only (a share
    link's visitor sees the trace as it was when the page opened)."""
    if links is not SITE:
        return {}
    return live.poll(live.run_etag(members), url=SITE.trace(trace.trace_id) + "?live=1",
                     quiet=live.quiet_seconds(members), has_root=members[0].has_root,
                     complete_after=live.QUIET_SECONDS)


def live_update(request, trace, view):
    """The poll's answer: 304 while the run took in nothing new, else the page's spans, header and
    sections (swapped in place; the span panel stays as it is)."""
    tag = live.run_etag(Trace.objects.run_members(trace))
    unchanged = live.not_modified(request, tag)
    if unchanged:
        return live.tagged(unchanged, tag)
    # The poll asks next with the ETag drawn into the answer, read with the spans it draws.
    return live.tagged(trace_page(request, trace, view, template=TEMPLATE + "#live-update"), tag)


def subtree_rows(request, trace, span_id, links=SITE):
    """The rows under a span the page drew closed (or the next slice of a long level), for HTMX to
    insert; None when the trace's run has no such span."""
    view, offset = parameters(request)
    layout = layout_for(trace, "timeline" if view == "flame" else view, links)[0]  # the flame graph has no rows
    node = layout.node(span_id.lower()) if span_id else None
    if span_id and node is None:
        return None
    rows = layout.rows(under=node, offset=offset)
    return render(request, f"ui/partials/_{layout.view}_rows.html", {"trace": trace, "layout": layout, "rows": rows})


class RunFigures:
    """The header's figures of a run: its traces' summed, over the outermost trace's duration, so that
    the header counts what the page draws (and what the run's row in the list shows)."""

    def __init__(self, members):
        self.duration_ms = members[0].duration_ms
        for field in ("span_count", "error_count", "input_tokens", "output_tokens"):
            setattr(self, field, sum(getattr(member, field) for member in members))


def share_context(request, trace, links=SITE, **extra):
    """What the Share button and its panel need: where it posts (None: no button for this caller or
    on this page), the form, and the link it just created (new_share, new_share_url) when in `extra`."""
    may_share = caller_of(request).may(WRITE)
    return {"share_url": links.share(trace.trace_id) if may_share else None,
            "share_form": ShareLinkForm()} | extra


def trace_page(request, trace, view, panel=None, links=SITE, status=200, template=TEMPLATE, **extra):
    """The whole page (or the part of it `template` names); `panel` (a ui.span_panel.SpanPanel) is drawn
    open beside it, `links` says where its links go (ui.links), `extra` goes into the context."""
    layout, spans, members = layout_for(trace, view, links)
    errors, errors_total = trace_summary.errors(layout.order, trace_summary.exception_events(trace))
    models, models_total = trace_summary.by_model(spans)
    context = {
        "trace": trace, "layout": layout, "panel": panel, "nav": "traces",
        "critical_path": flame.PathSummary(layout.critical, layout),
        "errors": errors, "errors_total": errors_total, "errors_left_out": errors_total - len(errors),
        "models": models, "models_total": models_total, "run": members if len(members) > 1 else None,
        "figures": trace if len(members) == 1 else RunFigures(members), "links": links,
    } | view_context(request, trace, layout) | live_context(trace, members, links)
    return render(request, template, context | share_context(request, trace, links, **extra), status=status)
