"""msgtrace's figures for Prometheus: what the ingest path counted, and what the store holds at scrape time.

Two sources, each where it is right:
- Ingest (requests, spans, bytes, latency, tokens and cost by model and service) is counted in the process
  that answered, with prometheus-client's counters and histogram. Under gunicorn those live in
  PROMETHEUS_MULTIPROC_DIR (deploy/gunicorn.conf.py), one file per worker and one for the OTLP/gRPC
  process, summed at scrape time by whichever worker answers: every request is counted once, and a
  counter never goes back when retention deletes traces or ingest health trims its minutes. Without that
  directory (runserver, tests) the counters are the process's own.
- The store (traces, spans, database size) is read from the database at scrape time by StoreCollector,
  with reads whose cost does not grow with the store (see row_count), so any worker, or any of several
  servers on one database, answers the same figures.

Other apps add families to the scrape with register(): a function yielding prometheus-client metric
families, called once per scrape."""

import logging
import os
import threading

from django.db import connection
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from traces.models import Span, Trace, counts_as_usage

log = logging.getLogger("msgtrace.monitoring")

# Distinct models (and services) a process labels by name; later ones are counted as "other", so that a
# client sending a new model name with every span cannot grow the scrape without bound.
LABEL_VALUES_KEPT = 50
OTHER = "other"
# Tables with an id range up to this are counted exactly; beyond, the planner's estimate is read.
EXACT_COUNT_UP_TO = 100_000

# Ingest latency from the body's arrival to the answer, OTLP batches being 1 ms to tens of seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


def multiprocess_dir():
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR")


if multiprocess_dir():
    # Any process of msgtrace (migrate too) writes its counters there as soon as they are created.
    os.makedirs(multiprocess_dir(), exist_ok=True)

INGEST = CollectorRegistry(auto_describe=True)
requests = Counter(
    "msgtrace_ingest_requests", "OTLP export requests answered, by path (the gRPC method for OTLP/gRPC), "
    "encoding and status (HTTP status, or gRPC status name)",
    ["path", "encoding", "status"], registry=INGEST,
)
request_bytes = Counter(
    "msgtrace_ingest_request_bytes", "Bytes of OTLP export request bodies as received (compressed when sent so)",
    ["path", "encoding"], registry=INGEST,
)
spans_stored = Counter("msgtrace_ingest_spans_stored", "Spans written to the store", registry=INGEST)
spans_duplicated = Counter(
    "msgtrace_ingest_spans_duplicated", "Spans received again (same trace and span id) and skipped", registry=INGEST,
)
spans_rejected = Counter(
    "msgtrace_ingest_spans_rejected", "Spans refused from requests otherwise stored (partial success)",
    registry=INGEST,
)
latency = Histogram(
    "msgtrace_ingest_duration_seconds", "Time to answer an OTLP export request, body read to answer",
    ["path"], buckets=LATENCY_BUCKETS, registry=INGEST,
)
tokens = Counter(
    "msgtrace_model_tokens", "Tokens of the model calls stored, by model, service and direction (input/output)",
    ["model", "service", "direction"], registry=INGEST,
)
cost = Counter(
    "msgtrace_model_cost", "Cost of the model calls stored (reported or estimated, in USD for msgtrace's price "
    "table), by model and service", ["model", "service"], registry=INGEST,
)


class _Capped:
    """The first LABEL_VALUES_KEPT values seen keep their name; the others read OTHER."""

    def __init__(self):
        self._kept = set()
        self._lock = threading.Lock()

    def __call__(self, value):
        value = value or "unknown"
        if value in self._kept:
            return value
        with self._lock:
            if len(self._kept) < LABEL_VALUES_KEPT:
                self._kept.add(value)
                return value
        return OTHER


_model_label, _service_label = _Capped(), _Capped()


def observe_export(path, encoding, status, size, seconds, batch, stored):
    """Counts one answered export request: `status` as answered, `size` the body's bytes, `seconds` its
    time; `batch` as decoded and `stored` as traces.store.store returned it (each None when not reached).
    Never raises: a figure lost must not cost the answer to an export."""
    try:
        _observe(path, encoding, status, size, seconds, batch, stored)
    except Exception:
        log.warning("ingest metrics not updated", exc_info=True)


def _observe(path, encoding, status, size, seconds, batch, stored):
    requests.labels(path, encoding, str(status)).inc()
    request_bytes.labels(path, encoding).inc(size)
    latency.labels(path).observe(seconds)
    if stored is not None:
        spans_stored.inc(stored.stored)
        spans_duplicated.inc(stored.duplicates)
        _count_usage(stored.spans)
    if batch is not None and stored is not None:
        spans_rejected.inc(batch.rejected)


def _count_usage(spans):
    """Adds the tokens and cost of the model calls just stored (duplicates are not among them)."""
    sums = {}
    for span in spans:
        normalized = span.normalized
        if not counts_as_usage(normalized["category"]):
            continue
        key = (_model_label(normalized["model"]), _service_label(span.service_name))
        found = sums.setdefault(key, [0, 0, 0.0])
        found[0] += normalized["input_tokens"] or 0
        found[1] += normalized["output_tokens"] or 0
        found[2] += normalized["total_cost"] or 0.0
    for (model, service), (input_tokens, output_tokens, spent) in sums.items():
        tokens.labels(model, service, "input").inc(input_tokens)
        tokens.labels(model, service, "output").inc(output_tokens)
        cost.labels(model, service).inc(spent)


_extensions = []


def register(collect):
    """Adds `collect()`, yielding metric families read at scrape time, to every scrape."""
    if collect not in _extensions:
        _extensions.append(collect)


def row_count(model):
    """The rows of `model`'s table: exact while its id range is small, else the planner's estimate
    (pg_class.reltuples; SQLite's sqlite_stat1 once ANALYZE ran, else the id range), so a scrape never
    scans a large span table."""
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT MIN(id), MAX(id) FROM {table}")  # noqa: S608 - a model's own table
        low, high = cursor.fetchone()
        if low is None:
            return 0
        spread = high - low + 1
        if spread <= EXACT_COUNT_UP_TO:
            cursor.execute(f"SELECT COUNT(*) FROM {table}")  # noqa: S608
            return cursor.fetchone()[0]
        estimate = _planner_estimate(cursor, model._meta.db_table)
        return estimate if estimate is not None else spread


def _planner_estimate(cursor, table):
    if connection.vendor == "postgresql":
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = to_regclass(%s)", [table])
        row = cursor.fetchone()
        return int(row[0]) if row and row[0] is not None and row[0] >= 0 else None
    cursor.execute("SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'")
    if cursor.fetchone() is None:
        return None
    # A row per index, each starting with the rows it covers: the largest is the table's (a partial index
    # covers fewer).
    cursor.execute("SELECT stat FROM sqlite_stat1 WHERE tbl = %s", [table])
    counts = [int(stat.split()[0]) for (stat,) in cursor.fetchall() if stat]
    return max(counts) if counts else None


def database_bytes():
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_database_size(current_database())")
            return cursor.fetchone()[0]
        cursor.execute("PRAGMA page_count")
        pages = cursor.fetchone()[0]
        cursor.execute("PRAGMA page_size")
        return pages * cursor.fetchone()[0]


class StoreCollector:
    """What the store holds, read at scrape time, then the registered extensions' families."""

    def collect(self):
        traces = GaugeMetricFamily("msgtrace_store_traces", "Traces in the store (estimated beyond "
                                   f"{EXACT_COUNT_UP_TO:,} rows)")
        traces.add_metric([], row_count(Trace))
        yield traces
        spans = GaugeMetricFamily("msgtrace_store_spans", "Spans in the store (estimated beyond "
                                  f"{EXACT_COUNT_UP_TO:,} rows)")
        spans.add_metric([], row_count(Span))
        yield spans
        size = GaugeMetricFamily("msgtrace_database_size_bytes", "Size of the database (SQLite: its pages; "
                                 "PostgreSQL: pg_database_size)")
        size.add_metric([], database_bytes())
        yield size
        for collect in _extensions:
            # Materialized first: a family that fails midway must not leave half of itself in the scrape.
            try:
                families = list(collect())
            except Exception:
                # The ingest and store figures still reach Prometheus; the log says what is missing.
                log.exception("metrics of %s left out of this scrape", collect.__module__)
                continue
            yield from families


def exposition():
    """The scrape's body, in Prometheus' text format."""
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_dir():
        MultiProcessCollector(registry)
    else:
        registry.register(INGEST)
    registry.register(StoreCollector())
    return generate_latest(registry)
