"""The trace store. Spans are the source of truth; each Trace row carries aggregates that the
ingest path keeps current after every request, so that lists and dashboards never scan spans."""

from django.db import models, transaction
from django.db.models import Exists, F, OuterRef, Q, Value
from django.db.models.functions import Coalesce, NullIf

from traces.timeframe import ns_from_datetime


class Status(models.TextChoices):
    OK = "ok", "OK"
    ERROR = "error", "Error"


class SpanKind(models.IntegerChoices):
    UNSPECIFIED = 0, "unspecified"
    INTERNAL = 1, "internal"
    SERVER = 2, "server"
    CLIENT = 3, "client"
    PRODUCER = 4, "producer"
    CONSUMER = 5, "consumer"


class StatusCode(models.IntegerChoices):
    UNSET = 0, "unset"
    OK = 1, "ok"
    ERROR = 2, "error"


class Category(models.TextChoices):
    """The kind of work a span did, whichever convention the client used to say it."""

    LLM = "llm", "LLM"
    EMBEDDING = "embedding", "Embedding"
    RETRIEVER = "retriever", "Retriever"
    RERANKER = "reranker", "Reranker"
    TOOL = "tool", "Tool"
    AGENT = "agent", "Agent"
    CHAIN = "chain", "Chain"
    WORKFLOW = "workflow", "Workflow"
    MODULE = "module", "Module"
    GUARDRAIL = "guardrail", "Guardrail"
    EVALUATOR = "evaluator", "Evaluator"
    OTHER = "other", "Other"


# The one rule for what counts as model usage (tokens, cost and calls), in every figure msgtrace
# shows: model calls only. Agents, chains and tools often carry the usage of the calls beneath them
# (OpenInference and OpenLLMetry put it on parent spans); counting only the calls counts each token once.
USAGE_CATEGORIES = frozenset({Category.LLM.value, Category.EMBEDDING.value, Category.RERANKER.value})


# The kinds of work that are steps of a workflow (traces.flows): what a flow diagram and the step:
# search term look at. Workflows and chains only group steps; "other" spans are plumbing.
STEP_CATEGORIES = frozenset({
    Category.MODULE.value, Category.AGENT.value, Category.TOOL.value, Category.LLM.value, Category.EMBEDDING.value,
    Category.RERANKER.value, Category.RETRIEVER.value,
})


def step_name():
    """A span's step name, in SQL: its normalized module, tool or agent name (traces.semconv), else the
    model it called, else the span's own name. So a msgflux module shows as the module it is."""
    named = [NullIf(F(column), Value("")) for column in ("module_name", "tool_name", "agent_name", "model")]
    return Coalesce(*named, F("name"), output_field=models.TextField())


def counts_as_usage(category):
    """Whether a span of this category counts towards tokens, cost and calls (SpanQuerySet.usage() in SQL)."""
    return category in USAGE_CATEGORIES


_ERROR = StatusCode.ERROR.value  # a plain int: reading the enum's member costs more than the comparison


def is_error(status_code):
    """Whether a span with this status code failed (FAILED in SQL)."""
    return status_code == _ERROR


FAILED = Q(status_code=StatusCode.ERROR)  # SpanQuerySet.errors(), and error counts in aggregates


HEX_DIGITS = frozenset("0123456789abcdef")


def is_hex_id(text, length):
    """Whether `text` can be an id of `length` lowercase hex digits (32: a trace id, 16: a span id)."""
    return len(text) == length and set(text) <= HEX_DIGITS


# What trees, timelines and usage summaries read of a span (SpanQuerySet.outline()). Never the
# attributes: one prompt can weigh a megabyte, and a 5,000-span trace would load them all to draw bars.
OUTLINE_FIELDS = (
    "id", "span_id", "parent_span_id", "name", "start_ns", "end_ns", "duration_ns", "status_code",
    "status_message", "category", "model", "input_tokens", "output_tokens", "total_tokens", "total_cost",
    "currency", "cost_source",
)


class SpanExists(Exists):
    """EXISTS over one trace's spans. On PostgreSQL, OFFSET 0 keeps the planner from turning it into
    a semi-join that scans every span before the first trace of a page can be returned."""

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, template="EXISTS(%(subquery)s OFFSET 0)", **extra_context)


SORTS = {
    "start_time": "started_at",
    "duration": "duration_ms",
    "spans": "span_count",
    "tokens": "total_tokens",
    "cost": "total_cost",
}


class TraceQuerySet(models.QuerySet):
    def matching(self, query):
        """Traces matching a query-language string (see docs/query-language.md)."""
        if not query or not query.strip():
            return self
        from traces.query import trace_filter  # the query language imports these models

        return self.filter(trace_filter(query))

    def between(self, start=None, end=None):
        """Traces that started in [start, end)."""
        if start is not None:
            self = self.filter(started_at__gte=start)
        if end is not None:
            self = self.filter(started_at__lt=end)
        return self

    def using_model(self, model):
        return self.filter(SpanExists(Span.objects.filter(trace=OuterRef("pk")).filter(
            Q(model=model) | Q(response_model=model))))

    def search(self, q=None, service=None, workflow=None, model=None, status=None, min_duration_ms=None,
               max_duration_ms=None, start=None, end=None, user_id=None, session_id=None, trace_id=None):
        """The trace list's filters, each applied only when given."""
        traces = self.matching(q).between(start, end)
        exact = {"service_name": service, "workflow_name": workflow, "status": status, "user_id": user_id,
                 "session_id": session_id}
        traces = traces.filter(**{field: stored_text(value) for field, value in exact.items() if value})
        if model:
            traces = traces.using_model(stored_text(model))
        if min_duration_ms is not None:
            traces = traces.filter(duration_ms__gte=min_duration_ms)
        if max_duration_ms is not None:
            traces = traces.filter(duration_ms__lte=max_duration_ms)
        if trace_id:
            traces = traces.filter(trace_id__startswith=stored_text(trace_id.strip().lower()))
        return traces

    def sorted_by(self, sort="-start_time"):
        """Ordered for keyset pagination: the sort column, then id as the tie-breaker."""
        descending = sort.startswith("-")
        field = SORTS[sort.lstrip("-")]
        prefix = "-" if descending else ""
        return self.order_by(prefix + field, prefix + "id")

    def delete_with_spans(self, batch_size=500, deletion=None):
        """Deletes the traces with their spans, events and links: six statements per batch of
        traces, each batch in a transaction of its own so that the write lock is never held long.
        Django's own cascade would load every span into memory first. Returns traces deleted.

        `deletion` (a traces.signals.Deletion) is told the ids of each batch once it is committed,
        for the audit log."""
        ids = list(self.values_list("pk", flat=True))
        deleted = 0
        for start in range(0, len(ids), batch_size):
            chunk = ids[start : start + batch_size]
            with transaction.atomic(using=self.db):
                # Locked in ingest's order (by trace_id) before anything is removed: an ingest into
                # one of these traces then either commits first, and its spans go too, or waits and
                # creates the trace anew; never a span left pointing at a deleted trace.
                locked = list(
                    Trace.objects.using(self.db).filter(pk__in=chunk).order_by("trace_id").select_for_update()
                    .values_list("pk", "run_root_id", "run_trace_count", "trace_id")
                )
                chunk = [pk for pk, _, _, _ in locked]
                # The runs that lose a trace (traces.runs); a trace alone belongs to none.
                runs = {root for pk, root, count, _ in locked if root and (root != pk or count > 1)}
                spans = Span.objects.filter(trace_id__in=chunk)
                SpanEvent.objects.filter(span__in=spans.values("pk"))._raw_delete(self.db)
                SpanLink.objects.filter(span__in=spans.values("pk"))._raw_delete(self.db)
                spans._raw_delete(self.db)
                deleted += Trace.objects.filter(pk__in=chunk)._raw_delete(self.db)
                # The other traces of a run that lost a trace stand alone again, until ingest regroups them.
                if runs:
                    Trace.objects.filter(run_root_id__in=runs).update(
                        run_parent_id=None, run_link=RunLink.NONE, run_root_id=F("pk"), run_trace_count=1,
                        run_span_count=None, run_error_count=None, run_total_tokens=None, run_total_cost=None,
                    )
            if deletion is not None:
                deletion.add([trace_id for _, _, _, trace_id in locked])
        return deleted

    def started_before(self, moment):
        return self.filter(started_at__lt=moment)

    def runs(self):
        """One row per run: the traces not stitched into another (traces.runs)."""
        return self.exclude(run_link=RunLink.STITCHED)

    def run_members(self, trace):
        """The traces of `trace`'s run, the outermost first, then in start order."""
        root = trace.run_root_id or trace.pk
        if root == trace.pk and trace.run_trace_count <= 1 and trace.run_link != RunLink.STITCHED:
            return [trace]  # alone: no query
        members = list(self.filter(Q(run_root_id=root) | Q(pk=root)).order_by("start_ns", "id"))
        members.sort(key=lambda member: member.pk != root)
        return members

    def previous_of_workflow(self, trace):
        """The run of `trace`'s workflow that started last before it (its outermost trace), or None
        (index trace_workflow_started)."""
        if not trace.workflow_name:
            return None
        earlier = self.runs().filter(workflow_name=trace.workflow_name, started_at__lt=trace.started_at)
        return earlier.order_by("-started_at", "-id").first()

    def with_trace_id(self, trace_id):
        """The trace with this id (any case), or None; an id that cannot be a trace id never reaches
        the database."""
        trace_id = trace_id.lower()
        return self.filter(trace_id=trace_id).first() if is_hex_id(trace_id, 32) else None


class SpanQuerySet(models.QuerySet):
    def matching(self, query):
        """Spans matching a query-language string (see docs/query-language.md)."""
        if not query or not query.strip():
            return self
        from traces.query import span_filter  # the query language imports these models

        return self.filter(span_filter(query))

    def between(self, start=None, end=None):
        if start is not None:
            self = self.filter(start_ns__gte=ns_from_datetime(start))
        if end is not None:
            self = self.filter(start_ns__lt=ns_from_datetime(end))
        return self

    def for_display(self):
        """Everything a span's full view shows, in four queries however many spans there are."""
        return self.select_related("trace", "resource", "scope").prefetch_related("events", "links")

    def with_ids(self, trace_id, span_id):
        """The span with these ids (any case), or None; ids that cannot be ids never reach the database."""
        trace_id, span_id = trace_id.lower(), span_id.lower()
        if not (is_hex_id(trace_id, 32) and is_hex_id(span_id, 16)):
            return None
        return self.filter(trace__trace_id=trace_id, span_id=span_id).first()

    def in_run(self, members, span_id):
        """The span with this id (any case) among the traces of a run (`members`, the outermost first),
        or None; the first member's when two of them share the id."""
        span_id = span_id.lower()
        if not is_hex_id(span_id, 16):
            return None
        found = {span.trace_id: span for span in self.filter(trace__in=members, span_id=span_id)}
        return next((found[member.pk] for member in members if member.pk in found), None)

    def in_start_order(self):
        """Start order, ties by id: the order traces.tree.build expects, so that the tree never re-sorts."""
        return self.order_by("start_ns", "id")

    def outline(self):
        """The OUTLINE_FIELDS of the spans as named tuples, in start order: what a tree, a timeline or
        a usage summary needs. Tuples, not model instances: for 5,000 spans they load in a tenth of the time."""
        return self.in_start_order().values_list(*OUTLINE_FIELDS, named=True)

    def usage(self):
        """The spans whose tokens, cost and calls count (counts_as_usage)."""
        return self.filter(category__in=USAGE_CATEGORIES)

    def errors(self):
        """The spans that failed (is_error)."""
        return self.filter(FAILED)


def stored_text(value):
    """Text as ingest stores it: NUL, which PostgreSQL cannot hold, becomes U+FFFD."""
    return value.replace("\x00", "\ufffd")


class SharedRowQuerySet(models.QuerySet):
    """Resources and scopes: rows that many spans share, stored once by ingest."""

    def unused(self):
        """The rows no span refers to any more (their traces were deleted)."""
        return self.filter(~Exists(Span.objects.filter(**{self.model._meta.model_name: OuterRef("pk")})))


class Resource(models.Model):
    """An OTLP resource (the process that emitted spans), stored once per distinct content."""

    fingerprint = models.CharField(max_length=40, unique=True)
    attributes = models.JSONField(default=dict)
    dropped_attributes_count = models.BigIntegerField(default=0)
    schema_url = models.TextField(blank=True, default="")

    objects = SharedRowQuerySet.as_manager()

    def __str__(self):
        return str(self.attributes.get("service.name", self.fingerprint[:12]))


class Scope(models.Model):
    """An instrumentation scope (the library that created spans), stored once per distinct content."""

    fingerprint = models.CharField(max_length=40, unique=True)
    name = models.TextField(blank=True, default="")
    version = models.TextField(blank=True, default="")
    attributes = models.JSONField(default=dict)
    dropped_attributes_count = models.BigIntegerField(default=0)
    schema_url = models.TextField(blank=True, default="")

    objects = SharedRowQuerySet.as_manager()

    def __str__(self):
        return f"{self.name} {self.version}".strip()


class Trace(models.Model):
    trace_id = models.CharField(max_length=32, unique=True)
    service_name = models.CharField(max_length=256, blank=True, default="")
    root_span_name = models.CharField(max_length=256, blank=True, default="")
    # False while the parentless span has not arrived: root_span_name then names the earliest span.
    has_root = models.BooleanField(default=False)
    workflow_name = models.CharField(max_length=256, blank=True, default="")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()
    start_ns = models.BigIntegerField()
    end_ns = models.BigIntegerField()
    duration_ms = models.FloatField(default=0)
    span_count = models.IntegerField(default=0)
    error_count = models.IntegerField(default=0)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    total_tokens = models.BigIntegerField(default=0)
    total_cost = models.FloatField(default=0)
    # The part of total_cost that msgtrace estimated, and the model calls it could not price (pricing/).
    estimated_cost = models.FloatField(default=0)
    unpriced_spans = models.IntegerField(default=0)
    models_used = models.JSONField(default=list)
    user_id = models.CharField(max_length=256, blank=True, default="")
    session_id = models.CharField(max_length=256, blank=True, default="")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OK)
    updated_at = models.DateTimeField()
    # Runs (traces.runs): traces of one process that nest in time, grouped without rewriting them.
    # Plain ids rather than foreign keys: deleting a trace never cascades through a run.
    run_resource_id = models.BigIntegerField(null=True)  # the root span's resource, once the root arrived
    run_class = models.SmallIntegerField(null=True)  # traces.runs.duration_class of the trace
    run_parent_id = models.BigIntegerField(null=True)  # the tightest enclosing root's trace
    run_link = models.CharField(max_length=9, blank=True, default="", db_default="")  # RunLink
    run_root_id = models.BigIntegerField(null=True)  # the run's outermost trace (itself when alone)
    # The run's totals, on its outermost trace; kept only once a trace was stitched into it.
    run_trace_count = models.IntegerField(default=1, db_default=1)
    run_span_count = models.IntegerField(null=True)
    run_error_count = models.IntegerField(null=True)
    run_total_tokens = models.BigIntegerField(null=True)
    run_total_cost = models.FloatField(null=True)

    objects = TraceQuerySet.as_manager()

    class Meta:
        indexes = [
            # The trace list: newest first, paged by (started_at, id).
            models.Index(fields=["-started_at", "-id"], name="trace_started"),
            # The list filtered by service, workflow or status, still newest first.
            models.Index(fields=["service_name", "-started_at"], name="trace_service_started"),
            models.Index(fields=["workflow_name", "-started_at"], name="trace_workflow_started"),
            models.Index(fields=["status", "-started_at"], name="trace_status_started"),
            # Duration filters, and sorting by duration, span count, tokens or cost, paged by id.
            models.Index(fields=["duration_ms", "id"], name="trace_duration"),
            models.Index(fields=["span_count", "id"], name="trace_span_count"),
            models.Index(fields=["total_tokens", "id"], name="trace_tokens"),
            models.Index(fields=["total_cost", "id"], name="trace_cost"),
            # The traces of one user or one session.
            models.Index(fields=["user_id", "-started_at"], name="trace_user_started"),
            models.Index(fields=["session_id", "-started_at"], name="trace_session_started"),
            # Runs: a new trace finds the roots that enclose it and the traces it encloses, one start
            # range per duration class (traces.runs.overlapping).
            models.Index(fields=["run_resource_id", "run_class", "start_ns"], name="trace_run_window"),
            # A run's members: its page, its API answer and its totals.
            models.Index(fields=["run_root_id"], name="trace_run_root"),
        ]

    def __str__(self):
        return self.trace_id

    @property
    def is_error(self):
        return self.status == Status.ERROR

    @property
    def stitched_count(self):
        """Traces stitched into this trace's run besides itself."""
        return self.run_trace_count - 1

    @property
    def run_spans(self):
        return self.run_span_count if self.run_trace_count > 1 else self.span_count

    @property
    def run_errors(self):
        return self.run_error_count if self.run_trace_count > 1 else self.error_count

    @property
    def run_tokens(self):
        return self.run_total_tokens if self.run_trace_count > 1 else self.total_tokens

    @property
    def run_cost(self):
        return self.run_total_cost if self.run_trace_count > 1 else self.total_cost


class RunLink(models.TextChoices):
    """How a trace relates to the tightest root that encloses it in time (traces.runs)."""

    NONE = "", "none"
    STITCHED = "stitched", "stitched"
    AMBIGUOUS = "ambiguous", "ambiguous"


class Span(models.Model):
    trace = models.ForeignKey(Trace, on_delete=models.CASCADE, related_name="spans", db_index=False)
    span_id = models.CharField(max_length=16)
    parent_span_id = models.CharField(max_length=16, blank=True, default="")
    name = models.TextField()
    kind = models.SmallIntegerField(choices=SpanKind.choices, default=SpanKind.UNSPECIFIED)
    start_ns = models.BigIntegerField()
    end_ns = models.BigIntegerField()
    duration_ns = models.BigIntegerField()
    status_code = models.SmallIntegerField(choices=StatusCode.choices, default=StatusCode.UNSET)
    status_message = models.TextField(blank=True, default="")
    trace_state = models.TextField(blank=True, default="")
    flags = models.BigIntegerField(default=0)
    attributes = models.JSONField(default=dict)
    dropped_attributes_count = models.BigIntegerField(default=0)
    dropped_events_count = models.BigIntegerField(default=0)
    dropped_links_count = models.BigIntegerField(default=0)
    resource = models.ForeignKey(Resource, on_delete=models.PROTECT, related_name="+")
    scope = models.ForeignKey(Scope, on_delete=models.PROTECT, related_name="+")
    service_name = models.CharField(max_length=256, blank=True, default="")

    # Normalized from the attribute conventions by traces.semconv.
    category = models.CharField(max_length=16, choices=Category.choices, default=Category.OTHER)
    model = models.CharField(max_length=256, blank=True, default="")
    response_model = models.CharField(max_length=256, blank=True, default="")
    provider = models.CharField(max_length=128, blank=True, default="")
    operation = models.CharField(max_length=128, blank=True, default="")
    input_tokens = models.BigIntegerField(null=True)
    output_tokens = models.BigIntegerField(null=True)
    total_tokens = models.BigIntegerField(null=True)
    input_cost = models.FloatField(null=True)
    output_cost = models.FloatField(null=True)
    total_cost = models.FloatField(null=True)
    currency = models.CharField(max_length=16, blank=True, default="")
    workflow_name = models.CharField(max_length=256, blank=True, default="")
    module_name = models.CharField(max_length=256, blank=True, default="")
    module_type = models.CharField(max_length=128, blank=True, default="")
    tool_name = models.CharField(max_length=256, blank=True, default="")
    agent_name = models.CharField(max_length=256, blank=True, default="")
    user_id = models.CharField(max_length=256, blank=True, default="")
    session_id = models.CharField(max_length=256, blank=True, default="")
    # Model calls only: "reported", "estimated" (price_version names the table) or "unpriced" (pricing/).
    cost_source = models.CharField(max_length=16, blank=True, default="")
    price_version = models.CharField(max_length=64, blank=True, default="")

    objects = SpanQuerySet.as_manager()

    class Meta:
        constraints = [
            # Makes a retried export idempotent, and serves every "spans of this trace" read.
            models.UniqueConstraint(fields=["trace", "span_id"], name="span_unique_in_trace"),
        ]
        # Few indexes on purpose: every one slows the ingest path. A trace's spans are read through
        # the unique (trace, span_id) index and put in start order in memory.
        indexes = [
            # Span search, newest first, usually narrowed to one kind of work (kind:llm).
            models.Index(fields=["category", "start_ns"], name="span_category_start"),
        ]

    def __str__(self):
        return f"{self.name} ({self.span_id})"

    @property
    def duration_ms(self):
        return self.duration_ns / 1e6

    @property
    def is_error(self):
        return is_error(self.status_code)

    @property
    def counts_as_usage(self):
        return counts_as_usage(self.category)


class SpanEvent(models.Model):
    span = models.ForeignKey(Span, on_delete=models.CASCADE, related_name="events")
    # Events keep the order the client sent them in.
    position = models.IntegerField()
    time_ns = models.BigIntegerField()
    name = models.TextField()
    attributes = models.JSONField(default=dict)
    dropped_attributes_count = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["span", "position"]

    def __str__(self):
        return self.name


class SpanLink(models.Model):
    span = models.ForeignKey(Span, on_delete=models.CASCADE, related_name="links")
    position = models.IntegerField()
    linked_trace_id = models.CharField(max_length=32)
    linked_span_id = models.CharField(max_length=16)
    trace_state = models.TextField(blank=True, default="")
    flags = models.BigIntegerField(default=0)
    attributes = models.JSONField(default=dict)
    dropped_attributes_count = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["span", "position"]
        indexes = [
            # "Which traces link to this one" on the trace page.
            models.Index(fields=["linked_trace_id"], name="link_linked_trace"),
        ]

    def __str__(self):
        return f"{self.linked_trace_id}/{self.linked_span_id}"
