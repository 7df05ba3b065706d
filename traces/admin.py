"""Trace cleanup for operators at /admin: cheap over a store of a million spans.

No full-table counts (a capped paginator, show_full_result_count off), no per-row queries, and
deletes that go through TraceQuerySet.delete_with_spans instead of Django's cascade, which would
load every span, event and link into memory first."""

from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join

from accounts.access import caller_of
from traces.formatting import duration_ns, tokens
from traces.models import Trace, counts_as_usage, is_error
from traces.signals import Deletion

SPANS_SHOWN = 200


class CappedCountPaginator(Paginator):
    """Counts at most CAP rows: beyond that the admin shows "10000+" pages of results, never a
    COUNT(*) over the whole table."""

    CAP = 10_000

    @cached_property
    def count(self):
        return len(self.object_list.values_list("pk", flat=True)[: self.CAP + 1])


@admin.register(Trace)
class TraceAdmin(admin.ModelAdmin):
    list_display = ["trace_id", "started_at", "root_span_name", "workflow_name", "service_name", "status",
                    "duration_ms", "span_count", "error_count", "total_tokens", "total_cost"]
    list_filter = ["status", "service_name", ("started_at", admin.DateFieldListFilter)]
    # Prefix matches: they can use the indexes, where "contains" would read every row.
    search_fields = ["=trace_id", "^workflow_name", "^service_name"]
    search_help_text = "A whole trace id, or the start of a workflow or service name."
    ordering = ["-started_at", "-id"]
    paginator = CappedCountPaginator
    show_full_result_count = False
    list_per_page = 100
    actions = ["delete_with_spans"]
    readonly_fields = ["trace_id", "started_at", "ended_at", "duration_ms", "root_span_name", "has_root",
                       "service_name", "workflow_name", "status", "span_count", "error_count", "input_tokens",
                       "output_tokens", "total_tokens", "total_cost", "models_used", "user_id", "session_id",
                       "updated_at", "spans_table", "open_in_ui"]
    fields = readonly_fields

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # Django's own would cascade row by row
        return actions

    @admin.action(description="Delete selected traces with their spans, events and links", permissions=["delete"])
    def delete_with_spans(self, request, queryset):
        deleted = self.delete_queryset(request, queryset)
        self.message_user(request, f"Deleted {deleted} trace{'s' if deleted != 1 else ''} with their spans.",
                          messages.SUCCESS)

    def delete_model(self, request, obj):
        self.delete_queryset(request, Trace.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset):
        with Deletion(caller_of(request).name, via="admin", request=request) as deletion:
            return queryset.delete_with_spans(deletion=deletion)

    def get_deleted_objects(self, objs, request):
        # The confirmation page lists what goes, by count: collecting every span to list it would be slow.
        summary = [f"{trace} with {trace.span_count} spans and their events and links" for trace in objs]
        return summary, {"traces": len(summary)}, set(), []

    def has_add_permission(self, request):
        return False  # traces arrive over OTLP

    def has_change_permission(self, request, obj=None):
        return False  # read-only: what a client sent is kept as it was sent

    @admin.display(description="Spans (in start order)")
    def spans_table(self, trace):
        spans = trace.spans.outline()[:SPANS_SHOWN]
        rows = format_html_join(
            "", "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((span.span_id, span.name, span.category, span.model, duration_ns(span.duration_ns), _usage(span),
              span.status_message or ("error" if is_error(span.status_code) else "")) for span in spans),
        )
        more = "" if trace.span_count <= SPANS_SHOWN else f"the first {SPANS_SHOWN} of {trace.span_count}"
        return format_html(
            "<table><thead><tr><th>span id</th><th>name</th><th>kind</th><th>model</th><th>duration</th>"
            "<th>tokens counted</th><th>status</th></tr></thead><tbody>{}</tbody></table><p>{}</p>", rows, more
        )

    @admin.display(description="Trace page")
    def open_in_ui(self, trace):
        url = reverse("trace-detail", args=[trace.trace_id])
        return format_html('<a href="{}">open the timeline and span details</a>', url)


def _usage(span):
    """The span's tokens where the trace's totals count them; "–" for model calls without usage and for
    the agents, chains and tools whose usage repeats their calls'."""
    return tokens(span.total_tokens) if counts_as_usage(span.category) else "–"
