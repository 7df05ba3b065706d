"""Hand-built sessions, posted as OTLP the way clients send them:

    session chat-1 (alice), three turns a minute apart, an hour ago:
      turn 1  trace 11  GenAI messages: user "What is 2+2?" -> assistant "4"     tokens 10+5   cost $0.003  120 ms
      turn 2  trace 12  OpenInference messages: "And 3+3?" -> "6"; a tool fails  tokens 20+4   cost $0.005  300 ms
      turn 3  trace 13  no model call; the root's input.value / output.value       no usage               40 ms
    session chat-2 (bob), one turn, 30 minutes ago: trace 14, tokens 100+50, cost $0.05, the model call fails
    session chat-3 (carol), one turn 20 minutes ago sent as msgtrace-sdk sends it: two one-span traces,
      trace 15 (the agent) enclosing trace 16 (its model call), stitched into one run
    trace 17: alice, no session, 10 minutes ago, failed ("quota exceeded")
"""

from opentelemetry.proto.trace.v1.trace_pb2 import Span

from tests.helpers import ago, body, post, span

ALICE_START = 60  # minutes ago


def ids(session, user):
    return {"session.id": session, "user.id": user}


def post_conversations(client):
    t1 = ago(ALICE_START)
    post(client, body(
        span(trace=11, span=1, name="chat turn", start_ms=t1, duration_ms=120, attributes=ids("chat-1", "alice"),
             kind=Span.SPAN_KIND_SERVER),
        span(trace=11, span=2, parent=1, start_ms=t1 + 10, duration_ms=100, model="gpt-4o", tokens=(10, 5),
             cost=(0.001, 0.002), attributes={
                 "gen_ai.input.messages": '[{"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},'
                                          ' {"role": "user", "parts": [{"type": "text", "content": "What is 2+2?"}]}]',
                 "gen_ai.output.messages": '[{"role": "assistant", "parts": [{"type": "text", "content": "4"}]}]'}),
    ))
    t2 = t1 + 60_000
    post(client, body(
        span(trace=12, span=1, name="chat turn", start_ms=t2, duration_ms=300, attributes=ids("chat-1", "alice"),
             kind=Span.SPAN_KIND_SERVER),
        span(trace=12, span=2, parent=1, start_ms=t2 + 5, duration_ms=50, name="lookup", error="tool timed out",
             attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup"}),
        span(trace=12, span=3, parent=1, start_ms=t2 + 60, duration_ms=200, model="gpt-4o", tokens=(20, 4),
             cost=(0.002, 0.003), attributes={
                 "llm.input_messages.0.message.role": "user", "llm.input_messages.0.message.content": "What is 2+2?",
                 "llm.input_messages.1.message.role": "assistant", "llm.input_messages.1.message.content": "4",
                 "llm.input_messages.2.message.role": "user", "llm.input_messages.2.message.content": "And 3+3?",
                 "llm.output_messages.0.message.role": "assistant", "llm.output_messages.0.message.content": "6"}),
    ))
    t3 = t2 + 60_000
    post(client, body(span(trace=13, span=1, name="chat turn", start_ms=t3, duration_ms=40, kind=Span.SPAN_KIND_SERVER,
                           attributes=ids("chat-1", "alice") | {"input.value": "Bye", "output.value": "Goodbye!"})))
    t4 = ago(30)
    post(client, body(
        span(trace=14, span=1, name="chat turn", start_ms=t4, duration_ms=900, attributes=ids("chat-2", "bob"),
             kind=Span.SPAN_KIND_SERVER),
        span(trace=14, span=2, parent=1, start_ms=t4 + 1, duration_ms=800, model="gpt-4o", tokens=(100, 50),
             cost=(0.02, 0.03), error="rate limited", attributes={"gen_ai.prompt": "Summarise the report"}),
    ))
    t5 = ago(20)
    agent = span(trace=15, span=1, name="Agent", start_ms=t5, duration_ms=1000,
                 attributes=ids("chat-3", "carol") | {"input.value": "Plan my trip"})
    call = span(trace=16, span=2, name="openai.chat", start_ms=t5 + 100, duration_ms=500, model="gpt-4o-mini",
                tokens=(30, 70), cost=(0.0001, 0.0004), attributes=ids("chat-3", "carol") | {
                    "gen_ai.completion": "Day 1: Lisbon."})
    post(client, body(call, service="agent-svc"))
    post(client, body(agent, service="agent-svc"))
    post(client, body(span(trace=17, span=1, name="chat turn", start_ms=ago(10), duration_ms=5, error="quota exceeded",
                           attributes={"user.id": "alice"})))
    return client
