"""The same kind of agent run traced with msgtrace-sdk (what msgflux uses underneath).

    pip install msgtrace-sdk
    python examples/msgtrace_sdk_agent.py [http://127.0.0.1:4321]

Once msgtrace has an ingest key, give it to the exporter the standard way:
OTEL_EXPORTER_OTLP_HEADERS="authorization=Bearer mt_..." (read by the exporter, not by this script).

msgtrace-sdk reads its MSGTRACE_* variables once, when it is imported, so they are set before the
import below. Its spans are not made current on their own: `use_span` nests them into one trace."""

import os
import sys
import time

BASE_URL = (sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:4321").rstrip("/")
os.environ["MSGTRACE_TELEMETRY_ENABLED"] = "true"
os.environ["MSGTRACE_OTLP_ENDPOINT"] = f"{BASE_URL}/api/v1/traces/export"
os.environ["MSGTRACE_SERVICE_NAME"] = "research-agent"

from msgtrace.sdk import MsgTraceAttributes, Spans  # noqa: E402  (after the environment, on purpose)
from msgtrace.sdk.tracer import tracer_manager  # noqa: E402
from opentelemetry.trace import use_span  # noqa: E402


def main():
    with Spans.init_flow("research flow") as flow, use_span(flow):
        MsgTraceAttributes.set_workflow_name("research")
        MsgTraceAttributes.set_user_id("bob")
        MsgTraceAttributes.set_session_id("demo-session")
        with Spans.init_module("writer") as module, use_span(module):
            MsgTraceAttributes.set_module_type("agent")
            MsgTraceAttributes.set_operation_name("chat")
            MsgTraceAttributes.set_model("gpt-4o-mini")
            MsgTraceAttributes.set_prompt([{"role": "user", "content": "Summarize the OTLP spec in one line."}])
            time.sleep(0.03)
            MsgTraceAttributes.set_completion("OTLP carries traces, metrics and logs over gRPC or HTTP.")
            MsgTraceAttributes.set_usage(input_tokens=310, output_tokens=24)
            MsgTraceAttributes.set_cost(input_cost=310 * 0.15e-6, output_cost=24 * 0.60e-6)
        try:
            with Spans.init_module("web_search") as tool, use_span(tool):
                MsgTraceAttributes.set_operation_name("tool")
                MsgTraceAttributes.set_tool_name("web_search")
                MsgTraceAttributes.set_tool_call_arguments({"query": "OTLP specification"})
                raise ConnectionError("search backend unreachable")
        except ConnectionError:
            pass  # the agent carries on without search results; the tool span records the error
    tracer_manager.shutdown()  # flushes the batch
    print(f"sent a research flow to {BASE_URL}; open {BASE_URL}/traces")


if __name__ == "__main__":
    main()
