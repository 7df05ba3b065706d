#!/usr/bin/env python3
"""Query benchmark: does reading msgtrace stay fast as the store grows?

The same queries run against a store of 10,000 traces and one of 200,000 (10 spans each: about
100,000 and 2,000,000 spans). For every query the median and p95 time over --reps repetitions
(after one warm-up) is printed for each size, with the ratio large / small. The target is that
the trace list, its filters and the trace detail grow by at most 2x (they are served by indexes
and stop after one page); queries that grow more are marked.

What is measured, each through the real API with django.test.Client (routing, middleware, the
query and the JSON serialization; no HTTP socket) and, where it helps, as the bare ORM query:

- the trace list's first page (GET /api/v1/traces: 50 traces, newest first, plus the total), then
  the same filtered by workflow, by duration (min_duration_ms) and by a compound query
  (duration:>2s AND status:error AND workflow:support_agent). Each also with include_total=false,
  and as its two bare queries: the page (traces.pagination.page) and the count, so that the cost
  of the total shows;
- the detail of a 10-span trace from the middle of the store (GET /api/v1/traces/{id});
- the stats of the last 24 hours (GET /api/v1/stats, and traces.stats.summarize);
- the latency heatmap, usage over time (by model; by user as the bare query) and the flows of one workflow
  over the same 24 hours (GET /api/v1/stats/heatmap, /api/v1/stats/usage-over-time, /api/v1/flows, and
  traces.heatmap / traces.stats / traces.flows), and the pages that show them (the dashboard and /flows);
- the session list of the last 24 hours (GET /api/v1/sessions, its default window, and its one GROUP BY
  query, conversations.listing.sessions, over the 24 hours that end when the store was seeded), and the
  session of the middle trace as the API and the page show it (GET /api/v1/sessions/{id}, /sessions/<id>).
  The generator spreads traces over 10,000 sessions, so the 24-hour window holds about as many sessions
  at both sizes, while the middle trace's session holds about 1 trace at 10,000 and 20 at 200,000: the
  session page reads at most one page of turns (50), so it grows with the session, up to a page, never
  with the store. Its turn count is printed beside it;
- last, the span-level filters, which test each trace's spans: a span attribute
  (attr.gen_ai.request.temperature:>0.5), the model parameter (model=gpt-4o), and an attribute
  query that matches nothing (attr.gen_ai.request.model:gpt-5), whose page never fills.

For every query the SQL that Django runs is captured and explained (EXPLAIN QUERY PLAN on SQLite,
EXPLAIN on PostgreSQL). The plan's key line is printed (SCAN or SEARCH ... USING INDEX), with
a verdict: whether the query stops after one page (LIMIT) or reads every row it matches. A
"why" note follows for the queries that read every row or grow more than 2x.

How the stores are built: the seeded generator of bench/otlp_load.py (TraceFactory, 10 spans a
trace: LLM spans with gen_ai.* attributes and 1-2 KB prompts, tools, modules, 5% failing leaves)
builds OTLP protobuf requests of ~512 spans in a child process, while this one decodes them with
traces.otlp.decode and writes them with traces.store.store, as the ingest endpoint does but
without HTTP. Each size gets a fresh database (`manage.py migrate` first). Traces arrive at one
steady rate, --traces-per-day (default 6,667: the 200,000-trace store covers the last 30 days,
the 10,000-trace store the last 36 hours), spaced evenly up to the moment seeding starts. The
24-hour window therefore holds the same ~6,700 traces at both sizes (67% of the small store, 3.3%
of the large one), as it would for one application whose history grows: stats that grow with the
store read outside their window. The 24-hour window ends at the moment the store was seeded, so
that a store kept with --keep gives the same figures on later runs.

Each size runs in a subprocess of its own (Django reads MSGTRACE_DB_PATH or DATABASE_URL once,
at setup). SQLite (the default) uses msgtrace's own settings: WAL, a 64 MB page cache, no
ANALYZE statistics (msgtrace never runs ANALYZE), with synchronous=OFF to seed fast (reads do not
depend on it). With --postgres URL, each size gets a database of its own on that server
(msgtrace_query_<size>, created and dropped with the URL's credentials), analyzed after seeding
as autovacuum would do. Note that django.test.Client keeps one database connection for the whole
run; under gunicorn, SQLite opens a new one per request, which adds a few hundred microseconds.

Run it after bin/setup (which creates .venv):

    .venv/bin/python bench/query.py                       # 10,000 and 200,000 traces
    .venv/bin/python bench/query.py --sizes 10000 --reps 5 # a quick look
    .venv/bin/python bench/query.py --smoke               # every phase on 100 and 200 traces, ~20 s
    .venv/bin/python bench/query.py --keep /tmp/msgtrace-query --json-out bench/results/query.json
    .venv/bin/python bench/query.py --postgres postgres://postgres:postgres@127.0.0.1:5432/postgres

Expected runtime on 2 cores, SQLite: seeding runs at ~11,000 spans/s (10 s for the small store,
about 3 minutes for the large one, which takes 4.8 GB of disk in the temp dir), then measuring
takes about 4 minutes, most of it in the span-level queries, whose full scans of the large store
take seconds each (each query repeats at most --reps times, stops repeating after --case-seconds,
and one that takes over a third of that is timed once). About 7 minutes in all; on a machine
busy with other work, seeding alone can take 3-4 times as long (seed once with --keep). With --keep DIR
the stores are kept in DIR and reused by later runs with the same generator settings, which then
take only the measuring time; `migrate` still runs on them, so an index added to msgtrace is
built into the kept store and measured. PostgreSQL seeds far slower through traces.store (about
1,000 spans/s on the same machine): use smaller sizes with it, e.g. --sizes 10000,40000.
Everything stops at --time-limit (default 25 minutes). The temp dir (and the PostgreSQL
databases) are removed at the end, also on Ctrl-C, unless --keep is given.
"""

import argparse
import json
import math
import multiprocessing
import os
import queue
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit, urlunsplit

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
# The project first: a module in bench/ must not shadow one of its packages (bench/ui.py vs ui/).
sys.path[:0] = [str(ROOT), str(BENCH_DIR)]

import otlp_load  # noqa: E402  (bench/otlp_load.py, the seeded trace generator)

# Bump when the way stores are seeded changes: stores kept with --keep are then seeded again.
STORE_FORMAT = 1
DAY_NS = 86_400 * 10**9
PAGE = 50  # the API's default page size
# The queries of the trace list, as API parameters (TraceQuerySet.search() takes the same names),
# and how each is measured: the API answer with its total (the default), without it, and the two
# bare queries that list_traces runs, the page and the count.
ALL_VARIANTS = ("API", "API include_total=false", "page", "count")
WORKFLOW = "support_agent"  # one of otlp_load.FLOWS: 1 trace in 5
# 1 trace in 20: trace durations run from ~3 s to ~20 s (p50 8.7 s, p90 13.6 s).
MIN_DURATION_MS = 15_000
# Trace-level filters: columns of the trace row, each with an index (see Trace.Meta.indexes).
TRACE_LEVEL = [
    ("list", {}, ALL_VARIANTS),
    ("workflow", {"workflow": WORKFLOW}, ALL_VARIANTS),
    ("duration", {"min_duration_ms": MIN_DURATION_MS}, ALL_VARIANTS),
    # 6% of traces: 29% fail, 1 in 5 is the workflow, nearly all last over 2 s.
    ("compound q", {"q": f"duration:>2s AND status:error AND workflow:{WORKFLOW}"}, ALL_VARIANTS),
]
# Span-level filters: true when one of the trace's spans matches (EXISTS over its spans). Measured
# last: their full scans would evict the pages that the other queries keep in the cache.
SPAN_LEVEL = [
    # 89% of traces have an LLM span above 0.5.
    ("attribute q", {"q": "attr.gen_ai.request.temperature:>0.5"}, ALL_VARIANTS),
    # The API's model filter: a span-level condition on a column, not in JSON; 56% of traces.
    ("model", {"model": "gpt-4o"}, ALL_VARIANTS),
    # No trace matches (a model never called): the newest-first scan never fills its page. The
    # count would be the same scan a second time, so only the default answer and the page.
    ("attribute q, no match", {"q": "attr.gen_ai.request.model:gpt-5"}, ("API", "page")),
]
LIST_QUERIES = TRACE_LEVEL + SPAN_LEVEL
GROUPS = ([name for name, _, _ in TRACE_LEVEL] + ["detail", "stats 24h", "heatmap 24h", "usage 24h", "flows 24h",
                                                  "sessions 24h", "session"]
          + [name for name, _, _ in SPAN_LEVEL])


# =============================================================================================
# Options


def sizes(text):
    values = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    if not values or min(values) < 100:
        raise argparse.ArgumentTypeError("a comma-separated list of trace counts, each at least 100")
    return sorted(set(values))


def positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


# --smoke: two tiny stores, two runs a query; the figures mean nothing, but every phase runs and reports.
SMOKE = {"sizes": [100, 200], "reps": 2, "case_seconds": 1.0, "time_limit": 60.0}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=sizes, default=[10_000, 200_000],
                        help="store sizes in traces, comma-separated (default 10000,200000)")
    parser.add_argument("--reps", type=positive, default=15, help="timed repetitions per query (default 15)")
    parser.add_argument("--case-seconds", type=float, default=10.0,
                        help="stop repeating a query after this many seconds, once it ran 3 times (default 10)")
    parser.add_argument("--traces-per-day", type=positive, default=6_667,
                        help="arrival rate that spaces the traces, ending now (default 6,667: 200k = 30 days)")
    parser.add_argument("--spans-per-trace", type=positive, default=10)
    parser.add_argument("--batch-spans", type=positive, default=512, help="spans per stored batch (default 512)")
    parser.add_argument("--seed", type=int, default=42, help="generator seed (default 42)")
    parser.add_argument("--postgres", metavar="URL", help="measure PostgreSQL at URL instead of SQLite")
    parser.add_argument("--keep", metavar="DIR", help="keep the seeded stores in DIR and reuse them on later runs")
    parser.add_argument("--tmp-dir", help="parent of the temp dir (default: the system's)")
    parser.add_argument("--time-limit", type=float, default=1500.0, help="seconds for the whole run (default 1500)")
    parser.add_argument("--json-out", metavar="PATH", help="also write every figure here as JSON")
    parser.add_argument("--worker", metavar="CONFIG", help=argparse.SUPPRESS)  # one size, in a subprocess
    parser.add_argument("--smoke", action="store_true",
                        help="a check that every phase still runs, in seconds: --sizes 100,200 --reps 2 "
                             "--case-seconds 1 --time-limit 60")
    args = parser.parse_args(argv)
    if args.smoke:  # the smoke sizes replace the defaults; options given still win
        parser.set_defaults(**SMOKE)
        args = parser.parse_args(argv)
    return args


# =============================================================================================
# The parent: one store and one worker subprocess per size, then the report


def label(size):
    return f"{size // 1000}k" if size % 1000 == 0 else str(size)


def store_settings(args, size):
    """What a store's content depends on: a kept store is reused only when all of it matches."""
    return {"format": STORE_FORMAT, "size": size, "seed": args.seed, "spans_per_trace": args.spans_per_trace,
            "traces_per_day": args.traces_per_day}


def read_meta(path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


class SqliteStore:
    def __init__(self, directory, size):
        self.path = directory / f"msgtrace-query-{size}.sqlite3"
        self.meta_path = directory / f"msgtrace-query-{size}.json"
        self.name = str(self.path)

    def env(self):
        return {"MSGTRACE_DB_PATH": str(self.path)}

    def exists(self):
        return self.path.exists()

    def reset(self):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        self.meta_path.unlink(missing_ok=True)

    def drop(self):
        pass  # the temp dir goes as a whole


class PostgresStore:
    def __init__(self, url, directory, size):
        parts = urlsplit(url)
        self.db = f"msgtrace_query_{size}"
        self.admin_url = urlunsplit(parts._replace(path="/postgres"))
        self.url = urlunsplit(parts._replace(path="/" + self.db))
        self.name = f"{parts.hostname}:{parts.port or 5432}/{self.db}"
        self.meta_path = directory / f"msgtrace-query-{size}.postgres.json"

    def _admin(self, sql):
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10) as conn:
            cursor = conn.execute(sql)
            return cursor.fetchall() if cursor.description else None

    def env(self):
        return {"DATABASE_URL": self.url}

    def exists(self):
        return bool(self._admin(f"SELECT 1 FROM pg_database WHERE datname = '{self.db}'"))

    def reset(self):
        self.meta_path.unlink(missing_ok=True)
        self._admin(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')
        self._admin(f'CREATE DATABASE "{self.db}"')

    def drop(self):
        self._admin(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')


def run_size(args, size, store, work_dir, deadline):
    """Seeds (unless a kept store matches) and measures one size in a worker subprocess."""
    wanted = store_settings(args, size)
    meta = read_meta(store.meta_path)
    reuse = bool(meta) and meta.get("settings") == wanted and store.exists()
    if reuse:
        print(f"[{label(size)}] reusing the store kept in {store.name}", file=sys.stderr)
    else:
        store.reset()
    config = {
        "size": size, "settings": wanted, "seed_needed": not reuse, "meta_path": str(store.meta_path),
        "result_path": str(work_dir / f"result-{size}.json"), "batch_spans": args.batch_spans,
        "reps": args.reps, "case_seconds": args.case_seconds, "label": label(size),
    }
    config_path = work_dir / f"config-{size}.json"
    config_path.write_text(json.dumps(config))
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MSGTRACE_DB_PATH")}
    # SECRET_KEY: otherwise settings would write a secret.key beside the database.
    # synchronous=OFF: seeding need not survive a power cut; reads are the same either way.
    # MSGTRACE_ALLOWED_HOSTS: django.test.Client asks for "testserver", which msgtrace does not serve by default.
    # MSGTRACE_AUTH=off: what is measured is the query, not a session lookup.
    env.update(store.env(), SECRET_KEY="bench", MSGTRACE_SQLITE_SYNCHRONOUS="OFF", PYTHONUNBUFFERED="1",
               MSGTRACE_ALLOWED_HOSTS="testserver", MSGTRACE_AUTH="off")
    # A session of its own, so that the worker and its generator child can be stopped together.
    process = subprocess.Popen([sys.executable, __file__, "--worker", str(config_path)], env=env,
                               start_new_session=True)
    try:
        process.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        print(f"[{label(size)}] stopped at --time-limit", file=sys.stderr)
        stop_worker(process)
        return None
    except BaseException:
        stop_worker(process)
        raise
    if process.returncode != 0:
        print(f"[{label(size)}] the worker failed (exit {process.returncode})", file=sys.stderr)
        return None
    return json.loads(Path(config["result_path"]).read_text())


def stop_worker(process):
    """SIGTERM to the worker's own process group (the worker and its generator), then SIGKILL."""
    for sig, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        if process.poll() is not None:
            return
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            continue


def fmt_ms(ms):
    if ms is None:
        return "-"
    return f"{ms:.2f}" if ms < 10 else f"{ms:.1f}" if ms < 1000 else f"{ms:,.0f}"


def table_rows(results):
    """One row per query: {case: ..., per size: {...}, ratio}; ratio is largest / smallest size."""
    ordered = sorted(results, key=lambda r: r["size"])
    rows = []
    for index, case in enumerate(ordered[-1]["cases"]):
        per_size = [r["cases"][index] for r in ordered]
        ratio = min_ratio = None
        if len(per_size) > 1 and per_size[0]["median_ms"] and per_size[0]["min_ms"]:
            ratio = per_size[-1]["median_ms"] / per_size[0]["median_ms"]
            min_ratio = per_size[-1]["min_ms"] / per_size[0]["min_ms"]
        rows.append({"group": case["group"], "variant": case["variant"], "sizes": per_size, "ratio": ratio,
                     "min_ratio": min_ratio, "grows": grows(ratio, min_ratio)})
    return rows


def grows(ratio, min_ratio):
    """YES when the median grows more than 2x. On a shared machine a median can be inflated by a
    neighbour's load while the fastest run is not: "noise?" when the fastest runs do not grow 2x."""
    if ratio is None or ratio <= 2:
        return ""
    return "YES" if min_ratio is None or min_ratio > 2 else "noise?"


def print_report(results, args):
    ordered = sorted(results, key=lambda r: r["size"])
    print()
    for result in ordered:
        seed = result["seed"]
        print(f"store {label(result['size'])}: {seed['traces']:,} traces, {seed['spans']:,} spans, "
              f"{seed['db_mb']:,.0f} MB, {seed['days']:.1f} days of traces; last 24 h: "
              f"{seed['last_24h_traces']:,} traces ({seed['last_24h_fraction']:.1%}); "
              f"seeded at {seed['spans_per_second']:,.0f} spans/s in {seed['seconds']:.0f} s"
              f"{' (kept store)' if result['reused'] else ''}")
        if result.get("session_id"):
            print(f"  session measured: {result['session_id']}, {result['session_turns']:,} turns")
    rows = table_rows(results)
    names = [f"{row['group']}: {row['variant']}" for row in rows]
    width = max(len(name) for name in names)
    heads = [f"{label(r['size'])} median ms (p95)" for r in ordered]
    cells = [[f"{fmt_ms(s['median_ms'])} ({fmt_ms(s['p95_ms'])})" for s in row["sizes"]] for row in rows]
    widths = [max(len(head), *(len(c[i]) for c in cells)) for i, head in enumerate(heads)]
    print(f"\n{'query':<{width}}  " + "  ".join(f"{h:>{w}}" for h, w in zip(heads, widths))
          + f"  {'ratio':>6}  {'min':>6}  {'>2x':<6}  {'runs':>5}  plan at {label(ordered[-1]['size'])}")
    previous_group = None
    for name, row, cell in zip(names, rows, cells):
        if previous_group and row["group"] != previous_group:
            print()
        previous_group = row["group"]
        ratio = "-" if row["ratio"] is None else f"{row['ratio']:.1f}x"
        min_ratio = "-" if row["min_ratio"] is None else f"{row['min_ratio']:.1f}x"
        runs = "/".join(str(s["runs"]) for s in row["sizes"])
        largest = row["sizes"][-1]
        plan = f"{largest['verdict']}: {largest['key_line']}"
        print(f"{name:<{width}}  " + "  ".join(f"{c:>{w}}" for c, w in zip(cell, widths))
              + f"  {ratio:>6}  {min_ratio:>6}  {row['grows']:<6}  {runs:>5}  {plan}")
    print(f"\n(median and p95 of up to {args.reps} runs after a warm-up (runs: how many, per size); ratio: of the "
          "medians, largest / smallest store; min: of the fastest runs; 'API' is the endpoint through "
          "django.test.Client, with serialization; 'page'/'count'/'query' are the bare ORM queries)")
    print_plans(ordered[-1])
    print_why(rows)


def print_plans(result):
    """Every distinct statement of each group at the largest size, with its whole plan."""
    print(f"\nQuery plans at {label(result['size'])} ({result['vendor']}):")
    for group in GROUPS:
        seen = set()
        print(f"  {group}")
        for case in (c for c in result["cases"] if c["group"] == group):
            for statement in case["statements"]:
                if statement["sql"] in seen:
                    continue
                seen.add(statement["sql"])
                print(f"    [{statement['verdict']}] {shorten(statement['sql'], 150)}")
                for line in statement["plan"]:
                    print(f"        {line}")


def shorten(sql, limit):
    sql = re.sub(r"\s+", " ", sql).strip()
    sql = re.sub(r'SELECT ("[^"]+"\."[^"]+"(?:, )?){4,}', "SELECT <columns> ", sql)
    return sql if len(sql) <= limit else sql[: limit - 3] + "..."


# Why a query reads every row it matches, by (group, variant). Printed for the queries whose plan
# says so, or that grow more than 2x.
WHY = {
    ("list", "count"): "COUNT(*) of the whole table reads one entry per trace (SQLite: of the smallest "
    "index, index-only): linear in the store, but only ~1 ms per million traces.",
    ("workflow", "count"): "COUNT(*) of one workflow reads every matching entry of trace_workflow_started "
    "(1 trace in 5): index-only, but linear in the matches.",
    ("duration", "count"): "COUNT(*) of the slow traces reads every matching entry of trace_duration: "
    "index-only, but linear in the matches.",
    ("compound q", "count"): "no index holds status, workflow and duration together: the planner walks one "
    "equality index (status: 29% of traces, or workflow: 20%) and reads the table row of every trace "
    "in it to test the other terms. Linear in the store, with a row read per entry.",
    ("attribute q", "count"): "an attribute lives in the spans' JSON: the count visits every trace and "
    "parses its spans' attributes (JSON_TYPE/JSON_EXTRACT) until one matches. It reads the whole span "
    "table (gigabytes); no index serves a comparison inside JSON for any key.",
    ("model", "count"): "model is a span column tested per trace (EXISTS through the (trace_id, span_id) "
    "index), so the count reads every span row; on SQLite the model column sits after the large "
    "attributes JSON in the row, so each read also pulls in the row's overflow pages.",
    ("attribute q, no match", "page"): "the plan walks traces newest first and would stop after 51 "
    "matches, but nothing matches: it walks the whole store and parses every span's JSON. A plan that "
    "stops at LIMIT is bounded only when matches are common.",
    ("attribute q, no match", "API"): "the page's full scan, then the count's: the same scan twice.",
    ("stats 24h", "API"): "stats aggregate every trace of the window (and by_model every span of "
    "it); the window holds the same traces at both sizes, so they should not grow.",
    ("stats 24h", "query"): "traces.stats.summarize aggregates every trace of the window (by_model every "
    "span of it); the window holds the same traces at both sizes, so it should not grow.",
    ("heatmap 24h", "API"): "one GROUP BY over the window's traces (trace_started range) by time and duration "
    "bucket: linear in the window, which holds the same traces at both sizes.",
    ("heatmap 24h", "page"): "the dashboard as a whole: its figures, charts, heatmap, usage and top spenders "
    "over the last 24 hours and 7 days; now-based, so it reads the window the store ends in. The week's top "
    "workflows group a week of traces by workflow.",
    ("usage 24h", "API"): "usage by model reads every span of the window's traces through their (trace_id, "
    "span_id) index and keeps the model calls: linear in the window, not the store, but on SQLite each span "
    "row is read with its attributes (prompts of 1-2 KB).",
    ("flows 24h", "API"): "the latest 2,000 runs of the workflow, then their spans through the "
    "(trace_id, span_id) index, numbered with window functions: bounded by the sample, not the store.",
    ("flows 24h", "page"): "the flow, then the window's distinct workflows and services for the pickers "
    "(a GROUP BY over the window's traces).",
    ("sessions 24h", "API"): "the list groups every trace of its window by session (GROUP BY over the "
    "trace_started range) before sorting the groups: the window holds the same traces at both sizes.",
    ("sessions 24h", "query"): "one GROUP BY over the window's traces (trace_started range), sorted by "
    "the aggregate: linear in the window, not in the store.",
    ("session", "API"): "the session's traces come through trace_session_started, but the middle trace's "
    "session holds about 20 times the turns at 200,000 traces (see 'session measured' above): it grows "
    "with the session, up to one page of 50 turns.",
    ("session", "page"): "as the API: it grows with the session's turns, up to one page of 50.",
}
GENERIC_TOTAL = "the API answer includes the total: it runs the count query below (compare include_total=false)."


def print_why(rows):
    print("\nWhy:")
    for row in rows:
        largest = row["sizes"][-1]
        if not (row["grows"] or largest["verdict"] == "SCAN every row"):
            continue
        note = WHY.get((row["group"], row["variant"]))
        if note is None and row["variant"] == "API" and row["group"] in {name for name, _, _ in LIST_QUERIES}:
            note = GENERIC_TOTAL
        if note is None:
            note = "see its plan above."
        if row["grows"] == "noise?":
            note = "its median grew but its fastest run did not: most likely load from elsewhere. " + note
        ratio = f"{row['ratio']:.1f}x" if row["ratio"] else "-"
        print(f"  {row['group']}: {row['variant']} ({ratio}, {largest['verdict']}): {note}")


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        return worker_main(args.worker)
    deadline = time.monotonic() + args.time_limit
    signal.signal(signal.SIGTERM, lambda signum, frame: (_ for _ in ()).throw(KeyboardInterrupt()))
    work_dir = Path(tempfile.mkdtemp(prefix="msgtrace-query-", dir=args.tmp_dir))
    keep_dir = Path(args.keep).resolve() if args.keep else None
    if keep_dir:
        keep_dir.mkdir(parents=True, exist_ok=True)
    stores = []
    started = time.monotonic()
    try:
        results = []
        for size in args.sizes:
            directory = keep_dir or work_dir
            store = PostgresStore(args.postgres, directory, size) if args.postgres else SqliteStore(directory, size)
            stores.append(store)
            result = run_size(args, size, store, work_dir, deadline)
            if result is None:
                return 1
            results.append(result)
        print_report(results, args)
        print(f"\ntotal time {time.monotonic() - started:.0f} s")
        if args.smoke:
            print("(--smoke: every phase ran on tiny stores; the figures measure nothing)")
        if args.json_out:
            sorted_results = sorted(results, key=lambda r: r["size"])
            figures = {
                "config": {k: v for k, v in vars(args).items() if k not in ("worker", "postgres")}
                | {"database": "postgresql" if args.postgres else "sqlite", "cpus": os.cpu_count()},
                "stores": results,
                "table": [
                    {"query": f"{row['group']}: {row['variant']}", "ratio": row["ratio"],
                     "min_ratio": row["min_ratio"], "grows_over_2x": row["grows"],
                     **{f"{label(r['size'])}_median_ms": s["median_ms"] for r, s in zip(sorted_results, row["sizes"])}}
                    for row in table_rows(results)
                ],
            }
            Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json_out).write_text(json.dumps(figures, indent=2) + "\n")
        return 0
    except KeyboardInterrupt:
        print("interrupted; cleaning up", file=sys.stderr)
        return 130
    finally:
        if not keep_dir:
            for store in stores:
                store.drop()
        shutil.rmtree(work_dir, ignore_errors=True)


# =============================================================================================
# The generator child: OTLP requests of whole traces, spread over days, ending now


def produce_bodies(bodies, plan):
    """Puts serialized ExportTraceServiceRequests of about plan["batch_spans"] spans on the queue,
    then None. Runs in a child process so that building requests overlaps storing them."""
    try:
        factory = otlp_load.TraceFactory(seed=plan["seed"], spans_per_trace=plan["spans_per_trace"])
        traces, spans = [], 0
        for index in range(plan["traces"]):
            # TraceFactory lays traces out a few milliseconds apart from its clock; moving the clock
            # to this trace's slot spaces the traces evenly over days. (It adds 1-50 ms of its own.)
            factory.t = plan["first_start_ns"] + index * plan["interval_ns"]
            traces.append(factory.trace())
            spans += len(traces[-1][1])
            if spans + plan["spans_per_trace"] > plan["batch_spans"]:
                bodies.put(encode_request(factory, traces))
                traces, spans = [], 0
        if traces:
            bodies.put(encode_request(factory, traces))
        bodies.put(None)
    except KeyboardInterrupt:
        pass


def encode_request(factory, traces):
    """One request of whole traces, packed as otlp_load.build_requests packs them (one ResourceSpans
    per service, one scope)."""
    request = otlp_load.ts_pb2.ExportTraceServiceRequest()
    by_resource = {}
    for resource_index, spans in traces:
        by_resource.setdefault(resource_index, []).extend(spans)
    for resource_index, spans in sorted(by_resource.items()):
        resource_spans = request.resource_spans.add()
        otlp_load._attrs(resource_spans.resource, factory.resources[resource_index])
        scope_spans = resource_spans.scope_spans.add()
        scope_spans.scope.name = "msgtrace.bench"
        scope_spans.scope.version = "0.1.0"
        scope_spans.spans.extend(spans)
    return request.SerializeToString()


# =============================================================================================
# The worker: one size, in a subprocess whose environment names its database


def worker_main(config_path):
    signal.signal(signal.SIGTERM, lambda signum, frame: (_ for _ in ()).throw(KeyboardInterrupt()))
    config = json.loads(Path(config_path).read_text())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "msgtrace_server.settings")
    import django

    django.setup()
    from django.core.management import call_command

    fall_back_to_api_urls()

    # Also on a kept store: a migration added since (an index, say) is applied and then measured.
    call_command("migrate", interactive=False, verbosity=0)
    try:
        if config["seed_needed"]:
            seed = seed_store(config)
            Path(config["meta_path"]).write_text(json.dumps({"settings": config["settings"], "seed": seed}))
        else:
            seed = read_meta(config["meta_path"])["seed"]
        result = measure(config, seed)
    except KeyboardInterrupt:
        return 130
    Path(config["result_path"]).write_text(json.dumps(result))
    return 0


def fall_back_to_api_urls():
    """Serves the API alone when the project's URLconf does not import (pages being edited, say):
    the endpoints measured are the same NinjaAPI either way, mounted at the same /api/v1/."""
    import importlib
    import types

    from django.conf import settings
    from django.urls import path

    try:
        importlib.import_module(settings.ROOT_URLCONF)
        return
    except Exception as exc:  # noqa: BLE001 - whatever breaks it, the API itself may still be fine
        print(f"WARNING: {settings.ROOT_URLCONF} does not import ({exc!r}); measuring the API "
              "mounted alone at /api/v1/", file=sys.stderr)
    from msgtrace_server.api import api

    urls = types.ModuleType("query_bench_urls")
    urls.urlpatterns = [path("api/v1/", api.urls)]
    sys.modules[urls.__name__] = urls
    settings.ROOT_URLCONF = urls.__name__


def seed_store(config):
    from django.conf import settings
    from django.db import connection

    from traces import otlp
    from traces.models import Trace
    from traces.store import store

    size, tag = config["size"], config["label"]
    spans_per_trace = config["settings"]["spans_per_trace"]
    interval_ns = DAY_NS // config["settings"]["traces_per_day"]
    now_ns = time.time_ns()
    # The newest trace starts a minute before now, so that every trace has ended by now.
    last_start_ns = now_ns - 60 * 10**9
    plan = {"seed": config["settings"]["seed"], "spans_per_trace": spans_per_trace, "traces": size,
            "batch_spans": config["batch_spans"], "interval_ns": interval_ns,
            "first_start_ns": last_start_ns - (size - 1) * interval_ns}
    if connection.vendor == "postgresql":
        # Like synchronous=OFF on SQLite: commits do not wait for the WAL flush (reads do not care).
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit TO off")
    # spawn, not fork: the child needs none of this process's Django state or database connection.
    context = multiprocessing.get_context("spawn")
    bodies = context.Queue(maxsize=32)
    producer = context.Process(target=produce_bodies, args=(bodies, plan), daemon=True)
    producer.start()
    expected = size * spans_per_trace
    print(f"[{tag}] seeding {size:,} traces ({expected:,} spans) over the last "
          f"{size * interval_ns / DAY_NS:.1f} days, {config['batch_spans']}-span batches", file=sys.stderr)
    started = time.perf_counter()
    last_report = started
    stored = rejected = 0
    try:
        while True:
            try:
                body = bodies.get(timeout=5)
            except queue.Empty:
                if not producer.is_alive():
                    raise RuntimeError(f"the generator process exited with {producer.exitcode}") from None
                continue
            if body is None:
                break
            batch = otlp.decode(body, otlp.PROTOBUF, settings.MSGTRACE_MAX_ATTRIBUTE_BYTES)
            rejected += batch.rejected
            stored += store(batch).stored
            now = time.perf_counter()
            if now - last_report >= 15:
                last_report = now
                rate = stored / (now - started)
                print(f"[{tag}] {stored:,} / {expected:,} spans, {rate:,.0f} spans/s, "
                      f"about {(expected - stored) / rate:.0f} s to go", file=sys.stderr)
    finally:
        if producer.is_alive():
            producer.terminate()
        producer.join(10)
    seconds = time.perf_counter() - started
    if rejected:
        print(f"[{tag}] WARNING: {rejected} spans rejected by the decoder", file=sys.stderr)
    settle(connection)
    window_start = datetime.fromtimestamp(now_ns / 1e9, timezone.utc) - timedelta(hours=24)
    traces = Trace.objects.count()
    recent = Trace.objects.filter(started_at__gte=window_start).count()
    seed = {"traces": traces, "spans": stored, "seconds": seconds, "spans_per_second": stored / seconds,
            "now_ns": now_ns, "days": size * interval_ns / DAY_NS, "last_24h_traces": recent,
            "last_24h_fraction": recent / traces if traces else 0.0, "db_mb": database_mb(connection)}
    print(f"[{tag}] stored {stored:,} spans in {seconds:.0f} s ({seed['spans_per_second']:,.0f} spans/s); "
          f"{recent:,} of {traces:,} traces ({seed['last_24h_fraction']:.1%}) started in the last 24 h", file=sys.stderr)
    return seed


def settle(connection):
    """Leaves the store as a server that has been running a while would have it."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            # Fold the WAL into the database file: reads then do not wade through a large WAL.
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            # What autovacuum does after a load: planner statistics and the visibility map.
            cursor.execute("VACUUM ANALYZE")


def database_mb(connection):
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()")
        else:
            cursor.execute("SELECT pg_database_size(current_database())")
        return cursor.fetchone()[0] / 1e6


# =============================================================================================
# The measured queries


@dataclass
class Case:
    group: str  # the query, as in the report's first column
    variant: str  # API, API include_total=false, page, count, query
    run: Callable[[], object]


def api_get(client, path, params):
    response = client.get(path, params)
    if response.status_code != 200:
        raise RuntimeError(f"GET {path} {params} answered {response.status_code}: {response.content[:300]!r}")
    return response.content


def build_cases(client, detail_trace_id, window_start, window_end, session_id=""):
    from urllib.parse import quote

    from conversations import listing
    from traces.flows import flow
    from traces.heatmap import heatmap
    from traces.models import Trace
    from traces.pagination import page
    from traces.stats import summarize, usage_over_time

    variants = {
        "API": lambda p: api_get(client, "/api/v1/traces", p),
        "API include_total=false": lambda p: api_get(client, "/api/v1/traces", {**p, "include_total": "false"}),
        # Exactly what list_traces runs (TraceFilters.apply() passes the same names to search()): the
        # page of PAGE + 1 rows, the extra one saying whether a next page exists, and the count.
        "page": lambda p: page(Trace.objects.search(**p).sorted_by("-start_time"), "started_at", True, None, PAGE),
        "count": lambda p: Trace.objects.search(**p).count(),
    }

    def list_cases(queries):
        return [
            Case(group, variant, lambda run=variants[variant], p=params: run(p))
            for group, params, measured in queries
            for variant in measured
        ]

    def detail_query():
        # _trace_or_404, then TraceDetail.resolve_spans: spans with resource and scope, events and links.
        trace = Trace.objects.filter(trace_id=detail_trace_id).first()
        return list(trace.spans.for_display().order_by("start_ns", "id"))

    window = {"start": window_start.isoformat(), "end": window_end.isoformat()}

    def in_window():
        return Trace.objects.between(window_start, window_end)

    return list_cases(TRACE_LEVEL) + [
        Case("detail", "API", lambda: api_get(client, f"/api/v1/traces/{detail_trace_id}", {})),
        Case("detail", "query", detail_query),
        # window=24h, but ending when the store was seeded rather than now (see the docstring).
        Case("stats 24h", "API", lambda: api_get(client, "/api/v1/stats", window)),
        Case("stats 24h", "query",
             lambda: summarize(Trace.objects.search(start=window_start, end=window_end), window_start, window_end)),
        # The latency heatmap, usage over time and workflow flows over the same window.
        Case("heatmap 24h", "API", lambda: api_get(client, "/api/v1/stats/heatmap", window)),
        Case("heatmap 24h", "query", lambda: heatmap(in_window(), window_start, window_end)),
        Case("heatmap 24h", "page", lambda: len(api_get(client, "/", {"window": "24h"}))),
        Case("usage 24h", "API", lambda: api_get(client, "/api/v1/stats/usage-over-time", {**window, "by": "model"})),
        Case("usage 24h", "query", lambda: usage_over_time(in_window(), "user", window_start, window_end)),
        Case("flows 24h", "API", lambda: api_get(client, "/api/v1/flows", {**window, "workflow": WORKFLOW})),
        Case("flows 24h", "query", lambda: flow(in_window().search(workflow=WORKFLOW))),
        Case("flows 24h", "page", lambda: len(api_get(client, "/flows", {"workflow": WORKFLOW, "window": "24h"}))),
        Case("sessions 24h", "API", lambda: api_get(client, "/api/v1/sessions", {})),
        Case("sessions 24h", "query",
             lambda: listing.paged(listing.sessions(Trace.objects.between(window_start, window_end)), 1)),
    ] + ([
        Case("session", "API", lambda: api_get(client, f"/api/v1/sessions/{quote(session_id, safe='')}", {})),
        # The HTML's length: page_filled() reads JSON answers only.
        Case("session", "page", lambda: len(api_get(client, f"/sessions/{quote(session_id, safe='')}", {}))),
    ] if session_id else []) + list_cases(SPAN_LEVEL)


def measure(config, seed):
    from django.db import connection
    from django.test import Client

    from traces.models import Trace

    tag = config["label"]
    total = Trace.objects.count()
    # A trace from the middle of the store: neither the newest (hot in every cache) nor the oldest.
    middle = Trace.objects.order_by("pk").values_list("trace_id", "span_count", "session_id")[total // 2]
    window_end = datetime.fromtimestamp(seed["now_ns"] / 1e9, timezone.utc)
    window_start = window_end - timedelta(hours=24)
    cases = build_cases(Client(), middle[0], window_start, window_end, middle[2])
    turns = Trace.objects.filter(session_id=middle[2]).runs().count() if middle[2] else 0
    print(f"[{tag}] measuring {len(cases)} queries, up to {config['reps']} runs each "
          f"(detail: trace {middle[0]}, {middle[1]} spans; session {middle[2] or '-'}, {turns} turns)", file=sys.stderr)
    measured = []
    for case in cases:
        figures = time_case(case, connection, config["reps"], config["case_seconds"])
        measured.append(figures)
        print(f"[{tag}] {case.group}: {case.variant}: median {fmt_ms(figures['median_ms'])} ms "
              f"(n={figures['runs']}) {figures['verdict']}", file=sys.stderr)
    return {"size": config["size"], "vendor": connection.vendor, "seed": seed, "reused": not config["seed_needed"],
            "detail_trace_id": middle[0], "session_id": middle[2], "session_turns": turns, "cases": measured}


def time_case(case, connection, reps, budget_s):
    """Median and p95 of up to `reps` timed runs after one warm-up run, which also captures the SQL
    for the plans. Stops repeating once `budget_s` is spent and 3 runs are done; a query whose
    warm-up alone takes a third of the budget (a full scan of the span table, many seconds) is
    timed once: its growth is plain at any precision, and the run stays bounded."""
    from django.test.utils import CaptureQueriesContext

    t0 = time.perf_counter()
    with CaptureQueriesContext(connection) as captured:
        answer = case.run()
    min_runs = 1 if time.perf_counter() - t0 > budget_s / 3 else 3
    statements = [q["sql"] for q in captured.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
    times = []
    started = time.perf_counter()
    while len(times) < reps and (len(times) < min_runs or time.perf_counter() - started < budget_s):
        t0 = time.perf_counter()
        case.run()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    plans = [explain(connection, sql, page_filled(answer)) for sql in statements]
    worst = max(plans, key=lambda p: VERDICTS.index(p["verdict"])) if plans else None
    return {
        "group": case.group, "variant": case.variant, "runs": len(times),
        "median_ms": statistics.median(times), "p95_ms": times[math.ceil(0.95 * len(times)) - 1],
        "min_ms": times[0], "statements": plans,
        "verdict": worst["verdict"] if worst else "-", "key_line": worst["key_line"] if worst else "",
    }


# =============================================================================================
# Plans

# Best first. "stops at LIMIT": the rows come in the ORDER BY's order and reading ends after the
# page, so the cost follows the page, not the store. "every match"/"every row": the cost follows
# the number of matching rows, or of all rows.
VERDICTS = ["SEARCH, stops at LIMIT", "SCAN, stops at LIMIT", "SEARCH every match", "SCAN every row"]
# Resources and scopes hold one row per distinct service or library: scanning them costs nothing.
SMALL_TABLES = ("traces_resource", "traces_scope")
_OUTER_LIMIT = re.compile(r"\bLIMIT \d+(?: OFFSET \d+)?\s*$", re.IGNORECASE)


def page_filled(answer):
    """Whether a trace list answer (API bytes or page()'s (rows, cursor)) found a next page: if not,
    its LIMIT never stopped the scan, which went on to the end. None for other answers."""
    if isinstance(answer, bytes):
        data = json.loads(answer)
        return data["next_cursor"] is not None if isinstance(data, dict) and "next_cursor" in data else None
    if isinstance(answer, tuple) and len(answer) == 2 and isinstance(answer[0], list):
        return answer[1] is not None
    return None


def explain(connection, sql, limit_reached=None):
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + sql)
            plan = [row[3] for row in cursor.fetchall()]
            verdict, key_line = sqlite_verdict(sql, plan, limit_reached)
        else:
            cursor.execute("EXPLAIN " + sql)
            plan = [row[0] for row in cursor.fetchall()]
            verdict, key_line = postgres_verdict(sql, plan, limit_reached)
    if limit_reached is False and _OUTER_LIMIT.search(sql):
        # The plan would stop at the LIMIT, but fewer rows matched: it read on to the end.
        key_line += " (page not filled: read to the end)"
    return {"sql": sql, "plan": plan, "verdict": verdict, "key_line": key_line}


def sqlite_verdict(sql, plan, limit_reached=None):
    """From EXPLAIN QUERY PLAN lines such as "SCAN traces_trace USING INDEX trace_started",
    "SEARCH U0 USING INDEX span_unique_in_trace (trace_id=?)", "USE TEMP B-TREE FOR ORDER BY"."""
    # A SCAN of a subquery's result (CO-ROUTINE t ... SCAN t) reads rows already found, not a table.
    derived = {m.group(1) for line in plan if (m := re.match(r"(?:CO-ROUTINE|MATERIALIZE) (\S+)", line))}
    access = [line for line in plan if re.match(r"(SCAN|SEARCH) ", line) and line.split()[1] not in derived]
    scans = [line for line in access if line.startswith("SCAN ") and line.split()[1] not in SMALL_TABLES]
    # Sorting the whole result before the LIMIT reads every match; "RIGHT PART OF ORDER BY" only
    # orders ties of an index that already gives the order, and still stops early.
    full_sort = "USE TEMP B-TREE FOR ORDER BY" in plan
    bounded = bool(_OUTER_LIMIT.search(sql)) and not full_sort and limit_reached is not False
    if scans:
        verdict, key_line = ("SCAN, stops at LIMIT" if bounded else "SCAN every row"), scans[0]
    else:
        verdict, key_line = ("SEARCH, stops at LIMIT" if bounded else "SEARCH every match"), biggest(access)
    if full_sort:
        key_line += " + TEMP B-TREE FOR ORDER BY"
    return verdict, key_line


def biggest(access):
    """The access line to show: the one on spans, the big table, when there is one."""
    return next((line for line in access if "traces_span " in line), access[0] if access else "-")


def postgres_verdict(sql, plan, limit_reached=None):
    nodes = [re.sub(r"\s*\(cost=.*$", "", line).strip().lstrip("->").strip() for line in plan]
    nodes = [node for node in nodes if node and not node.startswith(("Filter", "Index Cond", "Sort Key", "Group Key"))]
    scans = [node for node in nodes if node.startswith(("Seq Scan", "Parallel Seq Scan"))
             and not any(f" on {table}" in node for table in SMALL_TABLES)]
    access = [node for node in nodes if " Scan " in node or node.startswith(("Seq Scan", "Index"))]
    full_sort = any(node.startswith(("Sort", "Gather Merge")) for node in nodes)
    bounded = bool(nodes) and nodes[0].startswith("Limit") and not full_sort and limit_reached is not False
    if scans:
        verdict, key_line = ("SCAN, stops at LIMIT" if bounded else "SCAN every row"), scans[0]
    else:
        verdict, key_line = ("SEARCH, stops at LIMIT" if bounded else "SEARCH every match"), biggest(access)
    if full_sort:
        key_line += " + Sort"
    return verdict, key_line


if __name__ == "__main__":
    sys.exit(main())
