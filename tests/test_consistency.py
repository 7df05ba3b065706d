"""Every surface reports the same tokens, cost and calls, per trace and per model.

The traces below are built the way OpenInference and OpenLLMetry instrument agents: chains, agents
and tools carry a model name and the usage of the model calls beneath them. Only the model calls
(LLM, embedding and reranker spans) count, once each, on the trace page, in the trace list, on the
dashboard, in /api/v1/stats, in /api/v1/traces/{id} and in `manage.py stats`.
"""

import io
import re
from html import unescape

import pytest
from django.core.management import call_command

from tests import helpers as h

pytestmark = pytest.mark.django_db

OPENINFERENCE, OPENLLMETRY = 901, 902


def openinference(kind, model, prompt, completion, cost):
    return {"openinference.span.kind": kind, "llm.model_name": model, "llm.token_count.prompt": prompt,
            "llm.token_count.completion": completion, "llm.cost.total": cost}


def openllmetry(kind, model, prompt, completion, cost=None):
    attributes = {"gen_ai.system": "openai", "gen_ai.request.model": model, "gen_ai.usage.prompt_tokens": prompt,
                  "gen_ai.usage.completion_tokens": completion}
    if kind:
        attributes["traceloop.span.kind"] = kind
    else:
        attributes["llm.request.type"] = "chat"
    if cost is not None:
        attributes["gen_ai.usage.cost.total"] = cost
    return attributes


def post_agent_traces(client):
    """Two traces in which every span names a model and reports usage, the repeated usage included."""
    t, start = OPENINFERENCE, h.ago(20)
    h.post(client, h.body(
        h.span(trace=t, span=1, name="pipeline", start_ms=start, duration_ms=900,
               attributes=openinference("CHAIN", "gpt-4o", 130, 50, 0.0045)),
        h.span(trace=t, span=2, parent=1, name="planner", start_ms=start + 10, duration_ms=800,
               attributes=openinference("AGENT", "gpt-4o", 130, 50, 0.0045)),
        h.span(trace=t, span=3, parent=2, name="plan", start_ms=start + 20, duration_ms=300,
               attributes=openinference("LLM", "gpt-4o", 100, 40, 0.0035)),
        h.span(trace=t, span=4, parent=2, name="search", start_ms=start + 400, duration_ms=300,
               attributes=openinference("TOOL", "gpt-4o-mini", 30, 10, 0.001)),
        h.span(trace=t, span=5, parent=4, name="summarize", start_ms=start + 450, duration_ms=200,
               attributes=openinference("LLM", "gpt-4o-mini", 30, 10, 0.001)),
        service="research",
    ))
    t, start = OPENLLMETRY, h.ago(10)
    h.post(client, h.body(
        h.span(trace=t, span=1, name="triage.agent", start_ms=start, duration_ms=900,
               attributes=openllmetry("agent", "gpt-4o-mini", 267, 73)),
        h.span(trace=t, span=2, parent=1, name="classify.task", start_ms=start + 10, duration_ms=300,
               attributes=openllmetry("task", "gpt-4o-mini", 200, 50)),
        h.span(trace=t, span=3, parent=2, name="openai.chat", start_ms=start + 20, duration_ms=250,
               attributes=openllmetry(None, "gpt-4o-mini", 200, 50, cost=0.0002)),
        h.span(trace=t, span=4, parent=1, name="lookup.tool", start_ms=start + 400, duration_ms=300,
               attributes=openllmetry("tool", "gpt-4o-mini", 50, 20)),
        h.span(trace=t, span=5, parent=4, name="openai.chat", start_ms=start + 410, duration_ms=250,
               attributes=openllmetry(None, "gpt-4o-mini", 50, 20, cost=0.0001), error="rate limited"),
        h.span(trace=t, span=6, parent=1, name="openai.embeddings", start_ms=start + 720, duration_ms=50,
               attributes={"gen_ai.operation.name": "embeddings", "gen_ai.request.model": "text-embedding-3-small",
                           "gen_ai.usage.input_tokens": 12}),
        # A call through a proxy that names no model: its usage still counts, under "(no model)".
        h.span(trace=t, span=7, parent=1, name="proxy call", start_ms=start + 780, duration_ms=100,
               attributes={"openinference.span.kind": "LLM", "llm.token_count.prompt": 5,
                           "llm.token_count.completion": 3}),
        service="support",
    ))


# Hand-computed from the model calls alone. Per model: (calls, failed calls, input, output, total, cost).
EXPECTED = {
    OPENINFERENCE: {
        "tokens": (130, 50, 180), "cost": 0.0045, "calls": 2,
        "models": {"gpt-4o": (1, 0, 100, 40, 140, 0.0035), "gpt-4o-mini": (1, 0, 30, 10, 40, 0.001)},
    },
    OPENLLMETRY: {
        "tokens": (267, 73, 340), "cost": 0.0003, "calls": 4,
        "models": {"gpt-4o-mini": (2, 1, 250, 70, 320, 0.0003), "text-embedding-3-small": (1, 0, 12, 0, 12, 0.0),
                   "(no model)": (1, 0, 5, 3, 8, 0.0)},
    },
}
EVERYTHING = {
    "tokens": (397, 123, 520), "cost": 0.0048, "calls": 6,
    "models": {"gpt-4o-mini": (3, 1, 280, 80, 360, 0.0013), "gpt-4o": (1, 0, 100, 40, 140, 0.0035),
               "text-embedding-3-small": (1, 0, 12, 0, 12, 0.0), "(no model)": (1, 0, 5, 3, 8, 0.0)},
}


@pytest.fixture
def traces(client):
    post_agent_traces(client)
    return client


# --- reading each surface's figures -----------------------------------------------------------------


def number(text):
    """A figure as a page shows it: "1,234" -> 1234, "$0.0045" -> 0.0045, "–" (none reported) -> 0."""
    text = re.sub(r"<[^>]+>", "", unescape(text)).strip()
    if text in ("–", ""):
        return 0
    text = text.replace(",", "").lstrip("$")
    return float(text) if "." in text else int(text)


def approx(figures):
    """Costs compared to the tenth of a micro-dollar; everything else exactly."""
    cost = pytest.approx(figures["cost"], abs=1e-7)
    models = {model: (*row[:5], pytest.approx(row[5], abs=1e-7)) for model, row in figures.get("models", {}).items()}
    return figures | {"cost": cost, "models": models} if "models" in figures else figures | {"cost": cost}


def trace_page(client, n):
    page = client.get(f"/traces/{h.tid(n)}").text
    tokens_in, tokens_out = re.search(r"<dt>Tokens in / out</dt><dd>(.*?) <span class=\"muted\">/</span> (.*?)</dd>",
                                      page).groups()
    cost = re.search(r"<dt>Cost</dt><dd>(.*?)(?: <span class=\"muted cost-|</dd>)", page).group(1)
    usage = page[page.index('<section class="panel usage"') :]
    cells = r'<td class="num" data-label="Calls">(\d+)(.*?)</td>\s*' + "".join(
        rf'<td class="num" data-label="{label}">(.*?)</td>\s*' for label in ("Input", "Output", "Total", "Cost")
    )
    models = {}
    for model, calls, failed, *figures in re.findall(r'<td data-label="Model">(.*?)</td>\s*' + cells, usage, re.S):
        failed = re.search(r"\((\d+) failed\)", failed)
        models[unescape(model)] = (int(calls), int(failed.group(1)) if failed else 0, *map(number, figures))
    total = re.search(r'<th scope="row">Total</th>\s*' + cells, usage, re.S).groups()
    return {
        "tokens": (number(tokens_in), number(tokens_out), number(total[4])), "cost": number(cost),
        "calls": int(total[0]), "models": models,
    }


def trace_list_row(client, n):
    page = client.get("/traces").text
    row = re.search(rf'<tr id="trace-{h.tid(n)}".*?</tr>', page, re.S).group(0)
    cell = lambda name: re.search(rf'<td class="col-{name} num"[^>]*>(.*?)</td>', row, re.S).group(1)  # noqa: E731
    return {"total_tokens": number(cell("tokens")), "cost": number(cell("cost"))}


def dashboard(client):
    page = client.get("/").text
    stat = lambda label: re.search(  # noqa: E731
        rf'<span class="stat-label">{label}</span>\s*<span class="stat-value">(.*?)</span>\s*'
        r'<span class="stat-sub">(.*?)</span>', page, re.S).groups()
    total, split = stat("Tokens")
    tokens_in, tokens_out = re.match(r"(.*?) in · (.*?) out", unescape(split)).groups()
    models = {}
    for row in re.findall(r'<div class="model-row" role="row">(.*?)\n  </div>', page, re.S):
        model = unescape(re.search(r'class="model-name"[^>]*>(.*?)</span>', row).group(1))
        title = re.search(r"<title>[^<]*: ([\d,]+) tokens \(([\d,]+) in, ([\d,]+) out\) over (\d+) calls?</title>",
                          unescape(row)).groups()
        cost = re.findall(r'<span class="hbar-value"[^>]*>(.*?)</span>', row)[1]
        failed = re.search(r'title="failed calls">(\d+)</span>', row)
        models[model] = (int(title[3]), int(failed.group(1)) if failed else 0, number(title[1]), number(title[2]),
                         number(title[0]), number(cost))
    return {
        "tokens": (number(tokens_in), number(tokens_out), number(total)), "cost": number(stat("Cost")[0]),
        "calls": sum(row[0] for row in models.values()), "models": models,
    }


def api_stats(client, **filters):
    stats = client.get("/api/v1/stats", {"window": "all", **filters}).json()
    models = {
        row["model"] or "(no model)": (row["calls"], row["errors"], row["input_tokens"], row["output_tokens"],
                                       row["total_tokens"], row["cost"])
        for row in stats["by_model"]
    }
    return {
        "tokens": (stats["input_tokens"], stats["output_tokens"], stats["total_tokens"]), "cost": stats["total_cost"],
        "calls": sum(row[0] for row in models.values()), "models": models,
    }


def api_trace(client, n):
    trace = client.get(f"/api/v1/traces/{h.tid(n)}").json()
    (root,) = client.get(f"/api/v1/traces/{h.tid(n)}/tree").json()["roots"]
    return {
        "tokens": (trace["input_tokens"], trace["output_tokens"], trace["total_tokens"]),
        "cost": trace["total_cost"], "subtree_tokens": root["subtree_tokens"], "subtree_cost": root["subtree_cost"],
    }


def stats_command(query=""):
    out = io.StringIO()
    call_command("stats", "--window", "all", "--query", query, stdout=out)
    summary, *lines = out.getvalue().splitlines()
    tokens, cost = re.search(r", ([\d,.kM]+) tokens, (\S+)(?: \(of which|, \d+ unpriced|$)", summary).groups()
    models = {}
    for line in lines:
        found = re.match(r"  model (.+): (\d+) calls, ([\d,]+) tokens, (\S+)$", line)
        if found:
            models[found.group(1)] = (int(found.group(2)), number(found.group(3)), number(found.group(4)))
    return {"total_tokens": number(tokens), "cost": number(cost), "models": models}


def short(figures):
    """What `manage.py stats` prints of each model: calls, total tokens and cost."""
    return {model: (row[0], row[4], pytest.approx(row[5], abs=1e-7)) for model, row in figures["models"].items()}


# --- the specification ------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [OPENINFERENCE, OPENLLMETRY])
def test_the_trace_page_counts_each_model_call_once(traces, n):
    assert trace_page(traces, n) == approx(EXPECTED[n])


@pytest.mark.parametrize("n", [OPENINFERENCE, OPENLLMETRY])
def test_the_trace_list_row_shows_the_trace_pages_totals(traces, n):
    expected = EXPECTED[n]
    assert trace_list_row(traces, n) == {"total_tokens": expected["tokens"][2],
                                         "cost": pytest.approx(expected["cost"], abs=1e-7)}


@pytest.mark.parametrize("n", [OPENINFERENCE, OPENLLMETRY])
def test_the_api_reports_the_trace_pages_totals_per_trace_and_per_model(traces, n):
    expected = EXPECTED[n]
    assert api_stats(traces, trace_id=h.tid(n)) == approx(expected)
    assert api_trace(traces, n) == {
        "tokens": expected["tokens"], "cost": pytest.approx(expected["cost"], abs=1e-7),
        # The root's subtree is the whole trace: its sums are the trace's.
        "subtree_tokens": expected["tokens"][2], "subtree_cost": pytest.approx(expected["cost"], abs=1e-7),
    }


@pytest.mark.parametrize("n", [OPENINFERENCE, OPENLLMETRY])
def test_the_stats_command_reports_the_trace_pages_totals(traces, n):
    expected = EXPECTED[n]
    assert stats_command(f"trace:{h.tid(n)}") == {
        "total_tokens": expected["tokens"][2], "cost": pytest.approx(expected["cost"], abs=1e-7),
        "models": short(expected),
    }


def test_the_dashboard_the_stats_api_and_command_add_up_the_same_calls(traces):
    assert dashboard(traces) == approx(EVERYTHING)
    assert api_stats(traces) == approx(EVERYTHING)
    assert stats_command() == {"total_tokens": 520, "cost": pytest.approx(0.0048, abs=1e-7),
                               "models": short(EVERYTHING)}


def test_every_surface_agrees_with_every_other(traces):
    """The same figures, read back from each surface rather than from the hand-computed table."""
    pages = {n: trace_page(traces, n) for n in EXPECTED}
    for n, page in pages.items():
        assert api_stats(traces, trace_id=h.tid(n)) == approx(page)
        assert trace_list_row(traces, n)["total_tokens"] == page["tokens"][2] == api_trace(traces, n)["tokens"][2]
    everywhere = dashboard(traces)
    assert everywhere["tokens"] == tuple(map(sum, zip(*(page["tokens"] for page in pages.values()))))
    assert everywhere["calls"] == sum(page["calls"] for page in pages.values())
    assert everywhere == approx(api_stats(traces))


# --- estimated costs ---------------------------------------------------------------------------------

ESTIMATED = 903


def post_estimated_trace(client):
    """OpenLLMetry model calls that report tokens but no cost (as msgflux's do), one with cached input,
    beside one that reports its cost and one whose model no price table knows."""
    t, start = ESTIMATED, h.ago(5)
    cached = openllmetry(None, "gpt-4o-mini", 3000, 400) | {"gen_ai.usage.cache_read_input_tokens": 1000}
    h.post(client, h.body(
        h.span(trace=t, span=1, name="agent", start_ms=start, duration_ms=900, attributes=openllmetry("agent", "gpt-4o", 0, 0)),
        h.span(trace=t, span=2, parent=1, name="openai.chat", start_ms=start + 10, duration_ms=200,
               attributes=openllmetry(None, "gpt-4o-2024-08-06", 1200, 300)),
        h.span(trace=t, span=3, parent=1, name="openai.chat", start_ms=start + 300, duration_ms=200, attributes=cached),
        h.span(trace=t, span=4, parent=1, name="openai.chat", start_ms=start + 600, duration_ms=100,
               attributes=openllmetry(None, "gpt-4o-mini", 100, 10, cost=0.01)),
        h.span(trace=t, span=5, parent=1, name="openai.chat", start_ms=start + 700, duration_ms=100,
               attributes=openllmetry(None, "fake-plain", 52, 9)),
        service="estimates",
    ))
    return start


def test_estimated_costs_agree_to_the_cent_on_every_surface(client):
    from datetime import datetime, timezone

    from genai_prices import Usage, calc_price

    start = post_estimated_trace(client)
    moment = datetime.fromtimestamp((h.T0 + start * h.MS) / 1e9, timezone.utc)
    estimated = float(
        calc_price(Usage(input_tokens=1200, output_tokens=300), "gpt-4o", genai_request_timestamp=moment).total_price
        + calc_price(Usage(input_tokens=3000, output_tokens=400, cache_read_tokens=1000), "gpt-4o-mini",
                     genai_request_timestamp=moment).total_price
    )
    total = estimated + 0.01
    page = trace_page(client, ESTIMATED)
    assert page["cost"] == pytest.approx(total, abs=0.005)  # as shown: to the cent
    assert page["calls"] == 4
    assert trace_list_row(client, ESTIMATED)["cost"] == pytest.approx(total, abs=0.005)
    assert api_trace(client, ESTIMATED)["cost"] == pytest.approx(total, abs=1e-9)
    trace = client.get(f"/api/v1/traces/{h.tid(ESTIMATED)}").json()
    assert (trace["estimated_cost"], trace["unpriced_spans"]) == (pytest.approx(estimated, abs=1e-9), 1)
    stats = client.get("/api/v1/stats", {"window": "all"}).json()
    assert (stats["total_cost"], stats["estimated_cost"], stats["unpriced_spans"]) == (
        pytest.approx(total, abs=1e-9), pytest.approx(estimated, abs=1e-9), 1)
    assert dashboard(client)["cost"] == pytest.approx(total, abs=0.005)
    assert stats_command()["cost"] == pytest.approx(total, abs=0.005)
    # Each surface says how much of the total is estimated, in the same words.
    from traces.formatting import cost

    share = f"of which {cost(estimated)} estimated"
    assert share in unescape(client.get(f"/traces/{h.tid(ESTIMATED)}").text)
    assert share in unescape(client.get("/", {"window": "all"}).text)
    out = io.StringIO()
    call_command("stats", "--window", "all", stdout=out)
    assert f"(of which {cost(estimated)} estimated), 1 unpriced model calls" in out.getvalue()
