"""Attribute conventions -> normalized span fields, and the precedence between conventions."""

import json
from pathlib import Path

import pytest

from traces import semconv


def normalized(attributes, name="span"):
    return semconv.normalize(attributes, name)


@pytest.mark.parametrize(
    "attributes, expected",
    [
        ({"llm.model": "legacy"}, "legacy"),
        ({"llm.model_name": "oi-model"}, "oi-model"),
        ({"gen_ai.response.model": "gpt-4o-2024-08-06"}, "gpt-4o-2024-08-06"),
        ({"gen_ai.request.model": "gpt-4o", "gen_ai.response.model": "gpt-4o-2024-08-06"}, "gpt-4o"),
        ({"gen_ai.request.model": "gpt-4o", "llm.model_name": "other", "llm.model": "x"}, "gpt-4o"),
        ({"llm.model_name": "oi-model", "llm.model": "legacy"}, "oi-model"),
        ({"gen_ai.request.model": "", "llm.model": "legacy"}, "legacy"),
    ],
)
def test_model_precedence(attributes, expected):
    assert normalized(attributes)["model"] == expected


@pytest.mark.parametrize(
    "attributes, expected",
    [
        ({"gen_ai.system": "openai"}, "openai"),
        ({"gen_ai.provider.name": "anthropic", "gen_ai.system": "openai"}, "anthropic"),
        ({"llm.provider": "azure", "llm.system": "openai"}, "azure"),
        ({"llm.system": "openai"}, "openai"),
    ],
)
def test_provider_prefers_the_current_genai_name_over_the_former_one(attributes, expected):
    assert normalized(attributes)["provider"] == expected


@pytest.mark.parametrize(
    "attributes, tokens",
    [
        # msgtrace's original keys
        ({"llm.usage.prompt_tokens": 10, "llm.usage.completion_tokens": 5, "llm.usage.total_tokens": 16}, (10, 5, 16)),
        # OTel GenAI, total derived
        ({"gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 5}, (10, 5, 15)),
        # msgtrace-sdk's explicit total wins over the derived one
        ({"gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 5, "gen_ai.usage.total_tokens": 20},
         (10, 5, 20)),
        # OpenInference
        ({"llm.token_count.prompt": 7, "llm.token_count.completion": 3, "llm.token_count.total": 10}, (7, 3, 10)),
        # OpenLLMetry's older names, with its llm.usage.total_tokens
        ({"gen_ai.usage.prompt_tokens": 8, "gen_ai.usage.completion_tokens": 2, "llm.usage.total_tokens": 10},
         (8, 2, 10)),
        # GenAI wins over OpenInference when both are present
        ({"gen_ai.usage.input_tokens": 1, "llm.token_count.prompt": 99}, (1, None, 1)),
        # numbers sent as strings or doubles are still numbers
        ({"gen_ai.usage.input_tokens": "12", "gen_ai.usage.output_tokens": 3.0}, (12, 3, 15)),
        ({}, (None, None, None)),
    ],
)
def test_token_counts_from_every_convention(attributes, tokens):
    fields = normalized(attributes)
    assert (fields["input_tokens"], fields["output_tokens"], fields["total_tokens"]) == tokens


@pytest.mark.parametrize(
    "attributes, costs, currency",
    [
        # msgtrace-sdk: per-direction costs and a currency, no total
        ({"gen_ai.usage.cost.input_tokens": 0.01, "gen_ai.usage.cost.output_tokens": 0.02,
          "gen_ai.usage.cost.currency": "EUR"}, (0.01, 0.02, 0.03), "EUR"),
        # OpenInference
        ({"llm.cost.prompt": 0.1, "llm.cost.completion": 0.2, "llm.cost.total": 0.35}, (0.1, 0.2, 0.35), "USD"),
        # msgtrace's original keys
        ({"llm.cost.input": 1.0, "llm.cost.output": 2.0, "llm.cost.total": 3.0}, (1.0, 2.0, 3.0), "USD"),
        ({"gen_ai.usage.cost.total": 0.5}, (None, None, 0.5), "USD"),
        ({}, (None, None, None), ""),
    ],
)
def test_costs_with_a_derived_total_and_a_default_currency(attributes, costs, currency):
    fields = normalized(attributes)
    assert (fields["input_cost"], fields["output_cost"], pytest.approx(fields["total_cost"])) == costs
    assert fields["currency"] == currency


@pytest.mark.parametrize(
    "attributes, expected",
    [
        ({"workflow.name": "a", "msgflux.workflow.name": "b", "traceloop.workflow.name": "c"}, "a"),
        ({"msgflux.workflow.name": "b", "traceloop.workflow.name": "c"}, "b"),
        ({"traceloop.workflow.name": "c"}, "c"),
    ],
)
def test_workflow_name_precedence(attributes, expected):
    assert normalized(attributes)["workflow_name"] == expected


def test_a_msgtrace_flow_span_names_its_workflow_and_a_module_span_its_module():
    assert normalized({"span.type": "flow"}, name="Support Agent")["workflow_name"] == "Support Agent"
    assert normalized({"span.type": "module"}, name="retriever")["module_name"] == "retriever"
    assert normalized({"span.type": "module", "module.name": "explicit"}, name="x")["module_name"] == "explicit"


@pytest.mark.parametrize(
    "attributes, expected",
    [
        ({"openinference.span.kind": "RETRIEVER"}, "retriever"),
        ({"openinference.span.kind": "llm"}, "llm"),
        ({"openinference.span.kind": "CHAIN", "gen_ai.request.model": "m"}, "chain"),
        ({"traceloop.span.kind": "workflow"}, "workflow"),
        ({"traceloop.span.kind": "task"}, "chain"),
        ({"gen_ai.operation.name": "chat"}, "llm"),
        ({"gen_ai.operation.name": "embeddings"}, "embedding"),
        ({"gen_ai.operation.name": "execute_tool"}, "tool"),
        ({"gen_ai.operation.name": "invoke_agent"}, "agent"),
        ({"module.type": "Agent"}, "agent"),
        ({"module.type": "tool_library"}, "tool"),
        ({"module.type": "retriever"}, "retriever"),
        ({"span.type": "flow"}, "workflow"),
        ({"span.type": "module"}, "module"),
        ({"span.type": "module", "gen_ai.request.model": "gpt-4o"}, "llm"),
        ({"span.type": "module", "gen_ai.operation.name": "tool"}, "tool"),
        ({"gen_ai.tool.name": "search"}, "tool"),
        ({"tool.name": "search"}, "tool"),
        ({"gen_ai.agent.name": "planner"}, "agent"),
        ({"llm.model": "gpt-4"}, "llm"),
        ({"gen_ai.usage.input_tokens": 3}, "llm"),
        ({"http.method": "GET"}, "other"),
    ],
)
def test_kind_of_work_from_the_most_explicit_statement(attributes, expected):
    assert normalized(attributes)["category"] == expected


def test_names_ids_and_traceloop_entities():
    fields = normalized({
        "gen_ai.tool.name": "search", "gen_ai.agent.name": "planner", "user.id": "alice",
        "session.id": "s-1", "gen_ai.conversation.id": "c-1", "module.name": "m", "module.type": "agent",
    })
    assert (fields["tool_name"], fields["agent_name"], fields["user_id"], fields["session_id"]) == (
        "search", "planner", "alice", "s-1",
    )
    assert normalized({"gen_ai.conversation.id": "c-1"})["session_id"] == "c-1"
    assert normalized({"traceloop.span.kind": "tool", "traceloop.entity.name": "calc"})["tool_name"] == "calc"
    assert normalized({"traceloop.span.kind": "agent", "traceloop.entity.name": "bot"})["agent_name"] == "bot"


def test_unusable_values_are_skipped_not_fatal():
    fields = normalized({
        "gen_ai.usage.input_tokens": "many", "llm.token_count.prompt": 4,
        "gen_ai.usage.cost.input_tokens": {"$double": "NaN"}, "llm.cost.prompt": 0.5,
        "gen_ai.request.model": ["a", "b"], "user.id": 42,
    })
    assert (fields["input_tokens"], fields["input_cost"]) == (4, 0.5)
    assert fields["model"] == '["a", "b"]'
    assert fields["user_id"] == "42"


# --- prompt and completion content -----------------------------------------------------------


def test_genai_messages_with_parts_become_a_transcript():
    attributes = {
        "gen_ai.input.messages": json.dumps([
            {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
            {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]},
        ]),
        "gen_ai.output.messages": json.dumps([
            {"role": "assistant", "finish_reason": "tool_call", "parts": [
                {"type": "tool_call", "id": "c1", "name": "weather", "arguments": {"city": "Paris"}}]},
        ]),
    }
    assert semconv.prompt(attributes) == {
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather in Paris?"}],
        "source": "gen_ai.input.messages",
    }
    assert semconv.completion(attributes)["messages"] == [{
        "role": "assistant", "content": "", "finish_reason": "tool_call",
        "tool_calls": [{"id": "c1", "name": "weather", "arguments": {"city": "Paris"}}],
    }]


def test_openinference_flattened_messages_become_a_transcript():
    attributes = {
        "llm.input_messages.0.message.role": "system",
        "llm.input_messages.0.message.content": "Be brief.",
        "llm.input_messages.1.message.role": "user",
        "llm.input_messages.1.message.content": "Hi",
        "llm.output_messages.0.message.role": "assistant",
        "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "lookup",
        "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": '{"q": 1}',
        "input.value": "ignored when messages exist",
    }
    assert semconv.prompt(attributes)["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
    ]
    assert semconv.completion(attributes)["messages"] == [
        {"role": "assistant", "content": "", "tool_calls": [{"id": None, "name": "lookup", "arguments": '{"q": 1}'}]}
    ]


def test_msgtrace_prompt_is_a_transcript_when_it_holds_a_json_list_and_text_otherwise():
    as_list = {"gen_ai.prompt": json.dumps([{"role": "user", "content": "Hello"}]), "gen_ai.completion": "Hi!"}
    assert semconv.prompt(as_list)["messages"] == [{"role": "user", "content": "Hello"}]
    assert semconv.completion(as_list) == {"text": "Hi!", "source": "gen_ai.completion"}
    assert semconv.prompt({"gen_ai.prompt": "Just text"}) == {"text": "Just text", "source": "gen_ai.prompt"}


def test_openllmetry_indexed_prompts_become_a_transcript():
    attributes = {
        "gen_ai.prompt.0.role": "user",
        "gen_ai.prompt.0.content": "2+2?",
        "gen_ai.completion.0.role": "assistant",
        "gen_ai.completion.0.content": "4",
        "gen_ai.completion.0.finish_reason": "stop",
    }
    assert semconv.prompt(attributes)["messages"] == [{"role": "user", "content": "2+2?"}]
    assert semconv.completion(attributes)["messages"] == [{"role": "assistant", "content": "4", "finish_reason": "stop"}]


def test_plain_input_and_output_values_are_text():
    attributes = {"input.value": "question", "output.value": "answer"}
    assert semconv.prompt(attributes) == {"text": "question", "source": "input.value"}
    assert semconv.completion(attributes) == {"text": "answer", "source": "output.value"}
    assert semconv.prompt({}) is None


def test_every_message_shape_is_read_by_type():
    messages = [
        {"role": 5, "parts": 5},
        {"role": None, "parts": [7, {"type": "text", "content": {"a": 1}}, {"type": "tool_call", "name": ["x"], "id": 3}]},
        {"role": "assistant", "content": {"a": 1}, "tool_calls": [{"id": "c1", "function": "f"}, "junk"]},
        {"role": "assistant", "tool_calls": [{"function": {"name": "lookup", "arguments": "{}"}}]},
        "a bare string",
    ]
    assert semconv.prompt({"gen_ai.input.messages": json.dumps(messages)})["messages"] == [
        {"role": "5", "content": "5"},
        {"role": "", "content": '7\n{"a": 1}', "tool_calls": [{"id": "3", "name": None, "arguments": None}]},
        {"role": "assistant", "content": '{"a": 1}', "tool_calls": [{"id": "c1", "name": None, "arguments": None}]},
        {"role": "assistant", "content": "", "tool_calls": [{"id": None, "name": "lookup", "arguments": "{}"}]},
        {"role": "", "content": "a bare string"},
    ]


def test_flattened_indexes_past_six_digits_are_no_messages():
    attributes = {
        "llm.input_messages.999999.message.content": "kept",
        "llm.input_messages.1000000.message.content": "too far",
        f"llm.input_messages.{'9' * 5000}.message.content": "far too far",
        "llm.input_messages.0.message.tool_calls.1234567.tool_call.function.name": "not a call",
        "llm.input_messages.٣.message.content": "not an ASCII digit",
    }
    assert semconv.prompt(attributes)["messages"] == [{"role": "", "content": ""}, {"role": "", "content": "kept"}]


@pytest.mark.parametrize(
    "text",
    [
        "[" * 5000 + "]" * 5000,  # RecursionError inside json
        "[" * 33 + "]" * 33,  # parses, but deeper than ingest lets structured values be
        "[" + "1" * 5000 + "]",  # ValueError: int() refuses more than 4300 digits
        "[" + " " * semconv.JSON_MAX_CHARS + "]",
        "{oops",
    ],
)
def test_json_too_deep_too_large_or_broken_is_text(text):
    assert semconv.load_json(text) is None
    assert semconv.prompt({"gen_ai.prompt": text}) == {"text": text, "source": "gen_ai.prompt"}
    assert semconv.prompt({"gen_ai.input.messages": text}) == {"text": text, "source": "gen_ai.input.messages"}


def test_json_within_bounds_is_parsed_and_lone_surrogates_are_replaced():
    assert semconv.load_json("[" * 32 + "]" * 32) is not None
    assert semconv.load_json(' {"k\\ud800": ["\\udc00", "\\ud83d\\ude00"]} ') == {"k\ufffd": ["\ufffd", "😀"]}


def test_the_readme_documents_every_convention_in_precedence_order():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    rows = {line.split("|")[1].strip(" `"): line.split("|")[2] for line in readme.splitlines()
            if line.startswith("| `") and line.count("|") == 3}
    for field, keys in semconv.FIELD_KEYS.items():
        documented = [part.strip(" `") for part in rows[field].split("→")]
        assert documented[: len(keys)] == list(keys), field
