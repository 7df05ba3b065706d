"""Attribute conventions -> normalized span fields.

LLM instrumentation speaks several dialects: the OpenTelemetry GenAI semantic conventions,
msgtrace-sdk (and msgflux on top of it), OpenInference (Phoenix), OpenLLMetry (Traceloop) and
the keys msgtrace has always read. This module is the one place that knows them all. For each
normalized field the keys are tried in the order listed in FIELD_KEYS: the first one present with
a usable value wins. The README's convention table lists the same order; a test keeps them in step.
"""

import json
import re

from traces.usage_values import cost_value, token_count

from pricing.estimate import price_span

# Normalized field -> attribute keys, highest precedence first.
FIELD_KEYS = {
    "model": ("gen_ai.request.model", "llm.model_name", "llm.model", "gen_ai.response.model"),
    "response_model": ("gen_ai.response.model", "llm.response.model"),
    "provider": ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system"),
    "operation": ("gen_ai.operation.name",),
    "input_tokens": (
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.prompt_tokens",
        "llm.token_count.prompt",
        "llm.usage.prompt_tokens",
    ),
    "output_tokens": (
        "gen_ai.usage.output_tokens",
        "gen_ai.usage.completion_tokens",
        "llm.token_count.completion",
        "llm.usage.completion_tokens",
    ),
    "total_tokens": ("gen_ai.usage.total_tokens", "llm.token_count.total", "llm.usage.total_tokens"),
    "input_cost": (
        "gen_ai.usage.cost.input_tokens",
        "gen_ai.usage.cost.input",
        "llm.cost.prompt",
        "llm.cost.input",
    ),
    "output_cost": (
        "gen_ai.usage.cost.output_tokens",
        "gen_ai.usage.cost.output",
        "llm.cost.completion",
        "llm.cost.output",
    ),
    "total_cost": ("gen_ai.usage.cost.total", "llm.cost.total"),
    "currency": ("gen_ai.usage.cost.currency", "llm.cost.currency"),
    "workflow_name": (
        "workflow.name",
        "msgflux.workflow.name",
        "traceloop.workflow.name",
        "msgtrace.flow.name",
    ),
    "module_name": ("module.name", "msgtrace.module.name"),
    "module_type": ("module.type",),
    "tool_name": ("gen_ai.tool.name", "tool.name"),
    "agent_name": ("gen_ai.agent.name", "agent.name"),
    "user_id": ("user.id", "enduser.id", "gen_ai.user.id"),
    "session_id": ("session.id", "gen_ai.conversation.id"),
}

# How each convention names the kind of work, mapped onto traces.models.Category values.
OPENINFERENCE_KINDS = {
    "LLM": "llm",
    "EMBEDDING": "embedding",
    "RETRIEVER": "retriever",
    "RERANKER": "reranker",
    "TOOL": "tool",
    "AGENT": "agent",
    "CHAIN": "chain",
    "GUARDRAIL": "guardrail",
    "EVALUATOR": "evaluator",
}
TRACELOOP_KINDS = {"workflow": "workflow", "task": "chain", "agent": "agent", "tool": "tool"}
GENAI_OPERATIONS = {
    "chat": "llm",
    "text_completion": "llm",
    "completion": "llm",
    "generate_content": "llm",
    "embeddings": "embedding",
    "embedding": "embedding",
    "execute_tool": "tool",
    "tool": "tool",  # msgtrace-sdk: MsgTraceAttributes.set_operation_name("tool")
    "invoke_agent": "agent",
    "agent": "agent",  # msgtrace-sdk: MsgTraceAttributes.set_operation_name("agent")
    "create_agent": "agent",
    "retrieve": "retriever",
    "retrieval": "retriever",
}
MSGTRACE_SPAN_TYPES = {
    "flow": "workflow",
    "workflow": "workflow",
    "module": "module",
    "agent": "agent",
    "tool": "tool",
    "llm": "llm",
    "retriever": "retriever",
    "embedding": "embedding",
}
# msgflux module types are free text ("agent", "tool_library", "retriever", ...): matched by stem.
MODULE_TYPE_STEMS = (
    ("agent", "agent"),
    ("tool", "tool"),
    ("retriev", "retriever"),
    ("rerank", "reranker"),
    ("embed", "embedding"),
    ("llm", "llm"),
    ("model", "llm"),
    ("generat", "llm"),
    ("guard", "guardrail"),
)
_TEXT_LIMIT = 256


def _first(attributes, keys):
    for key in keys:
        value = attributes.get(key)
        if value is not None and value != "":
            return value
    return None


def _text(attributes, field):
    value = _first(attributes, FIELD_KEYS[field])
    if value is None:
        return ""
    if not isinstance(value, str):
        value = json.dumps(value) if isinstance(value, (list, dict)) else str(value)
    return value[:_TEXT_LIMIT]


def _int(attributes, field, ignored):
    return token_count(attributes, FIELD_KEYS[field], ignored)


def _float(attributes, field, ignored):
    return cost_value(attributes, FIELD_KEYS[field], ignored)


def category(attributes, span_name=""):
    """The kind of work, from the most explicit statement a client made down to circumstantial evidence."""
    value = attributes.get("openinference.span.kind")
    if isinstance(value, str) and value.upper() in OPENINFERENCE_KINDS:
        return OPENINFERENCE_KINDS[value.upper()]
    value = attributes.get("traceloop.span.kind")
    if isinstance(value, str) and value.lower() in TRACELOOP_KINDS:
        return TRACELOOP_KINDS[value.lower()]
    value = attributes.get("gen_ai.operation.name")
    if isinstance(value, str) and value.lower() in GENAI_OPERATIONS:
        return GENAI_OPERATIONS[value.lower()]
    value = attributes.get("module.type")
    if isinstance(value, str):
        lowered = value.lower()
        for stem, kind in MODULE_TYPE_STEMS:
            if stem in lowered:
                return kind
    span_type = attributes.get("span.type")
    span_type = MSGTRACE_SPAN_TYPES.get(span_type.lower()) if isinstance(span_type, str) else None
    # msgtrace-sdk calls every span a "module": what the module did says more.
    if span_type is not None and span_type != "module":
        return span_type
    if _first(attributes, FIELD_KEYS["tool_name"]) is not None:
        return "tool"
    if _first(attributes, FIELD_KEYS["agent_name"]) is not None:
        return "agent"
    if (
        _first(attributes, FIELD_KEYS["model"]) is not None
        or _first(attributes, FIELD_KEYS["input_tokens"]) is not None
        or _first(attributes, FIELD_KEYS["output_tokens"]) is not None
    ):
        return "llm"
    return span_type or "other"


def normalize(attributes, span_name="", ignored=None, start_ns=None):
    """Normalized fields of one span, as a dict keyed like the Span model's columns.

    Token counts and costs outside their plausible range are left out (the attribute itself is
    kept): one absurd number must not poison every total it would be summed into. Each value left
    out is described in `ignored`, so that ingest can tell the client."""
    ignored = [] if ignored is None else ignored
    fields = {
        "category": category(attributes, span_name),
        "model": _text(attributes, "model"),
        "response_model": _text(attributes, "response_model"),
        "provider": _text(attributes, "provider")[:128],
        "operation": _text(attributes, "operation")[:128],
        "input_tokens": _int(attributes, "input_tokens", ignored),
        "output_tokens": _int(attributes, "output_tokens", ignored),
        "total_tokens": _int(attributes, "total_tokens", ignored),
        "input_cost": _float(attributes, "input_cost", ignored),
        "output_cost": _float(attributes, "output_cost", ignored),
        "total_cost": _float(attributes, "total_cost", ignored),
        "currency": _text(attributes, "currency")[:16],
        "workflow_name": _text(attributes, "workflow_name"),
        "module_name": _text(attributes, "module_name"),
        "module_type": _text(attributes, "module_type")[:128],
        "tool_name": _text(attributes, "tool_name"),
        "agent_name": _text(attributes, "agent_name"),
        "user_id": _text(attributes, "user_id"),
        "session_id": _text(attributes, "session_id"),
    }
    span_type = attributes.get("span.type")
    # msgtrace-sdk names a flow or module span after the flow or module and sets nothing else.
    if span_type == "flow" and not fields["workflow_name"]:
        fields["workflow_name"] = span_name[:_TEXT_LIMIT]
    elif span_type == "module" and not fields["module_name"]:
        fields["module_name"] = span_name[:_TEXT_LIMIT]
    entity = attributes.get("traceloop.entity.name")
    if isinstance(entity, str) and entity:
        traceloop_kind = attributes.get("traceloop.span.kind")
        if traceloop_kind == "tool" and not fields["tool_name"]:
            fields["tool_name"] = entity[:_TEXT_LIMIT]
        elif traceloop_kind == "agent" and not fields["agent_name"]:
            fields["agent_name"] = entity[:_TEXT_LIMIT]
    if fields["total_tokens"] is None and (fields["input_tokens"] is not None or fields["output_tokens"] is not None):
        fields["total_tokens"] = (fields["input_tokens"] or 0) + (fields["output_tokens"] or 0)
    if fields["total_cost"] is None and (fields["input_cost"] is not None or fields["output_cost"] is not None):
        fields["total_cost"] = (fields["input_cost"] or 0.0) + (fields["output_cost"] or 0.0)
    if not fields["currency"] and fields["total_cost"] is not None:
        fields["currency"] = "USD"
    # Last: a cost the client reported is kept; model calls with tokens only get an estimate.
    price_span(fields, attributes, start_ns)
    return fields


def service_name(resource_attributes):
    value = resource_attributes.get("service.name")
    if value is None or value == "":
        return ""
    return (value if isinstance(value, str) else str(value))[:_TEXT_LIMIT]


# ---------------------------------------------------------------------------------------------
# Prompt and completion content, read when a span is shown (never on the ingest path).
#
# Everything here reads what a client chose to send, so nothing is assumed about a value's type: a
# role may be a number, parts a string, a tool call's function a string, an index 5,000 digits long,
# a JSON string nested too deep to parse. Each shape is checked; what does not fit is shown as text.

# JSON hidden in string values is parsed only up to these bounds; past them the value stays text.
# Ingest already caps values (MSGTRACE_MAX_ATTRIBUTE_BYTES), the size bound keeps a raised cap from
# turning every page view into a long parse; the depth bound matches ingest's for structured values.
JSON_MAX_CHARS = 2_000_000
JSON_MAX_DEPTH = 32
# Flattened lists (`llm.input_messages.<i>.…`) longer than this are no conversation a model saw.
_MAX_INDEX_DIGITS = 6
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class _TooDeep(Exception):
    pass


def _checked(value, depth=0, fix_surrogates=False):
    """`value` as json.loads returned it, refused past JSON_MAX_DEPTH; with fix_surrogates, lone
    surrogates (which no page can encode) replaced by U+FFFD."""
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace") if fix_surrogates else value
    if isinstance(value, (list, dict)) and depth >= JSON_MAX_DEPTH:
        raise _TooDeep
    if isinstance(value, list):
        return [_checked(item, depth + 1, fix_surrogates) for item in value]
    if isinstance(value, dict):
        return {_checked(k, depth, fix_surrogates): _checked(v, depth + 1, fix_surrogates) for k, v in value.items()}
    return value


def load_json(text):
    """The list or object a string holds as JSON, or None: also for JSON too large or too deeply
    nested to show as a structure, which the pages then show as the text it is."""
    if not isinstance(text, str) or len(text) > JSON_MAX_CHARS:
        return None
    stripped = text.strip()
    if stripped[:1] not in ("[", "{"):
        return None
    try:
        parsed = json.loads(stripped)
        # json's escapes can spell surrogates that are no text at all; only then is the copy needed
        return _checked(parsed, fix_surrogates=_SURROGATE_ESCAPE.search(stripped) is not None)
    except (ValueError, RecursionError, _TooDeep):
        return None


def _parse_json(value):
    if isinstance(value, (list, dict)):
        return value  # a structured attribute: ingest bounded its depth
    return load_json(value)


def as_text(value):
    """Any value as display text: strings as they are, lists and objects as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def label(value):
    """A name or id: text or a number as text, otherwise (a list, an object) None."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _index_and_rest(key, dotted):
    """`<dotted><index>.<rest>` -> (index, rest), or None when the key is no item of that list."""
    if not key.startswith(dotted):
        return None
    index, _, rest = key[len(dotted) :].partition(".")
    if not rest or not index.isdigit() or not index.isascii() or len(index) > _MAX_INDEX_DIGITS:
        return None
    return int(index), rest


def _indexed(attributes, prefix):
    """Flattened lists such as `llm.input_messages.0.message.role` -> [{"message.role": ...}]."""
    items = {}
    dotted = prefix + "."
    for key, value in attributes.items():
        found = _index_and_rest(key, dotted)
        if found is not None:
            items.setdefault(found[0], {})[found[1]] = value
    return [items[i] for i in sorted(items)]


def _tool_call(call_id, name, arguments):
    return {"id": label(call_id), "name": label(name), "arguments": arguments}


def _message_from_parts(message):
    """An OTel GenAI message ({role, parts: [...]}) -> {role, content, tool_calls, tool_responses}."""
    texts, tool_calls, tool_responses = [], [], []
    parts = message.get("parts")
    for part in parts if isinstance(parts, list) else [] if parts is None else [parts]:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            texts.append(as_text(part.get("content")))
        elif kind == "tool_call":
            tool_calls.append(_tool_call(part.get("id"), part.get("name"), part.get("arguments")))
        elif kind == "tool_call_response":
            tool_responses.append({"id": label(part.get("id")), "response": part.get("response")})
        else:
            texts.append(as_text(part))
    result = {"role": as_text(message.get("role")), "content": "\n".join(texts)}
    if tool_calls:
        result["tool_calls"] = tool_calls
    if tool_responses:
        result["tool_responses"] = tool_responses
    if message.get("finish_reason"):
        result["finish_reason"] = as_text(message["finish_reason"])
    return result


def _message_from_dict(message):
    """A chat message in the OpenAI shape ({role, content, tool_calls}) or the OTel parts shape."""
    if "parts" in message:
        return _message_from_parts(message)
    content = message.get("content")
    if isinstance(content, list):  # OpenAI content parts
        content = "\n".join(
            as_text(p.get("text")) if isinstance(p, dict) and p.get("type") == "text" else as_text(p) for p in content
        )
    result = {"role": as_text(message.get("role")), "content": as_text(content)}
    calls = message.get("tool_calls")
    if isinstance(calls, list) and calls:
        result["tool_calls"] = []
        for call in calls:
            if not isinstance(call, dict):
                continue
            function = call.get("function")
            function = function if isinstance(function, dict) else {}
            result["tool_calls"].append(_tool_call(
                call.get("id"), function.get("name", call.get("name")), function.get("arguments", call.get("arguments"))
            ))
    if message.get("tool_call_id"):
        result["tool_responses"] = [{"id": label(message["tool_call_id"]), "response": result.pop("content")}]
        result["content"] = ""
    if message.get("finish_reason"):
        result["finish_reason"] = as_text(message["finish_reason"])
    return result


def _messages(items):
    """Messages from a decoded list: a message is an object; anything else is shown as a message's text."""
    return [_message_from_dict(m) if isinstance(m, dict) else {"role": "", "content": as_text(m)} for m in items]


def _flat_tool_calls(item, prefix, fields):
    """Tool calls flattened under one message (`<prefix><i>.<field>`): [{id, name, arguments}]."""
    calls = {}
    for key, value in item.items():
        found = _index_and_rest(key, prefix)
        if found is not None:
            calls.setdefault(found[0], {})[found[1]] = value
    return [_tool_call(*(c.get(field) for field in fields)) for _, c in sorted(calls.items())]


def _openinference_messages(attributes, prefix):
    messages = []
    for item in _indexed(attributes, prefix):
        message = {"role": as_text(item.get("message.role")), "content": as_text(item.get("message.content"))}
        calls = _flat_tool_calls(item, "message.tool_calls.",
                                 ("tool_call.id", "tool_call.function.name", "tool_call.function.arguments"))
        if calls:
            message["tool_calls"] = calls
        messages.append(message)
    return messages


def _openllmetry_messages(attributes, prefix):
    messages = []
    for item in _indexed(attributes, prefix):
        message = {"role": as_text(item.get("role")), "content": as_text(item.get("content"))}
        calls = _flat_tool_calls(item, "tool_calls.", ("id", "name", "arguments"))
        if calls:
            message["tool_calls"] = calls
        if item.get("finish_reason"):
            message["finish_reason"] = as_text(item["finish_reason"])
        messages.append(message)
    return messages


def _present(value):
    return value is not None and value != ""


def _content(attributes, genai_key, openinference_prefix, msgtrace_key, openllmetry_prefix, plain_key):
    """{"messages": [...]} when the content is a conversation, {"text": "..."} otherwise, or None."""
    genai = attributes.get(genai_key)
    parsed = _parse_json(genai)
    if isinstance(parsed, dict) and ("role" in parsed or "parts" in parsed):
        parsed = [parsed]
    if isinstance(parsed, list) and parsed:
        return {"messages": _messages(parsed), "source": genai_key}
    messages = _openinference_messages(attributes, openinference_prefix)
    if messages:
        return {"messages": messages, "source": openinference_prefix}
    value = attributes.get(msgtrace_key)
    if _present(value):
        parsed = _parse_json(value)
        if isinstance(parsed, list) and parsed and all(isinstance(m, dict) for m in parsed):
            return {"messages": _messages(parsed), "source": msgtrace_key}
        if isinstance(parsed, dict) and ("role" in parsed or "parts" in parsed):
            return {"messages": _messages([parsed]), "source": msgtrace_key}
        return {"text": as_text(value), "source": msgtrace_key}
    messages = _openllmetry_messages(attributes, openllmetry_prefix)
    if messages:
        return {"messages": messages, "source": openllmetry_prefix}
    value = attributes.get(plain_key)
    if _present(value):
        parsed = _parse_json(value)
        if isinstance(parsed, dict) and isinstance(parsed.get("messages"), list) and parsed["messages"]:
            return {"messages": _messages(parsed["messages"]), "source": plain_key}
        return {"text": as_text(value), "source": plain_key}
    if _present(genai) and genai != []:  # there, but no conversation: still the content the client sent
        return {"text": as_text(genai), "source": genai_key}
    return None


def prompt(attributes):
    """The span's input: messages when the client sent a conversation, text otherwise, or None."""
    return _content(
        attributes, "gen_ai.input.messages", "llm.input_messages", "gen_ai.prompt", "gen_ai.prompt", "input.value"
    )


def completion(attributes):
    """The span's output: messages when the client sent a conversation, text otherwise, or None."""
    return _content(
        attributes,
        "gen_ai.output.messages",
        "llm.output_messages",
        "gen_ai.completion",
        "gen_ai.completion",
        "output.value",
    )
