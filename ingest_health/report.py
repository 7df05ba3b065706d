"""What the ingest-health page and GET /api/v1/ingest/health show over a window: the counters per client,
and per service what the store says about its traces (rootless traces, stitched runs, unpriced models)."""

from datetime import timedelta

from django.db.models import Count, Sum

from ingest_health.models import CLIENT_FIELDS, IngestCounter, IngestRejection
from traces.models import Span, Trace

# A trace whose root span has not arrived this long after it started is most likely missing it for good.
ROOTLESS_AFTER = timedelta(minutes=10)

# What a rejection message means for the person reading it, by the words it starts with or holds.
EXPLANATIONS = (
    ("trace_id must be 16 bytes", "OTLP trace ids are 16 bytes (32 hex digits in OTLP/JSON); your exporter sent "
     "an id of another length, so msgtrace cannot tell which trace these spans belong to."),
    ("trace_id is all zeros", "an all-zero trace id means the span was created without a trace context "
     "(a no-op or misconfigured tracer)."),
    ("span_id must be 8 bytes", "OTLP span ids are 8 bytes (16 hex digits in OTLP/JSON); your exporter sent an "
     "id of another length."),
    ("span_id is all zeros", "an all-zero span id is not a valid span: check how your client creates span ids."),
    ("parent_span_id must be", "the parent span id must be empty or 8 bytes (16 hex digits)."),
    ("timestamps must be below", "a start or end time is not a Unix time in nanoseconds (seconds or "
     "milliseconds multiplied too often overflow)."),
    ("the database refused", "the database could not hold a value of this trace; the rest of the request "
     "was stored."),
    ("missing or unknown ingest key", "the server requires an ingest key (MSGTRACE_INGEST_KEYS): set the "
     "exporter's Authorization: Bearer <key> or x-api-key header."),
    ("the body is over the limit", "the request was larger than MSGTRACE_MAX_BODY_BYTES: export smaller "
     "batches (OTEL_BSP_MAX_EXPORT_BATCH_SIZE) or raise the limit."),
    ("unsupported Content-Type", "msgtrace takes OTLP over HTTP as application/x-protobuf or application/json."),
    ("unsupported Content-Encoding", "compress with gzip or deflate, or not at all."),
    ("the body did not arrive", "the request body arrived too slowly (MSGTRACE_BODY_TIMEOUT_SECONDS)."),
    ("must be", "the request does not follow the OTLP schema: this usually means a hand-written or "
     "outdated exporter."),
    ("not valid", "the body could not be read at all: check the exporter's protocol and Content-Type."),
)


def explain(message):
    for words, meaning in EXPLANATIONS:
        if words in message:
            return meaning
    return ""


def client_label(client):
    """How a client reads: its SDK with version, or its User-Agent."""
    if client["sdk_name"]:
        return f"{client['sdk_name']} {client['sdk_version']}".strip()
    return client["user_agent"] or "unknown client"


def _key(row):
    return tuple(row[field] for field in CLIENT_FIELDS)


def ingest_health(start, now):
    """{"clients": [...], "services": [...]} over [start, now): see docs in the README's Ingest health."""
    clients = list(IngestCounter.objects.between(start, None).per_client())
    rejections = {}
    recent = IngestRejection.objects.order_by("-id")
    if start is not None:
        recent = recent.filter(at__gte=start)
    for rejection in recent.values(*CLIENT_FIELDS, "at", "spans", "status", "message"):
        rejection["explanation"] = explain(rejection["message"])
        rejections.setdefault(_key(rejection), []).append(rejection)
    for client in clients:
        client["client"] = client_label(client)
        client["last_rejections"] = [
            {field: r[field] for field in ("at", "spans", "status", "message", "explanation")}
            for r in rejections.get(_key(client), [])
        ]
    services = {}
    for client in clients:
        services.setdefault(client["service_name"], _service(client["service_name"]))
    for row in rootless_traces(start, now):
        services.setdefault(row["service_name"], _service(row["service_name"]))["rootless_traces"] = row["traces"]
    stitched = stitched_runs(start, now)
    unpriced = unpriced_models(start, now)
    for service in services.values():
        name = service["service_name"]
        service["stitched_runs"] = None if stitched is None else stitched.get(name, 0)
        service["unpriced_models"] = None if unpriced is None else unpriced.get(name, [])
    return {"clients": clients, "services": sorted(services.values(), key=lambda s: s["service_name"])}


def _service(name):
    return {"service_name": name, "rootless_traces": 0, "stitched_runs": None, "unpriced_models": None}


def rootless_traces(start, now):
    """Per service, the traces started in the window (and over ROOTLESS_AFTER ago) whose root never arrived."""
    traces = Trace.objects.between(start, now - ROOTLESS_AFTER).filter(has_root=False)
    return traces.values("service_name").annotate(traces=Count("id")).order_by("service_name")


def has_field(model, name):
    return any(field.name == name for field in model._meta.get_fields())


def unpriced_models(start, now):
    """{service: [{model, spans, tokens}]} of the model calls whose tokens have no price, or None while
    spans carry no cost source."""
    if not has_field(Span, "cost_source"):
        return None
    rows = (
        Span.objects.between(start, now).usage().filter(cost_source="unpriced")
        .values("service_name", "model").annotate(spans=Count("id"), tokens=Sum("total_tokens"))
        .order_by("service_name", "-spans", "model")
    )
    found = {}
    for row in rows:
        found.setdefault(row["service_name"], []).append(
            {"model": row["model"], "spans": row["spans"], "tokens": row["tokens"] or 0}
        )
    return found


def stitched_runs(start, now):
    """{service: runs (started in the window) into which at least one trace was stitched}, or None
    while traces carry no run (traces.runs)."""
    if not has_field(Trace, "run_trace_count"):
        return None
    traces = Trace.objects.between(start, now)
    traces = traces.runs() if hasattr(traces, "runs") else traces
    rows = traces.filter(run_trace_count__gt=1).values("service_name").annotate(runs=Count("id")).order_by()
    return {row["service_name"]: row["runs"] for row in rows}


def _spans(count):
    return f"{count:,} span{'' if count == 1 else 's'}"


def client_notes(client):
    """What went wrong for a client, in sentences: (kind, text), kind "bad" or "note"."""
    notes = []
    for rejection in client["last_rejections"]:
        if rejection["spans"]:
            text = f"{_spans(rejection['spans'])} rejected: {rejection['message']}"
        else:
            text = f"A request was refused (HTTP {rejection['status']}): {rejection['message']}"
        if rejection["explanation"]:
            text += f" — {rejection['explanation']}"
        notes.append(("bad", text))
    if client["duplicates"]:
        notes.append(("note", f"{_spans(client['duplicates'])} arrived again (exporter retries) and were stored once."))
    if client["truncated"]:
        count = client["truncated"]
        notes.append(("note", f"{count:,} attribute value{'' if count == 1 else 's'} exceeded MSGTRACE_MAX_ATTRIBUTE_BYTES "
                              "and were stored truncated."))
    return notes


def service_notes(service):
    notes = []
    if service["rootless_traces"]:
        count = service["rootless_traces"]
        notes.append(("bad", f"{count:,} trace{'' if count == 1 else 's'} still without a root span 10 minutes after "
                             "starting: the root span was never exported (the process exited before its exporter "
                             "flushed, or the root was sent to another collector)."))
    for model in service["unpriced_models"] or ():
        notes.append(("bad", f"{model['model'] or 'An unnamed model'}: {_spans(model['spans'])} with "
                             f"{model['tokens']:,} tokens have no price, so their cost counts as $0: the price "
                             "table does not know this model; add a custom price for it."))
    return notes
