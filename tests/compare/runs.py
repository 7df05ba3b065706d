"""Agent runs built step by step and posted as OTLP, for comparisons with known answers."""

import itertools
import json

from tests import helpers as h

STEP_MS = 100  # every model call and tool run takes this long; a group spans its children


def llm(model="gpt-4o", prompt="What is the weather in Paris today?", answer="Sunny, 22 degrees.",
        temperature=0.7, tokens=(100, 20), cost=(0.001, 0.0005), error=None):
    """A model call as the OpenTelemetry GenAI conventions record it, with a system and a user message."""
    messages = [{"role": "system", "parts": [{"type": "text", "content": "You answer weather questions."}]},
                {"role": "user", "parts": [{"type": "text", "content": prompt}]}]
    output = [{"role": "assistant", "parts": [{"type": "text", "content": answer}]}]
    attributes = {"gen_ai.input.messages": json.dumps(messages), "gen_ai.output.messages": json.dumps(output),
                  "gen_ai.request.temperature": temperature}
    return {"model": model, "tokens": tokens, "cost": cost, "error": error, "attributes": attributes}


def tool(name="get_weather", arguments=None, result=None, error=None):
    attributes = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name,
                  "gen_ai.tool.call.arguments": json.dumps(arguments or {"city": "Paris"}),
                  "gen_ai.tool.response": json.dumps(result or {"temp_c": 22})}
    return {"name": name, "error": error, "attributes": attributes}


def group(name, *children):
    return {"name": name, "children": list(children)}


def post_run(client, n, *steps, name="weather agent", workflow="weather", start_ms=None):
    """Posts trace `n`: a root span `name` (workflow `workflow`) over `steps`, one after another, and
    returns its hex trace id. Traces start 10 minutes apart, in the order of n."""
    ids = itertools.count(n * 1000 + 1)
    spans = []

    def place(step, parent, start):
        span_id = next(ids)
        if "children" in step:
            at = start
            for child in step["children"]:
                at = place(child, span_id, at)
            spans.append(h.span(trace=n, span=span_id, parent=parent, name=step["name"], start_ms=start,
                                duration_ms=at - start))
            return at
        fields = {key: step[key] for key in ("model", "tokens", "cost", "name") if key in step}
        spans.append(h.span(trace=n, span=span_id, parent=parent, start_ms=start, duration_ms=STEP_MS,
                            attributes=step["attributes"], error=step["error"], **fields))
        return start + STEP_MS

    start = n * 600_000 if start_ms is None else start_ms
    root = next(ids)
    end = start
    for step in steps:
        end = place(step, root, end)
    spans.append(h.span(trace=n, span=root, name=name, start_ms=start, duration_ms=end - start,
                        attributes={"workflow.name": workflow}))
    assert h.post(client, h.body(*spans)).status_code == 200
    return h.tid(n)
