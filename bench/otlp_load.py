#!/usr/bin/env python3
# Seeded OTLP/HTTP load generator: the same seed always yields the same traces and request
# bodies. Copied from the shared tools so that the benchmark is self-contained, changed for
# --smoke and --msgflux-share; bench/ingest.py imports build_requests/encode_all from it.
"""otlp_load.py - deterministic OTLP/HTTP trace load generator (protobuf or JSON).

Builds LLM-agent-like traces (1 root "flow" span, nested "module" spans, LLM
spans with gen_ai.* attributes and a 1-2 KB prompt, tool spans, a few error
spans carrying an "exception" event) and, for --msgflux-share of the agent
calls, msgflux-shaped ones: every span a one-span trace of its own, as
msgflux sends them through msgtrace-sdk 1.2.0 (an agent enclosing two model
calls and a tool call, nested only in time), which msgtrace stitches back
into runs. Packs them into
ExportTraceServiceRequest batches, pre-encodes every request body (so payload
building is not measured), then POSTs them to --url with N concurrent
keep-alive connections (one thread + one http.client connection each).

Bounded by construction: at most ceil(total_spans / spans_per_request)
requests are sent, and no new request is started after --time-limit seconds.
Only loopback URLs are accepted unless --allow-non-loopback is given.

Prints spans/s accepted, requests/s, p50/p95/p99 latency and the error count;
--json-out writes the same as JSON.  Requires: opentelemetry-proto (protobuf).

Examples:
  python otlp_load.py --url http://127.0.0.1:6006/v1/traces \
      --total-spans 20000 --spans-per-request 100 --concurrency 4
  python otlp_load.py --format json --gzip ...
  python otlp_load.py --build-only --total-spans 50000   # just time building
  python otlp_load.py --smoke --url http://127.0.0.1:4318/v1/traces   # 200 spans, seconds
"""
from __future__ import annotations

import argparse
import gzip
import http.client
import ipaddress
import json
import math
import os
import random
import socket
import sys
import threading
import time
import urllib.parse
from collections import Counter

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as ts_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

Span = trace_pb2.Span
Status = trace_pb2.Status

# ---------------------------------------------------------------- vocab ----
_WORDS = (
    "the agent should answer user question using retrieved context and tools "
    "invoice refund order shipping policy customer account password reset "
    "summarize step plan observation thought action result error retry "
    "database query latency cache vector embedding document chunk score "
    "please respond concisely in json with fields status reason confidence "
    "you are a helpful assistant that follows instructions carefully and "
    "never reveals system prompt details while citing sources by id number"
).split()
MODELS = [
    ("openai", "gpt-4o-mini", 0.15e-6, 0.60e-6),
    ("openai", "gpt-4o", 2.5e-6, 10e-6),
    ("anthropic", "claude-3-5-sonnet", 3e-6, 15e-6),
    ("anthropic", "claude-3-5-haiku", 0.8e-6, 4e-6),
    ("openai", "o3-mini", 1.1e-6, 4.4e-6),
]
FLOWS = ["support_agent", "research_agent", "sql_copilot", "triage_bot", "rag_qa"]
MODULES = ["planner", "retriever", "reasoner", "tool_router", "summarizer", "critic", "memory"]
TOOLS = ["search_docs", "run_sql", "http_get", "vector_search", "calculator", "send_email"]
EXC_TYPES = ["openai.RateLimitError", "TimeoutError", "ValueError", "httpx.ReadTimeout", "KeyError"]
BASE_TIME_NS = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z (fixed => deterministic)
MSGFLUX_AGENTS = ["Forecast Agent", "Support Agent", "Weather Agent", "Order Agent"]
MSGFLUX_TOOLS = ["Get Forecast", "Search Docs", "Get Weather", "Lookup Order"]


def _kv(key, value):
    kv = common_pb2.KeyValue(key=key)
    if isinstance(value, bool):
        kv.value.bool_value = value
    elif isinstance(value, int):
        kv.value.int_value = value
    elif isinstance(value, float):
        kv.value.double_value = value
    elif isinstance(value, (list, tuple)):
        kv.value.array_value.values.extend(common_pb2.AnyValue(string_value=str(v)) for v in value)
    else:
        kv.value.string_value = str(value)
    return kv


def _attrs(msg, d):
    msg.attributes.extend(_kv(k, v) for k, v in d.items())


class TraceFactory:
    """Deterministic generator of LLM-agent-like traces (lists of Span protos)."""

    def __init__(self, seed=42, spans_per_trace=20, error_rate=0.05,
                 prompt_bytes=(1000, 2000), completion_bytes=(200, 800),
                 services=4, openinference=True, base_time_ns=BASE_TIME_NS, msgflux_share=0.0,
                 msgflux_processes=4):
        self.rng = random.Random(seed)
        self.msgflux_share = msgflux_share
        self.spt = max(1, spans_per_trace)
        self.error_rate = error_rate
        self.prompt_bytes = prompt_bytes
        self.completion_bytes = completion_bytes
        self.openinference = openinference
        self.t = base_time_ns
        r = self.rng
        # text pool: distinct paragraphs, sliced per span (fast, still varied)
        self.pool = [" ".join(r.choice(_WORDS) for _ in range(400)) for _ in range(64)]
        self.system_prompts = ["SYSTEM: " + " ".join(r.choice(_WORDS) for _ in range(60)) for _ in range(8)]
        self.resources = []
        self.services = max(1, services)
        for i in range(self.services):
            self.resources.append({
                "service.name": f"agent-svc-{i}",
                "service.version": f"1.{i}.{r.randint(0, 9)}",
                "deployment.environment": "bench",
                "host.name": f"worker-{i:02d}",
                "process.pid": 1000 + i,
                "telemetry.sdk.language": "python",
                "telemetry.sdk.name": "opentelemetry",
                "telemetry.sdk.version": "1.27.0",
            })
        # msgflux processes: resources of their own (the attributes msgtrace-sdk 1.2.0 sends), each
        # running its agent calls one after another on a clock of its own.
        self.msgflux_resources = []
        for i in range(max(1, msgflux_processes) if msgflux_share > 0 else 0):
            self.msgflux_resources.append(len(self.resources))
            self.resources.append({
                "service.name": f"msgflux-app-{i}", "platform.system": "Linux",
                "platform.release": f"6.8.0-{i}", "platform.machine": "x86_64", "python.version": "3.11.7",
            })
        self.msgflux_clock = {index: base_time_ns for index in self.msgflux_resources}

    def _text(self, lo_hi):
        r = self.rng
        n = r.randint(*lo_hi)
        p = self.pool[r.randrange(len(self.pool))]
        off = r.randrange(max(1, len(p) - n)) if len(p) > n else 0
        s = p[off:off + n]
        while len(s) < n:
            s += " " + self.pool[r.randrange(len(self.pool))]
        return s[:n]

    def _id(self, nbytes):
        return self.rng.getrandbits(nbytes * 8).to_bytes(nbytes, "big")

    def _tree(self):
        """Return (kinds, parent_index) lists; index 0 is the root flow span."""
        r = self.rng
        kinds, parent = ["flow"], [-1]
        modules = []
        for i in range(1, self.spt):
            if not modules or (r.random() < 0.25 and self.spt - i > 2):
                p = r.choice([0] + modules[-3:])  # allow nesting of modules
                kinds.append("module"); parent.append(p); modules.append(i)
            else:
                p = r.choice(modules[-2:])
                kinds.append("llm" if r.random() < 0.6 else "tool"); parent.append(p)
        return kinds, parent

    def msgflux_call(self):
        """One msgflux agent call as msgtrace-sdk 1.2.0 exports it: 8 one-span traces (no parent span
        ids) nested only in time: Agent > Generator > openai.chat, Tool Library > scatter_gather >
        tool, Generator > openai.chat. Returns (resource_index, [Span]) in end order."""
        r = self.rng
        resource = r.choice(self.msgflux_resources)
        ms = 1_000_000
        t0 = max(self.msgflux_clock[resource], self.t) + r.randint(1, 50) * ms
        spans = []

        def span(name, start, end, kind=Span.SPAN_KIND_INTERNAL, attributes=None):
            s = Span(trace_id=self._id(16), span_id=self._id(8), name=name, kind=kind,
                     start_time_unix_nano=start, end_time_unix_nano=end)
            _attrs(s, attributes or {})
            spans.append(s)

        def model_call(start):
            """Generator > openai.chat (OpenLLMetry: tokens, no cost); returns the Generator's end."""
            chat_start = start + r.randint(200, 600) * 1000
            chat_end = chat_start + r.randint(300, 4000) * ms
            prompt, completion = self._text((300, 900)), self._text(self.completion_bytes)
            itok, otok = len(prompt) // 4, len(completion) // 4
            span("openai.chat", chat_start, chat_end, Span.SPAN_KIND_CLIENT, {
                "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o-mini", "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
                "gen_ai.response.id": f"chatcmpl-{r.getrandbits(64):016x}",
                "gen_ai.usage.input_tokens": itok, "gen_ai.usage.output_tokens": otok,
                "gen_ai.usage.total_tokens": itok + otok, "gen_ai.input.messages": prompt,
                "gen_ai.output.messages": completion})
            end = chat_end + r.randint(50, 500) * 1000
            span("Generator", start, end, attributes={"span.type": "flow"})
            return end

        agent = r.randrange(len(MSGFLUX_AGENTS))
        first = model_call(t0 + r.randint(3, 6) * ms)
        library_start = first + r.randint(100, 300) * 1000
        gather_start = library_start + r.randint(50, 100) * 1000
        tool_start = gather_start + r.randint(300, 1300) * 1000
        tool_end = tool_start + r.randint(5, 300) * ms
        span(MSGFLUX_TOOLS[agent], tool_start, tool_end, attributes={"span.type": "flow"})
        gather_end = tool_end + r.randint(50, 300) * 1000
        span("scatter_gather", gather_start, gather_end)
        library_end = gather_end + r.randint(50, 100) * 1000
        span(MSGFLUX_AGENTS[agent].split()[0].capitalize() + "agent Tool Library", library_start, library_end,
             attributes={"span.type": "flow"})
        second = model_call(library_end + r.randint(2, 5) * ms)
        end = second + r.randint(50, 100) * 1000
        span(MSGFLUX_AGENTS[agent], t0, end, attributes={"span.type": "flow"})
        self.msgflux_clock[resource] = end
        spans.sort(key=lambda s: s.end_time_unix_nano)  # exported as they end: the agent last
        return resource, spans

    def trace(self):
        """Build one trace; returns (resource_index, [Span]) in end order (children first). With
        --msgflux-share, that share of the calls is a msgflux agent call of one-span traces."""
        r = self.rng
        if self.msgflux_resources and r.random() < self.msgflux_share:
            return self.msgflux_call()
        kinds, parent = self._tree()
        n = len(kinds)
        children = [[] for _ in range(n)]
        for i in range(1, n):
            children[parent[i]].append(i)
        trace_id = self._id(16)
        span_ids = [self._id(8) for _ in range(n)]
        start = [0] * n
        end = [0] * n
        err = [False] * n

        def layout(i, t0):
            start[i] = t0
            if not children[i]:
                k = kinds[i]
                dur = r.randint(300, 4000) if k == "llm" else r.randint(5, 300)
                end[i] = t0 + dur * 1_000_000
                return end[i]
            t = t0 + 1_000_000
            for c in children[i]:
                t = layout(c, t) + r.randint(0, 3) * 1_000_000
            end[i] = t + 1_000_000
            return end[i]

        # iterative-safe depth: trees are shallow (modules nest <= spt/4)
        sys.setrecursionlimit(max(1000, n * 4))
        self.t += r.randint(1, 50) * 1_000_000
        layout(0, self.t)
        for i in range(n - 1, 0, -1):  # errors on leaves, sometimes propagated
            if not children[i] and r.random() < self.error_rate:
                err[i] = True
            if err[i] and r.random() < 0.5:
                err[parent[i]] = True

        flow = r.choice(FLOWS)
        session = f"sess-{r.randrange(10_000):05d}"
        user = f"user-{r.randrange(1000):04d}"
        spans = []
        for i in range(n):
            s = Span(trace_id=trace_id, span_id=span_ids[i],
                     start_time_unix_nano=start[i], end_time_unix_nano=end[i])
            if parent[i] >= 0:
                s.parent_span_id = span_ids[parent[i]]
            k = kinds[i]
            a = {}
            if k == "flow":
                s.name = f"flow {flow}"
                s.kind = Span.SPAN_KIND_SERVER
                a = {"msgtrace.flow.name": flow, "session.id": session, "user.id": user,
                     "input.value": self._text((150, 400)), "output.value": self._text((200, 600)),
                     "http.request.method": "POST", "url.path": f"/api/{flow}"}
                if self.openinference:
                    a["openinference.span.kind"] = "AGENT"
            elif k == "module":
                mod = r.choice(MODULES)
                s.name = f"module {mod}"
                s.kind = Span.SPAN_KIND_INTERNAL
                a = {"msgtrace.module.name": mod, "msgtrace.flow.name": flow,
                     "code.function": f"{mod}.forward", "code.namespace": f"agents.{flow}"}
                if self.openinference:
                    a["openinference.span.kind"] = "CHAIN"
            elif k == "llm":
                system, model, pin, pout = r.choice(MODELS)
                prompt = r.choice(self.system_prompts) + "\nUSER: " + self._text(self.prompt_bytes)
                completion = self._text(self.completion_bytes)
                itok, otok = len(prompt) // 4, len(completion) // 4
                s.name = f"chat {model}"
                s.kind = Span.SPAN_KIND_CLIENT
                a = {"gen_ai.system": system, "gen_ai.operation.name": "chat",
                     "gen_ai.request.model": model, "gen_ai.response.model": model + "-2024-08-06",
                     "gen_ai.request.temperature": round(r.random(), 2),
                     "gen_ai.request.max_tokens": 1024,
                     "gen_ai.response.id": f"chatcmpl-{r.getrandbits(64):016x}",
                     "gen_ai.response.finish_reasons": ["stop"],
                     "gen_ai.usage.input_tokens": itok, "gen_ai.usage.output_tokens": otok,
                     "gen_ai.usage.cost.input": round(itok * pin, 8),
                     "gen_ai.usage.cost.output": round(otok * pout, 8),
                     "gen_ai.usage.cost.total": round(itok * pin + otok * pout, 8),
                     "gen_ai.prompt": prompt, "gen_ai.completion": completion,
                     "server.address": f"api.{system}.com", "server.port": 443}
                if self.openinference:
                    a.update({"openinference.span.kind": "LLM", "llm.model_name": model,
                              "llm.provider": system, "llm.token_count.prompt": itok,
                              "llm.token_count.completion": otok,
                              "llm.token_count.total": itok + otok})
            else:  # tool
                tool = r.choice(TOOLS)
                s.name = f"tool {tool}"
                s.kind = Span.SPAN_KIND_INTERNAL
                a = {"tool.name": tool, "msgtrace.flow.name": flow,
                     "input.value": self._text((50, 200)), "output.value": self._text((100, 400)),
                     "db.system": "postgresql" if tool == "run_sql" else "none"}
                if self.openinference:
                    a["openinference.span.kind"] = "TOOL"
            _attrs(s, a)
            if err[i]:
                s.status.code = Status.STATUS_CODE_ERROR
                et = r.choice(EXC_TYPES)
                s.status.message = f"{et}: simulated failure"
                if not children[i]:
                    ev = s.events.add(name="exception", time_unix_nano=end[i] - 1000)
                    _attrs(ev, {"exception.type": et,
                                "exception.message": "simulated failure " + self._text((20, 80)),
                                "exception.stacktrace": "Traceback (most recent call last):\n"
                                + "".join(f'  File "/app/agents/{m}.py", line {r.randint(1, 400)}, in {m}\n'
                                          for m in r.sample(MODULES, 4))
                                + f"{et}: simulated failure",
                                "exception.escaped": False})
            else:
                s.status.code = Status.STATUS_CODE_OK if k == "flow" else Status.STATUS_CODE_UNSET
            spans.append(s)
        # BatchSpanProcessor emits in end order => children before parents
        order = sorted(range(n), key=lambda j: (end[j], -j))
        return r.randrange(self.services), [spans[j] for j in order]


def build_requests(total_spans, spans_per_request, **factory_kw):
    """Yield (n_spans, ExportTraceServiceRequest) batches totalling total_spans spans."""
    f = TraceFactory(**factory_kw)
    pending = []  # (res_idx, span)
    produced = 0
    while produced < total_spans:
        ri, spans = f.trace()
        spans = spans[: total_spans - produced]
        produced += len(spans)
        pending.extend((ri, s) for s in spans)
        while len(pending) >= spans_per_request or (produced >= total_spans and pending):
            chunk, pending = pending[:spans_per_request], pending[spans_per_request:]
            req = ts_pb2.ExportTraceServiceRequest()
            by_res = {}
            for ri2, s in chunk:
                by_res.setdefault(ri2, []).append(s)
            for ri2, ss in sorted(by_res.items()):
                rs = req.resource_spans.add()
                _attrs(rs.resource, f.resources[ri2])
                ss_msg = rs.scope_spans.add()
                ss_msg.scope.name = "msgtrace.bench"
                ss_msg.scope.version = "0.1.0"
                ss_msg.spans.extend(ss)
            yield len(chunk), req


def to_otlp_json(req) -> bytes:
    """OTLP/JSON: camelCase fields, integer enums, hex trace/span ids."""
    d = json_format.MessageToDict(req, use_integers_for_enums=True)
    import base64
    for rs in d.get("resourceSpans", []):
        for ss in rs.get("scopeSpans", []):
            for sp in ss.get("spans", []):
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in sp:
                        sp[key] = base64.b64decode(sp[key]).hex()
                for ln in sp.get("links", []):
                    for key in ("traceId", "spanId"):
                        if key in ln:
                            ln[key] = base64.b64decode(ln[key]).hex()
    return json.dumps(d, separators=(",", ":")).encode()


def encode_all(args):
    fmt_json = args.format == "json"
    bodies = []
    raw_bytes = 0
    for n, req in build_requests(args.total_spans, args.spans_per_request,
                                 seed=args.seed, spans_per_trace=args.spans_per_trace,
                                 error_rate=args.error_rate,
                                 prompt_bytes=tuple(args.prompt_bytes),
                                 services=args.services, openinference=not args.no_openinference,
                                 msgflux_share=getattr(args, "msgflux_share", 0.0)):
        body = to_otlp_json(req) if fmt_json else req.SerializeToString()
        raw_bytes += len(body)
        if args.gzip:
            body = gzip.compress(body, compresslevel=args.gzip_level, mtime=0)
        bodies.append((n, body))
    return bodies, raw_bytes


# ---------------------------------------------------------------- sender ----
def _check_loopback(host, allow):
    if allow:
        return
    try:
        addrs = {ai[4][0] for ai in socket.getaddrinfo(host, None)}
    except socket.gaierror as e:
        sys.exit(f"cannot resolve {host}: {e}")
    for a in addrs:
        if not ipaddress.ip_address(a.split("%")[0]).is_loopback:
            sys.exit(f"refusing non-loopback target {host} ({a}); use --allow-non-loopback")


def pct(sorted_vals, p):
    if not sorted_vals:
        return float("nan")
    k = (len(sorted_vals) - 1) * p / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return sorted_vals[lo] + (sorted_vals[hi] - sorted_vals[lo]) * (k - lo)


RETRYABLE = {429, 502, 503, 504}  # as OTLP/HTTP exporters do


def run_load(args, bodies):
    u = urllib.parse.urlsplit(args.url)
    host, port = u.hostname, u.port or (443 if u.scheme == "https" else 80)
    path = u.path or "/v1/traces"
    _check_loopback(host, args.allow_non_loopback)
    headers = {"Content-Type": "application/json" if args.format == "json" else "application/x-protobuf",
               "Connection": "keep-alive"}
    if args.gzip:
        headers["Content-Encoding"] = "gzip"
    for h in args.header:
        k, _, v = h.partition(":")
        headers[k.strip()] = v.strip()

    lock = threading.Lock()
    next_idx = [0]
    deadline = time.monotonic() + args.time_limit
    results = []  # (latency_s, status, n_spans, rejected, last_attempt_s)
    errors = Counter()
    retries_done = [0]
    retry_reasons = Counter()

    def parse_rejected(resp_body, ctype):
        try:
            if "protobuf" in (ctype or ""):
                m = ts_pb2.ExportTraceServiceResponse()
                m.ParseFromString(resp_body)
                return m.partial_success.rejected_spans
            if "json" in (ctype or "") and resp_body:
                return int(json.loads(resp_body).get("partialSuccess", {}).get("rejectedSpans", 0))
        except Exception:
            pass
        return 0

    def worker():
        conn = None
        local = []
        while True:
            with lock:
                i = next_idx[0]
                if i >= len(bodies) or time.monotonic() >= deadline:
                    break
                next_idx[0] += 1
            n, body = bodies[i]
            t_req = time.perf_counter()
            attempt = 0
            while True:
                if conn is None:
                    conn = http.client.HTTPConnection(host, port, timeout=args.timeout)
                t0 = time.perf_counter()
                status, rej, retry_after = None, 0, None
                try:
                    conn.request("POST", path, body=body, headers=headers)
                    resp = conn.getresponse()
                    rb = resp.read()
                    status = resp.status
                    if 200 <= status < 300:
                        rej = parse_rejected(rb, resp.getheader("Content-Type"))
                    retry_after = resp.getheader("Retry-After")
                    if resp.will_close:
                        conn.close(); conn = None
                except Exception as e:  # count, reconnect, maybe retry
                    status = f"exc:{type(e).__name__}"
                    try:
                        conn.close()
                    except Exception:
                        pass
                    conn = None
                now = time.perf_counter()
                retryable = not isinstance(status, int) or status in RETRYABLE
                if (retryable and attempt < args.retries
                        and time.monotonic() < deadline):
                    attempt += 1
                    with lock:
                        retries_done[0] += 1
                        retry_reasons[str(status)] += 1
                    try:
                        delay = float(retry_after) if retry_after else 0.0
                    except ValueError:
                        delay = 0.0
                    delay = max(delay, min(args.backoff_max, args.backoff * (2 ** (attempt - 1))))
                    time.sleep(max(0.0, min(delay, deadline - time.monotonic())))
                    continue
                # (request latency incl. retries, status, spans, rejected, last-attempt latency)
                local.append((now - t_req, status, n, rej, now - t0))
                break
        if conn is not None:
            conn.close()
        with lock:
            results.extend(local)

    cpu0 = os.times()
    t_start = time.perf_counter()
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(args.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(args.time_limit + args.timeout + 5)
    elapsed = time.perf_counter() - t_start
    cpu1 = os.times()

    ok = [r for r in results if isinstance(r[1], int) and 200 <= r[1] < 300]
    for r in results:
        if not (isinstance(r[1], int) and 200 <= r[1] < 300):
            errors[str(r[1])] += 1
    lat = sorted(r[0] for r in ok)
    spans_ok = sum(r[2] - r[3] for r in ok)
    rejected = sum(r[3] for r in ok)
    out = {
        "url": args.url, "format": args.format, "gzip": bool(args.gzip),
        "spans_per_request": args.spans_per_request, "spans_per_trace": args.spans_per_trace,
        "concurrency": args.concurrency, "requests_planned": len(bodies),
        "requests_sent": len(results), "requests_ok": len(ok),
        "errors": sum(errors.values()), "error_breakdown": dict(errors),
        "spans_in_failed_requests": sum(r[2] for r in results if not (isinstance(r[1], int) and 200 <= r[1] < 300)),
        "retries": retries_done[0], "retry_reasons": dict(retry_reasons),
        "spans_accepted": spans_ok, "spans_rejected_partial_success": rejected,
        "elapsed_s": round(elapsed, 3),
        "spans_per_s": round(spans_ok / elapsed, 1) if elapsed else 0,
        "requests_per_s": round(len(ok) / elapsed, 1) if elapsed else 0,
        "latency_ms": {"p50": round(pct(lat, 50) * 1e3, 2), "p95": round(pct(lat, 95) * 1e3, 2),
                       "p99": round(pct(lat, 99) * 1e3, 2), "max": round((lat[-1] if lat else 0) * 1e3, 2),
                       "mean": round(sum(lat) / len(lat) * 1e3, 2) if lat else None},
        "client_cpu_s": round((cpu1.user - cpu0.user) + (cpu1.system - cpu0.system), 2),
        "hit_time_limit": len(results) < len(bodies),
    }
    return out


# --smoke: a few small requests; the figures mean nothing, but every phase runs and reports.
SMOKE = {"total_spans": 200, "spans_per_request": 50, "spans_per_trace": 10, "concurrency": 2, "time_limit": 30.0}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="http://127.0.0.1:6006/v1/traces")
    ap.add_argument("--format", choices=["protobuf", "json"], default="protobuf")
    ap.add_argument("--gzip", action="store_true", help="Content-Encoding: gzip bodies")
    ap.add_argument("--gzip-level", type=int, default=6)
    ap.add_argument("--total-spans", type=int, default=20000)
    ap.add_argument("--spans-per-request", type=int, default=100)
    ap.add_argument("--spans-per-trace", type=int, default=20)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--time-limit", type=float, default=120.0, help="stop starting requests after this many seconds")
    ap.add_argument("--timeout", type=float, default=30.0, help="per-request socket timeout (s)")
    ap.add_argument("--retries", type=int, default=0,
                    help="retry 429/502/503/504/connection errors up to N times with exp. backoff (like OTLP SDKs); default 0 = count as errors")
    ap.add_argument("--backoff", type=float, default=0.2, help="first retry delay (s), doubled per attempt")
    ap.add_argument("--backoff-max", type=float, default=5.0)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--error-rate", type=float, default=0.05, help="probability a leaf span errors")
    ap.add_argument("--prompt-bytes", type=int, nargs=2, default=[1000, 2000], metavar=("MIN", "MAX"))
    ap.add_argument("--services", type=int, default=4, help="distinct resources (service.name)")
    ap.add_argument("--no-openinference", action="store_true", help="omit openinference.* / llm.* attrs")
    ap.add_argument("--msgflux-share", type=float, default=0.3,
                    help="share of agent calls sent as msgflux does: 8 one-span traces nested only in time "
                         "(msgtrace stitches them into runs); default 0.3")
    ap.add_argument("--header", action="append", default=[], help="extra 'Name: value' header")
    ap.add_argument("--build-only", action="store_true", help="build+encode payloads, report, send nothing")
    ap.add_argument("--json-out", help="write result JSON here")
    ap.add_argument("--allow-non-loopback", action="store_true")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--smoke", action="store_true",
                    help="a check that building and sending still work, in seconds: " + ", ".join(
                        f"--{name.replace('_', '-')} {value}" for name, value in SMOKE.items()))
    args = ap.parse_args(argv)
    if args.smoke:  # the smoke sizes replace the defaults; options given still win
        ap.set_defaults(**SMOKE)
        args = ap.parse_args(argv)
    if args.total_spans <= 0 or args.spans_per_request <= 0 or args.concurrency <= 0:
        ap.error("counts must be positive")

    t0 = time.perf_counter()
    bodies, raw = encode_all(args)
    build_s = time.perf_counter() - t0
    wire = sum(len(b) for _, b in bodies)
    info = {"requests": len(bodies), "spans": sum(n for n, _ in bodies), "build_s": round(build_s, 2),
            "raw_bytes": raw, "wire_bytes": wire, "avg_wire_bytes_per_span": round(wire / max(1, args.total_spans), 1),
            "avg_raw_bytes_per_span": round(raw / max(1, args.total_spans), 1)}
    if not args.quiet:
        print(f"built {info['requests']} requests / {info['spans']} spans in {build_s:.2f}s; "
              f"raw {raw/1e6:.1f} MB ({info['avg_raw_bytes_per_span']} B/span), wire {wire/1e6:.1f} MB", file=sys.stderr)
    if args.build_only:
        out = {"build": info}
    else:
        out = run_load(args, bodies)
        out["build"] = info
        print(f"{out['spans_accepted']} spans accepted in {out['elapsed_s']}s -> {out['spans_per_s']} spans/s, "
              f"{out['requests_per_s']} req/s | batch={args.spans_per_request} conc={args.concurrency} "
              f"fmt={args.format}{'+gzip' if args.gzip else ''} | latency ms p50={out['latency_ms']['p50']} "
              f"p95={out['latency_ms']['p95']} p99={out['latency_ms']['p99']} max={out['latency_ms']['max']} | "
              f"errors={out['errors']} {out['error_breakdown'] or ''} retries={out['retries']} "
              f"rejected={out['spans_rejected_partial_success']} "
              f"| client_cpu={out['client_cpu_s']}s{' | HIT TIME LIMIT' if out['hit_time_limit'] else ''}")
    if args.json_out:
        with open(args.json_out, "w") as fh:
            json.dump(out, fh, indent=2)
    return out


if __name__ == "__main__":
    main()
