"""Each benchmark script still runs: its --smoke mode goes through every phase on tiny sizes, in
seconds, and prints the figures a full run prints. The figures themselves are not judged here.

ingest.py, query.py and trace_page.py measure SQLite databases of their own whatever DATABASE_URL
says, so they run in the SQLite pass only; otlp_load.py sends to a server on the suite's database.
"""

import re
import subprocess
import sys

import pytest

from tests import helpers as h
from tests.servers import ROOT

pytestmark = pytest.mark.bench
BENCH = ROOT / "bench"
own_sqlite = pytest.mark.skipif(h.using_postgres(),
                                reason="it measures SQLite databases of its own: the SQLite pass runs it")


def smoke(script, *args, timeout=60):
    """Runs bench/<script> --smoke from outside the repository; its output, once it exited 0. A run
    that outlives `timeout` gets SIGTERM, on which each script stops its servers and removes its files."""
    process = subprocess.Popen([sys.executable, str(BENCH / script), "--smoke", *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=ROOT.parent)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.terminate()
        out, err = process.communicate(timeout=60)
        pytest.fail(f"{script} --smoke still ran after {timeout} s\n{out[-3000:]}\n{err[-3000:]}")
    assert process.returncode == 0, f"exit {process.returncode}\n{out[-3000:]}\n{err[-3000:]}"
    return out, err


def figure(output, label):
    """The figures of the report line that starts with `label`."""
    match = re.search(rf"^ *{re.escape(label)} +(.+)$", output, re.M)
    assert match, f"no line {label!r} in:\n{output}"
    return " ".join(match.group(1).split())


@own_sqlite
def test_ingest_stores_every_span_it_sends_and_reports_every_figure():
    out, err = smoke("ingest.py", timeout=120)

    assert "msgtrace ingest: 300 spans, protobuf, 100 spans/request (3 requests" in out
    assert "30% of agent calls msgflux-shaped, stitching both" in out
    assert figure(out, "spans sent / stored") == "300 / 300 rejected 0, LOST 0"
    assert figure(out, "HTTP status") == "200: 3 3 of 3 requests sent"
    assert re.fullmatch(r"\d+\.\d\d target >= 0\.5", figure(out, "ratio msgtrace / ceiling"))
    for label in ("msgtrace stored spans/s", "ceiling spans/s", "decode-only spans/s", "insert-only spans/s",
                  "msgtrace decode spans/s", "latency ms p50/p95/p99", "server peak RSS MB",
                  "CPU s server / client", "CPU ms/1k spans msgtrace"):
        assert re.match(r"[\d,.]+", figure(out, label)), label
    # The same load with run stitching on and off, both stored whole; the msgflux-shaped agent calls
    # (8 one-span traces each: 7 stitched under the agent) are stitched into runs only when it is on.
    assert re.match(r"[\d,]+ / [\d,]+ MSGTRACE_STITCH_RUNS=true / false", figure(out, "stitching on / off spans/s"))
    assert re.fullmatch(r"\d+\.\d\d target >= 0\.90", figure(out, "ratio stitching on / off"))
    stitched, traces, runs, off = re.fullmatch(
        r"([\d,]+) of ([\d,]+) into ([\d,]+) runs, [\d,]+ ambiguous \(stitching on\); off: ([\d,]+) stitched",
        figure(out, "traces stitched"),
    ).groups()
    assert int(runs) >= 1 and int(stitched) >= 7 and int(traces) > int(stitched)
    assert off == "0"
    # The same load with the ingest-health counters off: every request counted when on, none when off.
    assert "stitching both, counters both" in out
    assert re.match(r"[\d,]+ / [\d,]+ ingest-health counters on / off", figure(out, "counters on / off spans/s"))
    assert re.fullmatch(r"\d+\.\d\d target >= 0\.95", figure(out, "ratio counters on / off"))
    assert figure(out, "requests counted") == "3 / 0 by the counters on / off, of 3 / 3 sent"
    assert "WARNING" not in out and "requests failed" not in err


@own_sqlite
def test_query_measures_every_query_at_both_sizes_with_its_plan():
    out, _ = smoke("query.py")

    assert "store 100: 100 traces, 1,000 spans" in out
    assert "store 200: 200 traces, 2,000 spans" in out
    assert re.search(r"^query +100 median ms \(p95\) +200 median ms \(p95\) +ratio +min", out, re.M)
    for row in ("list: API", "list: API include_total=false", "list: page", "list: count", "workflow: API",
                "duration: API", "compound q: API", "detail: API", "detail: query", "stats 24h: API",
                "stats 24h: query", "heatmap 24h: API", "heatmap 24h: query", "heatmap 24h: page", "usage 24h: API",
                "usage 24h: query", "flows 24h: API", "flows 24h: query", "flows 24h: page",
                "sessions 24h: API", "sessions 24h: query", "session: API", "session: page", "attribute q: API",
                "model: API", "attribute q, no match: page"):
        assert re.search(rf"^{re.escape(row)} +[\d.,]+ \([\d.,]+\) +[\d.,]+ \([\d.,]+\) +[\d.]+x ", out, re.M), row
    assert "\nQuery plans at 200 (sqlite):\n" in out and "\nWhy:\n" in out
    assert "total time" in out


@own_sqlite
def test_trace_page_renders_every_page_of_both_traces_in_a_few_queries():
    out, _ = smoke("trace_page.py", timeout=180)  # the PDF report of the bigger trace takes seconds

    assert "seeded 1,401 spans" in out
    assert "\n200-span trace 5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a\n" in out
    lines = re.findall(r"^  (\S.*?) +[\d.]+ ms median +[\d.]+ ms max +[\d.]+ KiB +(\d+) rows \( *(\d+) closed\) +(\d+) "
                       r"queries$", out, re.M)
    assert [name for name, *_ in lines] == [
        "detail page (timeline)", "tree view (page)", "tree tab (HTMX fragment)", "span panel (HTMX fragment)",
        "detail page (timeline)", "tree view (page)", "tree tab (HTMX fragment)", "closed subtree (fragment)",
        "span panel (HTMX fragment)",
    ]
    assert [int(rows) for _, rows, _, _ in lines[:3]] == [200, 200, 200]  # every span of the small trace drawn
    assert all(int(queries) <= 4 for *_, queries in lines)
    flames = re.findall(r"^  (flame \S.*?) +[\d.]+ ms median +[\d.]+ ms max +[\d.]+ KiB +(\d+) boxes +(\d+) queries$",
                        out, re.M)
    assert [name for name, *_ in flames] == ["flame graph (page)", "flame tab, self time (HTMX)"] * 2
    assert all(0 < int(boxes) <= 1200 and int(queries) <= 4 for _, boxes, queries in flames)
    pdfs = re.findall(r"^  PDF report +[\d.]+ ms median +[\d.]+ ms max +([\d.]+) KiB +(\d+) queries$", out, re.M)
    assert len(pdfs) == 2  # one per trace
    assert all(float(size) > 10 and int(queries) <= 6 for size, queries in pdfs)


def test_the_load_generator_builds_and_sends_every_span(server):
    out, err = smoke("otlp_load.py", "--url", f"{server.url}/v1/traces")

    assert "built 4 requests / 200 spans" in err
    assert re.search(r"^200 spans accepted in [\d.]+s -> [\d.]+ spans/s, [\d.]+ req/s \| batch=50 conc=2 fmt=protobuf "
                     r"\| latency ms p50=[\d.]+ p95=[\d.]+ p99=[\d.]+ max=[\d.]+ \| errors=0 ", out, re.M), out
    assert server.scalar("SELECT COUNT(*) FROM traces_span") == 200


@own_sqlite
def test_live_measures_idle_viewers_their_delay_and_what_they_take_from_ingest():
    out, err = smoke("live.py", timeout=180)

    assert "msgtrace live: 5 viewers, 1 gthread workers x 8 threads, ingest 400 spans in 100-span requests" in out
    assert re.fullmatch(r"[\d.]+ \d+ polls in 3 s, (\d+) answered 304 \(\d+ reconnections in all\)", figure(out, "idle server CPU s/min"))
    polls, not_modified = re.search(r"(\d+) polls in 3 s, (\d+) answered 304", out).groups()
    assert int(polls) >= 5 and not_modified == polls  # nothing changed: every idle poll was a 304
    assert re.fullmatch(r"[\d.]+ / [\d.]+ / [\d.]+ ingest answer -> row in a poll answer, 10 of 10 \(viewer, trace\), "
                        r"0 missed", figure(out, "delay s p50/p95/max"))
    # Four slices of one request each: viewers polling during the first and the last, paused in between.
    assert re.fullmatch(r"[\d,]+ 200 spans accepted in 2 slices, [\d.]+ s", figure(out, "ingest spans/s viewers paused"))
    assert re.fullmatch(r"[\d,]+ 200 spans accepted in 2 slices, [\d.]+ s, \d+ polls meanwhile",
                        figure(out, "ingest spans/s 5 viewers"))
    assert figure(out, "spans sent / stored") == "400 / 400 by the ingest load, both sides"
    assert re.fullmatch(r"\d+\.\d\d target >= 0\.90", figure(out, "ratio viewers / none"))
    assert "Traceback" not in err


@own_sqlite
def test_alerts_measures_every_rule_at_both_sizes_on_an_index():
    out, _ = smoke("alert_rules.py")
    assert "store 100: 100 traces, 300 spans" in out and "store 200: 200 traces, 600 spans" in out
    for rule in ("error rate, workflow, 10 min", "count, all traces, 10 min", "p95 duration, 10 min", "cost, 1 h",
                 "tokens, workflow, 24 h", "error rate, compound q, 24 h", "per trace, workflow AND error"):
        assert re.fullmatch(r"(\S+ ms ){4}\S+x \d+ / \d+", figure(out, rule)), figure(out, rule)
        assert "USING" in figure(out, f"{rule}:") and "SCAN" not in figure(out, f"{rule}:")


def test_no_bench_script_shadows_a_package_of_msgtrace():
    """The bench scripts put bench/ first on sys.path and set Django up: a script named like an app
    (bench/alerts.py beside the alerts app) would be imported in its place."""
    packages = {path.parent.name for path in ROOT.glob("*/__init__.py")}
    assert {"traces", "alerts", "ui"} <= packages
    assert sorted(path.stem for path in BENCH.glob("*.py") if path.stem in packages) == []
