#!/usr/bin/env python3
"""Ingest benchmark: spans/s that msgtrace stores, against a one-process ceiling of the same work.

What is measured, in one run, on the same request bodies (built once by the seeded generator in
bench/otlp_load.py, so payload building is never timed):

1. The ceiling. One Python process decodes every body (ExportTraceServiceRequest.FromString, or
   json.loads for --format json; gunzip first with --gzip), reads every attribute into Python,
   builds one ~20-column row per span (hex ids, name, kind, times, status, json.dumps of the
   attributes) and inserts the rows with sqlite3 `executemany` into a fresh SQLite WAL database
   (a span table with 3 indexes, the same PRAGMAs as msgtrace), one transaction per request.
   The time spent decoding and inserting is also reported separately (decode-only and
   insert-only rates), which tells where a gap comes from.
2. msgtrace's own decoder (traces.otlp.decompress + decode) in this process, for reference.
3. msgtrace itself: `manage.py migrate` on a fresh SQLite database in a temp dir, gunicorn with
   --workers workers of the shipped model (deploy/gunicorn.conf.py: gthread, 8 threads each;
   `--worker-class sync` for the old one) on a free loopback port, warmed up with a few GETs (405, nothing
   stored) so that no worker's first request is timed, then --clients threads POST the bodies to
   /v1/traces (keep-alive where allowed: sync workers close after each response, so clients
   reconnect). Afterwards the spans actually stored are counted (SELECT COUNT(*) FROM traces_span);
   stored spans/s = stored / (first request -> last response), summed over the slices below. The RSS of the gunicorn master and
   its workers is summed every ~100 ms from /proc/<pid>/status; their CPU time comes from /proc too.

4. With --stitch both (the default), the same load on a second server with its own fresh database,
   with run stitching off (MSGTRACE_STITCH_RUNS=false; traces.runs).
   The load holds msgflux-shaped agent calls (bench/otlp_load.py --msgflux-share: every span a
   one-span trace, nested only in time), which stitching groups into runs; how many traces were
   stitched and marked ambiguous is counted afterwards. The ratio stored spans/s on / off is the
   cost of stitching (target >= 0.90).

5. With --health both (the default), the same load on a third server and database, with the
   ingest-health counters off (bench/wsgi_without_ingest_health.py serves msgtrace with its counting
   replaced by nothing: there is no setting to turn them off). The ratio stored spans/s on / off is
   what counting each request costs ingest (target >= 0.95); the requests the counters hold
   afterwards show that they counted every request when on, and none when off.

The servers of 3 to 5 run side by side and take the load interleaved: the bodies are cut into
--slices slices, and each slice goes to every server in turn (the first server of each turn
rotating) before the next slice starts. On a shared machine whose load changes by the minute, loads
run one after the other compared the machine's minutes as much as the settings; interleaved, each
slice of a comparison meets the same machine within seconds. A server's spans/s is its stored spans
over the sum of its slices' wall times; the ratio of every slice on its own is printed too, as the
median and quartiles, which shows how far one comparison can be trusted.

The figure that matters is the ratio msgtrace / ceiling (target >= 0.5), printed, not asserted.
It lets msgtrace use all its workers against a ceiling that uses one process, so the CPU time per
1,000 spans of both is printed as well: it compares the work done per span.
No request is retried: a span in a failed request counts as lost (lost = sent - stored - rejected).

Run from anywhere (about 15-30 s with the defaults on 2 cores):

    .venv/bin/python bench/ingest.py                 # after bin/setup
    .venv/bin/python bench/ingest.py --smoke         # every phase on 300 spans, in about 10 s
    .venv/bin/python bench/ingest.py --spans 10000 --format json --gzip
    .venv/bin/python bench/ingest.py --workers 4 --clients 8 --json-out bench/results/ingest.json

On a shared machine a single round can be off by a third: --rounds 3 repeats the ceiling and the
load on fresh databases and reports the median round (all its figures) with every round's ratio.

Everything is bounded by --time-limit, split evenly between rounds: in each, the ceiling gets at
most a fifth and the in-process decode a tenth (they only need to yield rates), the load the rest;
no phase starts new work after its deadline, and a watchdog aborts the run 90 s after the limit.
Only loopback addresses are used.
The temp dir and the server are removed at the end, also on Ctrl-C or SIGTERM.
MSGTRACE_SQLITE_SYNCHRONOUS (default FULL), if set, applies to both sides.
"""

import argparse
import base64
import gzip
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path[:0] = [str(BENCH_DIR), str(ROOT)]

import otlp_load  # noqa: E402  (bench/otlp_load.py, the seeded load generator)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (  # noqa: E402
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

HOST = "127.0.0.1"
CONTENT_TYPES = {"protobuf": "application/x-protobuf", "json": "application/json"}
# msgtrace's defaults (msgtrace_server/settings.py); the ceiling must be as durable as the server.
SYNCHRONOUS = os.environ.get("MSGTRACE_SQLITE_SYNCHRONOUS", "FULL").upper()
MAX_ATTRIBUTE_BYTES = int(os.environ.get("MSGTRACE_MAX_ATTRIBUTE_BYTES") or 1024 * 1024)
# After --time-limit nothing new starts; this much later the watchdog aborts whatever still runs.
WATCHDOG_GRACE_S = 90


class BenchTimeout(Exception):
    """Raised by the watchdog alarm in the main thread; the cleanup in main() still runs."""


# ---------------------------------------------------------------------------------------------
# Options and request bodies


def batch_size(text):
    value = int(text)
    if not 100 <= value <= 512:
        raise argparse.ArgumentTypeError("must be between 100 and 512")
    return value


def positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


# --smoke: tiny sizes, one worker; the figures mean nothing, but every phase runs and reports.
SMOKE = {"spans": 300, "batch": 100, "clients": 2, "workers": 1, "time_limit": 60.0}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spans", type=positive, default=50_000, help="spans to send (default 50,000)")
    parser.add_argument("--batch", type=batch_size, default=256, help="spans per request, 100..512 (default 256)")
    parser.add_argument("--clients", type=positive, default=4, help="concurrent client connections (default 4)")
    parser.add_argument("--workers", type=positive, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--worker-class", choices=("gthread", "sync"), default="gthread",
                        help="gunicorn worker model (default gthread, with 8 threads, as shipped)")
    parser.add_argument("--format", choices=("protobuf", "json"), default="protobuf")
    parser.add_argument("--gzip", action="store_true", help="send Content-Encoding: gzip bodies")
    parser.add_argument("--seed", type=int, default=42, help="load generator seed (default 42)")
    parser.add_argument("--stitch", choices=("both", "on", "off"), default="both",
                        help="run stitching in the server (MSGTRACE_STITCH_RUNS): both runs the load twice, "
                             "on and off, and prints their ratio (default both)")
    parser.add_argument("--health", choices=("both", "on", "off"), default="both",
                        help="ingest-health counters in the server: both runs the load once more without them "
                             "and prints the ratio (default both)")
    parser.add_argument("--slices", type=positive, default=10,
                        help="with more than one setting, the bodies go in this many slices, each slice to "
                             "every server in turn (default 10)")
    parser.add_argument("--msgflux-share", type=float, default=0.3,
                        help="share of agent calls sent as msgflux does, one trace per span (default 0.3)")
    parser.add_argument("--rounds", type=positive, default=1,
                        help="repeat ceiling + load on fresh databases, report the median round (default 1)")
    parser.add_argument("--time-limit", type=float, default=300.0, help="seconds for the whole run (default 300)")
    parser.add_argument("--request-timeout", type=float, default=60.0, help="per-request socket timeout, s")
    parser.add_argument("--tmp-dir", help="parent of the temp dir holding both databases (default: system temp)")
    parser.add_argument("--json-out", metavar="PATH", help="also write every figure here as JSON")
    parser.add_argument("--smoke", action="store_true",
                        help="a check that every phase still runs, in seconds: " + ", ".join(
                            f"--{name.replace('_', '-')} {value}" for name, value in SMOKE.items()))
    args = parser.parse_args(argv)
    if args.smoke:  # the smoke sizes replace the defaults; options given still win
        parser.set_defaults(**SMOKE)
        args = parser.parse_args(argv)
    return args


def build_bodies(args):
    """[(spans, body)] exactly as bench/otlp_load.py would send them, and the uncompressed size."""
    generator_args = SimpleNamespace(
        format=args.format, gzip=args.gzip, gzip_level=6, total_spans=args.spans, spans_per_request=args.batch,
        seed=args.seed, spans_per_trace=20, error_rate=0.05, prompt_bytes=(1000, 2000), services=4,
        no_openinference=False, msgflux_share=args.msgflux_share,
    )  # otlp_load's own defaults, but for the ones this script exposes
    return otlp_load.encode_all(generator_args)


# ---------------------------------------------------------------------------------------------
# The ceiling: the same work, lean, in one process

CEILING_COLUMNS = (
    "trace_id", "span_id", "parent_span_id", "name", "kind", "start_ns", "end_ns", "duration_ns",
    "status_code", "status_message", "trace_state", "flags", "attributes", "events",
    "dropped_attributes_count", "dropped_events_count", "dropped_links_count", "service_name",
    "scope_name", "model",
)
CEILING_SCHEMA = """
CREATE TABLE span (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    trace_id TEXT NOT NULL, span_id TEXT NOT NULL, parent_span_id TEXT NOT NULL, name TEXT NOT NULL,
    kind INTEGER NOT NULL, start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL, duration_ns INTEGER NOT NULL,
    status_code INTEGER NOT NULL, status_message TEXT NOT NULL, trace_state TEXT NOT NULL,
    flags INTEGER NOT NULL, attributes TEXT NOT NULL, events TEXT NOT NULL,
    dropped_attributes_count INTEGER NOT NULL, dropped_events_count INTEGER NOT NULL,
    dropped_links_count INTEGER NOT NULL, service_name TEXT NOT NULL, scope_name TEXT NOT NULL,
    model TEXT NOT NULL
);
-- The same three jobs as msgtrace's span indexes: idempotency, a trace's spans in order, search.
CREATE UNIQUE INDEX span_unique ON span (trace_id, span_id);
CREATE INDEX span_trace_start ON span (trace_id, start_ns);
CREATE INDEX span_model_start ON span (model, start_ns);
"""
CEILING_INSERT = f"INSERT INTO span ({','.join(CEILING_COLUMNS)}) VALUES ({','.join('?' * len(CEILING_COLUMNS))})"
# The same serialisation msgtrace stores attributes with.
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode


def _pb_value(value):
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_pb_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _pb_value(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return {"$bytes": base64.b64encode(value.bytes_value).decode("ascii")}
    return getattr(value, kind) if kind else None


def _pb_attributes(key_values):
    return {kv.key: _pb_value(kv.value) for kv in key_values}


def protobuf_rows(body):
    request = ExportTraceServiceRequest.FromString(body)
    rows = []
    for resource_spans in request.resource_spans:
        service = _pb_attributes(resource_spans.resource.attributes).get("service.name", "")
        for scope_spans in resource_spans.scope_spans:
            scope = scope_spans.scope.name
            for span in scope_spans.spans:
                attributes = _pb_attributes(span.attributes)
                events = [(e.time_unix_nano, e.name, _pb_attributes(e.attributes)) for e in span.events]
                start, end, status = span.start_time_unix_nano, span.end_time_unix_nano, span.status
                rows.append((
                    span.trace_id.hex(), span.span_id.hex(), span.parent_span_id.hex(), span.name, span.kind,
                    start, end, end - start, status.code, status.message, span.trace_state, span.flags,
                    _dumps(attributes), _dumps(events), span.dropped_attributes_count,
                    span.dropped_events_count, span.dropped_links_count, service, scope,
                    attributes.get("gen_ai.request.model", ""),
                ))
    return rows


def _json_value(value):
    for key, item in value.items():  # an AnyValue holds one key
        if key == "intValue":
            return int(item)  # OTLP/JSON sends 64-bit integers as strings
        if key == "arrayValue":
            return [_json_value(v) for v in item.get("values", ())]
        if key == "kvlistValue":
            return _json_attributes(item.get("values", ()))
        return item  # stringValue, boolValue, doubleValue, bytesValue (already base64)
    return None


def _json_attributes(key_values):
    return {kv["key"]: _json_value(kv.get("value") or {}) for kv in key_values}


def json_rows(body):
    document = json.loads(body)
    rows = []
    for resource_spans in document.get("resourceSpans", ()):
        resource = resource_spans.get("resource") or {}
        service = _json_attributes(resource.get("attributes", ())).get("service.name", "")
        for scope_spans in resource_spans.get("scopeSpans", ()):
            scope = (scope_spans.get("scope") or {}).get("name", "")
            for span in scope_spans.get("spans", ()):
                attributes = _json_attributes(span.get("attributes", ()))
                events = [
                    (int(e.get("timeUnixNano", 0)), e.get("name", ""), _json_attributes(e.get("attributes", ())))
                    for e in span.get("events", ())
                ]
                start, end = int(span.get("startTimeUnixNano", 0)), int(span.get("endTimeUnixNano", 0))
                status = span.get("status") or {}
                rows.append((
                    span.get("traceId", ""), span.get("spanId", ""), span.get("parentSpanId", ""),
                    span.get("name", ""), span.get("kind", 0), start, end, end - start, status.get("code", 0),
                    status.get("message", ""), span.get("traceState", ""), span.get("flags", 0),
                    _dumps(attributes), _dumps(events), span.get("droppedAttributesCount", 0),
                    span.get("droppedEventsCount", 0), span.get("droppedLinksCount", 0), service, scope,
                    attributes.get("gen_ai.request.model", ""),
                ))
    return rows


def open_ceiling_db(path):
    # Autocommit mode: transactions are opened and committed explicitly, one per request.
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={SYNCHRONOUS}")
    conn.execute("PRAGMA cache_size=-65536")
    conn.executescript(CEILING_SCHEMA)
    return conn


def run_ceiling(bodies, args, db_path, deadline):
    """Decode + build rows + insert, request by request, timing the two halves separately."""
    to_rows = json_rows if args.format == "json" else protobuf_rows
    conn = open_ceiling_db(db_path)
    spans = requests = 0
    decode_s = insert_s = commit_s = 0.0
    started, cpu_started = time.perf_counter(), time.process_time()
    try:
        for _, body in bodies:
            if time.monotonic() >= deadline:
                break
            t0 = time.perf_counter()
            rows = to_rows(gzip.decompress(body) if args.gzip else body)
            t1 = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")  # as msgtrace does (transaction_mode IMMEDIATE)
            conn.executemany(CEILING_INSERT, rows)
            t2 = time.perf_counter()
            conn.execute("COMMIT")  # with synchronous=FULL, the WAL write and fsync happen here
            t3 = time.perf_counter()
            decode_s += t1 - t0
            insert_s += t3 - t1
            commit_s += t3 - t2
            spans += len(rows)
            requests += 1
        elapsed = time.perf_counter() - started
        cpu_s = time.process_time() - cpu_started
        stored = conn.execute("SELECT COUNT(*) FROM span").fetchone()[0]
    finally:
        conn.close()
    return {
        "requests": requests,
        "spans": spans,
        "stored": stored,
        "elapsed_s": elapsed,
        "cpu_s": cpu_s,
        "spans_per_s": spans / elapsed if elapsed else 0.0,
        "decode_s": decode_s,
        "decode_spans_per_s": spans / decode_s if decode_s else 0.0,
        "insert_s": insert_s,
        "commit_s": commit_s,
        "insert_spans_per_s": spans / insert_s if insert_s else 0.0,
        "truncated_by_time_limit": requests < len(bodies),
    }


def setup_django(tmp):
    """Settings for msgtrace's decoder in this process (semconv prices model calls with genai-prices):
    SQLite in the temp dir, which nothing here writes to (custom prices are read from it, and a
    failed read keeps none), and a secret key never written to disk."""
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "msgtrace_server.settings")
    os.environ.update(MSGTRACE_DB_PATH=str(tmp / "decode.sqlite3"), SECRET_KEY="bench")
    import django

    django.setup()


def run_msgtrace_decode(bodies, args, deadline):
    """msgtrace's own decode path (decompress + decode + semconv.normalize), without the database."""
    from traces import otlp as msgtrace_otlp

    encoding = msgtrace_otlp.PROTOBUF if args.format == "protobuf" else msgtrace_otlp.JSON
    content_encoding = "gzip" if args.gzip else None
    spans, elapsed = 0, 0.0
    for _, body in bodies:
        if time.monotonic() >= deadline:
            break
        t0 = time.perf_counter()
        raw = msgtrace_otlp.decompress(body, content_encoding, 32 * 1024 * 1024)
        batch = msgtrace_otlp.decode(raw, encoding, MAX_ATTRIBUTE_BYTES)
        elapsed += time.perf_counter() - t0
        spans += len(batch.spans)
    return {"spans": spans, "elapsed_s": elapsed, "spans_per_s": spans / elapsed if elapsed else 0.0}


# ---------------------------------------------------------------------------------------------
# The server


def free_port():
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class Server:
    """msgtrace under gunicorn on a migrated, fresh SQLite database inside `tmp`."""

    def __init__(self, tmp, workers, worker_class="gthread", stitch=True, health=True):
        name = f"stitch-{'on' if stitch else 'off'}-health-{'on' if health else 'off'}"
        self.db_path = tmp / f"msgtrace-{name}.sqlite3"
        self.log_path = tmp / f"gunicorn-{name}.log"
        self.application = "msgtrace_server.wsgi:application" if health else "wsgi_without_ingest_health:application"
        self.workers = workers
        self.worker_class = worker_class
        self.port = None
        self.process = None
        self.env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MSGTRACE_INGEST_KEYS")}
        # SQLite (no DATABASE_URL), no ingest key, the secret key never read from or written to disk.
        self.env.update(MSGTRACE_DB_PATH=str(self.db_path), SECRET_KEY="bench", PYTHONUNBUFFERED="1",
                        MSGTRACE_STITCH_RUNS="true" if stitch else "false")

    def start(self, timeout=60):
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
            cwd=ROOT, env=self.env, check=True, timeout=timeout,
        )
        self.port = free_port()
        with open(self.log_path, "wb") as log:
            # A session of its own, so that Ctrl-C reaches this script only and the server is
            # stopped in order by stop(), not half-killed by the terminal's SIGINT. No control
            # socket: gunicorn would otherwise create one in ~/.gunicorn, outside the temp dir.
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", self.application, "--pythonpath", str(BENCH_DIR),
                 "--worker-class", self.worker_class,
                 *(["--threads", "8"] if self.worker_class == "gthread" else []), "--workers", str(self.workers), "--bind", f"{HOST}:{self.port}", "--timeout", "120",
                 "--graceful-timeout", "20", "--no-control-socket"],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        self._wait_until_ready(timeout)

    def _wait_until_ready(self, timeout):
        """The port accepts connections and every worker has booted."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}; see {self.log_path}")
            if len(children(self.process.pid)) >= self.workers:
                try:
                    with socket.create_connection((HOST, self.port), timeout=0.5):
                        return
                except OSError:
                    pass
            time.sleep(0.1)
        raise RuntimeError(f"msgtrace did not come up on {HOST}:{self.port} within {timeout} s")

    def stop(self):
        """SIGTERM to the master (by pid): workers finish the request in hand, then all exit."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log_tail(self, lines=15):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def count_stored_spans(db_path):
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute("SELECT COUNT(*) FROM traces_span").fetchone()[0]
    finally:
        conn.close()


def count_runs(db_path):
    """Traces, those stitched into a run, those marked ambiguous, and the runs with more than one trace."""
    conn = sqlite3.connect(db_path)
    try:
        links = dict(conn.execute("SELECT run_link, COUNT(*) FROM traces_trace GROUP BY run_link").fetchall())
        runs = conn.execute("SELECT COUNT(*) FROM traces_trace WHERE run_trace_count > 1").fetchone()[0]
    finally:
        conn.close()
    return {"traces": sum(links.values()), "stitched": links.get("stitched", 0),
            "ambiguous": links.get("ambiguous", 0), "runs": runs}


def count_counted_requests(db_path):
    """The requests the ingest-health counters hold."""
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute("SELECT COALESCE(SUM(requests), 0) FROM ingest_health_ingestcounter").fetchone()[0]
    finally:
        conn.close()


# ---------------------------------------------------------------------------------------------
# Server memory and CPU, from /proc


def children(pid):
    pids = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                pids.extend(int(p) for p in f.read().split())
    except OSError:  # gone, or a kernel without the children file
        pass
    return pids


def rss_bytes(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def cpu_seconds(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()  # the name in parentheses may hold spaces
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    except (OSError, IndexError, ValueError):
        return 0.0


class ServerSampler(threading.Thread):
    """Every `interval` s: the summed RSS of master + workers (peak kept) and each one's CPU time."""

    def __init__(self, master_pid, interval=0.1):
        super().__init__(daemon=True)
        self.master_pid, self.interval = master_pid, interval
        self.stopped = threading.Event()
        self.peak_rss = self.idle_rss = 0
        self.samples = 0
        self.cpu = {}  # pid -> last seen CPU seconds; workers are re-listed each time
        self.sample()
        self.idle_rss = self.peak_rss
        self.cpu_at_start = dict(self.cpu)  # booting (importing Django) is not part of the load

    def sample(self):
        pids = [self.master_pid, *children(self.master_pid)]
        self.peak_rss = max(self.peak_rss, sum(rss_bytes(pid) for pid in pids))
        for pid in pids:
            self.cpu[pid] = max(self.cpu.get(pid, 0.0), cpu_seconds(pid))
        self.samples += 1

    def run(self):
        while not self.stopped.wait(self.interval):
            self.sample()

    def stop(self):
        self.stopped.set()
        self.join(5)
        self.sample()

    def cpu_total(self):
        """CPU seconds the server used since the sampler started."""
        return sum(seconds - self.cpu_at_start.get(pid, 0.0) for pid, seconds in self.cpu.items())


# ---------------------------------------------------------------------------------------------
# The load


def rejected_spans(body, content_type):
    """partialSuccess.rejectedSpans of a 200 answer (0 when absent)."""
    if "protobuf" in content_type:
        return ExportTraceServiceResponse.FromString(body).partial_success.rejected_spans
    if body.strip():
        return int(json.loads(body).get("partialSuccess", {}).get("rejectedSpans", 0))
    return 0


def client(port, headers, bodies, claim, results, deadline, timeout):
    """One client: posts the next unclaimed body until none is left or the time is up."""
    conn = None
    while time.monotonic() < deadline:
        index = claim()
        if index is None:
            break
        spans, body = bodies[index]
        started = time.perf_counter()
        rejected = 0
        try:
            if conn is None:
                conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
            conn.request("POST", "/v1/traces", body=body, headers=headers)
            response = conn.getresponse()
            answer = response.read()
            status = response.status
            if status == 200:
                rejected = rejected_spans(answer, response.getheader("Content-Type", ""))
            if response.will_close:  # gunicorn's sync workers close after every response
                conn.close()
                conn = None
        except Exception as exc:  # noqa: BLE001  (counted as a failed request, then reconnect)
            status = f"error:{type(exc).__name__}"
            if conn is not None:
                conn.close()
            conn = None
        results.append((spans, status, rejected, started, time.perf_counter()))
    if conn is not None:
        conn.close()


def send_all(bodies, port, args, deadline):
    """Posts every body once from --clients threads; one (spans, status, rejected, t0, t1) each."""
    headers = {"Content-Type": CONTENT_TYPES[args.format]}
    if args.gzip:
        headers["Content-Encoding"] = "gzip"
    lock, position = threading.Lock(), [0]

    def claim():
        with lock:
            if position[0] >= len(bodies):
                return None
            position[0] += 1
            return position[0] - 1

    results = []  # list.append is atomic: the threads share it
    timeout = args.request_timeout
    threads = [
        threading.Thread(target=client, args=(port, headers, bodies, claim, results, deadline, timeout), daemon=True)
        for _ in range(args.clients)
    ]
    cpu_before = time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():  # short joins, so that Ctrl-C and the watchdog get through
            thread.join(0.2)
    return results, time.process_time() - cpu_before


def summarize_load(results, stored, client_cpu_s, sampler, total_requests, wall):
    sent = sum(spans for spans, *_ in results)
    rejected = sum(r for _, _, r, _, _ in results)
    latencies = sorted((t1 - t0) * 1000 for *_, t0, t1 in results)
    return {
        "requests_planned": total_requests,
        "requests_sent": len(results),
        "spans_sent": sent,
        "spans_stored": stored,
        "spans_rejected": rejected,
        "spans_lost": sent - stored - rejected,
        "wall_s": wall,
        "stored_spans_per_s": stored / wall if wall else 0.0,
        "latency_ms": {f"p{p}": otlp_load.pct(latencies, p) for p in (50, 95, 99)}
        | {"max": latencies[-1] if latencies else float("nan")},
        "http_status": dict(sorted(Counter(str(status) for _, status, *_ in results).items())),
        "server_peak_rss_mb": sampler.peak_rss / 2**20,
        "server_idle_rss_mb": sampler.idle_rss / 2**20,
        "server_rss_samples": sampler.samples,
        "server_cpu_s": sampler.cpu_total(),
        "client_cpu_s": client_cpu_s,
        "truncated_by_time_limit": len(results) < total_requests,
    }


def warm_up(port, workers):
    """GET /v1/traces (405, nothing stored) from 2 connections per worker at once, so that every
    worker has loaded the URLconf and views before the clock starts: steady state is measured,
    not each worker's first request."""

    def get():
        conn = http.client.HTTPConnection(HOST, port, timeout=30)
        try:
            conn.request("GET", "/v1/traces")
            conn.getresponse().read()
        finally:
            conn.close()

    threads = [threading.Thread(target=get, daemon=True) for _ in range(2 * workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)


def slices_of(bodies, count):
    """`bodies` cut into `count` contiguous slices (fewer when there are fewer bodies), in order."""
    count = max(1, min(count, len(bodies)))
    size, extra = divmod(len(bodies), count)
    cuts = [0]
    for number in range(count):
        cuts.append(cuts[-1] + size + (number < extra))
    return [bodies[a:b] for a, b in zip(cuts, cuts[1:])]


def run_server_loads(bodies, args, tmp, deadline, cleanup, settings):
    """The same bodies to one server per (stitch, health) setting, all running at once, interleaved:
    slice 1 to every server in turn, then slice 2 (in the next server's turn first), and so on.

    Compared settings thus meet the same machine within seconds of each other: on a shared machine
    whose load changes by the minute, loads run one after the other measured the machine as much as
    the setting. Each server's wall time is the sum of its slices' (first request -> last response);
    a server waiting for its turn is idle, and its database grows by the same bodies in the same order."""
    servers = {}
    for setting in settings:
        server = Server(tmp, args.workers, args.worker_class, *setting)
        cleanup.append(server.stop)
        server.start()
        warm_up(server.port, args.workers)
        servers[setting] = server
    samplers = {setting: ServerSampler(server.process.pid) for setting, server in servers.items()}
    for sampler in samplers.values():
        cleanup.append(sampler.stopped.set)
        sampler.start()
    results = {setting: [] for setting in settings}
    walls = {setting: [] for setting in settings}
    slice_rates = {setting: [] for setting in settings}  # spans accepted / s in each slice
    client_cpu = dict.fromkeys(settings, 0.0)
    try:
        for number, part in enumerate(slices_of(bodies, args.slices)):
            turn = number % len(settings)
            for setting in settings[turn:] + settings[:turn]:
                answers, cpu = send_all(part, servers[setting].port, args, deadline)
                results[setting] += answers
                client_cpu[setting] += cpu
                if answers:
                    wall = max(a[4] for a in answers) - min(a[3] for a in answers)
                    walls[setting].append(wall)
                    accepted = sum(a[0] - a[2] for a in answers if a[1] == 200)
                    slice_rates[setting].append(accepted / wall if wall else 0.0)
    finally:
        for sampler in samplers.values():
            sampler.stop()
    loads = {}
    for setting, server in servers.items():
        server.stop()  # graceful: whatever a worker still had in hand is committed before counting
        failed = [r for r in results[setting] if r[1] != 200]
        if failed:
            print(f"{len(failed)} requests failed; the server log ends with:\n{server.log_tail()}", file=sys.stderr)
        stored = count_stored_spans(server.db_path)
        loads[setting] = summarize_load(results[setting], stored, client_cpu[setting], samplers[setting],
                                        len(bodies), wall=sum(walls[setting])) | {
            "runs": count_runs(server.db_path), "requests_counted": count_counted_requests(server.db_path),
            "slice_spans_per_s": slice_rates[setting]}
    return loads


# ---------------------------------------------------------------------------------------------
# Report


def per_1k(seconds, spans):
    return seconds / spans * 1e6 if spans else float("nan")


def spread(values):
    """'median (lower quartile - upper quartile)' of `values`."""
    if not values:
        return "-"
    ordered = sorted(values)
    at = lambda share: ordered[round(share * (len(ordered) - 1))]  # noqa: E731
    return f"{at(0.5):.2f} ({at(0.25):.2f}-{at(0.75):.2f})"


def report(figures):
    cfg, load, ceiling = figures["config"], figures["msgtrace"], figures["ceiling"]
    lat = load["latency_ms"]
    rows = [
        ("msgtrace stored spans/s", f"{load['stored_spans_per_s']:,.0f}",
         f"{load['spans_stored']:,} stored in {load['wall_s']:.2f} s (first request -> last response)"),
        ("ceiling spans/s", f"{ceiling['spans_per_s']:,.0f}",
         f"decode + rows + executemany, 1 process, {ceiling['spans']:,} spans in {ceiling['elapsed_s']:.2f} s"),
        ("  decode-only spans/s", f"{ceiling['decode_spans_per_s']:,.0f}", f"{ceiling['decode_s']:.2f} s"),
        ("  insert-only spans/s", f"{ceiling['insert_spans_per_s']:,.0f}",
         f"{ceiling['insert_s']:.2f} s raw executemany + COMMIT (of which COMMIT {ceiling['commit_s']:.2f} s)"),
        ("msgtrace decode spans/s", f"{figures['msgtrace_decode']['spans_per_s']:,.0f}",
         "traces.otlp.decompress + decode in this process, no database"),
        ("ratio msgtrace / ceiling", f"{figures['ratio']:.2f}",
         "target >= 0.5" + (f"; median of rounds {' '.join(f'{r:.2f}' for r in figures['round_ratios'])}"
                            if len(figures["round_ratios"]) > 1 else "")),
        ("spans sent / stored", f"{load['spans_sent']:,} / {load['spans_stored']:,}",
         f"rejected {load['spans_rejected']:,}, LOST {load['spans_lost']:,}"),
        ("latency ms p50/p95/p99", f"{lat['p50']:.0f} / {lat['p95']:.0f} / {lat['p99']:.0f}", f"max {lat['max']:.0f}"),
        ("HTTP status", ", ".join(f"{k}: {v}" for k, v in load["http_status"].items()),
         f"{load['requests_sent']} of {load['requests_planned']} requests sent"),
        ("server peak RSS MB", f"{load['server_peak_rss_mb']:.0f}",
         f"master + {cfg['workers']} workers, idle {load['server_idle_rss_mb']:.0f} MB, "
         f"{load['server_rss_samples']} samples"),
        ("CPU s server / client", f"{load['server_cpu_s']:.1f} / {load['client_cpu_s']:.1f}",
         f"{os.cpu_count()} CPUs; wall {load['wall_s']:.1f} s"),
        # The ratio above lets msgtrace use every worker; this one compares the work per span.
        ("CPU ms/1k spans msgtrace", f"{per_1k(load['server_cpu_s'], load['spans_stored']):.0f}",
         f"ceiling {per_1k(ceiling['cpu_s'], ceiling['spans']):.0f} (1 process)"),
    ]
    stitching = figures.get("stitching")
    if stitching:
        on, off, runs = stitching["on"], stitching["off"], stitching["on"]["runs"]
        rounds = stitching["round_ratios"]
        rows += [
            ("stitching on / off spans/s", f"{on['stored_spans_per_s']:,.0f} / {off['stored_spans_per_s']:,.0f}",
             f"MSGTRACE_STITCH_RUNS=true / false, the same bodies on fresh databases; "
             f"CPU ms/1k spans {per_1k(on['server_cpu_s'], on['spans_stored']):.0f} / "
             f"{per_1k(off['server_cpu_s'], off['spans_stored']):.0f}"),
            ("ratio stitching on / off", f"{stitching['ratio']:.2f}",
             "target >= 0.90" + (f"; median of rounds {' '.join(f'{r:.2f}' for r in rounds)}" if len(rounds) > 1 else "")),
            ("  slice by slice", spread(stitching["slice_ratios"]), "median (quartiles) of each slice's on / off"),
            ("traces stitched", f"{runs['stitched']:,} of {runs['traces']:,}",
             f"into {runs['runs']:,} runs, {runs['ambiguous']:,} ambiguous (stitching on); "
             f"off: {off['runs']['stitched']:,} stitched"),
        ]
    health = figures.get("health")
    if health:
        on, off, rounds = health["on"], health["off"], health["round_ratios"]
        rows += [
            ("counters on / off spans/s", f"{on['stored_spans_per_s']:,.0f} / {off['stored_spans_per_s']:,.0f}",
             f"ingest-health counters on / off, the same bodies on fresh databases; "
             f"CPU ms/1k spans {per_1k(on['server_cpu_s'], on['spans_stored']):.0f} / "
             f"{per_1k(off['server_cpu_s'], off['spans_stored']):.0f}"),
            ("ratio counters on / off", f"{health['ratio']:.2f}",
             "target >= 0.95" + (f"; median of rounds {' '.join(f'{r:.2f}' for r in rounds)}" if len(rounds) > 1 else "")),
            ("  slice by slice", spread(health["slice_ratios"]), "median (quartiles) of each slice's on / off"),
            ("requests counted", f"{on['requests_counted']:,} / {off['requests_counted']:,}",
             f"by the counters on / off, of {on['requests_sent']:,} / {off['requests_sent']:,} sent"),
        ]
    print(
        f"\nmsgtrace ingest: {cfg['spans']:,} spans, {cfg['format']}{'+gzip' if cfg['gzip'] else ''}, "
        f"{cfg['batch']} spans/request ({cfg['requests']} requests, {cfg['wire_mb']:.1f} MB on the wire), "
        f"{cfg['clients']} clients, {cfg['workers']} {cfg['worker_class']} workers, SQLite WAL synchronous={cfg['synchronous']}, "
        f"{cfg['msgflux_share']:.0%} of agent calls msgflux-shaped, stitching {cfg['stitch']}, counters {cfg['health']}"
    )
    if cfg["smoke"]:
        print("  (--smoke: every phase ran on tiny sizes; the figures measure nothing)")
    width = max(len(name) for name, *_ in rows)
    value_width = max(len(value) for _, value, _ in rows)
    for name, value, note in rows:
        print(f"  {name:<{width}}  {value:>{value_width}}  {note}")
    for part, truncated in (("msgtrace load", load["truncated_by_time_limit"]),
                            ("ceiling", ceiling["truncated_by_time_limit"])):
        if truncated:
            print(f"  WARNING: the {part} stopped at --time-limit; its figures cover part of the bodies")


# ---------------------------------------------------------------------------------------------


def _on_alarm(signum, frame):
    raise BenchTimeout("the run outlived --time-limit plus its grace period")


def _on_sigterm(signum, frame):
    raise KeyboardInterrupt


def share_of(deadline, budget, fraction):
    """A deadline `fraction` of the budget from now, never past the run's own deadline."""
    return min(deadline, time.monotonic() + budget * fraction)


def load_settings(args):
    """(stitch, health) of each server load: the shipped one first (stitching and counters on unless
    told otherwise), then the same with stitching off and with counters off, as --stitch and --health ask."""
    stitch = {"both": [True, False], "on": [True], "off": [False]}[args.stitch]
    health = {"both": [True, False], "on": [True], "off": [False]}[args.health]
    main = (stitch[0], health[0])
    without_stitching = [(False, main[1])] if len(stitch) > 1 else []
    without_counters = [(main[0], False)] if len(health) > 1 else []
    return [main, *without_stitching, *without_counters]


def run_round(bodies, args, tmp, deadline, cleanup, number=0):
    """One ceiling, one in-process decode and one server load per setting, on fresh databases."""
    tmp.mkdir()
    budget = args.time_limit / args.rounds
    # The ceiling and the decoder first, while the machine is otherwise idle; then the server.
    # They yield rates, so a share of the time is enough: most of it is kept for the load.
    ceiling = run_ceiling(bodies, args, tmp / "ceiling.sqlite3", share_of(deadline, budget, 0.2))
    print(f"ceiling: {ceiling['spans_per_s']:,.0f} spans/s", file=sys.stderr)
    decode = run_msgtrace_decode(bodies, args, share_of(deadline, budget, 0.1))
    print(f"msgtrace decode: {decode['spans_per_s']:,.0f} spans/s; starting gunicorn", file=sys.stderr)
    settings = load_settings(args)
    main = settings[0]
    turn = number % len(settings)  # rotated every round too: no setting always goes first
    loads = run_server_loads(bodies, args, tmp, share_of(deadline, budget, 0.7), cleanup,
                             settings[turn:] + settings[:turn])
    for (stitch, health), load in loads.items():
        print(f"msgtrace, stitching {'on' if stitch else 'off'}, counters {'on' if health else 'off'}: "
              f"{load['stored_spans_per_s']:,.0f} spans/s stored", file=sys.stderr)
    load = loads[main]  # the shipped setting is the one compared with the ceiling
    ratio = load["stored_spans_per_s"] / ceiling["spans_per_s"] if ceiling["spans_per_s"] else 0.0
    print(f"msgtrace: ratio {ratio:.2f}", file=sys.stderr)
    figures = {"msgtrace": load, "ceiling": ceiling, "msgtrace_decode": decode, "ratio": ratio}

    def ratio_to(other):
        return load["stored_spans_per_s"] / other["stored_spans_per_s"] if other["stored_spans_per_s"] else 0.0

    def slice_ratios(other):
        """Slice by slice, this setting's rate over the other's: the same bodies, seconds apart."""
        return [a / b for a, b in zip(load["slice_spans_per_s"], other["slice_spans_per_s"]) if b]

    if (False, main[1]) in loads and main[0]:
        off = loads[False, main[1]]
        figures |= {"msgtrace_stitch_off": off, "stitch_ratio": ratio_to(off), "stitch_slice_ratios": slice_ratios(off)}
    if (main[0], False) in loads and main[1]:
        off = loads[main[0], False]
        figures |= {"msgtrace_health_off": off, "health_ratio": ratio_to(off), "health_slice_ratios": slice_ratios(off)}
    return figures


def measure(args, tmp, deadline, cleanup):
    t0 = time.perf_counter()
    bodies, raw_bytes = build_bodies(args)
    build_s = time.perf_counter() - t0
    wire = sum(len(body) for _, body in bodies)
    print(f"built {len(bodies)} requests, {sum(n for n, _ in bodies):,} spans, {wire / 1e6:.1f} MB "
          f"in {build_s:.1f} s", file=sys.stderr)
    rounds = []
    for number in range(args.rounds):
        if rounds and time.monotonic() >= deadline:
            break
        rounds.append(run_round(bodies, args, tmp / f"round-{number + 1}", deadline, cleanup, number))
    # On a shared machine one round can be off by a third: the median round is reported whole,
    # so that every figure printed comes from the same round. Stitching on / off is compared
    # within each round (same machine load); its median round is reported beside.
    median = sorted(rounds, key=lambda r: r["ratio"])[(len(rounds) - 1) // 2]
    compared = {}
    for name, key, off in (("stitching", "stitch", "msgtrace_stitch_off"),
                           ("health", "health", "msgtrace_health_off")):
        if f"{key}_ratio" in rounds[0]:
            middle = sorted(rounds, key=lambda r: r[f"{key}_ratio"])[(len(rounds) - 1) // 2]
            compared[name] = {"on": middle["msgtrace"], "off": middle[off], "ratio": middle[f"{key}_ratio"],
                              "round_ratios": [r[f"{key}_ratio"] for r in rounds],
                              "slice_ratios": [ratio for r in rounds for ratio in r[f"{key}_slice_ratios"]]}
    return {
        "config": {
            "spans": sum(n for n, _ in bodies), "requests": len(bodies), "batch": args.batch, "format": args.format,
            "gzip": args.gzip, "clients": args.clients, "workers": args.workers, "seed": args.seed,
            "worker_class": args.worker_class,
            "rounds": len(rounds), "synchronous": SYNCHRONOUS, "raw_mb": raw_bytes / 1e6, "wire_mb": wire / 1e6,
            "build_s": build_s, "time_limit_s": args.time_limit, "cpus": os.cpu_count(), "smoke": args.smoke,
            "python": platform.python_version(), "stitch": args.stitch, "msgflux_share": args.msgflux_share,
            "health": args.health,
        },
        **median,
        **compared,
        "round_ratios": [r["ratio"] for r in rounds],
        "rounds": rounds,
    }


def finite(value):
    """The figures with NaN (no response to measure) as null: strict JSON has no NaN."""
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [finite(item) for item in value]
    if isinstance(value, float) and value != value:
        return None
    return value


def main(argv=None):
    args = parse_args(argv)
    deadline = time.monotonic() + args.time_limit
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.alarm(int(args.time_limit) + WATCHDOG_GRACE_S)
    tmp = Path(tempfile.mkdtemp(prefix="msgtrace-bench-", dir=args.tmp_dir))
    cleanup = []  # undone in reverse order, whatever happens
    try:
        setup_django(tmp)
        figures = measure(args, tmp, deadline, cleanup)
        report(figures)
        if args.json_out:
            Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json_out).write_text(json.dumps(finite(figures), indent=2) + "\n")
        return 0
    except KeyboardInterrupt:
        print("interrupted; stopping the server and removing the temp dir", file=sys.stderr)
        return 130
    finally:
        signal.alarm(0)
        for undo in reversed(cleanup):
            undo()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
