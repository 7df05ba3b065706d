"""Spans a client crafted to break the pages that show them. Whatever shape a value has, the span panel,
the span page and the trace page answer 200 and show it, at worst as escaped text."""

import html
import itertools
import json
import re
from html.parser import HTMLParser

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
            for cls, label, body in found]


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
)
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


# --- everything else an attacker would try ----------------------------------------------------------------

# (value, how it must appear in the page: escaped, as text)
INJECTIONS = [
    ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
    ("<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)&gt;"),
    ('<a hx-get="/evil" hx-trigger="load" href="javascript:alert(1)">x</a>', "&lt;a hx-get="),
    ('"><svg onload=alert(1)>', "&lt;svg onload=alert(1)&gt;"),
    ("' onmouseover='alert(1)", "onmouseover="),
    ("javascript:alert(1)", "javascript:alert(1)"),
    ("{{ request }}{% debug %}", "{{ request }}{% debug %}"),
]
ODD_VALUES = [5, -1.5, None, True, [], {}, [1, [2, [3, None]]], {"a": {"b": [None, False]}}, "x" * 100_000,
              "\u202eRTL · 日本語 · 🎉 · \u200b", DEEP, *(value for value, _ in INJECTIONS)]


def _conventions(v):
    """Every place the span panel reads content from, each filled with `v` wherever a value goes."""
    j = json.dumps
    return {
        "genai parts": {"attributes": {"gen_ai.input.messages": j([{"role": v, "parts": [
            {"type": "text", "content": v}, {"type": "tool_call", "id": v, "name": v, "arguments": v},
            {"type": "tool_call_response", "id": v, "response": v}, {"type": v}, v], "finish_reason": v}])}},
        "genai parts not a list": {"attributes": {"gen_ai.output.messages": j([{"role": v, "parts": v}, v])}},
        "genai openai shape": {"attributes": {"gen_ai.output.messages": j([{"role": "assistant", "content": v,
            "tool_calls": [{"id": v, "function": {"name": v, "arguments": v}}, {"function": v}, v],
            "finish_reason": v}, {"role": "tool", "tool_call_id": v, "content": v}])}},
        "genai structured": {"attributes": {"gen_ai.input.messages": v, "gen_ai.output.messages": [v, {"role": v}]}},
        "msgtrace prompt": {"attributes": {"gen_ai.prompt": j([{"role": v, "content": [{"type": "text", "text": v}, v]}]),
                                           "gen_ai.completion": j({"role": v, "content": v})}},
        "msgtrace raw": {"attributes": {"gen_ai.prompt": j(v), "gen_ai.completion": v}},
        "msgtrace tools": {"attributes": {
            "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": v, "gen_ai.tool.call.id": v,
            "gen_ai.tool.call.arguments": j(v), "gen_ai.tool.response": v, "gen_ai.tool.call.result": j([v]),
            "tool.callings": j([{"id": v, "name": v, "arguments": v, "function": v}, v]),
            "tool.responses": j([{"id": v, "content": v, "name": v}, v])}},
        "openinference": {"attributes": {
            "llm.input_messages.0.message.role": v, "llm.input_messages.0.message.content": v,
            "llm.input_messages.0.message.tool_calls.0.tool_call.function.name": v,
            "llm.input_messages.0.message.tool_calls.0.tool_call.function.arguments": v,
            "llm.input_messages.0.message.tool_calls.x.tool_call.id": v,
            f"llm.output_messages.{HUGE_INDEX}.message.content": v, "llm.output_messages.01.message.role": v}},
        "openllmetry": {"attributes": {
            "gen_ai.prompt.0.role": v, "gen_ai.prompt.0.content": v, "gen_ai.prompt.0.tool_calls.0.name": v,
            "gen_ai.prompt.0.tool_calls.0.arguments": v, "gen_ai.completion.0.finish_reason": v,
            "gen_ai.completion.1234567.content": v}},
        "plain values": {"attributes": {"input.value": j({"messages": [v, {"role": v, "content": v}]}),
                                        "output.value": j(v), "metadata": v}},
        "llm facts": {"attributes": {
            "gen_ai.request.model": v, "gen_ai.request.temperature": v, "gen_ai.response.finish_reasons": [v],
            "gen_ai.response.id": v, "llm.invocation_parameters": j({"k": v, str(v)[:50]: [v]})}},
        "events and links": {
            "events": [{"name": "exception", "attributes": {"exception.type": v, "exception.message": v,
                                                            "exception.stacktrace": v, "other": v}},
                       {"name": str(v)[:50], "attributes": {"detail": v}}],
            "links": [(1, 1, {"why": v}), (7, 7, {"why": v})], "span_name": str(v)[:200]},
    }


class _Markup(HTMLParser):
    """Every start tag with its attributes, and the text inside <script>."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.scripts, self._in_script = [], [], False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts.append(data)


def assert_no_injected_markup(text):
    markup = _Markup()
    markup.feed(text)
    for tag, attrs in markup.tags:
        for name, value in attrs:
            assert not name.startswith("on"), (tag, name, value)
            if name in ("href", "src", "action", "formaction", "style") or name.startswith("hx-"):
                # a title or a data-copy may hold the payload as text; where a value is run, it never may
                assert not any(bad in (value or "").lower() for bad in ("javascript:", "/evil", "alert(")), (tag, name)
        assert tag not in ("svg", "img") and not (tag == "a" and dict(attrs).get("hx-trigger")), (tag, attrs)
    assert not any("alert(" in script for script in markup.scripts)


@pytest.mark.parametrize("convention", list(_conventions(0)))
@pytest.mark.parametrize("value", ODD_VALUES, ids=lambda v: repr(v)[:24])
def test_odd_values_in_every_convention_render_as_text(client, convention, value):
    texts = pages(client, **_conventions(value)[convention])
    for text in texts:
        assert_no_injected_markup(text)
    shown = dict(INJECTIONS).get(value) if isinstance(value, str) else None
    if shown is not None:
        assert shown in texts[0] and shown in texts[1]  # the panel and the span page show it, escaped


@pytest.mark.parametrize("value, shown", INJECTIONS)
def test_injected_markup_in_names_and_messages_is_escaped_on_the_trace_page(client, value, shown):
    _, page, trace_page = pages(client, span_name=value, error=value, attributes={"gen_ai.request.model": value})
    for text in (page, trace_page):
        assert_no_injected_markup(text)
        assert shown in text


# --- shapes nobody thought of ------------------------------------------------------------------------------

_text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=30)
_words = st.sampled_from(["text", "tool_call", "tool_call_response", "user", "assistant", "function", "[", "{",
                          "data:image/png;base64," + "A" * 300, *(value for value, _ in INJECTIONS)])
_leaves = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats() | _text | _words
_keys = st.sampled_from(["role", "content", "parts", "type", "text", "name", "id", "arguments", "function",
                         "tool_calls", "tool_call_id", "response", "finish_reason", "messages", "$bytes",
                         "$double", "$truncated_from"]) | _text
_values = st.recursive(_leaves, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=4),
                       max_leaves=16)
_json_keys = st.sampled_from(["gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.prompt", "gen_ai.completion",
                              "input.value", "output.value", "gen_ai.tool.call.arguments", "gen_ai.tool.response",
                              "gen_ai.tool.call.result", "tool.callings", "tool.responses",
                              "llm.invocation_parameters", "gen_ai.response.finish_reasons", "metadata"])
_flat_keys = st.builds(
    "{}.{}.{}".format,
    st.sampled_from(["llm.input_messages", "llm.output_messages", "gen_ai.prompt", "gen_ai.completion"]),
    st.sampled_from(["0", "1", "00", "-1", "x", "999999", "1234567", "٣", HUGE_INDEX]),
    st.sampled_from(["message.role", "message.content", "role", "content", "finish_reason", "tool_calls.0.name",
                     "message.tool_calls.0.tool_call.function.name", "message.tool_calls.9.tool_call.id"]),
)


@st.composite
def _hostile_span(draw):
    attributes = {}
    for key in draw(st.lists(_json_keys, max_size=4)):
        value = draw(_values)
        attributes[key] = json.dumps(value) if draw(st.booleans()) else value
    for key in draw(st.lists(_flat_keys, max_size=4)):
        attributes[key] = draw(_leaves)
    if draw(st.booleans()):
        attributes["gen_ai.request.model"] = draw(_text | _words)
    events = draw(st.lists(st.fixed_dictionaries({
        "name": st.sampled_from(["exception", "log"]) | _words,
        "attributes": st.dictionaries(st.sampled_from(["exception.type", "exception.message",
                                                       "exception.stacktrace"]) | _text, _values, max_size=4),
    }), max_size=2))
    links = draw(st.lists(st.tuples(st.integers(1, 3), st.integers(1, 3), st.dictionaries(_text, _values, max_size=2)),
                          max_size=2))
    return {"span_name": draw(_text | _words), "attributes": attributes, "events": events, "links": links}


_traces = itertools.count(1000)  # each example its own trace: the database is not emptied between them


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])
@given(span=_hostile_span())
def test_any_span_a_client_can_send_renders_without_injected_markup(client, span):
    for text in pages(client, trace=next(_traces), **span):
        assert_no_injected_markup(text)
