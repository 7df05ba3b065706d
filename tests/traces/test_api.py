"""The REST API: trace list, detail, tree, spans, stats, export, delete and health."""

import csv
import io
import json
from datetime import datetime, timedelta, timezone

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests import helpers as h
from tests.helpers import ago, tid
from traces.models import Span, SpanEvent, SpanLink, Trace

pytestmark = pytest.mark.django_db

def ids(response):
    assert response.status_code == 200, response.content
    return [int(item["trace_id"], 16) for item in response.json()["traces"]]


# --- the list --------------------------------------------------------------------------------


def test_list_is_newest_first_with_every_summary_field(client, five_traces):
    response = client.get("/api/v1/traces")

    assert ids(response) == [5, 4, 3, 2, 1]
    body = response.json()
    assert (body["total"], body["limit"], body["offset"], body["next_cursor"]) == (5, 50, 0, None)
    third = body["traces"][2]
    assert third | {"started_at": None, "ended_at": None} == {
        "trace_id": tid(3), "root_span_name": "research flow", "has_root": True, "service_name": "web",
        "workflow_name": "research", "started_at": None, "ended_at": None, "duration_ms": 12000.0,
        "span_count": 3, "error_count": 0, "input_tokens": 2100, "output_tokens": 510, "total_tokens": 2610,
        "total_cost": pytest.approx(0.00395), "estimated_cost": 0.0, "unpriced_spans": 0,
        "models": ["claude-3-5-haiku", "gpt-4o"], "user_id": "alice",
        "session_id": "s-1", "status": "ok", "run_trace_count": 1,
        # alone, the trace is a run of its own figures
        "run_span_count": 3, "run_error_count": 0, "run_total_tokens": 2610,
        "run_total_cost": pytest.approx(0.00395),
    }


@pytest.mark.parametrize(
    "query, expected",
    [
        ("service=api", [5, 2, 1]),
        ("service_name=web", [4, 3]),
        ("workflow=support", [5, 2, 1]),
        ("workflow_name=research", [3]),
        ("model=gpt-4o", [3, 1]),
        ("model=gpt-4o-mini", [5, 2]),
        ("status=error", [4, 2]),
        ("has_errors=true", [4, 2]),
        ("has_errors=false", [5, 3, 1]),
        ("min_duration_ms=800", [5, 3, 1]),
        ("max_duration_ms=500", [4, 2]),
        ("min_duration_ms=500&max_duration_ms=3000", [5, 2, 1]),
        ("start=1h", [5, 4, 3]),
        ("start=6h&end=20m", [3, 2]),
        ("user_id=alice", [3, 1]),
        ("session_id=s-3", [5]),
        (f"trace_id={tid(4)}", [4]),
        (f"trace_id={tid(4)[:31]}", [5, 4, 3, 2, 1]),
        ("q=duration:>1000ms", [3, 1]),
        ("q=duration:>1s AND status:ok AND workflow:research", [3]),
        ("q=error:true OR user:carol", [5, 4, 2]),
        ("service=api&q=NOT model:gpt-4o-mini", [1]),
    ],
)
def test_each_filter_returns_exactly_the_matching_traces(client, five_traces, query, expected):
    assert ids(client.get(f"/api/v1/traces?{query}")) == expected


def test_iso_times_bound_the_window(client, five_traces):
    start = (datetime.now(timezone.utc) - timedelta(hours=6)).isoformat()
    end = (datetime.now(timezone.utc) - timedelta(minutes=20)).isoformat().replace("+00:00", "Z")
    assert ids(client.get("/api/v1/traces", {"start": start, "end": end})) == [3, 2]


@pytest.mark.parametrize("sort", ["-start_time", "duration", "-spans", "cost"])
def test_cursor_pages_cover_every_trace_once(client, five_traces, sort):
    everything = ids(client.get(f"/api/v1/traces?sort={sort}"))
    seen, cursor = [], ""
    for _ in range(5):
        response = client.get(f"/api/v1/traces?sort={sort}&limit=2&cursor={cursor}")
        seen += ids(response)
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == everything


def test_pages_stay_stable_while_new_traces_arrive(client, five_traces):
    first = client.get("/api/v1/traces?limit=2").json()
    h.post(client, h.body(h.span(trace=6, span=600, name="newer", start_ms=ago(0))))
    h.post(client, h.body(h.span(trace=7, span=700, name="older", start_ms=ago(60 * 24 * 10))))

    second = client.get(f"/api/v1/traces?limit=2&cursor={first['next_cursor']}").json()
    third = client.get(f"/api/v1/traces?limit=2&cursor={second['next_cursor']}").json()

    assert [int(t["trace_id"], 16) for t in first["traces"] + second["traces"] + third["traces"]] == [5, 4, 3, 2, 1, 7]


def test_limit_and_offset_paging_of_the_first_api_still_works(client, five_traces):
    response = client.get("/api/v1/traces?limit=2&offset=2")

    assert ids(response) == [3, 2]
    assert (response.json()["total"], response.json()["offset"]) == (5, 2)
    assert ids(client.get(f"/api/v1/traces?limit=2&cursor={response.json()['next_cursor']}")) == [1]


def test_the_total_can_be_left_out(client, five_traces):
    assert client.get("/api/v1/traces?include_total=false").json()["total"] is None


def test_the_total_is_exact_up_to_a_limit_and_a_lower_bound_beyond(client, five_traces, monkeypatch):
    assert client.get("/api/v1/traces").json()["total_exact"] is True
    monkeypatch.setattr("traces.api.TOTAL_LIMIT", 3)
    body = client.get("/api/v1/traces?limit=2").json()
    assert (body["total"], body["total_exact"], len(body["traces"])) == (3, False, 2)


def test_the_list_costs_two_queries_however_many_traces(client, five_traces):
    with CaptureQueriesContext(connection) as queries:
        client.get("/api/v1/traces?limit=100")
    assert len(queries) == 2  # the count and the page


@pytest.mark.parametrize(
    "query, status, fragment",
    [
        ("q=duration:>", 400, "column"),
        ("q=(model:x", 400, "column"),
        ("start=yesterday-ish", 422, "start: 'yesterday-ish' is not a time"),
        ("limit=0", 422, "limit"),
        ("limit=5000", 422, "limit"),
        ("sort=name", 422, "sort"),
        ("status=maybe", 422, "status"),
        ("min_duration_ms=-1", 422, "min_duration_ms"),
        ("cursor=nonsense", 422, "cursor"),
    ],
)
def test_bad_parameters_get_a_json_error_with_the_right_status(client, five_traces, query, status, fragment):
    response = client.get(f"/api/v1/traces?{query}")

    assert response.status_code == status
    assert fragment in response.json()["detail"]


def test_a_query_syntax_error_names_its_column(client, five_traces):
    response = client.get("/api/v1/traces", {"q": "model:gpt-4o AND (duration:>1s"})

    assert response.status_code == 400
    assert response.json()["column"] == 18


# --- one trace -------------------------------------------------------------------------------


def test_detail_has_the_summary_and_every_span_in_start_order(client, five_traces):
    h.post(client, h.body(h.span(trace=9, span=1, name="root", start_ms=0, duration_ms=100),
                         h.span(trace=9, span=2, parent=1, name="child", start_ms=10,
                                events=[{"name": "exception", "at_ms": 12,
                                         "attributes": {"exception.type": "KeyError"}}],
                                links=[(3, 4, {"why": "retry"})], attributes={"k": [1, 2]}, error="bad"),
                         resource={"host.name": "box"}))

    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/api/v1/traces/{tid(9)}")

    assert len(queries) == 4  # the trace; its spans with resource and scope; events; links
    body = response.json()
    assert (body["trace_id"], body["span_count"], body["error_count"]) == (tid(9), 2, 1)
    assert [span["name"] for span in body["spans"]] == ["root", "child"]
    child = body["spans"][1]
    assert (child["parent_span_id"], child["kind"], child["status"]) == (
        f"{1:016x}", "internal", {"code": "error", "message": "bad"},
    )
    assert child["attributes"] == {"k": [1, 2]}
    assert child["events"][0] | {"time": None} == {
        "name": "exception", "time": None, "time_unix_nano": h.T0 + 12 * h.MS,
        "attributes": {"exception.type": "KeyError"}, "dropped_attributes_count": 0,
    }
    assert child["links"] == [{"trace_id": tid(3), "span_id": f"{4:016x}", "trace_state": "", "flags": 0,
                               "attributes": {"why": "retry"}, "dropped_attributes_count": 0}]
    assert child["resource"]["attributes"] == {"service.name": "test-svc", "host.name": "box"}
    assert child["scope"] | {"attributes": None} == {"name": "tests", "version": "1.0", "attributes": None,
                                                     "dropped_attributes_count": 0, "schema_url": ""}
    assert child["start_time_unix_nano"] == h.T0 + 10 * h.MS
    assert child["duration_ms"] == 10.0


def test_an_unknown_trace_is_a_404(client, five_traces):
    for path in ("", "/tree", "/export"):
        response = client.get(f"/api/v1/traces/{tid(404)}{path}")
        assert response.status_code == 404
        assert response.json() == {"detail": f"no trace {tid(404)}"}
    assert client.delete(f"/api/v1/traces/{tid(404)}").status_code == 404


def test_tree_nests_spans_and_flags_orphans(client, five_traces):
    h.post(client, h.body(
        h.span(trace=8, span=1, name="root", start_ms=0, duration_ms=100),
        h.span(trace=8, span=2, parent=1, name="a", start_ms=10),
        h.span(trace=8, span=3, parent=2, name="a.1", start_ms=11),
        h.span(trace=8, span=4, parent=1, name="b", start_ms=50),
        h.span(trace=8, span=5, parent=77, name="lost child", start_ms=5),
        h.span(trace=8, span=6, parent=3, start_ms=12, model="gpt-4o", tokens=(10, 5), cost=(0.1, 0.2)),
    ))

    tree = client.get(f"/api/v1/traces/{tid(8)}/tree").json()

    def shape(node):
        return (node["span"]["name"], node["depth"], node["orphan"], node["subtree_spans"],
                node["subtree_tokens"], [shape(child) for child in node["children"]])

    assert [shape(root) for root in tree["roots"]] == [
        ("root", 0, False, 5, 15, [
            ("a", 1, False, 3, 15, [("a.1", 2, False, 2, 15, [("chat gpt-4o", 3, False, 1, 15, [])])]),
            ("b", 1, False, 1, 0, []),
        ]),
        ("lost child", 0, True, 1, 0, []),
    ]
    assert tree["roots"][0]["subtree_cost"] == pytest.approx(0.3)


def test_export_round_trips_through_an_empty_store(client, five_traces):
    exported = client.get(f"/api/v1/traces/{tid(3)}/export").json()
    before = client.get(f"/api/v1/traces/{tid(3)}").json()
    assert client.delete(f"/api/v1/traces/{tid(3)}").status_code == 204

    assert h.post(client, json.dumps(exported), content_type=h.JSON).status_code == 200

    after = client.get(f"/api/v1/traces/{tid(3)}").json()
    assert after == before | {"spans": after["spans"]}
    for old, new in zip(before["spans"], after["spans"], strict=True):
        assert old == new


def test_delete_removes_the_trace_with_spans_events_and_links_in_a_few_queries(client, five_traces):
    h.post(client, h.body(*[h.span(trace=9, span=n, name=f"s{n}", events=[{"name": "e"}], links=[(1, 1)])
                           for n in range(1, 301)]))
    assert Span.objects.filter(trace__trace_id=tid(9)).count() == 300

    with CaptureQueriesContext(connection) as queries:
        response = client.delete(f"/api/v1/traces/{tid(9)}")

    assert response.status_code == 204
    assert len(queries) <= 10  # the lookup, the lock in ingest's order, four deletes, savepoints, the audit event
    assert not Trace.objects.filter(trace_id=tid(9)).exists()
    assert (Span.objects.count(), SpanEvent.objects.count(), SpanLink.objects.count()) == (10, 0, 0)
    assert ids(client.get("/api/v1/traces")) == [5, 4, 3, 2, 1]


# --- spans -----------------------------------------------------------------------------------


def span_names(response):
    assert response.status_code == 200, response.content
    return [span["name"] for span in response.json()["spans"]]


def test_span_search_across_traces(client, five_traces):
    assert span_names(client.get("/api/v1/spans", {"q": "kind:llm AND model:gpt-4o"})) == [
        "chat gpt-4o", "chat gpt-4o",
    ]
    assert span_names(client.get("/api/v1/spans", {"q": "kind:llm AND duration:>2s"})) == ["chat claude-3-5-haiku"]
    assert span_names(client.get("/api/v1/spans", {"q": "error:true"})) == ["healthcheck", "chat gpt-4o-mini"]
    first = client.get("/api/v1/spans", {"q": "kind:llm", "limit": 2}).json()
    rest = client.get("/api/v1/spans", {"q": "kind:llm", "cursor": first["next_cursor"]}).json()
    assert len(first["spans"]) + len(rest["spans"]) == 5 and rest["next_cursor"] is None
    assert first["spans"][0]["attributes"] is None
    with_attributes = client.get("/api/v1/spans", {"q": "model:gpt-4o", "include_attributes": "true"}).json()
    assert with_attributes["spans"][0]["attributes"]["gen_ai.request.temperature"] == 0.7


# --- stats -----------------------------------------------------------------------------------


def test_stats_for_the_default_24_hours(client, five_traces):
    stats = client.get("/api/v1/stats").json()

    assert (stats["total_traces"], stats["traces_with_errors"], stats["error_rate"]) == (4, 2, 0.5)
    assert (stats["total_spans"], stats["error_spans"]) == (8, 2)
    assert stats["avg_duration_ms"] == pytest.approx((500 + 12000 + 50 + 800) / 4)
    assert (stats["p50_duration_ms"], stats["p95_duration_ms"], stats["p99_duration_ms"]) == (500, 12000, 12000)
    assert (stats["input_tokens"], stats["output_tokens"], stats["total_tokens"]) == (2800, 640, 3440)
    assert stats["by_model"][0] | {"cost": None, "avg_duration_ms": None} == {
        "model": "gpt-4o-mini", "calls": 2, "errors": 1, "input_tokens": 700, "output_tokens": 130,
        "total_tokens": 830, "cost": None, "avg_duration_ms": None,
    }
    assert [row["model"] for row in stats["by_model"]] == ["gpt-4o-mini", "claude-3-5-haiku", "gpt-4o"]
    assert [(row["workflow"], row["traces"], row["errors"]) for row in stats["by_workflow"]] == [
        ("support", 2, 1), ("", 1, 1), ("research", 1, 0),
    ]
    assert [(row["service"], row["traces"]) for row in stats["by_service"]] == [("api", 2), ("web", 2)]
    series = stats["series"]
    assert series["bucket_seconds"] == 1800
    assert sum(point["traces"] for point in series["points"]) == 4
    assert sum(point["errors"] for point in series["points"]) == 2
    assert max(point["p95_duration_ms"] or 0 for point in series["points"]) == 12000


@pytest.mark.parametrize("query, traces", [("window=1h", 3), ("window=7d", 5), ("window=all", 5),
                                           ("window=all&q=service:api", 3), ("start=20m", 2)])
def test_stats_window_and_query(client, five_traces, query, traces):
    assert client.get(f"/api/v1/stats?{query}").json()["total_traces"] == traces


def test_stats_of_an_empty_store_are_zeros(client):
    stats = client.get("/api/v1/stats").json()
    assert (stats["total_traces"], stats["error_rate"], stats["p95_duration_ms"], stats["by_model"]) == (
        0, 0.0, None, [],
    )


# --- streamed export -------------------------------------------------------------------------


def test_summaries_stream_as_csv_and_jsonl_with_the_list_filters(client, five_traces):
    response = client.get("/api/v1/traces/export?format=csv&service=api")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [int(row["trace_id"], 16) for row in rows] == [5, 2, 1]
    assert rows[2]["models"] == "gpt-4o" and rows[2]["total_tokens"] == "1200"

    response = client.get("/api/v1/traces/export?format=jsonl&status=error")
    lines = [json.loads(line) for line in b"".join(response.streaming_content).decode().splitlines()]
    assert [int(line["trace_id"], 16) for line in lines] == [4, 2]


# --- docs and health -------------------------------------------------------------------------


def test_openapi_schema_and_docs(client):
    schema = client.get("/api/v1/openapi.json").json()
    assert {"/api/v1/traces", "/api/v1/traces/{trace_id}", "/api/v1/traces/{trace_id}/tree", "/api/v1/spans",
            "/api/v1/stats", "/api/v1/traces/export", "/api/v1/traces/{trace_id}/export"} <= set(schema["paths"])
    assert set(schema["paths"]["/api/v1/traces"]["get"]["responses"]) == {"200", "400", "422", "503"}
    assert client.get("/api/v1/docs").status_code == 200
    assert client.get("/docs")["Location"] == "/api/v1/docs"


def test_health_reports_the_database(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok", "database": {"vendor": connection.vendor, "ok": True, "read": {"ok": True}, "write": {"ok": True}},
    }


def test_span_search_and_tree_cost_a_fixed_number_of_queries(client, five_traces):
    h.post(client, h.body(*[h.span(trace=8, span=n, parent=None if n == 1 else 1, name=f"s{n}", start_ms=n)
                           for n in range(1, 201)]))
    with CaptureQueriesContext(connection) as queries:
        assert len(client.get("/api/v1/spans?limit=500").json()["spans"]) == 210
    assert len(queries) == 1  # one page, each span with its trace id joined in
    with CaptureQueriesContext(connection) as queries:
        assert client.get(f"/api/v1/traces/{tid(8)}/tree").json()["roots"][0]["subtree_spans"] == 200
    assert len(queries) == 2  # the trace, and its spans
