"""Spans a client crafted to break the pages that show them. Whatever shape a value has, the span panel,
the span page and the trace page answer 200 and show it, at worst as escaped text."""

import html
import json
import re
from html.parser import HTMLParser

import pytest

from tests import helpers as h

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
DEEP = "[" * 5000 + "]" * 5000  # json.loads gives up with RecursionError
HUGE_INDEX = "9" * 5000  # int() refuses more than 4300 digits


def pages(client, trace=1, span_name="hostile", **span):
    """POST one span, then GET its panel (HTMX), its span page and its trace page: [text, text, text]."""
    answer = h.post(client, h.body(h.span(trace=trace, span=1, name=span_name, **span)))
    assert answer.status_code == 200 and not answer.content, answer.content[:300]  # nothing rejected
    trace_url = f"/traces/{h.trace_id(trace).hex()}"
    span_url = f"{trace_url}/spans/{h.span_id(1).hex()}"
    texts = []
    for url, headers in ((span_url, HTMX), (span_url, {}), (trace_url, {})):
        response = client.get(url, **headers)
        assert response.status_code == 200, (url, response.content[:500])
        texts.append(response.text)
    return texts


def section(text, title_id):
    start = text.index(f'aria-labelledby="{title_id}"')
    end = text.find('<section class="sp-section"', start)
    return text[start : end if end != -1 else None]


def bubbles(text):
    """(role class, role label, text) of each chat bubble, tags stripped."""
    found = re.findall(r'<li class="msg role-(\w+)">\s*<div class="role">([^<]*)(.*?)</li>', text, re.S)
    return [(cls, html.unescape(label.strip()), " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split()))
            for cls, label, body in found]  # fmt: skip


def attribute(text, key):
    """The rendered value cell of one attribute row."""
    match = re.search(rf"<tr><th scope=\"row\">{re.escape(html.escape(key))}</th><td>(.*?)</td></tr>", text, re.S)
    assert match, f"no attribute {key[:40]}"
    return match.group(1)


# --- what the security review sent ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "messages, role",
    [
        ('[{"role":5}]', "5"),
        ('[{"role":5,"parts":[]}]', "5"),
        ('[{"role":{"x":[1]},"parts":[{"type":"text","content":""}]}]', '{"x": [1]}'),
        ('[{"role":null,"content":""}]', "message"),
        ('[{"role":["user"]}]', '["user"]'),
    ],
)
def test_a_role_that_is_no_string_is_shown_as_text(client, messages, role):
    for text in pages(client, attributes={"gen_ai.input.messages": messages})[:2]:
        assert bubbles(section(text, "sp-prompt")) == [("other", role, "")]


def test_parts_that_are_no_list_are_shown_as_they_came(client):
    for text in pages(client, attributes={"gen_ai.input.messages": '[{"role":"user","parts":5}]'})[:2]:
        assert bubbles(section(text, "sp-prompt")) == [("user", "user", "5")]


TOOL_CALL = {"role": "assistant", "content": "checking", "tool_calls": [{"id": "c1", "function": "f"}]}


@pytest.mark.parametrize(
    "attributes, where",
    [
        ({"gen_ai.input.messages": json.dumps([TOOL_CALL])}, "sp-prompt"),
        ({"gen_ai.output.messages": json.dumps([TOOL_CALL])}, "sp-completion"),
        ({"gen_ai.prompt": json.dumps([TOOL_CALL])}, "sp-prompt"),
        ({"gen_ai.completion": json.dumps(TOOL_CALL)}, "sp-completion"),
        ({"input.value": json.dumps({"messages": [TOOL_CALL]})}, "sp-prompt"),
        ({"gen_ai.input.messages": json.dumps([{"role": "assistant", "content": "checking", "parts": [
            {"type": "text", "content": "checking"},
            {"type": "tool_call", "id": "c1", "name": {"function": "f"}, "arguments": 5}]}])}, "sp-prompt"),
        ({"llm.input_messages.0.message.role": "assistant", "llm.input_messages.0.message.content": "checking",
          "llm.input_messages.0.message.tool_calls.0.tool_call.id": "c1",
          "llm.input_messages.0.message.tool_calls.0.tool_call.function": "f"}, "sp-prompt"),
        ({"gen_ai.prompt.0.role": "assistant", "gen_ai.prompt.0.content": "checking",
          "gen_ai.prompt.0.tool_calls.0.id": "c1", "gen_ai.prompt.0.tool_calls.0.function": "f"}, "sp-prompt"),
    ],
)  # fmt: skip
def test_a_tool_call_whose_function_is_a_string_is_a_call_without_a_name(client, attributes, where):
    for text in pages(client, attributes=attributes)[:2]:
        found = bubbles(section(text, where))
        assert [(cls, label) for cls, label, _ in found] == [("assistant", "assistant")]
        assert found[0][2].startswith("checking") and "calls tool c1" in found[0][2]


def test_a_tool_call_an_llm_asked_for_with_a_string_function(client):
    callings = json.dumps([{"id": "c1", "function": "f"}, {"id": "c2", "function": {"name": ["x"], "arguments": 1}}])
    for text in pages(client, attributes={"gen_ai.request.model": "m", "tool.callings": callings})[:2]:
        tools = section(text, "sp-tools")
        assert tools.count('<div class="tool-call">') == 2 and "<strong>tool</strong> <code class=\"muted\">c1" in tools
        assert '<div class="tc-label">Arguments</div><div class="v v-number">1</div>' in tools


@pytest.mark.parametrize(
    "key",
    [
        f"llm.input_messages.{HUGE_INDEX}.message.content",
        f"gen_ai.prompt.{HUGE_INDEX}.content",
        f"llm.input_messages.0.message.tool_calls.{HUGE_INDEX}.tool_call.function.name",
        "llm.input_messages.1234567.message.content",  # seven digits: past any real conversation
    ],
)
def test_an_absurd_index_is_an_ordinary_attribute(client, key):
    panel, page, _ = pages(client, attributes={key: "<b>hello</b>", "llm.input_messages.0.message.role": "user"})
    for text in (panel, page):
        assert attribute(section(text, "sp-attributes"), key) == '<div class="v v-text">&lt;b&gt;hello&lt;/b&gt;</div>'
        assert "<b>hello</b>" not in text
        if "sp-prompt" in text:
            assert "hello" not in section(text, "sp-prompt")


@pytest.mark.parametrize(
    "key, where",
    [
        ("gen_ai.input.messages", "sp-prompt"),
        ("gen_ai.output.messages", "sp-completion"),
        ("gen_ai.prompt", "sp-prompt"),
        ("gen_ai.completion", "sp-completion"),
        ("input.value", "sp-prompt"),
        ("output.value", "sp-completion"),
        ("gen_ai.prompt.0.content", "sp-prompt"),
        ("llm.input_messages.0.message.content", "sp-prompt"),
        ("gen_ai.tool.call.arguments", "sp-tools"),
        ("gen_ai.tool.response", "sp-tools"),
        ("gen_ai.tool.call.result", "sp-tools"),
        ("tool.callings", "sp-attributes"),
        ("tool.responses", "sp-attributes"),
        ("llm.invocation_parameters", "sp-attributes"),
        ("metadata", "sp-attributes"),
    ],
)
def test_json_nested_too_deep_to_parse_is_text(client, key, where):
    attributes = {key: DEEP, "gen_ai.request.model": "m"}
    for text in pages(client, attributes=attributes)[:2]:
        assert f'<div class="v v-text">{"[" * 10}' in section(text, where)
        assert attribute(section(text, "sp-attributes"), key).endswith(f'{"]" * 10}</div></details>')


def test_a_message_whose_content_nests_too_deep_is_text(client):
    attributes = {"gen_ai.input.messages": json.dumps([{"role": "user", "content": DEEP}])}
    for text in pages(client, attributes=attributes)[:2]:
        assert bubbles(section(text, "sp-prompt")) == [("user", "user", f"{'[' * 1200}… Show all · 10,000 characters {DEEP}")]


def test_deep_json_in_events_and_links_is_text(client):
    h.post(client, h.body(h.span(trace=2, span=5, name="other")))
    events = [{"name": "exception", "attributes": {"exception.message": DEEP, "exception.type": 5, "detail": DEEP}}]
    for text in pages(client, events=events, links=[(2, 5, {"why": DEEP})])[:2]:
        assert f'<span class="exc-message">{DEEP}</span>' in section(text, "sp-events")
        assert '<strong class="exc-type">5</strong>' in text
        assert attribute(section(text, "sp-events"), "detail").startswith('<details class="long"><summary><div class="v v-text pv">[[[')
        assert attribute(section(text, "sp-links"), "why").startswith('<details class="long"><summary><div class="v v-text pv">[[[')


def test_json_that_is_not_too_deep_is_still_made_readable(client):
    nested = json.dumps({"a": [[[[{"b": 1}]]]]})
    for text in pages(client, attributes={"input.value": nested, "metadata": nested})[:2]:
        assert section(text, "sp-prompt").count('<div class="v v-json">{\n  &quot;a&quot;') == 1
        assert '<div class="v v-json pv">{\n  &quot;a&quot;: [' in attribute(text, "metadata")


def test_a_lone_surrogate_escaped_in_json_is_replaced_not_fatal(client):
    value = json.dumps([{"role": "\ud800", "content": "a\udfffb"}])  # ASCII JSON that decodes to invalid UTF-8
    attributes = {"gen_ai.input.messages": value, "metadata": '{"k\\ud800": "v\\udc00"}'}
    for text in pages(client, attributes=attributes)[:2]:
        assert bubbles(section(text, "sp-prompt")) == [("other", "\ufffd", "a\ufffdb")]
        assert "&quot;k\ufffd&quot;: &quot;v\ufffd&quot;" in attribute(text, "metadata")


def test_a_client_map_that_looks_like_a_tagged_value_is_a_map(client):
    attributes = {"odd": {"$bytes": 5}, "odder": {"$bytes": "AAAA", "$truncated_from": "many"}, "d": {"$double": [1]}}
    for text in pages(client, attributes=attributes)[:2]:
        table = section(text, "sp-attributes")
        assert attribute(table, "odd") == '<div class="v v-json">{\n  &quot;$bytes&quot;: 5\n}</div>'
        assert "&quot;$truncated_from&quot;: &quot;many&quot;" in attribute(table, "odder")
        assert "&quot;$double&quot;: [\n    1\n  ]" in attribute(table, "d")
