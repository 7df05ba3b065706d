"""Runs: the msgflux captures (tests/corpus/msgflux, one trace per span as msgtrace-sdk 1.2.0 sends them)
grouped back into one run per agent call, whatever order their spans arrive in.

The expected trees below are written by hand from the captures' timestamps (decoded with
opentelemetry-proto, offsets in ms from each capture's first start), not from msgtrace's output.
Each trace is named by the first 8 digits of its trace id and its one span's name."""

import random

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests import helpers as h
from tests.helpers import CORPUS, post
from traces.models import RunLink, Trace

pytestmark = pytest.mark.django_db(transaction=False)

CAPTURES = sorted((CORPUS / "msgflux").glob("*.bin"))

# capture -> the runs it holds: (trace, [children]) with children in start order, and the traces
# marked ambiguous: {trace: the root they lie inside}.
EXPECTED = {
    # openai.chat [0, 16.99]: a lone model call.
    "001": ([("65ef15ac openai.chat", [])], {}),
    # Support Agent [0, 17.53] > Generator [5.37, 17.47] > openai.chat [5.95, 17.04]
    "002": ([("f3154d26 Support Agent", [("ffb5dbbb Generator", [("67e57cc6 openai.chat", [])])])], {}),
    # Weather Agent [0, 72.73]: Generator [4.95, 17.72] > openai.chat [5.45, 17.22]; Tool Library
    # [17.87, 19.07] > scatter_gather [17.94, 19.03] > Get Weather [18.46, 18.98]; Generator [22.69, 72.67]
    # > openai.chat [22.89, 72.49]
    "003": ([("32ffd527 Weather Agent", [
        ("6f0dff72 Generator", [("485aa83e openai.chat", [])]),
        ("1f1384b3 Weatheragent Tool Library", [("d13a23bc scatter_gather", [("0ecca469 Get Weather", [])])]),
        ("6cae9054 Generator", [("64de3632 openai.chat", [])]),
    ])], {}),
    # Forecast Agent [0, 80.84]: Generator [4.92, 18.13] > openai.chat [5.38, 17.63]; Tool Library
    # [18.29, 27.86] > scatter_gather [18.36, 27.80] > Get Forecast [19.64, 27.48]; Generator
    # [32.15, 80.78] > openai.chat [32.39, 80.63]
    "004": ([("1fd310bc Forecast Agent", [
        ("5c40f55a Generator", [("02aacf8a openai.chat", [])]),
        ("c042407b Forecastagent Tool Library", [("696513af scatter_gather", [("bb1506a1 Get Forecast", [])])]),
        ("192ec03e Generator", [("a392f105 openai.chat", [])]),
    ])], {}),
    # Failing Agent [0, 18.25] > Generator [5.13, 17.00] > openai.chat [5.63, 15.38]
    "005": ([("ad64a9bb Failing Agent", [("1e985aff Generator", [("3a55d5e0 openai.chat", [])])])], {}),
    # Two agents under asyncio.gather. Order Agent [0, 85.56] encloses Chit Chat [8.35, 36.89], but
    # Chit Chat began while Order Agent's Generator [4.82, 34.96] ran and outlived it: a concurrent
    # agent, marked ambiguous and left a run of its own (with its Generator [11.71, 36.85] >
    # openai.chat [11.97, 36.71]). Order Agent keeps Generator > openai.chat [5.35, 34.37], Tool Library
    # [35.14, 37.06] > ascatter_gather [35.23, 37.03] > Lookup Order [35.85, 37.02], and Generator
    # [40.86, 85.49] > openai.chat [41.10, 85.27].
    "006": ([
        ("d283068a Order Agent", [
            ("27f5341d Generator", [("542648df openai.chat", [])]),
            ("44353f6b Orderagent Tool Library", [("ccbcfde7 ascatter_gather", [("dd3ca67e Lookup Order", [])])]),
            ("3d65880f Generator", [("2ab82ac0 openai.chat", [])]),
        ]),
        ("711db373 Chit Chat", [("d3831bdf Generator", [("0bff8d2b openai.chat", [])])]),
    ], {"711db373 Chit Chat": "d283068a Order Agent"}),
    # Ticket Pipeline [0, 28.85]: Classifier [0.05, 17.05] > Generator [4.98, 16.99] > openai.chat
    # [5.49, 16.52]; Responder [17.20, 28.84] > Generator [20.85, 28.78] > openai.chat [21.00, 28.66]
    "007": ([("637bb36b Ticket Pipeline", [
        ("7871d221 Classifier", [("1a879974 Generator", [("f681e52d openai.chat", [])])]),
        ("7852806c Responder", [("10e36c31 Generator", [("aa5fe724 openai.chat", [])])]),
    ])], {}),
    # POST /chat [0, 1.27] alone.
    "008": ([("1a8246cf POST /chat", [])], {}),
    # Streamer [0, 37.65]: Generator [5.30, 37.50] > aspawn [5.54, 5.57], await_for_event [5.62, 37.34].
    # The streamed openai.chat [6.24, 39.13] ends after Streamer: alone. The last await_for_event
    # [37.61, 37.61] lies inside both Streamer and openai.chat, two roots that cross: ambiguous, alone.
    "009": ([
        ("9c1d9630 Streamer", [
            ("81c9dd34 Generator", [("ad66833b aspawn", []), ("d1ddec1b await_for_event", [])]),
        ]),
        ("b78c3a25 openai.chat", []),
        ("6f5eb0cb await_for_event", []),
    ], {"6f5eb0cb await_for_event": "b78c3a25 openai.chat"}),
    # Describer [0, 22.53] > Generator [7.06, 22.45] > openai.chat [7.80, 21.85]
    "010": ([("da6969ef Describer", [("ab5f2ec5 Generator", [("505bc09d openai.chat", [])])])], {}),
}


def span_requests(path):
    """One request per span of a capture, each with the capture's resource and scope, in end order
    (the order an SDK exports them in)."""
    capture = ExportTraceServiceRequest.FromString(path.read_bytes())
    requests = []
    for resource_spans in capture.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                one = ExportTraceServiceRequest()
                part = one.resource_spans.add(resource=resource_spans.resource, schema_url=resource_spans.schema_url)
                part.scope_spans.add(scope=scope_spans.scope, schema_url=scope_spans.schema_url).spans.append(span)
                requests.append((span.end_time_unix_nano, span.start_time_unix_nano, one.SerializeToString()))
    return [body for *_, body in sorted(requests)]


def orders(requests):
    shuffled = list(requests)
    random.Random(7).shuffle(shuffled)
    return {"end order": requests, "reversed": requests[::-1], "shuffled": shuffled}


def label(trace):
    return f"{trace.trace_id[:8]} {trace.root_span_name}"


def grouping():
    """(runs as nested (label, children) in start order, {ambiguous label: its enclosing root's label})."""
    traces = list(Trace.objects.order_by("start_ns", "trace_id"))
    by_pk = {trace.pk: trace for trace in traces}
    children = {}
    for trace in traces:
        if trace.run_link == RunLink.STITCHED:
            children.setdefault(trace.run_parent_id, []).append(trace)

    def tree(trace):
        return (label(trace), [tree(child) for child in children.get(trace.pk, [])])

    runs = [tree(trace) for trace in traces if trace.run_link != RunLink.STITCHED]
    ambiguous = {label(t): label(by_pk[t.run_parent_id]) for t in traces if t.run_link == RunLink.AMBIGUOUS}
    return runs, ambiguous


def send(client, bodies):
    for body in bodies:
        assert post(client, body).status_code == 200


@pytest.mark.parametrize("order", ["end order", "reversed", "shuffled"])
@pytest.mark.parametrize("capture", CAPTURES, ids=lambda path: path.stem)
def test_each_agent_call_sent_span_by_span_becomes_the_run_its_timestamps_imply(client, capture, order):
    send(client, orders(span_requests(capture))[order])
    assert grouping() == EXPECTED[capture.stem]


@pytest.mark.parametrize("order", ["end order", "reversed", "shuffled"])
def test_the_whole_corpus_interleaved_groups_each_capture_on_its_own(client, order):
    bodies = [body for capture in CAPTURES for body in span_requests(capture)]
    send(client, orders(bodies)[order])
    runs, ambiguous = grouping()
    expected_runs = [run for stem in sorted(EXPECTED) for run in EXPECTED[stem][0]]
    assert sorted(runs) == sorted(expected_runs)
    assert ambiguous == {"711db373 Chit Chat": "d283068a Order Agent", "6f5eb0cb await_for_event": "b78c3a25 openai.chat"}


def test_a_capture_posted_whole_groups_like_one_posted_span_by_span(client):
    send(client, [(CORPUS / "msgflux" / "004.bin").read_bytes()])
    assert grouping() == EXPECTED["004"]


def test_retried_requests_change_nothing(client):
    bodies = span_requests(CORPUS / "msgflux" / "006.bin")
    send(client, bodies)
    first = grouping()
    totals = list(Trace.objects.order_by("pk").values_list("run_root_id", "run_trace_count", "run_span_count"))
    send(client, bodies[::-1] + bodies)
    assert grouping() == first == EXPECTED["006"]
    assert list(Trace.objects.order_by("pk").values_list("run_root_id", "run_trace_count", "run_span_count")) == totals


def test_the_run_root_carries_the_runs_totals(client):
    send(client, span_requests(CORPUS / "msgflux" / "004.bin")[::-1])
    agent = Trace.objects.get(trace_id__startswith="1fd310bc")
    members = Trace.objects.filter(run_root_id=agent.pk)
    assert agent.run_trace_count == members.count() == 8
    assert agent.run_spans == 8
    assert agent.stitched_count == 7
    assert agent.run_tokens == sum(members.values_list("total_tokens", flat=True)) > 0
    assert agent.run_errors == sum(members.values_list("error_count", flat=True))
    assert agent.run_cost == pytest.approx(sum(members.values_list("total_cost", flat=True)))
    generator = Trace.objects.get(trace_id__startswith="5c40f55a")
    assert generator.run_root_id == agent.pk and generator.run_link == RunLink.STITCHED


def test_stitching_off_leaves_every_trace_alone(client, settings):
    settings.MSGTRACE_STITCH_RUNS = False
    send(client, span_requests(CORPUS / "msgflux" / "004.bin"))
    runs, ambiguous = grouping()
    assert len(runs) == 8 and all(children == [] for _, children in runs)
    assert ambiguous == {}


def test_a_trace_with_a_real_parent_is_never_stitched(client):
    """The same spans, but each one-span trace names a remote parent span: none of them has a root."""
    capture = ExportTraceServiceRequest.FromString((CORPUS / "msgflux" / "004.bin").read_bytes())
    for resource_spans in capture.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                if span.name != "Forecast Agent":
                    span.parent_span_id = bytes.fromhex("00000000000000ab")
    send(client, [capture.SerializeToString()])
    runs, ambiguous = grouping()
    assert len(runs) == 8 and all(children == [] for _, children in runs)
    assert ambiguous == {}


def test_traces_of_another_process_are_never_stitched(client):
    capture = ExportTraceServiceRequest.FromString((CORPUS / "msgflux" / "002.bin").read_bytes())
    # The agent's span comes from a second process (another host), its steps from the first.
    other = ExportTraceServiceRequest()
    part = other.resource_spans.add()
    part.resource.CopyFrom(capture.resource_spans[0].resource)
    for attribute in part.resource.attributes:
        if attribute.key == "platform.release":
            attribute.value.string_value = "another-host"
    for scope_spans in capture.resource_spans[0].scope_spans:
        for span in list(scope_spans.spans):
            if span.name == "Support Agent":
                part.scope_spans.add(scope=scope_spans.scope).spans.append(span)
                scope_spans.spans.remove(span)
    send(client, [capture.SerializeToString(), other.SerializeToString()])
    runs, _ = grouping()
    assert sorted(runs) == [
        ("f3154d26 Support Agent", []),
        ("ffb5dbbb Generator", [("67e57cc6 openai.chat", [])]),
    ]


def test_requests_of_a_busy_service_neither_absorb_one_another_nor_a_one_span_trace(client):
    """Two multi-span traces of one process, the second inside the first's time, and a one-span trace
    inside both: the multi-span ones were linked by their client's own context, so none of the three
    joins another's run."""
    long_request = [h.span(trace=1, span=1, name="GET /report", start_ms=0, duration_ms=1000),
                    h.span(trace=1, span=2, parent=1, name="render", start_ms=10, duration_ms=900)]
    short_request = [h.span(trace=2, span=3, name="GET /health", start_ms=100, duration_ms=50),
                     h.span(trace=2, span=4, parent=3, name="db ping", start_ms=110, duration_ms=10)]
    send(client, [h.body(*long_request), h.body(*short_request),
                  h.body(h.span(trace=3, span=5, name="Generator", start_ms=120, duration_ms=20))])

    runs, ambiguous = grouping()

    assert sorted(runs) == sorted([
        (f"{h.trace_id(1).hex()[:8]} GET /report", []),
        (f"{h.trace_id(2).hex()[:8]} GET /health", []),
        (f"{h.trace_id(3).hex()[:8]} Generator", []),
    ])
    assert ambiguous == {}
    assert Trace.objects.filter(run_resource_id__isnull=False).count() == 1  # only the one-span trace is indexed


@pytest.mark.parametrize("root_first", [True, False])
def test_a_one_span_trace_that_grows_leaves_its_run_whatever_the_order(client, root_first):
    agent = h.span(trace=1, span=1, name="Agent", start_ms=0, duration_ms=100)
    step_root = h.span(trace=2, span=2, name="Generator", start_ms=10, duration_ms=50)
    step_child = h.span(trace=2, span=3, parent=2, name="openai.chat", start_ms=20, duration_ms=20)
    send(client, [h.body(agent), h.body(step_root)] if root_first else [h.body(agent), h.body(step_child)])
    if root_first:
        assert Trace.objects.get(trace_id=h.trace_id(2).hex()).run_link == RunLink.STITCHED

    send(client, [h.body(step_child)] if root_first else [h.body(step_root)])

    runs, ambiguous = grouping()
    assert sorted(runs) == sorted([(f"{h.trace_id(1).hex()[:8]} Agent", []),
                                   (f"{h.trace_id(2).hex()[:8]} Generator", [])])
    items = {item["trace_id"]: item for item in client.get("/api/v1/traces?group=run").json()["traces"]}
    agent_item = items[h.trace_id(1).hex()]
    assert (agent_item["run_trace_count"], agent_item["run_span_count"]) == (1, 1)


@pytest.mark.parametrize("order", ["outermost first", "innermost first", "shuffled"])
def test_traces_nest_across_duration_classes_far_apart(client, order):
    """Enclosers are looked up per duration class present (under 1 ms, 4 ms, 1 s, 1 hour, 40 days: classes
    0, 3, 10, 22 and 32, with every class between them empty): each trace still hangs under the tightest."""
    day = 24 * 3600 * 1000
    chain = [("Scheduler", 0, 40 * day), ("Agent", day, 3600 * 1000), ("Generator", day + 10, 1000),
             ("openai.chat", day + 20, 4), ("tool", day + 21, 0)]
    bodies = [h.body(h.span(trace=n, span=n, name=name, start_ms=start, duration_ms=duration))
              for n, (name, start, duration) in enumerate(chain, 1)]
    if order != "outermost first":
        bodies = bodies[::-1] if order == "innermost first" else orders(bodies)["shuffled"]
    send(client, bodies)

    def label(n):
        return f"{h.trace_id(n).hex()[:8]} {chain[n - 1][0]}"

    assert grouping() == ([(label(1), [(label(2), [(label(3), [(label(4), [(label(5), [])])])])])], {})
    assert Trace.objects.get(trace_id=h.trace_id(1).hex()).run_trace_count == 5


def tree_of(nodes):
    return [(f"{node['trace_id'][:8]} {node['name']}", node["inferred"], tree_of(node["children"])) for node in nodes]


def test_the_run_endpoint_answers_the_whole_run_from_any_member(client):
    send(client, orders(span_requests(CORPUS / "msgflux" / "004.bin"))["shuffled"])
    member = Trace.objects.get(trace_id__startswith="bb1506a1")  # Get Forecast, three levels down
    answer = client.get(f"/api/v1/traces/{member.trace_id}/run").json()
    agent = Trace.objects.get(trace_id__startswith="1fd310bc")
    assert answer["root_trace_id"] == agent.trace_id
    assert [trace_id[:8] for trace_id in answer["trace_ids"]] == [
        "1fd310bc", "5c40f55a", "02aacf8a", "c042407b", "696513af", "bb1506a1", "192ec03e", "a392f105",
    ]
    assert tree_of(answer["roots"]) == [("1fd310bc Forecast Agent", False, [
        ("5c40f55a Generator", True, [("02aacf8a openai.chat", True, [])]),
        ("c042407b Forecastagent Tool Library", True, [
            ("696513af scatter_gather", True, [("bb1506a1 Get Forecast", True, [])]),
        ]),
        ("192ec03e Generator", True, [("a392f105 openai.chat", True, [])]),
    ])]
    totals = answer["totals"]
    assert totals["trace_count"] == 8 and totals["span_count"] == 8
    assert totals["total_tokens"] == sum(Trace.objects.values_list("total_tokens", flat=True)) > 0
    assert answer["ambiguous_trace_ids"] == []


def test_the_run_endpoint_names_the_ambiguous_trace_and_leaves_it_out(client):
    send(client, span_requests(CORPUS / "msgflux" / "006.bin"))
    order_agent = Trace.objects.get(trace_id__startswith="d283068a")
    answer = client.get(f"/api/v1/traces/{order_agent.trace_id}/run").json()
    assert len(answer["trace_ids"]) == 8
    assert [trace_id[:8] for trace_id in answer["ambiguous_trace_ids"]] == ["711db373"]
    chit_chat = client.get(f"/api/v1/traces/{answer['ambiguous_trace_ids'][0]}/run").json()
    assert tree_of(chit_chat["roots"]) == [
        ("711db373 Chit Chat", False, [("d3831bdf Generator", True, [("0bff8d2b openai.chat", True, [])])]),
    ]


def test_the_list_grouped_by_run_has_one_item_per_run(client):
    for capture in ("004", "006"):
        send(client, span_requests(CORPUS / "msgflux" / f"{capture}.bin"))
    everything = client.get("/api/v1/traces?limit=100").json()
    assert everything["total"] == 8 + 11
    runs = client.get("/api/v1/traces?group=run&limit=100").json()
    assert sorted((item["root_span_name"], item["run_trace_count"]) for item in runs["traces"]) == [
        ("Chit Chat", 3), ("Forecast Agent", 8), ("Order Agent", 8),
    ]
    assert runs["total"] == 3


def with_reported_costs(bodies, costs):
    """The requests, each openai.chat span reporting the next of `costs` as its cost (gen_ai.usage.cost.total)."""
    costs, changed = iter(costs), []
    for body in bodies:
        request = ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    if span.name == "openai.chat":
                        span.attributes.add(key="gen_ai.usage.cost.total").value.double_value = next(costs)
        changed.append(request.SerializeToString())
    return changed


def test_each_run_item_carries_the_runs_spans_errors_tokens_and_cost_as_the_list_row_shows(client):
    # 004: 8 one-span traces; Get Forecast failed (status 2); the two openai.chat spans report 57 + 18
    # and 82 + 9 tokens, here with a cost of $0.0125 and $0.0375. 006: Order Agent's run holds its two
    # model calls (75 + 91 tokens), Chit Chat's run its one (71 tokens); no span failed.
    send(client, with_reported_costs(span_requests(CORPUS / "msgflux" / "004.bin"), [0.0125, 0.0375]))
    send(client, span_requests(CORPUS / "msgflux" / "006.bin"))
    items = client.get("/api/v1/traces?group=run&limit=100").json()["traces"]
    figures = {
        item["root_span_name"]: (item["run_trace_count"], item["run_span_count"], item["run_error_count"],
                                 item["run_total_tokens"], round(item["run_total_cost"], 6))
        for item in items
    }
    assert figures == {
        "Forecast Agent": (8, 8, 1, 166, 0.05),
        "Order Agent": (8, 8, 0, 166, 0.0),
        "Chit Chat": (3, 3, 0, 71, 0.0),
    }
    # The outermost trace's own figures stay its own: one span, no tokens.
    agent = next(item for item in items if item["root_span_name"] == "Forecast Agent")
    assert (agent["span_count"], agent["error_count"], agent["total_tokens"], agent["total_cost"]) == (1, 0, 0, 0.0)
    # The trace list's row for the run shows the same figures.
    row = client.get("/traces").text
    row = row[row.index(f'id="trace-{agent["trace_id"]}"'):]
    row = row[: row.index("</tr>")]
    assert 'data-label="Spans">8<' in row and '<span class="badge error">1</span>' in row
    assert 'data-label="Tokens">166<' in row and "$0.05" in row


def test_listing_every_trace_leaves_the_run_figures_to_the_runs_outermost_trace(client):
    send(client, span_requests(CORPUS / "msgflux" / "004.bin"))
    items = {item["trace_id"][:8]: item for item in client.get("/api/v1/traces?limit=100").json()["traces"]}
    assert len(items) == 8
    assert (items["1fd310bc"]["run_span_count"], items["1fd310bc"]["run_total_tokens"]) == (8, 166)
    generator = items["5c40f55a"]  # stitched into Forecast Agent's run: counted there
    run_figures = ("run_trace_count", "run_span_count", "run_error_count", "run_total_tokens", "run_total_cost")
    assert [generator[name] for name in run_figures] == [0, None, None, None, None]
    assert sorted(item["run_trace_count"] for item in items.values()) == [0, 0, 0, 0, 0, 0, 0, 8]


def test_a_trace_alone_is_a_run_of_its_own_figures(client):
    send(client, span_requests(CORPUS / "msgflux" / "001.bin"))
    (item,) = client.get("/api/v1/traces?group=run").json()["traces"]
    assert item["root_span_name"] == "openai.chat" and item["run_trace_count"] == 1
    assert (item["run_span_count"], item["run_error_count"], item["run_total_tokens"]) == (
        item["span_count"], item["error_count"], item["total_tokens"]) == (1, 0, item["total_tokens"])
    assert item["total_tokens"] > 0


def test_an_unknown_trace_has_no_run(client):
    assert client.get("/api/v1/traces/" + "ab" * 16 + "/run").status_code == 404
