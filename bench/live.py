#!/usr/bin/env python3
"""Live pages benchmark: what idle live viewers cost msgtrace, how soon they see a change, and what
they take from ingest.

Every phase runs msgtrace as shipped (bench/ingest.py's Server: `manage.py migrate` on a fresh SQLite
database in a temp dir, gunicorn with gthread workers of 8 threads on a loopback port), with
MSGTRACE_AUTH=off as the other benchmarks run it. A viewer is a thread that polls as an open trace
list does (static/js/live.js): GET its poll URL with HX-Request and If-None-Match every
MSGTRACE_LIVE_POLL_SECONDS (2 s), taking the next poll URL and ETag from each 200 answer.

1. Idle: --viewers viewers poll a store that takes in nothing for --idle-seconds; the server's CPU
   time (master and workers, from /proc) is printed per minute, with the share of 304 answers.
2. Delay: while they poll, one new trace at a time is posted (--changes of them, a few seconds
   apart); for each viewer and trace, the delay from the ingest answer to the first poll answer that
   holds the trace's row. The p50/p95/max of those delays are printed (the poll interval bounds them).
3. Ingest: the ingest load of bench/ingest.py (bench/otlp_load.py's seeded generator, --spans spans in
   --batch-span requests from --clients connections) on a fresh server with --viewers viewers open,
   sent in --slices slices: the viewers poll during half of them (on, off, off, on, on, off, ...) and
   are paused during the others; spans/s of both halves and their ratio (target >= 0.90).

Run from anywhere (about a minute with the defaults on 2 cores):

    .venv/bin/python bench/live.py
    .venv/bin/python bench/live.py --smoke          # every phase on tiny sizes, in seconds
    .venv/bin/python bench/live.py --viewers 100 --idle-seconds 60

Timings are printed, never judged. Only loopback addresses are used; the temp dir and the servers
are removed at the end, also on Ctrl-C or SIGTERM.
"""

import argparse
import http.client
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from html import unescape
from pathlib import Path
from types import SimpleNamespace

BENCH_DIR = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH_DIR), str(BENCH_DIR.parent)]

import ingest  # noqa: E402  (bench/ingest.py: the server, its sampler and the load)
import otlp_load  # noqa: E402
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest  # noqa: E402

POLL_SECONDS = 2.0  # MSGTRACE_LIVE_POLL_SECONDS as shipped
SMOKE = {"viewers": 5, "idle_seconds": 3.0, "changes": 2, "spans": 400, "batch": 100, "clients": 2, "workers": 1,
         "slices": 4}
POLL = re.compile(r'<div id="new-traces"[^>]*hx-get="([^"]+)"[^>]*data-live-etag="([^"]*)"')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--viewers", type=int, default=50, help="live viewers polling (default 50)")
    parser.add_argument("--idle-seconds", type=float, default=30.0, help="idle phase length (default 30)")
    parser.add_argument("--changes", type=int, default=10, help="traces posted one at a time in the delay phase")
    parser.add_argument("--spans", type=int, default=48_000, help="spans of the ingest load (default 48,000)")
    parser.add_argument("--batch", type=int, default=256, help="spans per ingest request (default 256)")
    parser.add_argument("--clients", type=int, default=4, help="ingest connections (default 4)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--slices", type=int, default=12,
                        help="slices of the ingest load, viewers polling during every other pair (default 12)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, in seconds: " + ", ".join(
        f"--{name.replace('_', '-')} {value}" for name, value in SMOKE.items()))
    args = parser.parse_args(argv)
    if args.smoke:
        parser.set_defaults(**SMOKE)
        args = parser.parse_args(argv)
    return args


class Viewer(threading.Thread):
    """One open trace list: polls like the page, remembers when it first saw each trace's row."""

    def __init__(self, port, stop, paused):
        super().__init__(daemon=True)
        self.port, self.stop, self.paused = port, stop, paused
        self.url, self.etag = None, ""
        self.statuses = {}
        self.seen = {}  # trace id -> time its row first came in an answer

    def get(self, url, headers):
        """(status, body) on the kept-alive connection; one the server closed while idle (gunicorn's
        keepalive is shorter than the poll interval) is opened again, as a browser does."""
        for attempt in (1, 2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(ingest.HOST, self.port, timeout=30)
                self.conn.request("GET", url, headers=headers)
                response = self.conn.getresponse()
                return response.status, response.read().decode()
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                self.reconnects += 1
                if attempt == 2:
                    return "error", ""

    def run(self):
        self.conn, self.reconnects = None, 0
        _, page = self.get("/traces", {})
        self.url, self.etag = (unescape(part) for part in POLL.search(page).groups())
        # Viewers opened the page at different moments: their polls spread over the interval.
        self.stop.wait(POLL_SECONDS * (hash(self.name) % 1000) / 1000)
        while not self.stop.is_set():
            if self.paused.is_set():  # keeps its place in the interval, as a paused page would
                self.stop.wait(POLL_SECONDS)
                continue
            status, body = self.get(self.url, {"HX-Request": "true", "If-None-Match": self.etag})
            now = time.monotonic()
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if status == 200:
                for trace_id in re.findall(r'<tr id="trace-([0-9a-f]{32})"', body):
                    self.seen.setdefault(trace_id, now)
                self.url, self.etag = (unescape(part) for part in POLL.search(body).groups())
            self.stop.wait(POLL_SECONDS)
        if self.conn is not None:
            self.conn.close()


def open_viewers(port, count, paused=None):
    stop = threading.Event()
    viewers = [Viewer(port, stop, paused or threading.Event()) for _ in range(count)]
    for viewer in viewers:
        viewer.start()
    return stop, viewers


def close_viewers(stop, viewers):
    stop.set()
    for viewer in viewers:
        viewer.join(35)


def one_trace(n):
    """A one-span trace that starts now, with a trace id of its own."""
    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add()
    span.trace_id = (0x5EE5 << 100 | int(time.time() * 1000) << 16 | n).to_bytes(16, "big")
    span.span_id = (n + 1).to_bytes(8, "big")
    span.name = f"live change {n}"
    span.start_time_unix_nano = time.time_ns()
    span.end_time_unix_nano = span.start_time_unix_nano + 1_000_000
    return span.trace_id.hex(), request.SerializeToString()


def post(port, body):
    conn = http.client.HTTPConnection(ingest.HOST, port, timeout=30)
    conn.request("POST", "/v1/traces", body=body, headers={"Content-Type": "application/x-protobuf"})
    status = conn.getresponse().status
    conn.close()
    assert status == 200, status


def start_server(tmp, name, workers, cleanup):
    folder = tmp / name
    folder.mkdir()
    server = ingest.Server(folder, workers)
    server.env["MSGTRACE_AUTH"] = "off"
    cleanup.append(server.stop)
    server.start()
    ingest.warm_up(server.port, workers)
    return server


def idle_and_delay(args, tmp, cleanup):
    server = start_server(tmp, "viewers", args.workers, cleanup)
    post(server.port, one_trace(0)[1])  # a list with a row, as a reader's would be
    stop, viewers = open_viewers(server.port, args.viewers)
    time.sleep(POLL_SECONDS + 1)  # every viewer opened its page and polls
    sampler = ingest.ServerSampler(server.process.pid)
    sampler.start()
    counts_before = sum(sum(v.statuses.values()) for v in viewers)
    not_modified_before = sum(v.statuses.get(304, 0) for v in viewers)
    time.sleep(args.idle_seconds)
    sampler.stop()
    polls = sum(sum(v.statuses.values()) for v in viewers) - counts_before
    not_modified = sum(v.statuses.get(304, 0) for v in viewers) - not_modified_before
    idle = {"cpu_s": sampler.cpu_total(), "seconds": args.idle_seconds, "polls": polls, "not_modified": not_modified,
            "reconnects": sum(v.reconnects for v in viewers)}

    answered = {}
    for n in range(1, args.changes + 1):
        trace_id, body = one_trace(n)
        post(server.port, body)
        answered[trace_id] = time.monotonic()
        time.sleep(POLL_SECONDS * 1.5)
    time.sleep(POLL_SECONDS + 1)
    close_viewers(stop, viewers)
    server.stop()
    delays = sorted(viewer.seen[trace_id] - at for viewer in viewers for trace_id, at in answered.items()
                    if trace_id in viewer.seen)
    missed = len(viewers) * len(answered) - len(delays)
    return idle, {"delays": delays, "missed": missed, "changes": len(answered)}


def ingest_with_and_without_viewers(args, bodies, warm_up, tmp, cleanup):
    """The ingest load on one server with --viewers viewers open, sent in --slices slices; the viewers
    poll during half of the slices and are paused during the others, in the order on, off, off, on,
    on, off, ... so that neither side always comes first or meets a fuller database. Both sides thus
    meet the machine within seconds of each other, which a load without viewers followed by one with
    them did not: on a shared machine the two differed by more than the viewers cost."""
    server = start_server(tmp, "ingest", args.workers, cleanup)
    post(server.port, one_trace(0)[1])
    load_args = SimpleNamespace(format="protobuf", gzip=False, clients=args.clients, request_timeout=60.0)
    # Every worker's first requests load what ingest needs once (the price table, for one): before the clock.
    ingest.send_all(warm_up, server.port, load_args, time.monotonic() + 600)
    paused = threading.Event()
    stop, viewers = open_viewers(server.port, args.viewers, paused)
    time.sleep(POLL_SECONDS + 1)  # every viewer opened its page and polls
    sides = {True: {"sent": 0, "accepted": 0, "wall_s": 0.0, "polls": 0, "slices": 0},
             False: {"sent": 0, "accepted": 0, "wall_s": 0.0, "polls": 0, "slices": 0}}
    try:
        for number, part in enumerate(ingest.slices_of(bodies, args.slices)):
            polling = number % 4 in (0, 3)
            paused.clear() if polling else paused.set()
            polls_before = sum(sum(v.statuses.values()) for v in viewers)
            results, _ = ingest.send_all(part, server.port, load_args, time.monotonic() + 600)
            side = sides[polling]
            side["sent"] += sum(spans for spans, *_ in results)
            side["accepted"] += sum(spans - rejected for spans, status, rejected, *_ in results if status == 200)
            side["wall_s"] += max(t1 for *_, t1 in results) - min(t0 for *_, t0, _ in results)
            side["polls"] += sum(sum(v.statuses.values()) for v in viewers) - polls_before
            side["slices"] += 1
    finally:
        close_viewers(stop, viewers)
        server.stop()
    stored = ingest.count_stored_spans(server.db_path) - 1 - sum(spans for spans, _ in warm_up)
    for side in sides.values():
        side["spans_per_s"] = side["accepted"] / side["wall_s"] if side["wall_s"] else 0.0
    return sides[False], sides[True], {"stored": stored, "sent": sides[False]["sent"] + sides[True]["sent"]}


def pct(values, p):
    return otlp_load.pct(values, p) if values else float("nan")


def report(args, idle, delay, without, with_viewers, load):
    rows = [
        ("viewers", f"{args.viewers}", f"each polling /traces every {POLL_SECONDS:g} s with If-None-Match"),
        ("idle server CPU s/min", f"{idle['cpu_s'] / idle['seconds'] * 60:.2f}",
         f"{idle['polls']:,} polls in {idle['seconds']:g} s, {idle['not_modified']:,} answered 304 "
         f"({idle['reconnects']:,} reconnections in all)"),
        ("delay s p50/p95/max", f"{pct(delay['delays'], 50):.2f} / {pct(delay['delays'], 95):.2f} / "
         f"{max(delay['delays'], default=float('nan')):.2f}",
         f"ingest answer -> row in a poll answer, {len(delay['delays'])} of "
         f"{args.viewers * delay['changes']} (viewer, trace), {delay['missed']} missed"),
        ("ingest spans/s viewers paused", f"{without['spans_per_s']:,.0f}",
         f"{without['accepted']:,} spans accepted in {without['slices']} slices, {without['wall_s']:.2f} s"),
        (f"ingest spans/s {args.viewers} viewers", f"{with_viewers['spans_per_s']:,.0f}",
         f"{with_viewers['accepted']:,} spans accepted in {with_viewers['slices']} slices, "
         f"{with_viewers['wall_s']:.2f} s, {with_viewers['polls']:,} polls meanwhile"),
        ("spans sent / stored", f"{load['sent']:,} / {load['stored']:,}", "by the ingest load, both sides"),
        ("ratio viewers / none", f"{with_viewers['spans_per_s'] / without['spans_per_s']:.2f}"
         if without["spans_per_s"] else "nan", "target >= 0.90"),
    ]
    print(f"msgtrace live: {args.viewers} viewers, {args.workers} gthread workers x 8 threads, "
          f"ingest {args.spans:,} spans in {args.batch}-span requests from {args.clients} clients")
    width = max(len(label) for label, *_ in rows)
    for label, value, note in rows:
        print(f"  {label:<{width}}  {value:>22}  {note}")


def main(argv=None):
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    tmp = Path(tempfile.mkdtemp(prefix="msgtrace-bench-live-"))
    cleanup = []
    try:
        ingest.setup_django(tmp)
        bodies, _ = ingest.build_bodies(SimpleNamespace(format="protobuf", gzip=False, spans=args.spans,
                                                     batch=args.batch, seed=42, msgflux_share=0.3))
        idle, delay = idle_and_delay(args, tmp, cleanup)
        warm_up, _ = ingest.build_bodies(SimpleNamespace(format="protobuf", gzip=False, batch=args.batch, seed=7,
                                                         spans=4 * args.workers * args.batch, msgflux_share=0.3))
        without, with_viewers, load = ingest_with_and_without_viewers(args, bodies, warm_up, tmp, cleanup)
        report(args, idle, delay, without, with_viewers, load)
        return 0
    except KeyboardInterrupt:
        print("interrupted; stopping the servers and removing the temp dir", file=sys.stderr)
        return 130
    finally:
        for undo in reversed(cleanup):
            undo()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    os.environ.pop("DATABASE_URL", None)  # SQLite databases of its own, like bench/ingest.py
    sys.exit(main())
