#!/usr/bin/env python3
"""Trace page benchmark: how fast msgtrace serves the page of a big trace, and how much it sends.

Seeds a fresh SQLite database in a temp dir (migrate, then traces.otlp.decode + traces.store.store
in this process, exactly what the ingest endpoint runs) with:

- a generated 5,000-span agent run: a workflow root, 40 agent steps, and under each step rounds of
  an LLM call (with a prompt and a completion as JSON messages, ~1.5 KB of attributes) and a tool
  call that runs a retriever and an embedding; every 40th tool fails with an exception event;
- the 1,201-span trace msgtrace-sdk sent in three requests (tests/corpus/msgtrace-sdk/009-011.bin).

Then, through django.test.Client (the whole Django stack, no network), for each trace: the detail
page (timeline), the tree view as the page and as the HTMX fragment the Tree tab swaps in, the
flame graph as the page and as the fragment its measure switch swaps in (with the boxes it draws),
the fragment of a subtree the page left closed, one span's panel, and the PDF report (at most three
times: it renders in seconds, summarized past reports.report.SPAN_LIMIT spans). Each is requested --repeat times
after a warm-up; the median and the slowest time are printed with the HTML size, the number of rows
drawn, and the number of SQL queries (which must not grow with the size of the trace).

Run from the repository (about 20 s):

    .venv/bin/python bench/trace_page.py
    .venv/bin/python bench/trace_page.py --spans 20000 --repeat 5
    .venv/bin/python bench/trace_page.py --smoke   # every page once, in a few seconds

The temp dir is removed at the end.
"""

import argparse
import os
import re
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CORPUS = ROOT / "tests" / "corpus"
T0 = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
MS = 1_000_000


PDF_REPEAT = 3
# --smoke: a small generated trace, one timed request per page; the figures mean nothing.
SMOKE = {"spans": 200, "repeat": 1}


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spans", type=int, default=5000, help="spans in the generated trace (default 5000)")
    parser.add_argument("--repeat", type=int, default=10, help="timed requests per page (default 10)")
    parser.add_argument("--smoke", action="store_true",
                        help=f"a check that every page still renders, in seconds: --spans {SMOKE['spans']} "
                             f"--repeat {SMOKE['repeat']}")
    args = parser.parse_args(argv)
    if args.smoke:  # the smoke sizes replace the defaults; options given still win
        parser.set_defaults(**SMOKE)
        args = parser.parse_args(argv)
    return args


# --- the generated trace ---------------------------------------------------------------------------


def agent_run(total, trace_id=b"\x5a" * 16):
    """An ExportTraceServiceRequest holding one agent run of `total` spans (see the module docstring)."""
    import json

    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
    from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

    def kv(attributes):
        result = []
        for key, value in attributes.items():
            if isinstance(value, bool):
                any_value = AnyValue(bool_value=value)
            elif isinstance(value, int):
                any_value = AnyValue(int_value=value)
            elif isinstance(value, float):
                any_value = AnyValue(double_value=value)
            else:
                any_value = AnyValue(string_value=str(value))
            result.append(KeyValue(key=key, value=any_value))
        return result

    spans = []
    counter = iter(range(1, 10**9))

    def add(parent, name, start_ms, duration_ms, attributes, error=None):
        span = Span(trace_id=trace_id, span_id=next(counter).to_bytes(8, "big"), name=name,
                    kind=Span.SPAN_KIND_INTERNAL, start_time_unix_nano=T0 + int(start_ms * MS),
                    end_time_unix_nano=T0 + int((start_ms + duration_ms) * MS))
        if parent is not None:
            span.parent_span_id = parent.span_id
        span.attributes.extend(kv(attributes))
        if error:
            span.status.code = Status.STATUS_CODE_ERROR
            span.status.message = error
            span.events.add(name="exception", time_unix_nano=span.end_time_unix_nano - MS, attributes=kv({
                "exception.type": "TimeoutError", "exception.message": error,
                "exception.stacktrace": "Traceback (most recent call last):\n  File \"app.py\", line 12, in search\n"
                                        f"TimeoutError: {error}\n"}))
        spans.append(span)
        return span

    steps = 40
    rounds = max(1, (total - 1 - steps) // (steps * 4))
    duration = steps * rounds * 60.0
    root = add(None, "research_flow", 0, duration + 10, {"span.type": "flow", "workflow.name": "research_flow",
                                                         "user.id": "user_1", "session.id": "session_1"})
    prompt = json.dumps([
        {"role": "system", "content": "You are a careful research agent. " * 12},
        {"role": "user", "content": "Find the three most cited papers on span sampling. " * 6},
    ])
    completion = json.dumps([{"role": "assistant", "content": "Calling the search tool. " * 10}])
    at = 5.0
    for step in range(steps):
        agent = add(root, f"step_{step:02d}", at, rounds * 60.0 - 2,
                    {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "researcher"})
        for turn in range(rounds):
            if len(spans) + 4 > total:
                break
            start = at + turn * 60.0
            add(agent, "chat gpt-4o-mini", start + 1, 30, {
                "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.request.temperature": 0.2,
                "gen_ai.usage.input_tokens": 850 + turn, "gen_ai.usage.output_tokens": 120,
                "gen_ai.usage.cost.input_tokens": 0.0001275, "gen_ai.usage.cost.output_tokens": 0.000072,
                "gen_ai.input.messages": prompt, "gen_ai.output.messages": completion})
            failing = len(spans) % 40 == 3
            tool = add(agent, "search_papers", start + 32, 26, {
                "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search_papers",
                "gen_ai.tool.call.arguments": '{"query": "span sampling", "limit": 3}'},
                error="search backend timed out" if failing else None)
            add(tool, "retrieve papers", start + 33, 14, {"openinference.span.kind": "RETRIEVER"})
            add(tool, "embeddings text-embedding-3-small", start + 48, 6, {
                "gen_ai.operation.name": "embeddings", "gen_ai.request.model": "text-embedding-3-small",
                "gen_ai.usage.input_tokens": 12})
        at += rounds * 60.0
    while len(spans) < total:  # top up to exactly `total` with short LLM calls under the last step
        add(agent, "chat gpt-4o-mini", at - 5, 1,
            {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini"})

    message = ExportTraceServiceRequest()
    resource_spans = message.resource_spans.add()
    resource_spans.resource.attributes.extend(kv({"service.name": "research-agent"}))
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "bench"
    scope_spans.spans.extend(spans)
    return message.SerializeToString(), trace_id.hex()


# --- measuring --------------------------------------------------------------------------------------


def measure(client, url, repeat, **headers):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    response = client.get(url, **headers)  # warm-up (and the figures that do not vary)
    assert response.status_code == 200, (url, response.status_code)
    with CaptureQueriesContext(connection) as captured:
        client.get(url, **headers)
    queries = len(captured)  # now: the next request empties the log it reads
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        client.get(url, **headers)
        times.append((time.perf_counter() - started) * 1000)
    html = response.content
    return {
        "median_ms": statistics.median(times),
        "max_ms": max(times),
        "bytes": len(html),
        "rows": len(re.findall(rb'class="row[ "]', html)),
        "closed": html.count(b"data-load="),
        "boxes": html.count(b'<svg class="fb '),
        "queries": queries,
    }


def closed_subtree_url(html):
    match = re.search(rb'data-load="([^"]+)"', html)
    return match.group(1).decode().replace("&amp;", "&") if match else None


def report(label, figures):
    print(f"  {label:<28} {figures['median_ms']:8.1f} ms median {figures['max_ms']:8.1f} ms max "
          f"{figures['bytes'] / 1024:8.1f} KiB {figures['rows']:5d} rows ({figures['closed']:3d} closed) "
          f"{figures['queries']:2d} queries")


def report_flame(label, figures):
    print(f"  {label:<28} {figures['median_ms']:8.1f} ms median {figures['max_ms']:8.1f} ms max "
          f"{figures['bytes'] / 1024:8.1f} KiB {figures['boxes']:5d} boxes {figures['queries']:2d} queries")


def report_pdf(figures):
    print(f"  {'PDF report':<28} {figures['median_ms']:8.1f} ms median {figures['max_ms']:8.1f} ms max "
          f"{figures['bytes'] / 1024:8.1f} KiB {figures['queries']:2d} queries")


def bench_trace(client, trace_id, spans, repeat):
    from traces.models import Span

    page = f"/traces/{trace_id}"
    print(f"\n{spans:,}-span trace {trace_id}")
    timeline = measure(client, page, repeat)
    report("detail page (timeline)", timeline)
    report("tree view (page)", measure(client, page + "?view=tree", repeat))
    report("tree tab (HTMX fragment)", measure(client, page + "?view=tree", repeat, HTTP_HX_REQUEST="true"))
    # The flame graph lays out every span and the critical path walks them all: what they add is the
    # difference from the timeline's time.
    report_flame("flame graph (page)", measure(client, page + "?view=flame", repeat))
    report_flame("flame tab, self time (HTMX)",
                 measure(client, page + "?view=flame&measure=self", repeat, HTTP_HX_REQUEST="true"))
    subtree = closed_subtree_url(client.get(page).content)
    if subtree:
        report("closed subtree (fragment)", measure(client, subtree, repeat, HTTP_HX_REQUEST="true"))
    span_id = Span.objects.filter(trace__trace_id=trace_id, category="llm").values_list("span_id", flat=True).first()
    report("span panel (HTMX fragment)", measure(client, f"{page}/spans/{span_id}", repeat, HTTP_HX_REQUEST="true"))
    # The PDF takes seconds, not milliseconds: a few renders tell its time well enough.
    report_pdf(measure(client, f"{page}/report.pdf", min(repeat, PDF_REPEAT)))


def main(argv=None):
    args = parse_args(argv)
    # SIGTERM (a timeout, say) ends the run through the finally below, which removes the temp dir.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    workdir = Path(tempfile.mkdtemp(prefix="msgtrace-bench-ui-"))
    try:
        os.environ.update(MSGTRACE_DB_PATH=str(workdir / "db.sqlite3"), MSGTRACE_LOG_LEVEL="WARNING",
                          MSGTRACE_SQLITE_SYNCHRONOUS="NORMAL", DJANGO_SETTINGS_MODULE="msgtrace_server.settings")
        # django.test.Client asks for the host "testserver", which msgtrace does not serve by default.
        os.environ["MSGTRACE_ALLOWED_HOSTS"] = "testserver"
        os.environ["MSGTRACE_AUTH"] = "off"  # what is measured is the page, not a session lookup
        os.environ.pop("DATABASE_URL", None)
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command
        from django.test import Client

        from traces import otlp
        from traces.store import store

        # Pages render straight from static/: no collectstatic manifest in a temp database's run.
        settings.STORAGES = settings.STORAGES | {
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
        }
        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        body, big_trace = agent_run(args.spans)
        store(otlp.decode(body, otlp.PROTOBUF, settings.MSGTRACE_MAX_ATTRIBUTE_BYTES))
        for name in ("009.bin", "010.bin", "011.bin"):
            data = (CORPUS / "msgtrace-sdk" / name).read_bytes()
            store(otlp.decode(data, otlp.PROTOBUF, settings.MSGTRACE_MAX_ATTRIBUTE_BYTES))
        print(f"seeded {args.spans + 1201:,} spans in {time.perf_counter() - started:.1f} s ({workdir})")
        if args.smoke:
            print("(--smoke: every page once on a small trace; the times measure nothing)")

        from traces.models import Trace

        client = Client()
        bench_trace(client, big_trace, args.spans, args.repeat)
        corpus_trace = Trace.objects.get(span_count=1201).trace_id
        bench_trace(client, corpus_trace, 1201, args.repeat)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
