"""Demo data: varied, realistic agent traces for a newcomer's first look and for screenshots.

    from traces import demo
    demo.load()   # 60 traces that ended over the last 36 hours, into the configured database

Three services run five workflows, instrumented the way real applications are: msgtrace-sdk flow
spans at the root, OpenTelemetry GenAI chat, tool, agent and embedding spans beneath them,
OpenInference retriever and LLM spans in places, about one trace in ten failing (a tool timing out,
a provider's rate limit, a bad SQL column), and two long research runs, one of about 300 spans.

Ids and content depend on the seed only; `now` just moves the traces in time. So loading twice
stores nothing twice, and a seed always tells the same story.
"""

import json
import random
import time
from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple

from django.conf import settings
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from traces import otlp
from traces.store import store
from traces.timeframe import ns_from_datetime

MS = 1_000_000
SECOND = 1000 * MS
HOUR = 3600 * SECOND
WINDOW = 36 * HOUR

SDK = ("msgtrace.sdk", "1.2.0")
GENAI_OPENAI = ("opentelemetry.instrumentation.openai_v2", "2.1b0")
GENAI_ANTHROPIC = ("opentelemetry.instrumentation.anthropic", "0.40.2")
OPENINFERENCE = ("openinference.instrumentation.openai", "0.1.30")
LLAMA_INDEX = ("openinference.instrumentation.llama_index", "4.2.1")


class Model:
    """A model's provider, the dated name its API answers with, USD per million tokens, and speed."""

    def __init__(self, provider, response_name, input_price, output_price, first_token_ms, ms_per_token):
        self.provider, self.response_name = provider, response_name
        self.input_price, self.output_price = input_price / 1e6, output_price / 1e6
        self.first_token_ms, self.ms_per_token = first_token_ms, ms_per_token


MODELS = {
    "gpt-4o": Model("openai", "gpt-4o-2024-08-06", 2.50, 10.00, 450, 11),
    "gpt-4o-mini": Model("openai", "gpt-4o-mini-2024-07-18", 0.15, 0.60, 280, 6),
    "claude-3-5-sonnet": Model("anthropic", "claude-3-5-sonnet-20241022", 3.00, 15.00, 650, 14),
    "claude-3-5-haiku": Model("anthropic", "claude-3-5-haiku-20241022", 0.80, 4.00, 380, 7),
    "o3-mini": Model("openai", "o3-mini-2025-01-31", 1.10, 4.40, 1500, 9),
    "text-embedding-3-small": Model("openai", "text-embedding-3-small", 0.02, 0.0, 60, 0),
}


# --- content ---------------------------------------------------------------------------------

SUPPORT_SYSTEM = (
    "You are Ada, the support assistant of Northwind Outfitters. Answer in two or three friendly "
    "sentences, use the tools to look up orders and payments, never promise refunds over $200 "
    "without a human, and cite the help-center article you used."
)
SUPPORT_CASES = [
    {
        "question": "Where is my order A-10492? It was supposed to arrive on Tuesday.",
        "intent": "order_status",
        "article": ("kb-114", "Shipping delays", "Orders ship within 2 business days. Carrier delays of "
                    "1-3 days are common in peak season; the tracking link always has the latest estimate."),
        "tools": [("lookup_order", {"order_id": "A-10492"},
                   {"order_id": "A-10492", "status": "in_transit", "carrier": "UPS",
                    "tracking": "1Z999AA10123456784", "estimated_delivery": "Friday"})],
        "answer": "Your order A-10492 is on its way with UPS (tracking 1Z999AA10123456784). It is running "
                  "a little late and should arrive on Friday - sorry for the wait! (Help center: Shipping delays)",
    },
    {
        "question": "I was charged twice for my Pro subscription this month, can you fix that?",
        "intent": "billing",
        "article": ("kb-207", "Duplicate charges", "A duplicate charge is refunded in full to the original "
                    "payment method; refunds appear within 5-10 business days."),
        "tools": [("lookup_payments", {"customer_id": "cus_8Q2kD", "days": 40},
                   {"payments": [{"id": "pi_3Nx1", "amount": 19.0, "date": "2 days ago"},
                                 {"id": "pi_3Nx2", "amount": 19.0, "date": "2 days ago"}]}),
                  ("refund_payment", {"payment_id": "pi_3Nx2", "reason": "duplicate"},
                   {"refund_id": "re_77Ka", "amount": 19.0, "status": "pending"})],
        "answer": "You were indeed charged $19.00 twice. I've refunded the duplicate charge (refund re_77Ka); "
                  "it will reach your card within 5-10 business days. (Help center: Duplicate charges)",
    },
    {
        "question": "How do I reset my password? The reset email never arrives.",
        "intent": "account",
        "article": ("kb-031", "Password reset emails", "Reset emails come from no-reply@northwind.example "
                    "and can take 10 minutes. Check the spam folder, or ask support to resend."),
        "tools": [("resend_reset_email", {"email": "m.rossi@example.com"}, {"sent": True, "queued_ms": 240})],
        "answer": "I've just sent a new reset link to m.rossi@example.com. It comes from "
                  "no-reply@northwind.example and can take up to 10 minutes - please check your spam folder "
                  "too. (Help center: Password reset emails)",
    },
    {
        "question": "Can I change the shipping address on the order I placed an hour ago?",
        "intent": "order_change",
        "article": ("kb-118", "Changing an order", "Orders can be changed until they are packed, usually "
                    "within 3 hours of purchase."),
        "tools": [("lookup_order", {"order_id": "A-10577"},
                   {"order_id": "A-10577", "status": "processing", "packed": False}),
                  ("update_shipping_address", {"order_id": "A-10577", "address": "Via Roma 12, 20121 Milano"},
                   {"updated": True})],
        "answer": "Done! Order A-10577 hadn't been packed yet, so it will now ship to Via Roma 12, "
                  "20121 Milano. (Help center: Changing an order)",
    },
    {
        "question": "Do you ship to Canada, and how long does it take?",
        "intent": "shipping_info",
        "article": ("kb-120", "International shipping", "We ship to Canada in 5-8 business days; duties are "
                    "included at checkout."),
        "tools": [],
        "answer": "Yes, we ship to Canada! Delivery takes 5-8 business days and duties are already included "
                  "at checkout. (Help center: International shipping)",
    },
    {
        "question": "Please cancel my Pro plan at the end of this billing period.",
        "intent": "cancellation",
        "article": ("kb-305", "Cancelling a plan", "A cancelled plan stays active until the end of the "
                    "billing period; no further charges are made."),
        "tools": [("cancel_subscription", {"customer_id": "cus_4Lm9P", "at_period_end": True},
                   {"status": "cancel_scheduled", "active_until": "the 28th"})],
        "answer": "Your Pro plan is cancelled and stays active until the 28th; you won't be charged again. "
                  "We're sorry to see you go! (Help center: Cancelling a plan)",
    },
]

# The internal service each support tool calls.
TOOL_BACKENDS = {"lookup_order": "orders", "update_shipping_address": "orders", "lookup_payments": "payments",
                 "refund_payment": "payments", "resend_reset_email": "accounts", "cancel_subscription": "billing"}

TRIAGE_EMAILS = [
    ("Invoice 2291 shows the wrong VAT number", "billing", "normal"),
    ("URGENT: checkout page returns 500 for all EU customers", "bug", "urgent"),
    ("Feature request: export orders as CSV", "feature_request", "low"),
    ("Package arrived damaged, need a replacement before Friday", "shipping", "high"),
    ("Can't log in since this morning (2FA code rejected)", "account", "high"),
]

SQL_QUESTIONS = [
    ("Top 10 customers by revenue last quarter",
     "SELECT c.name, SUM(o.total) AS revenue FROM orders o JOIN customers c ON c.id = o.customer_id\n"
     "WHERE o.created_at >= date_trunc('quarter', now()) - interval '3 months'\n"
     "  AND o.created_at < date_trunc('quarter', now())\nGROUP BY c.name ORDER BY revenue DESC LIMIT 10;",
     10, "Acme Corp leads with $182,400, followed by Globex ($141,950) and Initech ($97,300).",
     ("o.total", "o.revenue")),
    ("How many orders shipped late in March, by carrier?",
     "SELECT carrier, COUNT(*) AS late_orders FROM shipments\n"
     "WHERE delivered_at > promised_at AND promised_at >= '2026-03-01' AND promised_at < '2026-04-01'\n"
     "GROUP BY carrier ORDER BY late_orders DESC;",
     4, "UPS had 312 late orders, DHL 148, FedEx 97 and USPS 41.",
     ("delivered_at", "delivery_date")),
    ("Average session length per plan tier this week",
     "SELECT plan_tier, AVG(ended_at - started_at) AS avg_length FROM sessions\n"
     "WHERE started_at >= date_trunc('week', now()) GROUP BY plan_tier;",
     3, "Enterprise sessions average 24 minutes, Pro 17 and Free 6.", ("ended_at", "end_time")),
    ("Which products had refunds above 5% last month?",
     "SELECT p.sku, p.name, SUM(r.amount) / SUM(oi.amount) AS refund_rate FROM order_items oi\n"
     "JOIN products p ON p.id = oi.product_id LEFT JOIN refunds r ON r.order_item_id = oi.id\n"
     "WHERE oi.created_at >= date_trunc('month', now()) - interval '1 month'\n"
     "GROUP BY p.sku, p.name HAVING SUM(r.amount) / SUM(oi.amount) > 0.05;",
     3, "Three products: the Trailhead 2 boots (8.1%), the Aria rain jacket (6.4%) and the Ridge pack (5.2%).",
     ("r.amount", "r.refund_amount")),
    ("Daily signups over the last 14 days",
     "SELECT date_trunc('day', created_at) AS day, COUNT(*) FROM users\n"
     "WHERE created_at >= now() - interval '14 days' GROUP BY day ORDER BY day;",
     14, "Signups held steady at 180-240 a day, with a peak of 410 on the day of the newsletter.",
     ("created_at", "signup_date")),
]
SQL_TABLES = {
    "orders": "orders(id, customer_id, total numeric, created_at timestamptz, status text)",
    "customers": "customers(id, name text, country text, plan_tier text)",
    "shipments": "shipments(order_id, carrier text, promised_at date, delivered_at date)",
    "sessions": "sessions(id, user_id, plan_tier text, started_at timestamptz, ended_at timestamptz)",
    "products": "products(id, sku text, name text, price numeric)",
    "refunds": "refunds(id, order_item_id, amount numeric, created_at timestamptz)",
}

RESEARCH_TOPICS = [
    ("Compare sodium-ion and LFP batteries for grid storage",
     ["energy density and footprint", "cost per kWh in 2025", "cycle life and degradation", "supply chain risks"]),
    ("How do vector databases update HNSW indexes without full rebuilds?",
     ["incremental insertion in HNSW", "deletes and tombstones", "compaction strategies"]),
    ("Trade-offs between Raft and Multi-Paxos for a small infrastructure team",
     ["operational complexity", "leader election latency", "available production libraries"]),
    ("State of open-source OCR for handwritten forms",
     ["accuracy on handwriting benchmarks", "layout and table extraction", "licensing"]),
]
# Long runs fan out over every pairing of these.
SURVEY_TOPIC = ("Market scan: open-source vector databases for a 50M-document RAG system",
                ["Milvus", "Qdrant", "Weaviate", "pgvector", "Chroma", "LanceDB", "Vespa"],
                ["index types", "metadata filtering", "replication", "licensing", "published benchmarks",
                 "managed offering", "client SDKs"])
SOURCES = ["en.wikipedia.org/wiki", "arxiv.org/abs", "github.com", "docs.vendor.example", "blog.example.dev"]

USERS = ["ana.souza", "li.wei", "marco.rossi", "priya.nair", "j.okafor", "sofia.lind", "tom.becker",
         "yuki.tanaka", "omar.haddad", "emma.dubois"]


# --- spans -----------------------------------------------------------------------------------


def _any(value):
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, (list, tuple)):
        result = AnyValue()
        result.array_value.values.extend(_any(item) for item in value)
        return result
    return AnyValue(string_value=str(value))


def _json(value):
    return json.dumps(value, ensure_ascii=False)


def _tokens(text):
    return max(1, len(text) // 4)


class TraceBuilder:
    """The spans of one trace under construction. Times are nanoseconds from the trace's start
    until `shift` moves the whole trace to its place in time."""

    def __init__(self, rng, service):
        self.rng = rng
        self.service = service
        self.trace_id = self._id(16)
        self.spans = []  # (scope, Span)

    def _id(self, size):
        return (self.rng.getrandbits(size * 8) | 1).to_bytes(size, "big")

    def span(self, name, parent, start, duration, attributes, kind=Span.SPAN_KIND_INTERNAL, scope=SDK):
        span = Span(trace_id=self.trace_id, span_id=self._id(8), name=name, kind=kind,
                    start_time_unix_nano=start, end_time_unix_nano=start + duration)
        if parent is not None:
            span.parent_span_id = parent.span_id
        span.attributes.extend(KeyValue(key=k, value=_any(v)) for k, v in attributes.items() if v is not None)
        self.spans.append((scope, span))
        return span

    def jitter(self, low_ms, high_ms):
        return int(self.rng.uniform(low_ms, high_ms) * MS)

    def shift(self, offset):
        for _, span in self.spans:
            span.start_time_unix_nano += offset
            span.end_time_unix_nano += offset
            for event in span.events:
                event.time_unix_nano += offset

    @property
    def duration(self):
        return max(s.end_time_unix_nano for _, s in self.spans) - min(s.start_time_unix_nano for _, s in self.spans)


def end(span):
    return span.end_time_unix_nano


def close(span, at):
    span.end_time_unix_nano = max(span.end_time_unix_nano, at)


def fail(span, exception_type, message, traceback=None):
    """Status ERROR with the exception's message, and the `exception` event SDKs record."""
    span.status.code = Status.STATUS_CODE_ERROR
    span.status.message = f"{exception_type}: {message}"
    if traceback is not None:
        event = span.events.add(name="exception", time_unix_nano=span.end_time_unix_nano)
        event.attributes.extend(KeyValue(key=k, value=_any(v)) for k, v in {
            "exception.type": exception_type, "exception.message": message,
            "exception.stacktrace": traceback, "exception.escaped": True}.items())


def stacktrace(frames, exception_type, message):
    lines = ["Traceback (most recent call last):"]
    for path, line, function, code in frames:
        lines += [f'  File "{path}", line {line}, in {function}', f"    {code}"]
    return "\n".join(lines + [f"{exception_type}: {message}"])


def flow(t, name, user, session, question):
    """The msgtrace-sdk root span of a workflow run; its end is set when the work is done."""
    return t.span(name, None, 0, 0, {
        "span.type": "flow", "workflow.name": name, "user.id": user, "session.id": session,
        "input.value": question})


def text(role, content):
    return {"role": role, "parts": [{"type": "text", "content": content}]}


def tool_call_message(call_id, name, arguments):
    return {"role": "assistant", "parts": [{"type": "tool_call", "id": call_id, "name": name, "arguments": arguments}],
            "finish_reason": "tool_calls"}


def tool_response(call_id, response):
    return {"role": "tool", "parts": [{"type": "tool_call_response", "id": call_id, "response": response}]}


def chat(t, parent, start, model_name, messages, output, temperature=0.2, max_tokens=1024, extra_input_tokens=0):
    """An OTel GenAI chat span: messages as JSON `parts`, usage, and msgtrace-sdk's cost attributes."""
    model = MODELS[model_name]
    # + a little for what varies from call to call (dates, ids, the instrumentation's own framing)
    input_tokens = sum(_tokens(_json(m)) for m in messages) + extra_input_tokens + t.rng.randint(0, 30)
    output_tokens = sum(_tokens(_json(m)) for m in output)
    reasoning = t.rng.randint(150, 900) if model_name == "o3-mini" else 0
    output_tokens += reasoning
    duration = int((model.first_token_ms + output_tokens * model.ms_per_token) * t.rng.uniform(0.8, 1.5) * MS)
    finish = output[-1].get("finish_reason", "stop") if output else "stop"
    scope = GENAI_ANTHROPIC if model.provider == "anthropic" else GENAI_OPENAI
    return t.span(f"chat {model_name}", parent, start, duration, {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": model.provider,
        "gen_ai.request.model": model_name, "gen_ai.response.model": model.response_name,
        # reasoning models take no temperature
        "gen_ai.request.temperature": None if model_name == "o3-mini" else temperature,
        "gen_ai.request.max_tokens": max_tokens,
        "gen_ai.response.id": f"{'msg' if model.provider == 'anthropic' else 'chatcmpl'}_{t.rng.getrandbits(64):016x}",
        "gen_ai.response.finish_reasons": [finish],
        "gen_ai.usage.input_tokens": input_tokens, "gen_ai.usage.output_tokens": output_tokens,
        "gen_ai.usage.reasoning_tokens": reasoning or None,
        "gen_ai.usage.cost.input_tokens": round(input_tokens * model.input_price, 8),
        "gen_ai.usage.cost.output_tokens": round(output_tokens * model.output_price, 8),
        "gen_ai.usage.cost.currency": "USD",
        "gen_ai.input.messages": _json(messages), "gen_ai.output.messages": _json(output),
        "server.address": "api.openai.com" if model.provider == "openai" else "api.anthropic.com",
    }, kind=Span.SPAN_KIND_CLIENT, scope=scope)


def openinference_chat(t, parent, start, model_name, messages, reply, temperature=0.0):
    """An LLM span as OpenInference's OpenAI instrumentation writes it: flattened message keys."""
    model = MODELS[model_name]
    input_tokens = sum(_tokens(content) + 4 for _, content in messages) + t.rng.randint(0, 30)
    output_tokens = _tokens(reply)
    duration = int((model.first_token_ms + output_tokens * model.ms_per_token) * t.rng.uniform(0.8, 1.4) * MS)
    attributes = {
        "openinference.span.kind": "LLM", "llm.system": model.provider, "llm.provider": model.provider,
        "llm.model_name": model_name,
        "llm.invocation_parameters": _json({"temperature": temperature, "max_tokens": 800}),
        "llm.token_count.prompt": input_tokens, "llm.token_count.completion": output_tokens,
        "llm.token_count.total": input_tokens + output_tokens,
        "llm.cost.prompt": round(input_tokens * model.input_price, 8),
        "llm.cost.completion": round(output_tokens * model.output_price, 8),
        "llm.output_messages.0.message.role": "assistant", "llm.output_messages.0.message.content": reply,
    }
    for index, (role, content) in enumerate(messages):
        attributes[f"llm.input_messages.{index}.message.role"] = role
        attributes[f"llm.input_messages.{index}.message.content"] = content
    return t.span("ChatCompletion", parent, start, duration, attributes, Span.SPAN_KIND_CLIENT, OPENINFERENCE)


RATE_LIMITS = {
    "openai": ("openai.RateLimitError", "Error code: 429 - {'error': {'message': 'Rate limit reached for {model} in "
               "organization org-northwind on requests per min (RPM): Limit 500, Used 500, Requested 1. Please try "
               "again in 120ms.', 'type': 'requests', 'param': None, 'code': 'rate_limit_exceeded'}}",
               "openai/_base_client.py", 1059, "raise self._make_status_error_from_response(err.response) from None"),
    "anthropic": ("anthropic.RateLimitError", "Error code: 429 - {'type': 'error', 'error': {'type': "
                  "'rate_limit_error', 'message': 'This request would exceed the rate limit for your organization of "
                  "400,000 input tokens per minute'}}",
                  "anthropic/_base_client.py", 1634,
                  "raise self._make_status_error_from_response(err.response) from None"),
}


def rate_limited(t, parent, start, model_name, messages, caller):
    """A chat call the provider refused with 429: no usage, status ERROR and the SDK's exception."""
    model = MODELS[model_name]
    exception_type, message, library, line, code = RATE_LIMITS[model.provider]
    message = message.replace("{model}", model_name)
    span = t.span(f"chat {model_name}", parent, start, t.jitter(150, 500), {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": model.provider, "gen_ai.request.model": model_name,
        "gen_ai.input.messages": _json(messages), "error.type": exception_type.split(".")[-1]},
        Span.SPAN_KIND_CLIENT, GENAI_ANTHROPIC if model.provider == "anthropic" else GENAI_OPENAI)
    fail(span, exception_type, message, stacktrace([
        (*caller, "response = await client.create(**request)"),
        (f"/usr/local/lib/python3.12/site-packages/{library}", line, "_request", code),
    ], exception_type, message))
    return span


def embedding(t, parent, start, texts):
    model = MODELS["text-embedding-3-small"]
    input_tokens = sum(_tokens(x) for x in texts)
    return t.span("embeddings text-embedding-3-small", parent, start, t.jitter(40, 160), {
        "gen_ai.operation.name": "embeddings", "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "text-embedding-3-small", "gen_ai.response.model": "text-embedding-3-small",
        "gen_ai.embeddings.dimension.count": 1536, "gen_ai.usage.input_tokens": input_tokens,
        "gen_ai.usage.cost.input_tokens": round(input_tokens * model.input_price, 10),
        "gen_ai.usage.cost.currency": "USD",
    }, kind=Span.SPAN_KIND_CLIENT, scope=GENAI_OPENAI)


def retriever(t, parent, start, name, query, documents, duration):
    """An OpenInference retriever span; `documents` are (id, title, content) with descending scores."""
    scores = sorted((round(t.rng.uniform(0.62, 0.93), 3) for _ in documents), reverse=True)
    found = [{"id": doc_id, "title": title, "score": score, "content": content}
             for (doc_id, title, content), score in zip(documents, scores)]
    return t.span(name, parent, start, duration, {
        "openinference.span.kind": "RETRIEVER", "input.value": query,
        "output.value": _json({"documents": found}), "output.mime_type": "application/json",
        "retrieval.top_k": len(documents)}, scope=LLAMA_INDEX)


def tool(t, parent, start, name, arguments, response, duration, call_id=None):
    return t.span(f"execute_tool {name}", parent, start, duration, {
        "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name, "gen_ai.tool.type": "function",
        "gen_ai.tool.call.id": call_id, "gen_ai.tool.call.arguments": _json(arguments),
        "gen_ai.tool.response": None if response is None else _json(response)})


def agent(t, parent, start, name, description):
    return t.span(f"invoke_agent {name}", parent, start, 0, {
        "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": name,
        "gen_ai.agent.description": description})


# Tokens the tool definitions add to every request that offers tools.
TOOL_SCHEMAS = 640


def call_id(t):
    return f"call_{t.rng.getrandbits(72):018x}"


# --- workflows -------------------------------------------------------------------------------
# Each builds one trace into `t` and returns nothing; `failure` names what goes wrong, or is None.


def support_agent(t, user, session, failure=None, size=None):
    case = t.rng.choice([c for c in SUPPORT_CASES if c["tools"]] if failure else SUPPORT_CASES)
    root = flow(t, "support_agent", user, session, case["question"])
    guard = t.span("input_guardrail", root, t.jitter(1, 3), t.jitter(25, 90), {
        "span.type": "module", "module.name": "input_guardrail", "module.type": "guardrail",
        "guardrail.passed": True})
    # the classifier's prompt carries a few worked examples: extra_input_tokens
    classify = chat(t, root, end(guard) + t.jitter(1, 4), "gpt-4o-mini", [
        text("system", "Classify the customer's message. Answer with JSON: intent, confidence."),
        text("user", case["question"])], [text("assistant", _json({
            "intent": case["intent"], "confidence": round(t.rng.uniform(0.81, 0.99), 2)}))], temperature=0.0,
        max_tokens=64, extra_input_tokens=260)
    kb = retriever(t, root, end(classify) + t.jitter(1, 5), "kb_search", case["question"],
                   [case["article"], ("kb-001", "Contacting support", "Support answers within 4 hours.")],
                   t.jitter(120, 380))
    embedding(t, kb, kb.start_time_unix_nano + t.jitter(2, 8), [case["question"]])

    model = t.rng.choice(["gpt-4o", "gpt-4o", "claude-3-5-sonnet"])
    resolver = agent(t, root, end(kb) + t.jitter(2, 6), "resolver", "Resolves the customer's request with tools.")
    article = case["article"]
    messages = [text("system", f"{SUPPORT_SYSTEM}\n\nHelp-center article {article[0]} ({article[1]}): {article[2]}"),
                text("user", case["question"])]
    clock = resolver.start_time_unix_nano + t.jitter(1, 4)
    for name, arguments, response in case["tools"]:
        cid = call_id(t)
        request = tool_call_message(cid, name, arguments)
        step = chat(t, resolver, clock, model, messages, [request], extra_input_tokens=TOOL_SCHEMAS)
        timed_out = failure == "tool_timeout" and name == case["tools"][0][0]
        tool_span = tool(t, resolver, end(step) + t.jitter(2, 10), name, arguments, None if timed_out else response,
                         10 * SECOND if timed_out else t.jitter(60, 450), call_id=cid)
        if timed_out:
            backend = TOOL_BACKENDS[name]
            message = f"{backend} service did not answer within 10.0 s"
            fail(tool_span, "TimeoutError", message, stacktrace([
                ("/app/support_bot/tools.py", 88, name, f"response = await {backend}.get('/v2/{name}', timeout=10.0)"),
                ("/usr/local/lib/python3.12/site-packages/httpx/_client.py", 1814, "get", "return await self.request("),
                ("/usr/local/lib/python3.12/asyncio/timeouts.py", 115, "__aexit__", "raise TimeoutError from exc_val"),
            ], "TimeoutError", message))
            fail(resolver, "TimeoutError", message)
            close(resolver, end(tool_span) + t.jitter(1, 3))
            fail(root, "TimeoutError", message, stacktrace([
                ("/app/support_bot/flows.py", 41, "support_agent", "reply = await resolver(question, context)"),
                ("/app/support_bot/agents.py", 73, "resolver", "result = await tools.call(call)"),
            ], "TimeoutError", message))
            close(root, end(resolver) + t.jitter(2, 8))
            return
        messages = messages + [request, tool_response(cid, response)]
        clock = end(tool_span) + t.jitter(2, 8)
    answer = [text("assistant", case["answer"])]
    final = chat(t, resolver, clock, model, messages, answer, extra_input_tokens=TOOL_SCHEMAS)
    close(resolver, end(final) + t.jitter(1, 3))
    root.attributes.add(key="output.value", value=_any(case["answer"]))
    close(root, end(resolver) + t.jitter(3, 12))


def ticket_triage(t, user, session, failure=None, size=None):
    subject, category, priority = t.rng.choice(TRIAGE_EMAILS)
    root = flow(t, "ticket_triage", user, session, subject)
    messages = [text("system", "Triage the support email. Answer with JSON: category, priority, summary."),
                text("user", f"Subject: {subject}\n\nHi, {subject.lower()}. Thanks, {user}")]
    if failure == "rate_limit":
        caller = ("/app/triage/classify.py", 27, "classify")
        step = rate_limited(t, root, t.jitter(2, 6), "gpt-4o-mini", messages, caller)
        root.status.CopyFrom(step.status)
        close(root, end(step) + t.jitter(1, 4))
        return
    summary = {"category": category, "priority": priority, "summary": subject}
    step = chat(t, root, t.jitter(2, 6), "gpt-4o-mini", messages, [text("assistant", _json(summary))],
                temperature=0.0, max_tokens=256)
    ticket = f"T-{t.rng.randint(40000, 49999)}"
    last = tool(t, root, end(step) + t.jitter(2, 8), "create_ticket", {**summary, "requester": user},
                {"ticket_id": ticket, "queue": category}, t.jitter(90, 300))
    if priority in ("urgent", "high"):
        last = tool(t, root, end(last) + t.jitter(2, 8), "page_oncall", {"ticket_id": ticket, "priority": priority},
                    {"paged": "support-oncall", "ack": False}, t.jitter(120, 500))
    root.attributes.add(key="output.value", value=_any(f"{ticket} ({category}, {priority})"))
    close(root, end(last) + t.jitter(2, 6))


def text_to_sql(t, user, session, failure=None, size=None):
    question, sql, row_count, explanation, (column, guess) = t.rng.choice(SQL_QUESTIONS)
    root = flow(t, "text_to_sql", user, session, question)
    tables = [SQL_TABLES[name] for name in SQL_TABLES if name in sql] or list(SQL_TABLES.values())[:2]
    schema = retriever(t, root, t.jitter(1, 4), "schema_lookup", question,
                       [(f"table:{ddl.split('(')[0]}", ddl.split("(")[0], ddl) for ddl in tables],
                       t.jitter(30, 120))
    system = "You write one PostgreSQL query answering the question. Tables:\n" + "\n".join(tables)
    clock = end(schema) + t.jitter(2, 6)
    if failure == "sql_error":
        # The model guesses a column that does not exist; the error goes back to it, and the retry works.
        wrong = sql.replace(column, guess)
        draft = openinference_chat(t, root, clock, "gpt-4o", [("system", system), ("user", question)], wrong)
        bad = tool(t, root, end(draft) + t.jitter(2, 6), "run_sql", {"sql": wrong}, None, t.jitter(8, 40))
        bad.attributes.extend([KeyValue(key="db.system.name", value=_any("postgresql"))])
        message = f'column "{guess}" does not exist'
        fail(bad, "psycopg.errors.UndefinedColumn", message, stacktrace([
            ("/app/sql_copilot/run.py", 52, "run_sql", "rows = await conn.execute(sql)"),
            ("/usr/local/lib/python3.12/site-packages/psycopg/cursor_async.py", 97, "execute",
             "raise ex.with_traceback(None)"),
        ], "psycopg.errors.UndefinedColumn", message))
        clock = end(bad) + t.jitter(2, 6)
        messages = [("system", system), ("user", question), ("assistant", wrong), ("user", f"Error: {message}")]
    else:
        messages = [("system", system), ("user", question)]
    generate = openinference_chat(t, root, clock, "gpt-4o", messages, sql)
    rows = [{"row": i + 1} for i in range(min(row_count, 3))]
    run = tool(t, root, end(generate) + t.jitter(2, 6), "run_sql", {"sql": sql},
               {"row_count": row_count, "rows": rows, "truncated": row_count > 3}, t.jitter(40, 900))
    run.attributes.extend([KeyValue(key="db.system.name", value=_any("postgresql"))])
    explain = chat(t, root, end(run) + t.jitter(2, 6), "gpt-4o-mini", [
        text("system", "Explain the query result to a business user in one or two sentences."),
        text("user", f"Question: {question}\nResult: {row_count} rows")], [text("assistant", explanation)],
        temperature=0.3, max_tokens=200)
    root.attributes.add(key="output.value", value=_any(explanation))
    close(root, end(explain) + t.jitter(2, 6))


def sql_autocomplete(t, user, session, failure=None, size=None):
    prefix = t.rng.choice(["SELECT * FROM orders WHERE created_at >", "SELECT carrier, COUNT(*) FROM sh",
                           "SELECT c.name FROM customers c JOIN", "SELECT AVG(total) FROM orders GROUP"])
    root = flow(t, "sql_autocomplete", user, session, prefix)
    hit = t.rng.random() < 0.6
    cache = tool(t, root, t.jitter(1, 3), "completion_cache", {"prefix": prefix}, {"hit": hit}, t.jitter(4, 30))
    last = cache
    if not hit:
        last = chat(t, root, end(cache) + t.jitter(1, 3), "gpt-4o-mini", [
            text("system", "Complete the SQL. Answer with the completion only."), text("user", prefix)],
            [text("assistant", " now() - interval '7 days'")], temperature=0.0, max_tokens=32)
    close(root, end(last) + t.jitter(1, 4))


def deep_research(t, user, session, failure=None, size=None):
    """A planner, then one researcher agent per question, run ten at a time, then a writer."""
    if size:
        topic, aspects, angles = SURVEY_TOPIC
        questions = [f"{aspect}: {angle}" for aspect in aspects for angle in angles][:size]
    else:
        topic, questions = t.rng.choice(RESEARCH_TOPICS)
    root = flow(t, "deep_research", user, session, topic)
    plan = chat(t, root, t.jitter(2, 6), "o3-mini", [
        text("system", "Break the research request into independent questions. Answer with a JSON list."),
        text("user", topic)], [text("assistant", _json(questions))], max_tokens=4096)
    failing = t.rng.randrange(len(questions)) if failure == "rate_limit" else None
    wave_start, finished = end(plan) + t.jitter(2, 10), end(plan)
    for first in range(0, len(questions), 10):
        for index in range(first, min(first + 10, len(questions))):
            done = researcher(t, root, wave_start + t.jitter(0, 30), questions[index], failed=index == failing)
            finished = max(finished, done)
        wave_start = finished + t.jitter(2, 10)
    if failing is not None:
        fail(root, "ResearchIncomplete", f"1 of {len(questions)} researchers failed (anthropic.RateLimitError)")
        close(root, finished + t.jitter(3, 10))
        return
    report = f"# {topic}\n\n" + "\n".join(f"- **{q}**: findings summarized from 2 sources." for q in questions[:12])
    writer = chat(t, root, finished + t.jitter(3, 10), "claude-3-5-sonnet", [
        text("system", "Write a concise research brief with citations from the researchers' notes."),
        text("user", topic)], [text("assistant", report)], temperature=0.4, max_tokens=4096,
        extra_input_tokens=900 * len(questions))
    root.attributes.add(key="output.value", value=_any(report))
    close(root, end(writer) + t.jitter(2, 8))


def researcher(t, parent, start, question, failed=False):
    """One web researcher agent: search, read two pages, take notes. Returns when it finished."""
    worker = agent(t, parent, start, "web_researcher", "Searches the web and takes notes on one question.")
    cid = call_id(t)
    arguments = {"query": question, "max_results": 5}
    messages = [text("system", "Research the question with web_search and fetch_page, then take notes."),
                text("user", question)]
    decide = chat(t, worker, start + t.jitter(1, 4), "claude-3-5-haiku", messages,
                  [tool_call_message(cid, "web_search", arguments)], extra_input_tokens=TOOL_SCHEMAS // 2)
    slug = question.lower().replace(":", "").replace(" ", "-")[:48]
    urls = [f"https://{t.rng.choice(SOURCES)}/{slug}-{t.rng.randint(100, 999)}" for _ in range(2)]
    search = tool(t, worker, end(decide) + t.jitter(2, 6), "web_search", arguments,
                  [{"title": question, "url": url} for url in urls], t.jitter(300, 1400), call_id=cid)
    clock = end(search)
    for url in urls:
        page = tool(t, worker, clock + t.jitter(1, 5), "fetch_page", {"url": url},
                    {"status": 200, "chars": t.rng.randint(4000, 40000)}, t.jitter(150, 1800))
        clock = end(page)
    messages = messages + [tool_call_message(cid, "web_search", arguments), tool_response(cid, urls)]
    if failed:
        step = rate_limited(t, worker, clock + t.jitter(2, 6), "claude-3-5-haiku", messages,
                            ("/app/research/agents.py", 118, "take_notes"))
        worker.status.CopyFrom(step.status)
        close(worker, end(step) + t.jitter(1, 3))
        return end(worker)
    summary = (f"Notes on {question}: both sources agree on the main points; "
               f"see {urls[0]} for figures and {urls[1]} for caveats.")
    pages = t.rng.randint(1500, 5000)  # tokens of the pages read
    notes = chat(t, worker, clock + t.jitter(2, 6), "claude-3-5-haiku", messages, [text("assistant", summary)],
                 extra_input_tokens=pages)
    close(worker, end(notes) + t.jitter(1, 3))
    return end(worker)


SERVICES = {
    "support-bot": {"service.version": "2.14.0", "host.name": "support-bot-7d9f8-xk2lq"},
    "sql-copilot": {"service.version": "0.9.3", "host.name": "sql-copilot-5c6b4-p8wz1"},
    "research-agent": {"service.version": "1.3.1", "host.name": "research-agent-0"},
}


class Workflow(NamedTuple):
    service: str
    build: Callable
    weight: int  # how often it runs, relative to the others
    failure: str | None  # what goes wrong when a run fails


WORKFLOWS = [
    Workflow("support-bot", support_agent, 34, "tool_timeout"),
    Workflow("support-bot", ticket_triage, 10, "rate_limit"),
    Workflow("sql-copilot", text_to_sql, 20, "sql_error"),
    Workflow("sql-copilot", sql_autocomplete, 12, None),
    Workflow("research-agent", deep_research, 24, "rate_limit"),
]
RESEARCH = WORKFLOWS[4]


# --- the whole set ---------------------------------------------------------------------------


def _plan(rng, traces):
    """[(workflow, failure, size)]: which runs, which fail (one in ten, every kind of failure in
    turn), and which two research runs are long."""
    choices = rng.choices(WORKFLOWS, weights=[w.weight for w in WORKFLOWS], k=traces)
    sizes = [None] * traces
    if traces >= 20:
        research = [i for i, w in enumerate(choices) if w is RESEARCH]
        for size in (49, 12):  # 49 questions: 6 spans each, about 300 in all
            index = research.pop() if research else rng.randrange(traces)
            choices[index], sizes[index] = RESEARCH, size
    failures = [None] * traces
    failing = [w for w in WORKFLOWS if w.failure]
    for n in range(max(1, round(traces / 10))):
        kind = failing[n % len(failing)]
        candidates = [i for i, w in enumerate(choices) if w is kind and failures[i] is None and sizes[i] is None]
        if candidates:
            failures[rng.choice(candidates)] = kind.failure
    return list(zip(choices, failures, sizes))


def _sessions(rng, plan):
    """(user, session) per trace: each service's runs, in order, grouped into sessions of 1-4."""
    result = [None] * len(plan)
    for service in SERVICES:
        indices = [i for i, (workflow, _, _) in enumerate(plan) if workflow.service == service]
        while indices:
            user = rng.choice(USERS)
            session = f"sess_{rng.getrandbits(48):012x}"
            take = rng.randint(1, 4)
            for i in indices[:take]:
                result[i] = (user, session)
            indices = indices[take:]
    return result


def _ages(rng, traces):
    """How long ago each trace ended, oldest first: denser towards now, the newest a minute old."""
    ages = sorted((int(WINDOW * rng.random() ** 2) for _ in range(traces)), reverse=True)
    if ages:
        ages[-1] = int(rng.uniform(30, 90) * SECOND)
    return ages


def _request(t):
    """One trace as a batch span processor sends it: children first, grouped by instrumentation scope."""
    message = ExportTraceServiceRequest()
    resource_spans = message.resource_spans.add()
    resource = {"service.name": t.service, **SERVICES[t.service], "deployment.environment.name": "production",
                "telemetry.sdk.language": "python", "telemetry.sdk.name": "opentelemetry",
                "telemetry.sdk.version": "1.27.0"}
    resource_spans.resource.attributes.extend(KeyValue(key=k, value=_any(v)) for k, v in resource.items())
    by_scope = {}
    for scope, span in sorted(t.spans, key=lambda item: item[1].end_time_unix_nano):
        by_scope.setdefault(scope, []).append(span)
    for (name, version), spans in by_scope.items():
        scope_spans = resource_spans.scope_spans.add()
        scope_spans.scope.name, scope_spans.scope.version = name, version
        scope_spans.spans.extend(spans)
    return message


def _now_ns(now):
    if now is None:
        return time.time_ns()
    if isinstance(now, datetime):
        return ns_from_datetime(now)
    return int(now)


def build_requests(traces=60, now=None, seed=7):
    """One ExportTraceServiceRequest per trace, oldest first. `now` (an aware datetime or unix
    nanoseconds; the current time by default) is when the newest trace ended, give or take a minute."""
    rng = random.Random(seed)
    now_ns = _now_ns(now)
    plan = _plan(rng, traces)
    people = _sessions(rng, plan)
    ages = _ages(rng, traces)
    requests = []
    for (workflow, failure, size), (user, session), age in zip(plan, people, ages):
        t = TraceBuilder(rng, workflow.service)
        workflow.build(t, user, session, failure=failure, size=size)
        t.shift(now_ns - age - t.duration)
        requests.append(_request(t))
    return requests


def load(traces=60, now=None, seed=7):
    """Decodes and stores the demo traces in the configured database, as the OTLP endpoint would.
    Returns (traces, spans) newly stored: (0, 0) when this seed was loaded before."""
    new_traces = new_spans = 0
    for message in build_requests(traces, now, seed):
        batch = otlp.decode(message.SerializeToString(), otlp.PROTOBUF, settings.MSGTRACE_MAX_ATTRIBUTE_BYTES)
        result = store(batch)
        # one trace per request: it is new when any of its spans is
        new_traces += 1 if result.stored else 0
        new_spans += result.stored
    return new_traces, new_spans
