"""The trace list at /traces, its live "new traces" notice, and deleting a trace."""

from datetime import datetime, timezone

from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.http import push_url

from accounts.access import caller_of, requires
from accounts.roles import WRITE
from saved_views.models import RecentSearch
from traces.models import SORTS, Trace
from traces.pagination import encode_cursor, page
from traces.query_limits import QueryTimeout, time_limit
from traces.signals import Deletion
from ui import live
from ui.first_run import first_run
from ui.forms import DEFAULT_SORT, SORTABLE, START_PRESETS, TraceListForm

PAGE_SIZE = 50
MODELS_SHOWN = 2
NEW_TRACES_CAP = 100  # the notice says "100+" rather than count a flood
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
COLUMNS = [("start_time", "Started"), ("name", "Trace"), ("service", "Service"), ("duration", "Duration"),
           ("spans", "Spans"), ("errors", "Errors"), ("tokens", "Tokens"), ("cost", "Cost"),
           ("models", "Models")]
NUMERIC = {"duration", "spans", "errors", "tokens", "cost"}


def trace_list(request):
    if "new_since" in request.GET:  # the live poll
        return _new_traces(request)
    form = TraceListForm(request.GET)
    valid = form.is_valid()
    top = _top(form)
    rows, pages, timeout = [], {}, None
    # Read before the rows: a span stored in between then still makes the first poll answer.
    version = live.store_version() if valid and _top_of_newest(form) else None
    if valid and (user := caller_of(request).user) is not None:
        RecentSearch.objects.record(user, form.cleaned_data["q"])
    if valid:
        try:
            with time_limit():
                rows, pages = _page(form)
        except QueryTimeout as error:
            timeout = error
    empty_store = valid and not rows and pages.get("is_first") and not form.is_filtered()
    new_since = _new_since(form, rows, pages)
    context = top | {
        "nav": "traces", "form": form, "rows": rows, "pages": pages, "columns": _columns(form),
        "presets": START_PRESETS, "here": form.url(**pages.get("canonical", {})),
        "first_run": first_run(request) if empty_store else None,
        "new_since": new_since, "poll_url": new_since and form.url(cursor=None, before=None, new_since=new_since),
        "timeout": timeout, "by_run": form.by_run, **live.poll(live.etag(version)),
        "group_url": form.url(group="trace" if form.by_run else None, cursor=None, before=None),
    }
    partial = request.htmx and not request.htmx.history_restore_request
    # HTMX swaps in only a 2xx answer: the results fragment explains the problem in place either way.
    status = 200 if partial or (valid and not timeout) else 503 if timeout else 400
    response = render(request, "ui/traces.html#results" if partial else "ui/traces.html", context, status=status)
    if partial:
        push_url(response, context["here"])  # the URL without blank fields, whatever the form sent
    patch_vary_headers(response, ["HX-Request"])
    return response


def _page(form):
    """The page of traces the cursor (forwards) or `before` (backwards) names, and the links around it."""
    data = form.cleaned_data
    sort = data["sort"]
    field, descending = SORTS[sort.lstrip("-")], sort.startswith("-")
    traces = form.traces()
    if data["before"]:
        # Backwards: read the other way from the page's first row, then put the rows back in order.
        backwards = sort[1:] if descending else "-" + sort
        rows, earlier = page(traces.sorted_by(backwards), field, not descending, data["before"], PAGE_SIZE)
        rows.reverse()
        is_first, more = earlier is None, True  # the page it came back from follows
    else:
        rows, more = page(traces.sorted_by(sort), field, descending, data["cursor"], PAGE_SIZE)
        is_first = not data["cursor"]
    _decorate(rows, form)
    cursor = lambda trace: encode_cursor(getattr(trace, field), trace.pk)  # noqa: E731
    return rows, {
        "is_first": is_first,
        "first": None if is_first else form.url(cursor=None, before=None),
        "previous": None if is_first or not rows else form.url(cursor=None, before=cursor(rows[0])),
        "next": form.url(cursor=cursor(rows[-1]), before=None) if more and rows else None,
        # A backwards page that reached the top is the first page: its URL says so.
        "canonical": {"cursor": None, "before": None} if is_first else {},
    }


def _decorate(rows, form):
    """What a row shows beyond the trace's fields: the run's figures, the duration bar, short labels."""
    slowest = max((trace.duration_ms for trace in rows), default=0)
    for trace in rows:
        if form.by_run:  # the row stands for its run: the run's figures (Trace.run_*)
            trace.span_count, trace.error_count = trace.run_spans, trace.run_errors
            trace.total_tokens, trace.total_cost = trace.run_tokens, trace.run_cost
        trace.bar = round(100 * trace.duration_ms / slowest, 1) if slowest else 0
        # msgtrace-sdk names the root span after the workflow: say it once.
        trace.workflow_label = "" if trace.workflow_name == trace.root_span_name else trace.workflow_name
        # Two models keep the row one line high; the rest are counted, and named on hover.
        trace.models_shown, trace.models_more = trace.models_used[:MODELS_SHOWN], trace.models_used[MODELS_SHOWN:]


def _columns(form):
    """The table's header: each sortable column links to the list sorted by it, a second click reverses."""
    current = form.cleaned_data.get("sort", DEFAULT_SORT) if form.is_valid() else DEFAULT_SORT
    columns = []
    for key, label in COLUMNS:
        column = {"key": key, "label": label, "numeric": key in NUMERIC, "href": None, "order": None}
        if key in SORTABLE:
            if current.lstrip("-") == key:
                column["order"] = "descending" if current.startswith("-") else "ascending"
                target = key if current.startswith("-") else "-" + key
            else:
                target = SORTABLE[key] + key
            column["href"] = form.url(sort=target, cursor=None, before=None)
        columns.append(column)
    return columns


def _top_of_newest(form):
    data = form.cleaned_data
    return data["sort"] == DEFAULT_SORT and not data["cursor"] and not data["before"]


def _new_since(form, rows, pages):
    """Where the new-traces poll counts from: only the first page, newest first, has a "top" to grow."""
    if not pages or not pages["is_first"] or form.cleaned_data["sort"] != DEFAULT_SORT:
        return None
    return (rows[0].started_at if rows else EPOCH).isoformat()


def _top(form):
    return {"top_url": form.url(cursor=None, before=None), "cap": NEW_TRACES_CAP}


def _new_traces(request):
    """The live poll's answer: 304 while the store took in no span, else the matching traces that
    started after the newest shown, as rows for the top of the table; counted in a notice instead
    where the page has no table or they are too many to add. Most polls end at the 304, answered
    before the search is even parsed: an open list costs the server one indexed read per poll."""
    tag = live.etag(live.store_version())
    unchanged = live.not_modified(request, tag)
    if unchanged:
        return live.tagged(unchanged, tag)
    form = TraceListForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest("invalid parameters")
    top = _top(form)
    try:
        with time_limit():
            new = list(form.new_traces().sorted_by(DEFAULT_SORT)[:NEW_TRACES_CAP])
    except QueryTimeout:
        new = []  # the list itself said the search is too slow: nothing to add
    since = form.cleaned_data["new_since"]
    rows = new if since != EPOCH and len(new) < NEW_TRACES_CAP else []
    _decorate(rows, form)
    newest = rows[0].started_at if rows else since
    context = top | live.poll(tag) | {
        "new_rows": rows, "by_run": form.by_run, "new_count": 0 if rows else len(new), "here": form.url(new_since=None),
        "poll_url": form.url(cursor=None, before=None, new_since=newest.isoformat()),
    }
    return live.tagged(render(request, "ui/traces.html#new-traces", context), tag)


@requires(WRITE)
def trace_delete(request, trace_id):
    """GET: a confirmation page that works without JavaScript. POST: delete, then back to the list
    (or, from HTMX, an empty answer that replaces the row)."""
    trace = get_object_or_404(Trace, trace_id=trace_id.lower())
    back = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = ""
    if request.method == "POST":
        with Deletion(caller_of(request).name, via="ui", request=request) as deletion:
            Trace.objects.filter(pk=trace.pk).delete_with_spans(deletion=deletion)
        if request.htmx:
            return HttpResponse("")
        return redirect(back or "traces")
    context = {"nav": "traces", "trace": trace, "back": back or reverse("traces")}
    return render(request, "ui/trace_delete.html", context)
