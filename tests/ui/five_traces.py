"""Five traces at known times, posted as OTLP, for the dashboard and trace list tests.

    1 support flow   (api)  2 days ago   3000 ms  gpt-4o                  ok     2 spans
    2 support flow   (api)  5 h ago       500 ms  gpt-4o-mini             error  2 spans
    3 research flow  (web)  30 min ago  12000 ms  claude-3-5-haiku+gpt-4o ok     3 spans (root arrived last)
    4 healthcheck    (web)  10 min ago     50 ms  no model                error  1 span
    5 support flow   (api)  1 min ago     800 ms  gpt-4o-mini             ok     2 spans
"""

from datetime import datetime, timezone

from tests import helpers as h

NOW_MS = int(datetime.now(timezone.utc).timestamp() * 1000) - h.T0 // h.MS


def tid(n):
    return f"{n:032x}"


def ago(minutes):
    """Milliseconds after helpers.T0 for `minutes` before now."""
    return NOW_MS - minutes * 60_000


def llm(trace, span, parent, start_ms, model, tokens, cost, duration_ms=100, error=None):
    return h.span(trace=trace, span=span, parent=parent, name=f"chat {model}", kind=3, start_ms=start_ms,
                  duration_ms=duration_ms, error=error,
                  attributes={"gen_ai.operation.name": "chat", "gen_ai.request.model": model,
                              "gen_ai.usage.input_tokens": tokens[0], "gen_ai.usage.output_tokens": tokens[1],
                              "gen_ai.usage.cost.input_tokens": cost[0],
                              "gen_ai.usage.cost.output_tokens": cost[1]})  # fmt: skip


def root(n, minutes, duration, name, workflow=None, error=None):
    attributes = {"workflow.name": workflow} if workflow else {}
    return h.span(trace=n, span=n * 100, name=name, start_ms=ago(minutes), duration_ms=duration,
                  attributes=attributes, error=error, kind=2)  # fmt: skip


def post_five_traces(client):
    h.post(client, h.body(root(1, 2880, 3000, "support flow", "support"),
                          llm(1, 101, 100, ago(2880) + 10, "gpt-4o", (1000, 200), (0.0025, 0.002)),
                          service="api"))  # fmt: skip
    h.post(client, h.body(root(2, 300, 500, "support flow", "support"),
                          llm(2, 201, 200, ago(300) + 5, "gpt-4o-mini", (300, 50), (0.00005, 0.00003),
                              error="rate limited"), service="api"))  # fmt: skip
    h.post(client, h.body(llm(3, 301, 300, ago(30) + 100, "claude-3-5-haiku", (2000, 500), (0.0016, 0.002),
                              duration_ms=9000),
                          llm(3, 302, 300, ago(30) + 9200, "gpt-4o", (100, 10), (0.00025, 0.0001)),
                          service="web"))  # fmt: skip
    h.post(client, h.body(root(3, 30, 12000, "research flow", "research"), service="web"))
    h.post(client, h.body(root(4, 10, 50, "healthcheck", error="down"), service="web"))
    h.post(client, h.body(root(5, 1, 800, "support flow", "support"),
                          llm(5, 501, 500, ago(1) + 1, "gpt-4o-mini", (400, 80), (0.00006, 0.00005)),
                          service="api"))  # fmt: skip
    return client
