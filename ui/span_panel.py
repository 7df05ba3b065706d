"""One span as the span panel shows it: every value made readable, in Python, so the template only loops.

Attribute values keep their OTLP types in storage (see traces.otlp): bytes tagged {"$bytes": ...},
doubles JSON cannot hold tagged {"$double": ...}, and JSON often hides inside strings. `Value` turns
each into text with a kind (for styling) and, when long, a preview to show while it is collapsed.
"""

import base64
import binascii
import json
import re

from traces import semconv
from traces.models import Category, Span, SpanKind, StatusCode, Trace
from ui.links import SITE
from ui.timeline import PALETTE

# Past these a value is collapsed behind its first characters or lines.
SHORT = (320, 10)  # attribute tables
LONG = (2400, 40)  # prompts, completions and messages
_DATA_URL = re.compile(r"data:([\w.+-]+/[\w.+-]+);base64,([A-Za-z0-9+/=]{256,})")
ROLES = {
    "system": "system", "developer": "system", "user": "user", "human": "user", "assistant": "assistant",
    "ai": "assistant", "model": "assistant", "tool": "tool", "function": "tool", "ipython": "tool",
}


class Value:
    """Display text of one value: kind is text, json, number, bool, bytes or null; preview is set
    (the first lines or characters) when the text is long enough to be collapsed."""

    __slots__ = ("kind", "text", "preview", "size")

    def __init__(self, kind, text, limits=SHORT):
        self.kind, self.text = kind, text
        self.preview, self.size = None, ""
        chars, lines = limits
        if len(text) > chars or text.count("\n") >= lines:
            head = "\n".join(text.split("\n", lines // 2)[: lines // 2])[: chars // 2]
            self.preview = head
            self.size = f"{len(text):,} characters" if "\n" not in text else f"{text.count(chr(10)) + 1:,} lines"

    def __str__(self):
        return self.text


def _bytes_text(tagged):
    encoded = tagged.get("$bytes") or ""
    try:
        size = len(base64.b64decode(encoded))
    except (binascii.Error, ValueError):
        size = len(encoded) * 3 // 4
    size = tagged.get("$truncated_from") or size
    return f"bytes ({size:,}) {encoded[:48]}{'…' if len(encoded) > 48 else ''}"


def _is_bytes(value):
    # A client's own map can have these keys too: only the shapes ingest writes are tags.
    return (
        isinstance(value, dict)
        and isinstance(value.get("$bytes"), str)
        and set(value) <= {"$bytes", "$truncated_from"}
        and isinstance(value.get("$truncated_from", 0), int)
    )


def _is_double(value):
    return isinstance(value, dict) and set(value) == {"$double"} and isinstance(value["$double"], str)


def _untag(value):
    """Tagged values inside lists and maps -> what json.dumps should print for them."""
    if _is_bytes(value):
        return _bytes_text(value)
    if _is_double(value):
        try:
            return float(value["$double"])  # dumps prints NaN, Infinity, 1e+16 as they are
        except ValueError:
            return value["$double"]
    if isinstance(value, dict):
        return {str(k): _untag(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_untag(v) for v in value]
    return value


json_in = semconv.load_json  # the list or object a string holds as JSON, within bounds, else None


def pretty(value):
    return json.dumps(_untag(value), indent=2, ensure_ascii=False)


def display(raw, limits=SHORT):
    """Any stored value (attribute, event attribute, message part) -> Value."""
    if raw is None:
        return Value("null", "null", limits)
    if isinstance(raw, bool):
        return Value("bool", "true" if raw else "false", limits)
    if isinstance(raw, (int, float)):
        return Value("number", repr(raw), limits)
    if _is_bytes(raw):
        return Value("bytes", _bytes_text(raw), limits)
    if _is_double(raw):
        return Value("number", str(raw["$double"]), limits)
    if isinstance(raw, (list, dict)):
        return Value("json", pretty(raw), limits)
    text = str(raw)
    parsed = json_in(text)
    if parsed is not None:
        return Value("json", pretty(parsed), limits)
    return Value("text", text, limits)


def attribute_rows(attributes):
    """[(key, Value)] sorted by key, so that each convention's keys sit together."""
    if not isinstance(attributes, dict):
        return []
    return [(key, display(attributes[key])) for key in sorted(attributes)]


# --- prompt and completion ------------------------------------------------------------------------


def _elide_data_urls(text):
    def replace(match):
        size = len(match.group(2)) * 3 // 4
        return f"data:{match.group(1)};base64,…[{size / 1024:,.0f} KB of base64 left out here; see the attribute]"

    return _DATA_URL.sub(replace, text)


class ToolCall:
    __slots__ = ("name", "call_id", "arguments", "result")

    def __init__(self, name, call_id, arguments=None, result=None):
        self.name = semconv.label(name) or ""
        self.call_id = semconv.label(call_id) or ""
        self.arguments = None if arguments is None else display(arguments, LONG)
        self.result = None if result is None else display(result, LONG)


class Message:
    __slots__ = ("role", "role_class", "content", "tool_calls", "tool_responses", "finish_reason")

    def __init__(self, message):
        self.role = semconv.as_text(message.get("role")) or "message"
        self.role_class = ROLES.get(self.role.lower(), "other")
        content = semconv.as_text(message.get("content"))
        self.content = display(_elide_data_urls(content), LONG) if content else None
        self.tool_calls = [
            ToolCall(call.get("name"), call.get("id"), call.get("arguments")) for call in message.get("tool_calls", [])
        ]
        self.tool_responses = [
            ToolCall("", r.get("id"), result=r.get("response")) for r in message.get("tool_responses", [])
        ]
        self.finish_reason = semconv.as_text(message.get("finish_reason"))


class Content:
    """A prompt or a completion: a conversation (messages) or plain text, and where it was read from."""

    __slots__ = ("messages", "text", "source")

    def __init__(self, content):
        self.messages = [Message(m) for m in content.get("messages") or []]
        text = semconv.as_text(content.get("text"))
        self.text = display(_elide_data_urls(text), LONG) if text else None
        self.source = content.get("source", "")

    @classmethod
    def of(cls, content):
        if not content or not (content.get("messages") or content.get("text")):
            return None
        return cls(content)


def _indexed_json(attributes, key):
    value = attributes.get(key)
    parsed = json_in(value) if isinstance(value, str) else value
    if isinstance(parsed, dict):
        parsed = [parsed]
    return [item for item in parsed if isinstance(item, dict)] if isinstance(parsed, list) else []


def tool_calls(span, attributes):
    """Tool calls this span made or ran, with their arguments and results.

    A tool span (msgtrace-sdk, OTel GenAI) carries its own call: gen_ai.tool.call.arguments and
    gen_ai.tool.response (msgtrace-sdk) or gen_ai.tool.call.result (OTel GenAI). An LLM span from msgtrace-sdk lists the calls it asked for in tool.callings
    and, on the next turn, their results in tool.responses (matched by id)."""
    calls = []
    arguments = attributes.get("gen_ai.tool.call.arguments")
    result = attributes.get("gen_ai.tool.response", attributes.get("gen_ai.tool.call.result"))
    if arguments is not None or result is not None:
        calls.append(ToolCall(span.tool_name or attributes.get("gen_ai.tool.name"),
                              attributes.get("gen_ai.tool.call.id"), arguments, result))
    responses = {}
    for item in _indexed_json(attributes, "tool.responses"):
        responses.setdefault(semconv.label(item.get("id")) or "", item)
    for item in _indexed_json(attributes, "tool.callings"):
        function = item.get("function") if isinstance(item.get("function"), dict) else {}
        call_id = semconv.label(item.get("id")) or ""
        response = responses.pop(call_id, None)
        calls.append(ToolCall(item.get("name", function.get("name")), call_id,
                              item.get("arguments", function.get("arguments")), _response_of(response)))
    for call_id, response in responses.items():
        calls.append(ToolCall(response.get("name", ""), call_id, result=_response_of(response)))
    return calls


def _response_of(item):
    if item is None:
        return None
    for key in ("content", "response", "result", "output"):
        if key in item:
            return item[key]
    return item


# --- the LLM call ---------------------------------------------------------------------------------

COST_SOURCE_LABELS = {
    "reported": "reported by the client",
    "estimated": "estimated by msgtrace from the tokens",
    "unpriced": "unknown: no price is known for this model",
}


class LlmFacts:
    __slots__ = ("span", "parameters", "finish_reasons", "response_id")

    def __init__(self, span, attributes):
        self.span = span
        self.parameters = [
            (key.removeprefix("gen_ai.request."), display(attributes[key]))
            for key in sorted(attributes)
            if key.startswith("gen_ai.request.") and key != "gen_ai.request.model"
        ]
        invocation = json_in(attributes.get("llm.invocation_parameters"))  # OpenInference
        if isinstance(invocation, dict):
            self.parameters += [(key, display(invocation[key])) for key in sorted(invocation)]
        reasons = attributes.get("gen_ai.response.finish_reasons")
        reasons = reasons if isinstance(reasons, list) else [] if reasons is None else [reasons]
        self.finish_reasons = ", ".join(display(reason).text for reason in reasons)
        self.response_id = semconv.as_text(attributes.get("gen_ai.response.id"))

    @property
    def currency(self):
        return self.span.currency or "USD"

    @property
    def priced(self):
        span = self.span
        return span.input_cost is not None or span.output_cost is not None or span.total_cost is not None

    @property
    def cost_source(self):
        """Where the cost shown comes from (pricing.estimate), in words; empty for spans without usage."""
        return COST_SOURCE_LABELS.get(self.span.cost_source, "")


# --- events and links -------------------------------------------------------------------------------


def _plain(value):
    """Text as it is (an exception's message is never made into pretty JSON); any other value as displayed."""
    if value is None:
        return ""
    return value if isinstance(value, str) else display(value).text


class EventView:
    """An event placed on its span's own time axis (x: a CSS percentage); an `exception` event's type,
    message and stack trace come apart from its other attributes."""

    __slots__ = ("name", "offset_ns", "x", "attributes", "exception")

    def __init__(self, event, span):
        attributes = event.attributes if isinstance(event.attributes, dict) else {}
        self.name = event.name
        self.offset_ns = event.time_ns - span.start_ns
        duration = max(span.duration_ns, 1)
        self.x = f"{min(max(self.offset_ns / duration * 100, 0), 100):.2f}"
        self.exception = None
        if event.name == "exception":
            self.exception = {
                "type": _plain(attributes.get("exception.type")),
                "message": _plain(attributes.get("exception.message")),
                "stacktrace": _plain(attributes.get("exception.stacktrace")),
            }
            attributes = {k: v for k, v in attributes.items() if k not in
                          ("exception.type", "exception.message", "exception.stacktrace")}
        self.attributes = attribute_rows(attributes)

    @property
    def is_error(self):
        return self.exception is not None or self.name.endswith(".error")


class LinkView:
    """A span link; trace_url and span_url are set when the linked trace is stored here and the page
    may link to it (behind a share link, only the shared run's traces)."""

    __slots__ = ("trace_id", "span_id", "known", "trace_url", "span_url", "attributes", "trace_state")

    def __init__(self, link, known, page_links=SITE):
        self.trace_id, self.span_id = link.linked_trace_id, link.linked_span_id
        self.known = known  # the linked trace is stored here
        self.trace_url = self.span_url = None
        if known and page_links.reaches(self.trace_id):
            self.trace_url = page_links.trace(self.trace_id)
            self.span_url = page_links.span(self.trace_id, self.span_id)
        self.trace_state = link.trace_state
        self.attributes = attribute_rows(link.attributes)


# --- the whole panel ---------------------------------------------------------------------------------


class SpanPanel:
    """Everything the span panel shows, built from a span loaded with SpanQuerySet.for_display()."""

    def __init__(self, span, parent_name=None, known_traces=(), view="timeline", page_links=SITE):
        attributes = span.attributes if isinstance(span.attributes, dict) else {}
        self.span = span
        self.view = view
        self.page_links = page_links  # ui.links: where the panel's links go
        self.trace = span.trace
        self.parent_name = parent_name  # None: no parent, or it never arrived
        self.kind = SpanKind(span.kind).label if span.kind in SpanKind.values else "unspecified"
        self.category = Category(span.category).label if span.category in Category.values else span.category
        self.palette = PALETTE.get(span.category, "other")
        self.status = StatusCode(span.status_code).label if span.status_code in StatusCode.values else "unset"
        self.offset_ns = span.start_ns - span.trace.start_ns
        self.llm = None
        if span.counts_as_usage or span.model or span.total_tokens is not None:
            self.llm = LlmFacts(span, attributes)
        self.prompt = Content.of(semconv.prompt(attributes))
        self.completion = Content.of(semconv.completion(attributes))
        self.tool_calls = tool_calls(span, attributes)
        self.events = [EventView(event, span) for event in span.events.all()]
        self.links = [LinkView(link, link.linked_trace_id in known_traces, page_links) for link in span.links.all()]
        self.attributes = attribute_rows(attributes)
        self.resource_attributes = attribute_rows(span.resource.attributes)
        self.scope = span.scope
        self.scope_attributes = attribute_rows(span.scope.attributes)

    @classmethod
    def load(cls, span, view="timeline", page_links=SITE):
        """The panel of a span, with its parent's name and which linked traces exist: at most two
        small queries on top of for_display()'s (three behind a share link, to tell which linked traces
        belong to the shared run)."""
        parent_name = None
        if span.parent_span_id:
            parent_name = (
                Span.objects.filter(trace_id=span.trace_id, span_id=span.parent_span_id)
                .values_list("name", flat=True)
                .first()
            )
        links = list(span.links.all())
        known = set()
        if links:
            known = set(
                Trace.objects.filter(trace_id__in={link.linked_trace_id for link in links}).values_list(
                    "trace_id", flat=True
                )
            )
        return cls(span, parent_name, known, view, page_links)

    @property
    def trace_url(self):
        """The trace page in the same view: where closing the panel returns to."""
        return self.page_links.trace(self.trace.trace_id, self.view)

    def span_url(self, span_id):
        return self.page_links.span(self.trace.trace_id, span_id, self.view)

    @property
    def parent_url(self):
        return self.span_url(self.span.parent_span_id)

    @property
    def dropped(self):
        span = self.span
        return [
            (what, count)
            for what, count in (
                ("attributes", span.dropped_attributes_count),
                ("events", span.dropped_events_count),
                ("links", span.dropped_links_count),
            )
            if count
        ]
