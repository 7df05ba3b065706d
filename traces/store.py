"""Writes a decoded batch into the trace store in one short transaction.

The hot path of msgtrace. It speaks SQL to the two databases directly: the ORM's bulk_create
cannot skip rows that already exist, and on SQLite it reaches about a third of the rate of a plain
executemany. bench/ingest.py measures the whole path against that ceiling.

Guarantees, whatever order and however often spans arrive:
- a batch is stored whole or not at all, and the caller answers only after the commit;
- a span already stored (same trace id and span id) is skipped, so retries change nothing;
- each touched trace's aggregates are merged from exactly the spans this batch added, under a
  lock on the trace row (SQLite: the IMMEDIATE write lock; PostgreSQL: SELECT ... FOR UPDATE).
"""

import json
import threading
from collections import OrderedDict
from datetime import datetime, timezone

from django.db import DataError, IntegrityError, OperationalError, connection, transaction

from traces import runs
from traces.models import counts_as_usage, is_error
from traces.timeframe import datetime_from_ns

MAX_INT64 = 2**63 - 1
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode


class IdCache:
    """fingerprint -> primary key of resources (or scopes) known to be committed, the least recently
    used forgotten beyond `capacity`: a client that sends a new resource with every request must not
    grow a worker's memory for ever. Shared by a worker's threads, hence the lock."""

    def __init__(self, capacity):
        self.capacity = capacity
        self._ids = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self):
        return len(self._ids)

    def __contains__(self, fingerprint):
        return fingerprint in self._ids

    def known(self, fingerprints):
        """{fingerprint: pk} of those cached, each now the most recently used."""
        found = {}
        with self._lock:
            for fingerprint in fingerprints:
                pk = self._ids.get(fingerprint)
                if pk is not None:
                    self._ids.move_to_end(fingerprint)
                    found[fingerprint] = pk
        return found

    def update(self, ids):
        with self._lock:
            for fingerprint, pk in ids.items():
                self._ids[fingerprint] = pk
                self._ids.move_to_end(fingerprint)
            while len(self._ids) > self.capacity:
                self._ids.popitem(last=False)

    def clear(self):
        with self._lock:
            self._ids.clear()


# Far more distinct processes and libraries than a server sees at a time; a few MB each when full.
CACHE_CAPACITY = 10_000
_resource_ids = IdCache(CACHE_CAPACITY)
_scope_ids = IdCache(CACHE_CAPACITY)

# The columns each INSERT, SELECT and UPDATE below names, in the order of its values.
# tests/traces/test_store.py holds them equal to the models' columns.
SPAN_COLUMNS = (
    "trace_id", "span_id", "parent_span_id", "name", "kind", "start_ns", "end_ns", "duration_ns",
    "status_code", "status_message", "trace_state", "flags", "attributes", "dropped_attributes_count",
    "dropped_events_count", "dropped_links_count", "resource_id", "scope_id", "service_name",
    "category", "model", "response_model", "provider", "operation", "input_tokens", "output_tokens",
    "total_tokens", "input_cost", "output_cost", "total_cost", "currency", "workflow_name",
    "module_name", "module_type", "tool_name", "agent_name", "user_id", "session_id", "cost_source",
    "price_version",
)
NORMALIZED = SPAN_COLUMNS[SPAN_COLUMNS.index("category") :]
TRACE_STATE = (
    "id", "trace_id", "start_ns", "end_ns", "span_count", "error_count", "input_tokens", "output_tokens",
    "total_tokens", "total_cost", "models_used", "has_root", "root_span_name", "service_name",
    "workflow_name", "user_id", "session_id", "estimated_cost", "unpriced_spans",
)
TRACE_UPDATE = (
    "service_name", "root_span_name", "has_root", "workflow_name", "started_at", "ended_at", "start_ns",
    "end_ns", "duration_ms", "span_count", "error_count", "input_tokens", "output_tokens", "total_tokens",
    "total_cost", "models_used", "user_id", "session_id", "status", "updated_at", "estimated_cost", "unpriced_spans",
)
RESOURCE_COLUMNS = ("fingerprint", "attributes", "dropped_attributes_count", "schema_url")
SCOPE_COLUMNS = ("fingerprint", "name", "version", "attributes", "dropped_attributes_count", "schema_url")
EVENT_COLUMNS = ("span_id", "position", "time_ns", "name", "attributes", "dropped_attributes_count")
LINK_COLUMNS = (
    "span_id",
    "position",
    "linked_trace_id",
    "linked_span_id",
    "trace_state",
    "flags",
    "attributes",
    "dropped_attributes_count",
)


class StoreResult:
    __slots__ = ("stored", "duplicates", "traces", "counted", "spans")

    def __init__(self, stored=0, duplicates=0, traces=0, spans=None):
        self.stored, self.duplicates, self.traces = stored, duplicates, traces
        self.counted = False  # whether store()'s `count` was committed with the spans
        self.spans = [] if spans is None else spans  # written: their usage is counted once answered


def store(batch, count=None):
    """Stores the batch's spans; returns how many were new. Raises DatabaseError on failure.

    `count(result)`, when given, is called inside the transaction once the spans are written, so that
    what it writes commits with them (ingest health); it returns whether it wrote, and must never
    raise. A batch the database refuses whole is stored trace by trace without it (`counted` False)."""
    if not batch.spans:
        return StoreResult()
    spans_by_trace = {}
    unique = 0
    for span in batch.spans:
        spans = spans_by_trace.setdefault(span.trace_id, {})
        if span.span_id not in spans:  # the same span twice in one request counts once
            spans[span.span_id] = span
            unique += 1
    # Encoded before the transaction begins: on SQLite every worker queues for the one write lock.
    encoded = {id(span): _dumps(span.attributes) for spans in spans_by_trace.values() for span in spans.values()}
    repeated_in_request = len(batch.spans) - unique
    try:
        return _store_retrying(spans_by_trace, encoded, repeated_in_request, count)
    except (DataError, IntegrityError, OverflowError):
        result = _store_each_trace(batch, spans_by_trace, encoded)
    result.duplicates += repeated_in_request
    return result


def _store_retrying(spans_by_trace, encoded, repeated_in_request=0, count=None):
    try:
        return _store_once(spans_by_trace, encoded, repeated_in_request, count)
    except IntegrityError:
        # A cached resource or scope id goes stale when retention (or a hand) removes its row: the
        # spans' foreign keys fail at commit. Forget every cached id and store the same spans again,
        # inserting the rows anew; only a second refusal is a value the database cannot hold.
        _resource_ids.clear()
        _scope_ids.clear()
        return _store_once(spans_by_trace, encoded, repeated_in_request, count)


def _store_each_trace(batch, spans_by_trace, encoded):
    """Stores the batch trace by trace after the database refused it whole, so that a value it
    cannot hold costs only the spans of its own trace, which are rejected with the reason."""
    result = StoreResult()
    for trace_id, spans in spans_by_trace.items():
        try:
            one = _store_retrying({trace_id: spans}, encoded)
        except (DataError, IntegrityError, OverflowError) as exc:
            reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            batch.reject(f"the database refused a value of trace {trace_id}: {reason}", len(spans))
            batch.spans = [span for span in batch.spans if span.trace_id != trace_id]
            continue
        result.stored += one.stored
        result.duplicates += one.duplicates
        result.traces += one.traces
        result.spans.extend(one.spans)
    return result


def _store_once(spans_by_trace, encoded, repeated_in_request=0, count=None):
    sql = _Sql(connection)
    new_resources, new_scopes = {}, {}
    with transaction.atomic():
        with connection.cursor() as cursor:
            resources = _ensure(cursor, sql, "traces_resource", _resource_ids, new_resources, spans_by_trace, "resource")
            scopes = _ensure(cursor, sql, "traces_scope", _scope_ids, new_scopes, spans_by_trace, "scope")
            states = _lock_traces(cursor, sql, spans_by_trace)
            existing = _existing_spans(cursor, sql, states, spans_by_trace)
            fresh = {}
            for trace_id, spans in spans_by_trace.items():
                pk = states[trace_id]["id"]
                known = existing.get(pk, ())
                fresh[trace_id] = [span for span_id, span in spans.items() if span_id not in known]
            stored = _insert_spans(cursor, sql, states, fresh, resources, scopes, encoded)
            _update_traces(cursor, sql, states, fresh)
            runs.stitch(cursor, sql.postgres, states, fresh, resources)
        duplicates = sum(len(spans) for spans in spans_by_trace.values()) - stored
        written = [span for spans in fresh.values() for span in spans]
        result = StoreResult(stored, duplicates + repeated_in_request, len(spans_by_trace), written)
        if count is not None:
            result.counted = count(result)
        # Only committed rows may be cached: a rolled-back insert leaves no row behind.
        transaction.on_commit(lambda: (_resource_ids.update(new_resources), _scope_ids.update(new_scopes)))
    return result


class _Sql:
    """The few places where SQLite and PostgreSQL need different SQL."""

    def __init__(self, conn):
        self.postgres = conn.vendor == "postgresql"
        self.json = "%s::jsonb" if self.postgres else "%s"
        # SQLite allows 32,766 variables per statement; PostgreSQL 65,535.
        self.max_variables = 60000 if self.postgres else 32000
        self.adapt_datetime = conn.ops.adapt_datetimefield_value

    def values(self, columns, json_columns=()):
        return "(" + ",".join(self.json if c in json_columns else "%s" for c in columns) + ")"

    def chunks(self, rows, width):
        size = max(1, self.max_variables // width)
        for start in range(0, len(rows), size):
            yield rows[start : start + size]


def _ensure(cursor, sql, table, cache, created, spans_by_trace, attr):
    """Primary keys of the batch's resources (or scopes), inserting the ones not stored yet."""
    records = {}
    for spans in spans_by_trace.values():
        for span in spans.values():
            record = getattr(span, attr)
            records.setdefault(record.fingerprint, record)
    ids = cache.known(records)
    missing = [fp for fp in records if fp not in ids]
    if not missing:
        return ids
    if attr == "resource":
        columns = RESOURCE_COLUMNS
        rows = [
            (fp, _dumps(r.attributes), r.dropped_attributes_count, r.schema_url)
            for fp, r in ((fp, records[fp]) for fp in missing)
        ]
    else:
        columns = SCOPE_COLUMNS
        rows = [
            (fp, r.name, r.version, _dumps(r.attributes), r.dropped_attributes_count, r.schema_url)
            for fp, r in ((fp, records[fp]) for fp in missing)
        ]
    placeholder = sql.values(columns, ("attributes",))
    for chunk in sql.chunks(rows, len(columns)):
        cursor.execute(
            f"INSERT INTO {table} ({','.join(columns)}) VALUES {','.join([placeholder] * len(chunk))} "
            "ON CONFLICT (fingerprint) DO NOTHING",
            [value for row in chunk for value in row],
        )
    for chunk in sql.chunks(missing, 1):
        cursor.execute(
            f"SELECT fingerprint, id FROM {table} WHERE fingerprint IN ({','.join(['%s'] * len(chunk))})", chunk
        )
        for fp, pk in cursor.fetchall():
            ids[fp] = pk
            created[fp] = pk
    return ids


def _lock_traces(cursor, sql, spans_by_trace):
    """Each touched trace's row, created when new and locked until commit, as a dict of its state."""
    states = {}
    pending = sorted(spans_by_trace)  # one lock order for every writer: no deadlocks
    for _attempt in range(5):
        if not pending:
            return states
        _create_traces(cursor, sql, spans_by_trace, pending)
        states.update(_select_traces(cursor, sql, pending))
        # On PostgreSQL a concurrent delete can remove a row between our INSERT (which found it and
        # did nothing) and our lock: the trace is created again, as if this batch had come first.
        pending = [trace_id for trace_id in pending if trace_id not in states]
    if pending:
        raise OperationalError(f"traces kept being deleted while this batch was stored: {len(pending)}")
    return states


def _create_traces(cursor, sql, spans_by_trace, trace_ids):
    now = sql.adapt_datetime(datetime.now(timezone.utc))
    columns = TRACE_UPDATE + ("trace_id",)
    placeholder = sql.values(columns, ("models_used",))
    rows = []
    for trace_id in trace_ids:
        first = min(span.start_ns for span in spans_by_trace[trace_id].values())
        started = sql.adapt_datetime(datetime_from_ns(first))
        rows.append(
            ("", "", False, "", started, started, first, first, 0.0, 0, 0, 0, 0, 0, 0.0, "[]", "", "", "ok", now, 0.0, 0, trace_id)
        )
    for chunk in sql.chunks(rows, len(columns)):
        cursor.execute(
            f"INSERT INTO traces_trace ({','.join(columns)}) VALUES {','.join([placeholder] * len(chunk))} "
            "ON CONFLICT (trace_id) DO NOTHING",
            [value for row in chunk for value in row],
        )


def _select_traces(cursor, sql, trace_ids):
    states = {}
    lock = " ORDER BY trace_id FOR UPDATE" if sql.postgres else ""
    # With the run columns traces.runs regroups from: read under the same lock, in the same statement.
    columns = TRACE_STATE + runs.STATE
    for chunk in sql.chunks(trace_ids, 1):
        cursor.execute(
            f"SELECT {','.join(columns)} FROM traces_trace "
            f"WHERE trace_id IN ({','.join(['%s'] * len(chunk))}){lock}",
            chunk,
        )
        for row in cursor.fetchall():
            state = dict(zip(columns, row))
            models = state["models_used"]
            state["models_used"] = json.loads(models) if isinstance(models, str) else list(models or ())
            states[state["trace_id"]] = state
    return states


def _existing_spans(cursor, sql, states, spans_by_trace):
    """{trace pk: {span_id, ...}} of the batch's spans that are already stored."""
    pks, span_ids = [], set()
    for trace_id, spans in spans_by_trace.items():
        state = states[trace_id]
        if state["span_count"]:
            pks.append(state["id"])
            span_ids.update(spans)
    existing = {}
    if not pks:
        return existing
    span_ids = sorted(span_ids)
    size = max(1, sql.max_variables - len(pks))
    for start in range(0, len(span_ids), size):
        chunk = span_ids[start : start + size]
        cursor.execute(
            f"SELECT trace_id, span_id FROM traces_span WHERE trace_id IN ({','.join(['%s'] * len(pks))}) "
            f"AND span_id IN ({','.join(['%s'] * len(chunk))})",
            pks + chunk,
        )
        for pk, span_id in cursor.fetchall():
            existing.setdefault(pk, set()).add(span_id)
    return existing


def _insert_spans(cursor, sql, states, fresh, resources, scopes, encoded):
    rows, needs_id = [], []
    for trace_id, spans in fresh.items():
        pk = states[trace_id]["id"]
        for span in spans:
            normalized = span.normalized
            rows.append(
                (
                    pk, span.span_id, span.parent_span_id, span.name, span.kind, span.start_ns, span.end_ns,
                    max(0, span.end_ns - span.start_ns), span.status_code, span.status_message, span.trace_state,
                    span.flags, encoded[id(span)], span.dropped_attributes_count, span.dropped_events_count,
                    span.dropped_links_count, resources[span.resource.fingerprint], scopes[span.scope.fingerprint],
                    span.service_name,
                    *[normalized[column] for column in NORMALIZED],
                )
            )
            if span.events or span.links:
                needs_id.append((pk, span))
    if not rows:
        return 0
    placeholder = sql.values(SPAN_COLUMNS, ("attributes",))
    insert = f"INSERT INTO traces_span ({','.join(SPAN_COLUMNS)}) VALUES "
    if sql.postgres:
        # COPY streams the rows in one round trip, without a statement to parse per row.
        with cursor.cursor.copy(f"COPY traces_span ({','.join(SPAN_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        # One prepared single-row statement: a multi-row VALUES list of ~10,000 placeholders costs
        # SQLite more to compile than to run.
        cursor.executemany(insert + placeholder, rows)
    if needs_id:
        _insert_events_and_links(cursor, sql, needs_id)
    return len(rows)


def _insert_events_and_links(cursor, sql, needs_id):
    pks = sorted({pk for pk, _ in needs_id})
    span_ids = sorted({span.span_id for _, span in needs_id})
    ids = {}
    size = max(1, sql.max_variables - len(pks))
    for start in range(0, len(span_ids), size):
        chunk = span_ids[start : start + size]
        cursor.execute(
            f"SELECT trace_id, span_id, id FROM traces_span WHERE trace_id IN ({','.join(['%s'] * len(pks))}) "
            f"AND span_id IN ({','.join(['%s'] * len(chunk))})",
            pks + chunk,
        )
        for pk, span_id, row_id in cursor.fetchall():
            ids[pk, span_id] = row_id
    events, links = [], []
    for pk, span in needs_id:
        row_id = ids[pk, span.span_id]
        for position, event in enumerate(span.events):
            events.append(
                (row_id, position, event.time_ns, event.name, _dumps(event.attributes), event.dropped_attributes_count)
            )
        for position, link in enumerate(span.links):
            links.append(
                (
                    row_id,
                    position,
                    link.trace_id,
                    link.span_id,
                    link.trace_state,
                    link.flags,
                    _dumps(link.attributes),
                    link.dropped_attributes_count,
                )
            )
    for table, columns, rows in (("traces_spanevent", EVENT_COLUMNS, events), ("traces_spanlink", LINK_COLUMNS, links)):
        placeholder = sql.values(columns, ("attributes",))
        for chunk in sql.chunks(rows, len(columns)):
            cursor.execute(
                f"INSERT INTO {table} ({','.join(columns)}) VALUES {','.join([placeholder] * len(chunk))}",
                [value for row in chunk for value in row],
            )


def merge(state, spans):
    """Folds newly stored spans into a trace's aggregate state (a dict shaped like TRACE_STATE)."""
    if not spans:
        return False
    spans = sorted(spans, key=lambda s: s.start_ns)
    fresh = state["span_count"] == 0
    previous_start = None if fresh else state["start_ns"]
    if fresh:
        state["start_ns"], state["end_ns"] = spans[0].start_ns, spans[0].end_ns
    models = set(state["models_used"])
    for span in spans:
        if span.start_ns < state["start_ns"]:
            state["start_ns"] = span.start_ns
        if span.end_ns > state["end_ns"]:
            state["end_ns"] = span.end_ns
        state["span_count"] += 1
        if is_error(span.status_code):
            state["error_count"] += 1
        normalized = span.normalized
        if counts_as_usage(normalized["category"]):
            # Saturating: however many spans a trace gathers, its totals fit their 64-bit columns.
            for field in ("input_tokens", "output_tokens", "total_tokens"):
                state[field] = min(MAX_INT64, state[field] + (normalized[field] or 0))
            state["total_cost"] += normalized["total_cost"] or 0.0
            _merge_cost_source(state, normalized)
        if normalized["model"]:
            models.add(normalized["model"])
    state["models_used"] = sorted(models)

    roots = [span for span in spans if not span.parent_span_id]
    root = None
    if roots and (not state["has_root"] or previous_start is None or roots[0].start_ns < previous_start):
        root = roots[0]
        state["has_root"] = True
    elif not state["has_root"] and (previous_start is None or spans[0].start_ns < previous_start):
        root = spans[0]  # the earliest span stands in until the root arrives
    if root is not None:
        state["root_span_name"] = root.name[:256]
        state["service_name"] = root.service_name or state["service_name"]
        if root.normalized["workflow_name"]:
            state["workflow_name"] = root.normalized["workflow_name"]
    for field in ("workflow_name", "user_id", "session_id", "service_name"):
        if not state[field]:
            for span in spans:
                value = span.service_name if field == "service_name" else span.normalized[field]
                if value:
                    state[field] = value
                    break
    return True


def _merge_cost_source(state, normalized):
    """How much of the total msgtrace estimated, and how many model calls it could not price (pricing/)."""
    source = normalized["cost_source"]
    if source == "estimated":
        state["estimated_cost"] += normalized["total_cost"] or 0.0
    elif source == "unpriced":
        state["unpriced_spans"] += 1


def _update_traces(cursor, sql, states, fresh):
    now = sql.adapt_datetime(datetime.now(timezone.utc))
    rows = []
    for trace_id, spans in fresh.items():
        state = states[trace_id]
        if not merge(state, spans):
            continue
        rows.append(
            (
                state["service_name"], state["root_span_name"], state["has_root"], state["workflow_name"],
                sql.adapt_datetime(datetime_from_ns(state["start_ns"])),
                sql.adapt_datetime(datetime_from_ns(state["end_ns"])),
                state["start_ns"], state["end_ns"], max(0, state["end_ns"] - state["start_ns"]) / 1e6,
                state["span_count"], state["error_count"], state["input_tokens"], state["output_tokens"],
                state["total_tokens"], state["total_cost"], _dumps(state["models_used"]), state["user_id"],
                state["session_id"], "error" if state["error_count"] else "ok", now, state["estimated_cost"],
                state["unpriced_spans"], state["id"],
            )
        )
    if rows:
        assignments = ",".join(f"{c}={sql.json if c == 'models_used' else '%s'}" for c in TRACE_UPDATE)
        cursor.executemany(f"UPDATE traces_trace SET {assignments} WHERE id=%s", rows)

