"""A multi-step agent run traced with the plain OpenTelemetry SDK and sent to msgtrace.

    pip install opentelemetry-sdk opentelemetry-exporter-otlp-proto-http
    python examples/otel_agent.py [http://127.0.0.1:4321]

Once msgtrace has an ingest key, give it to the exporter the standard way:
OTEL_EXPORTER_OTLP_HEADERS="authorization=Bearer mt_..." (read by the exporter, not by this script).

One trace: a support flow with a planner module, two LLM calls (tokens and cost), a tool call and a
failing step. The model calls are simulated: no LLM provider is needed."""

import json
import sys
import time

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Status, StatusCode

BASE_URL = (sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:4321").rstrip("/")
PRICES = {"gpt-4o-mini": (0.15e-6, 0.60e-6), "gpt-4o": (2.5e-6, 10e-6)}  # USD per input / output token

provider = TracerProvider(resource=Resource.create({"service.name": "support-bot", "deployment.environment": "demo"}))
provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{BASE_URL}/v1/traces")))
tracer = provider.get_tracer("examples.otel_agent", "1.0")


def llm_call(model, messages, answer, input_tokens, output_tokens):
    with tracer.start_as_current_span(f"chat {model}", kind=trace.SpanKind.CLIENT) as span:
        time.sleep(0.05)
        price_in, price_out = PRICES[model]
        span.set_attributes({
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": model,
            "gen_ai.request.temperature": 0.2,
            "gen_ai.usage.input_tokens": input_tokens,
            "gen_ai.usage.output_tokens": output_tokens,
            "gen_ai.usage.cost.input_tokens": input_tokens * price_in,
            "gen_ai.usage.cost.output_tokens": output_tokens * price_out,
            "gen_ai.input.messages": json.dumps(messages),
            "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": answer}]}]),
        })
        return answer


def main():
    with tracer.start_as_current_span("support flow", kind=trace.SpanKind.SERVER) as flow:
        flow.set_attributes({"workflow.name": "support", "user.id": "alice", "session.id": "demo-session"})
        question = "Where is my order 1234?"
        with tracer.start_as_current_span("planner", attributes={"module.name": "planner", "module.type": "agent"}):
            llm_call("gpt-4o-mini", [{"role": "user", "parts": [{"type": "text", "content": question}]}],
                     "Look the order up with the orders tool.", 420, 35)
        with tracer.start_as_current_span("lookup_order", attributes={
                "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup_order",
                "gen_ai.tool.call.arguments": json.dumps({"order_id": 1234})}) as tool:
            time.sleep(0.02)
            tool.set_attribute("gen_ai.tool.response", json.dumps({"status": "shipped", "eta": "tomorrow"}))
        with tracer.start_as_current_span("notify customer", attributes={"gen_ai.tool.name": "send_email"}) as failing:
            error = TimeoutError("mail server did not answer in 5 s")
            failing.record_exception(error)
            failing.set_status(Status(StatusCode.ERROR, str(error)))
        llm_call("gpt-4o", [{"role": "user", "parts": [{"type": "text", "content": question}]}],
                 "Your order 1234 has shipped and arrives tomorrow.", 910, 60)
        trace_id = format(flow.get_span_context().trace_id, "032x")
    provider.shutdown()  # flushes the batch
    print(f"sent trace {trace_id}: {BASE_URL}/traces/{trace_id}")


if __name__ == "__main__":
    main()
