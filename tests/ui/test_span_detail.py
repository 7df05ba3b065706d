"""The span panel at /traces/<trace_id>/spans/<span_id>: identity, timing, the LLM call, prompts and
completions as chat transcripts in every convention, tool calls, events, attributes, resource, scope
and links; as an HTMX fragment, or opened directly as the trace page with the panel open."""

import html
import json
import math
import re

import pytest

from tests import helpers as h

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
TRACE = h.trace_id(1).hex()


def panel(client, *spans, span=None, trace=1, **request):
    """POST the spans (under one resource), then GET the panel of `span` (default: the last one) with HTMX."""
    if spans:
        assert h.post(client, h.body(*spans, **request)).status_code == 200
    span_id = span if span is not None else spans[-1].span_id.hex()
    if isinstance(span_id, int):
        span_id = h.span_id(span_id).hex()
    response = client.get(f"/traces/{h.trace_id(trace).hex()}/spans/{span_id}", **HTMX)
    assert response.status_code == 200, response.content[:500]
    return response.text


def section(text, title_id):
    start = text.index(f'aria-labelledby="{title_id}"')
    end = text.find('<section class="sp-section"', start)
    return text[start : end if end != -1 else None]


def bubbles(text):
    """(role class, role label, text) of each chat bubble, tags stripped."""
    found = re.findall(r'<li class="msg role-(\w+)">\s*<div class="role">([^<]*)(.*?)</li>', text, re.S)
    return [(cls, label.strip(), " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split()))
            for cls, label, body in found]


def attribute(text, key):
    """The rendered value cell of one attribute row."""
    match = re.search(rf"<tr><th scope=\"row\">{re.escape(key)}</th><td>(.*?)</td></tr>", text, re.S)
    assert match, f"no attribute {key}"
    return match.group(1)


# --- identity and timing ---------------------------------------------------------------------------


def test_the_panel_names_the_span_and_gives_its_ids_to_copy(client):
    text = panel(client, h.span(span=1, name="support flow", duration_ms=100),
                 h.span(span=2, parent=1, name="lookup", start_ms=25, duration_ms=50))

    assert text.lstrip().startswith("<article") and "<html" not in text
    assert '<h2 id="sp-title" tabindex="-1">lookup</h2>' in text
    for value in (TRACE, h.span_id(2).hex(), h.span_id(1).hex()):
        assert f'data-copy="{value}"' in text
    parent = f"/traces/{TRACE}/spans/{h.span_id(1).hex()}"
    assert f'<a class="parent" href="{parent}" hx-get="{parent}">support flow</a>' in text
    assert '<dt>Duration</dt><dd>50 ms</dd>' in text
    assert "+25 ms into the trace" in text
    assert '<time datetime="2026-01-01T00:00:00.025Z"' in text and '<time datetime="2026-01-01T00:00:00.075Z"' in text
    assert '<span class="badge cat">Other</span>' in text
    assert '<span class="badge plain" title="OpenTelemetry span kind">internal</span>' in text


def test_a_root_span_has_no_parent_and_a_missing_parent_is_flagged(client):
    assert "none: a root span" in panel(client, h.span(span=1, name="root"))
    text = panel(client, h.span(span=2, parent=77, name="orphan"))
    assert 'title="The parent span never arrived">not received</span>' in text and h.span_id(77).hex() in text


def test_the_close_button_returns_to_the_trace_in_the_same_view(client):
    h.post(client, h.body(h.span(span=1, name="root")))
    url = f"/traces/{TRACE}/spans/{h.span_id(1).hex()}"
    assert f'<a class="close" href="/traces/{TRACE}" data-close-on-escape' in client.get(url, **HTMX).text
    tree = client.get(url + "?view=tree", **HTMX).text
    assert f'<a class="close" href="/traces/{TRACE}?view=tree" data-close-on-escape' in tree


def test_the_status_and_its_message(client):
    text = panel(client, h.span(span=1, name="fails", error="payment declined"))
    assert '<span class="badge error">error</span>' in text
    assert '<dt>Status</dt><dd>error: <span class="error-text">payment declined</span></dd>' in text


def test_opened_without_htmx_the_span_is_the_trace_page_with_its_panel_open(client):
    h.post(client, h.body(h.span(span=1, name="root", duration_ms=10), h.span(span=2, parent=1, name="child")))
    page = client.get(f"/traces/{TRACE}/spans/{h.span_id(2).hex()}").text

    assert "<html" in page and 'class="spans timeline"' in page
    panel_html = page[page.index('<aside id="span-panel"') :]
    assert f'data-span-id="{h.span_id(2).hex()}"' in panel_html
    assert '<h2 id="sp-title" tabindex="-1">child</h2>' in panel_html
    assert 'class="spans tree"' in client.get(f"/traces/{TRACE}/spans/{h.span_id(2).hex()}?view=tree").text


def test_unknown_spans_and_traces_are_404_pages(client):
    h.post(client, h.body(h.span(span=1, name="root")))
    missing_span = client.get(f"/traces/{TRACE}/spans/{h.span_id(9).hex()}", **HTMX)
    assert missing_span.status_code == 404 and "No span <code>" in missing_span.text
    assert f'href="/traces/{TRACE}"' in missing_span.text
    assert client.get(f"/traces/{'0' * 32}/spans/{h.span_id(1).hex()}").status_code == 404
    assert client.get(f"/traces/{TRACE}/spans/not-an-id").status_code == 404


# --- the LLM call --------------------------------------------------------------------------------


def test_an_llm_call_shows_model_usage_cost_and_every_request_parameter(client):
    text = panel(client, h.span(span=1, name="chat gpt-4o", attributes={
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
        "gen_ai.response.model": "gpt-4o-2024-08-06", "gen_ai.request.temperature": 0.2,
        "gen_ai.request.max_tokens": 512, "gen_ai.request.stop_sequences": ["END"],
        "gen_ai.usage.input_tokens": 1200, "gen_ai.usage.output_tokens": 34,
        "gen_ai.usage.cost.input_tokens": 0.003, "gen_ai.usage.cost.output_tokens": 0.0005,
        "gen_ai.usage.cost.currency": "EUR", "gen_ai.response.finish_reasons": ["stop"]}))
    llm = section(text, "sp-llm")

    for fact in ("<dt>Model</dt><dd>gpt-4o</dd>", "<dt>Response model</dt><dd>gpt-4o-2024-08-06</dd>",
                 "<dt>Provider</dt><dd>openai</dd>", "<dt>Operation</dt><dd>chat</dd>", "<dt>Finish</dt><dd>stop</dd>"):
        assert fact in llm, fact
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", llm, re.S)]
    assert cells[4:8] == ["Tokens", "1,200", "34", "1,234"]
    assert cells[8:12] == ["Cost EUR", "EUR 0.0030", "EUR 0.0005", "EUR 0.0035"]
    parameters = dict(re.findall(r"<dt>([\w.]+)</dt><dd><div class=\"v v-\w+\">(.*?)</div></dd>", llm, re.S))
    assert parameters == {"max_tokens": "512", "stop_sequences": '[\n  &quot;END&quot;\n]', "temperature": "0.2"}


def test_a_call_that_reported_no_cost_has_no_cost_row(client):
    text = panel(client, h.span(span=1, name="chat", attributes={"gen_ai.request.model": "llama3",
                                                                 "gen_ai.usage.input_tokens": 5}))
    assert "<dt>Model</dt><dd>llama3</dd>" in text and ">Tokens</th>" in text and ">Cost <span" not in text


def test_a_span_that_is_no_model_call_has_no_llm_section(client):
    assert 'id="sp-llm"' not in panel(client, h.span(span=1, name="db query", attributes={"db.system": "postgresql"}))


# --- prompts and completions as chat transcripts ----------------------------------------------------


def test_otel_genai_messages_are_a_chat_transcript_with_tool_calls(client):
    prompt = [{"role": "system", "parts": [{"type": "text", "content": "You answer forecast questions."}]},
              {"role": "user", "parts": [{"type": "text", "content": "Forecast for Paris?"}]}]
    output = [{"role": "assistant", "finish_reason": "tool_call", "parts": [
        {"type": "tool_call", "id": "call_1", "name": "get_forecast", "arguments": {"city": "Paris"}}]}]
    text = panel(client, h.span(span=1, name="openai.chat", attributes={
        "gen_ai.operation.name": "chat", "gen_ai.input.messages": json.dumps(prompt),
        "gen_ai.output.messages": json.dumps(output)}))

    assert bubbles(section(text, "sp-prompt")) == [
        ("system", "system", "You answer forecast questions."), ("user", "user", "Forecast for Paris?")]
    assert "Prompt <span class=\"muted\">· 2 messages</span>" in text
    completion = section(text, "sp-completion")
    assert bubbles(completion)[0][:2] == ("assistant", "assistant")
    assert "calls <strong>get_forecast</strong>" in completion and "call_1" in completion
    assert '<div class="v v-json">{\n  &quot;city&quot;: &quot;Paris&quot;\n}</div>' in completion
    assert "read from <code>gen_ai.input.messages</code>" in text


def test_a_tool_result_in_the_conversation_is_its_own_bubble(client):
    prompt = [{"role": "user", "content": "Weather?"},
              {"role": "assistant", "content": None, "tool_calls": [
                  {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": '{"city":"Oslo"}'}}]},
              {"role": "tool", "tool_call_id": "c1", "content": '{"temp_c": 3}'}]
    text = panel(client, h.span(span=1, name="chat", attributes={"gen_ai.input.messages": json.dumps(prompt)}))
    found = bubbles(section(text, "sp-prompt"))

    assert [cls for cls, _, _ in found] == ["user", "assistant", "tool"]
    assert "calls weather c1" in found[1][2] and '"city": "Oslo"' in found[1][2]
    assert found[2][2] == 'result of c1 { "temp_c": 3 }'


def test_openinference_flattened_messages_are_a_chat_transcript(client):
    text = panel(client, h.span(span=1, name="llm", attributes={
        "openinference.span.kind": "LLM", "llm.model_name": "claude-3-5-haiku",
        "llm.input_messages.0.message.role": "system", "llm.input_messages.0.message.content": "Be terse.",
        "llm.input_messages.1.message.role": "user", "llm.input_messages.1.message.content": "Capital of France?",
        "llm.output_messages.0.message.role": "assistant",
        "llm.output_messages.0.message.content": "Paris."}))

    assert bubbles(section(text, "sp-prompt")) == [
        ("system", "system", "Be terse."), ("user", "user", "Capital of France?")]
    assert bubbles(section(text, "sp-completion")) == [("assistant", "assistant", "Paris.")]


def test_a_msgtrace_prompt_holding_a_json_list_is_a_chat_transcript(client):
    prompt = [{"role": "system", "content": "You are a helpful support agent."},
              {"role": "user", "content": "What's the weather in Paris?"}]
    text = panel(client, h.span(span=1, name="chat gpt-5", attributes={
        "gen_ai.operation.name": "chat", "gen_ai.prompt": json.dumps(prompt),
        "gen_ai.completion": "Il fait beau."}))

    assert bubbles(section(text, "sp-prompt")) == [
        ("system", "system", "You are a helpful support agent."),
        ("user", "user", "What's the weather in Paris?"),
    ]
    completion = section(text, "sp-completion")
    assert ">Output<" in completion and '<div class="v v-text">Il fait beau.</div>' in completion
    assert "<li class=\"msg" not in completion


def test_openllmetry_indexed_prompts_are_a_chat_transcript(client):
    text = panel(client, h.span(span=1, name="openai.chat", attributes={
        "gen_ai.prompt.0.role": "user", "gen_ai.prompt.0.content": "Tell me a joke",
        "gen_ai.completion.0.role": "assistant", "gen_ai.completion.0.content": "Why did the span cross the trace?",
        "gen_ai.completion.0.finish_reason": "stop"}))

    assert bubbles(section(text, "sp-prompt")) == [("user", "user", "Tell me a joke")]
    assert bubbles(section(text, "sp-completion")) == [
        ("assistant", "assistant", "· stop Why did the span cross the trace?")]


def test_a_plain_text_prompt_is_text_and_a_long_one_is_collapsed(client):
    short = panel(client, h.span(span=1, name="complete", attributes={"gen_ai.prompt": "Summarise: <b>spans</b>"}))
    assert '<div class="v v-text">Summarise: &lt;b&gt;spans&lt;/b&gt;</div>' in section(short, "sp-prompt")
    assert ">Input<" in short

    long_text = "\n".join(f"line {i} of a long document" for i in range(200))
    text = section(panel(client, h.span(span=2, name="long", attributes={"input.value": long_text})), "sp-prompt")
    assert '<details class="long"><summary><div class="v v-text pv">line 0 of a long document' in text
    assert "Show all · 200 lines</span>" in text
    assert f'<div class="v v-text">{long_text}</div></details>' in text  # the whole text, once opened


def test_a_base64_image_in_a_message_is_left_out_of_the_bubble(client):
    image = "data:image/png;base64," + "A" * 4000
    prompt = [{"role": "user", "content": [{"type": "text", "text": "What is this?"},
                                           {"type": "image_url", "image_url": {"url": image}}]}]
    text = panel(client, h.span(span=1, name="vision", attributes={"gen_ai.prompt": json.dumps(prompt)}))
    prompt_section = section(text, "sp-prompt")

    assert "A" * 300 not in prompt_section and "KB of base64 left out here" in prompt_section
    assert "A" * 300 in text  # the attribute itself still has it


# --- tool calls ----------------------------------------------------------------------------------------


def test_a_tool_span_shows_its_arguments_and_result_as_json(client):
    text = panel(client, h.span(span=1, name="get_weather", attributes={
        "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "get_weather", "gen_ai.tool.call.id": "call_1",
        "gen_ai.tool.call.arguments": '{"city": "Paris"}',
        "gen_ai.tool.response": '{"city": "Paris", "temp_c": 22}'}))
    tools = section(text, "sp-tools")

    assert "<strong>get_weather</strong>" in tools and "call_1" in tools
    assert '<div class="v v-json">{\n  &quot;city&quot;: &quot;Paris&quot;\n}</div>' in tools
    assert '<div class="v v-json">{\n  &quot;city&quot;: &quot;Paris&quot;,\n  &quot;temp_c&quot;: 22\n}</div>' in tools


def test_the_tool_calls_an_llm_asked_for_are_matched_with_their_results(client):
    text = panel(client, h.span(span=1, name="chat", attributes={
        "gen_ai.request.model": "gpt-5",
        "tool.callings": json.dumps([{"id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}},
                                     {"id": "call_2", "name": "get_time", "arguments": {}}]),
        "tool.responses": json.dumps([{"id": "call_1", "content": {"sky": "sunny"}}])}))
    tools = section(text, "sp-tools")

    calls = re.findall(r'<div class="tool-call">(.*?)</div>\s*</div>', tools, re.S)
    assert "get_weather" in calls[0] and "&quot;sky&quot;: &quot;sunny&quot;" in calls[0]
    assert "get_time" in calls[1] and "Result" not in calls[1]


def test_the_corpus_llm_span_shows_its_prompt_and_requested_tool_call(client):
    h.post_corpus(client, "msgtrace-sdk/007.bin")
    text = client.get("/traces/e3ef0dee08535b055f577d8d3b1dd0d3/spans/861bf4d64b9afc01", **HTMX).text

    assert bubbles(section(text, "sp-prompt")) == [
        ("system", "system", "You are a helpful support agent."),
        ("user", "user", "What's the weather in Paris? Answer in French."),
    ]
    assert "<strong>get_weather</strong>" in section(text, "sp-tools")
    assert "<dt>temperature</dt>" in text and "<dt>max_tokens</dt>" in text and "<dt>endpoint</dt>" in text


def test_the_corpus_openllmetry_span_shows_the_failed_tool_result_in_the_conversation(client):
    h.post_corpus(client, "msgflux/004.bin")
    text = client.get("/traces/a392f105768077833fceddc18e4eebd1/spans/2a190e2396714077", **HTMX).text
    found = bubbles(section(text, "sp-prompt"))

    assert [cls for cls, _, _ in found] == ["system", "user", "assistant", "tool"]
    assert "Task 0 failed: weather API unreachable for Paris" in found[3][2]
    assert bubbles(section(text, "sp-completion"))[0][2].endswith("According to the tool, it is sunny in Paris (22C).")


# --- events ---------------------------------------------------------------------------------------------


def test_events_sit_on_a_small_timeline_with_their_attributes_and_stack_traces(client):
    stack = 'Traceback (most recent call last):\n  File "pay.py", line 3\nRuntimeError: declined\n'
    text = panel(client, h.span(span=1, name="pay", start_ms=0, duration_ms=200, error="declined", events=[
        {"name": "retry", "at_ms": 50, "attributes": {"attempt": 2}},
        {"name": "exception", "at_ms": 150, "attributes": {"exception.type": "RuntimeError",
                                                           "exception.message": "declined",
                                                           "exception.stacktrace": stack,
                                                           "custom": "x"}}]))
    events = section(text, "sp-events")

    assert 'style="--x:25.00%" title="retry · +50 ms"' in events
    assert '<span class="ev-dot err" style="--x:75.00%" title="exception · +150 ms">' in events
    assert '<span class="ev-time">+50 ms</span> <strong>retry</strong>' in events
    assert '<tr><th scope="row">attempt</th><td><div class="v v-number">2</div></td></tr>' in events
    assert '<strong class="exc-type">RuntimeError</strong>: <span class="exc-message">declined</span>' in events
    assert f"<pre>{html.escape(stack)}</pre>" in events
    assert '<th scope="row">custom</th>' in events and '<th scope="row">exception.stacktrace</th>' not in events


# --- attributes ---------------------------------------------------------------------------------------------


def test_every_attribute_is_in_the_table_sorted_with_json_made_readable(client):
    text = panel(client, h.span(span=1, name="work", attributes={
        "z.last": "plain", "a.first": True, "metadata": '{"key": "value", "nested": {"n": 1}}',
        "tags": ["weather", "fr"], "count": 42, "ratio": 0.5, "not.json": "{oops"}))
    table = section(text, "sp-attributes")

    assert re.findall(r'<th scope="row">([^<]+)</th>', table) == ["a.first", "count", "metadata", "not.json", "ratio",
                                                                  "tags", "z.last"]
    assert attribute(table, "a.first") == '<div class="v v-bool">true</div>'
    assert attribute(table, "count") == '<div class="v v-number">42</div>'
    assert attribute(table, "metadata") == (
        '<div class="v v-json">{\n  &quot;key&quot;: &quot;value&quot;,\n  &quot;nested&quot;: {\n'
        '    &quot;n&quot;: 1\n  }\n}</div>')
    assert attribute(table, "tags") == '<div class="v v-json">[\n  &quot;weather&quot;,\n  &quot;fr&quot;\n]</div>'
    assert attribute(table, "not.json") == '<div class="v v-text">{oops</div>'
    assert "Attributes <span class=\"muted\">· 7</span>" in text


def test_bytes_and_doubles_json_cannot_hold_are_shown_as_people_read_them(client):
    text = panel(client, h.span(span=1, name="odd values", attributes={
        "payload": bytes(range(64)), "small": b"\x00\x01\x02\x03", "nan": math.nan, "inf": math.inf,
        "big": 1e20}))
    table = section(text, "sp-attributes")

    assert attribute(table, "small") == '<div class="v v-bytes">bytes (4) AAECAw==</div>'
    prefix = '<div class="v v-bytes">bytes (64) AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIj'
    assert attribute(table, "payload").startswith(prefix)
    assert attribute(table, "payload").endswith("…</div>")
    assert attribute(table, "nan") == '<div class="v v-number">NaN</div>'
    assert attribute(table, "inf") == '<div class="v v-number">Infinity</div>'
    assert attribute(table, "big") == '<div class="v v-number">1e+20</div>'


def test_a_long_attribute_is_collapsed_behind_its_first_characters(client):
    value = "x" * 5000
    text = panel(client, h.span(span=1, name="big", attributes={"blob": value}))
    cell = attribute(section(text, "sp-attributes"), "blob")

    assert cell.startswith(f'<details class="long"><summary><div class="v v-text pv">{"x" * 160}…</div>')
    assert "Show all · 5,000 characters" in cell and f'<div class="v v-text">{value}</div></details>' in cell


# --- resource, scope and links --------------------------------------------------------------------------------


def test_the_resource_and_scope_that_made_the_span(client):
    text = panel(client, h.span(span=1, name="work"), service="checkout", resource={"deployment.environment": "prod"},
                 scope="my.instrumentation", scope_version="2.1.0")
    resource = section(text, "sp-resource")

    assert attribute(resource, "service.name") == '<div class="v v-text">checkout</div>'
    assert attribute(resource, "deployment.environment") == '<div class="v v-text">prod</div>'
    scope = section(text, "sp-scope")
    assert "<dt>Name</dt><dd>my.instrumentation</dd>" in scope and "<dt>Version</dt><dd>2.1.0</dd>" in scope


def test_links_lead_to_linked_traces_that_are_stored_here(client):
    h.post(client, h.body(h.span(trace=2, span=5, name="producer")))
    text = panel(client, h.span(span=1, name="consumer", links=[(2, 5, {"link.reason": "caused-by"}), (3, 6)]))
    links = section(text, "sp-links")
    stored, missing = h.trace_id(2).hex(), h.trace_id(3).hex()

    assert f'<a href="/traces/{stored}"><code>{stored}</code></a>' in links
    assert f'<a href="/traces/{stored}/spans/{h.span_id(5).hex()}">' in links
    assert f"<code>{missing}</code>" in links and f'href="/traces/{missing}"' not in links
    assert "(trace not stored here)" in links
    assert attribute(links, "link.reason") == '<div class="v v-text">caused-by</div>'


def test_the_kitchen_sink_corpus_renders_every_span(client):
    h.post_corpus(client, "otel-python/001.bin")
    text = client.get("/traces/61d4bbf1f2f6e3a2c4b46acc89333333/spans/d74abbefa0fe0c45", **HTMX).text
    assert "<dt>Dropped attributes</dt><dd>72 " in text

    from traces.models import Span

    for trace_id, span_id in Span.objects.values_list("trace__trace_id", "span_id"):
        assert client.get(f"/traces/{trace_id}/spans/{span_id}", **HTMX).status_code == 200


# --- queries ------------------------------------------------------------------------------------------------------


def test_the_panel_costs_a_fixed_number_of_queries(client, django_assert_num_queries):
    h.post(client, h.body(h.span(trace=2, span=9, name="elsewhere")))
    h.post(client, h.body(
        h.span(span=1, name="root"),
        h.span(span=2, parent=1, name="busy", events=[{"name": f"e{i}"} for i in range(20)],
               links=[(2, 9), (3, 9)], attributes={f"a{i}": i for i in range(50)}),
    ))
    url = f"/traces/{TRACE}/spans/{h.span_id(2).hex()}"
    # the span with its trace, resource and scope; its events; its links; its parent's name; the linked traces
    with django_assert_num_queries(5):
        client.get(url, **HTMX)
    with django_assert_num_queries(3):  # a root without links: no parent or linked traces to look up
        client.get(f"/traces/{TRACE}/spans/{h.span_id(1).hex()}", **HTMX)
    with django_assert_num_queries(5 + 3 - 1):  # opened directly: the panel and the trace page (the trace is known)
        client.get(url)
