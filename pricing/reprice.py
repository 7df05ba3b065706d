"""Recomputing estimated costs after prices change (`manage.py reprice`).

Model calls whose cost a client reported are never touched. Every other model call with tokens is
priced again with the prices in force now (custom prices first, then the genai-prices table), and the
totals of each affected trace (total_cost, estimated_cost, unpriced_spans) are summed again from its
spans. Batch by batch, each in a transaction that locks its traces in ingest's order (by trace_id),
so that an ingest into one of them waits and then merges into the corrected totals.
"""

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count, Q, Sum

from pricing.estimate import ESTIMATED, REPORTED, UNPRICED, custom_prices, price_span
from traces.models import Span, Trace
from traces.timeframe import ns_from_datetime

PRICED_FIELDS = ("input_cost", "output_cost", "total_cost", "currency", "cost_source", "price_version")
_READ = ("pk", "trace_id", "start_ns", "category", "model", "response_model", "provider", "input_tokens",
         "output_tokens", "total_tokens", "attributes") + PRICED_FIELDS


@dataclass
class RepriceResult:
    spans: int = 0  # model calls priced again
    changed: int = 0  # of which the cost or its source changed
    traces: int = 0  # traces whose totals were summed again


def spans_to_reprice(since=None, model=None):
    """The model calls with tokens whose cost msgtrace estimates (never those a client reported)."""
    spans = (
        Span.objects.usage()
        .exclude(cost_source=REPORTED)
        .filter(Q(input_tokens__isnull=False) | Q(output_tokens__isnull=False) | Q(total_tokens__isnull=False))
    )
    if since is not None:
        spans = spans.filter(start_ns__gte=ns_from_datetime(since))
    if model:
        spans = spans.filter(Q(model=model) | Q(response_model=model))
    return spans


def reprice(since=None, model=None, batch_size=500, progress=None):
    """Prices again the spans of spans_to_reprice(since, model); progress(done, total) after each batch."""
    custom_prices.forget()  # the prices of this moment, not those a few seconds old
    spans = spans_to_reprice(since, model)
    total = spans.count()
    result = RepriceResult()
    last = 0
    while True:
        ids = list(spans.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not ids:
            break
        last = ids[-1]
        changed, traces = _reprice_batch(ids)
        result.spans += len(ids)
        result.changed += changed
        result.traces += traces
        if progress is not None:
            progress(result.spans, total)
    return result


def _reprice_batch(ids):
    with transaction.atomic():
        rows = list(Span.objects.filter(pk__in=ids).values(*_READ))
        trace_pks = sorted({row["trace_id"] for row in rows})
        # Ingest's lock order: by trace_id. On SQLite the transaction's write lock serializes anyway.
        list(Trace.objects.filter(pk__in=trace_pks).order_by("trace_id").select_for_update().values_list("pk"))
        updates = []
        for row in rows:
            normalized = {key: row[key] for key in ("category", "model", "response_model", "provider",
                                                    "input_tokens", "output_tokens", "total_tokens")}
            normalized.update(input_cost=None, output_cost=None, total_cost=None, currency="")
            attributes = row["attributes"] if isinstance(row["attributes"], dict) else {}
            price_span(normalized, attributes, row["start_ns"])
            if any(normalized[field] != row[field] for field in PRICED_FIELDS):
                updates.append(Span(pk=row["pk"], **{field: normalized[field] for field in PRICED_FIELDS}))
        if updates:
            Span.objects.bulk_update(updates, PRICED_FIELDS, batch_size=500)
            resum_traces(trace_pks)
    return len(updates), len(trace_pks) if updates else 0


def resum_traces(trace_pks):
    """Sums each trace's cost totals again from its model calls: what ingest's merge adds up."""
    sums = {
        row["trace_id"]: row
        for row in Span.objects.usage()
        .filter(trace_id__in=trace_pks)
        .values("trace_id")
        .annotate(
            cost=Sum("total_cost"),
            estimated=Sum("total_cost", filter=Q(cost_source=ESTIMATED)),
            unpriced=Count("pk", filter=Q(cost_source=UNPRICED)),
        )
        .order_by()
    }
    traces = []
    for pk in trace_pks:
        row = sums.get(pk, {})
        traces.append(Trace(pk=pk, total_cost=row.get("cost") or 0.0, estimated_cost=row.get("estimated") or 0.0,
                            unpriced_spans=row.get("unpriced") or 0))
    Trace.objects.bulk_update(traces, ["total_cost", "estimated_cost", "unpriced_spans"], batch_size=500)
