"""Management commands: thin wrappers over the query layer, checked by the rows before and after."""

import gzip
from datetime import datetime, timedelta, timezone
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests import helpers as h
from tests.helpers import ago, tid
from traces.models import Resource, Scope, Span, SpanEvent, Trace

pytestmark = pytest.mark.django_db

def run(*args):
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def store(client):
    """Trace 1: 40 days old, ok. Trace 2: 2 hours old, an error in a child. Trace 3: 10 minutes old."""
    h.post(client, h.body(h.span(trace=1, span=1, name="old flow", start_ms=ago(40 * 24 * 60)),
                          service="api"))
    h.post(client, h.body(h.span(trace=2, span=1, name="support flow", start_ms=ago(120), duration_ms=900),
                          h.span(trace=2, span=2, parent=1, name="lookup", start_ms=ago(120) + 1000,
                                 error="timeout", events=[{"name": "exception"}]),
                          service="api"))
    h.post(client, h.body(h.span(trace=3, span=1, name="research flow", start_ms=ago(10),
                                 attributes={"gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 10}),
                          service="web"))
    return client


def test_list_prints_matching_traces_newest_first_and_a_summary(store):
    out, _ = run("traces", "list", "service:api")
    lines = out.strip().splitlines()
    assert [line.split()[2] for line in lines[:-1]] == [tid(2), tid(1)]
    assert lines[-1] == "2 traces"
    assert "support flow" in lines[0] and "1 err" in lines[0]


def test_show_prints_the_span_tree(store):
    out, _ = run("traces", "show", tid(2))
    lines = out.splitlines()
    assert lines[0].startswith(f"trace {tid(2)}  api")
    assert lines[1].startswith("support flow  ")
    assert lines[2].startswith("  lookup  ") and "ERROR timeout" in lines[2]


def test_delete_by_id_and_by_query(store):
    out, _ = run("traces", "delete", tid(2))
    assert out.strip() == "deleted 1 trace"
    assert (sorted(Trace.objects.values_list("trace_id", flat=True)), SpanEvent.objects.count()) == (
        [tid(1), tid(3)], 0,
    )
    out, _ = run("traces", "delete", "--query", "service:web")
    assert out.strip() == "deleted 1 trace"
    assert list(Trace.objects.values_list("trace_id", flat=True)) == [tid(1)]
    assert Span.objects.count() == 1


@pytest.mark.parametrize("args, message", [
    (("traces", "show", "feed"), "no trace feed"),
    (("traces", "delete"), "give a TRACE_ID or --query"),
    (("traces", "delete", tid(1), "--query", "x"), "give a TRACE_ID or --query"),
    (("traces", "list", "duration:>"), "bad query"),
    (("prune", "--older-than", "30 days"), "is not an age"),
    (("traces", "import", "/nonexistent.bin"), "/nonexistent.bin"),
    (("stats", "--window", "2y"), "unknown window"),
])
def test_bad_input_is_a_command_error_that_changes_nothing(store, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert Trace.objects.count() == 3


def test_export_and_import_round_trip_exactly(store, tmp_path):
    before = {s.span_id: (s.name, s.attributes, s.status_message, s.start_ns, s.end_ns)
              for s in Span.objects.filter(trace__trace_id=tid(2))}
    path = tmp_path / "trace.json"
    _, err = run("traces", "export", tid(2), "--output", str(path))
    assert err.strip() == "exported 1 trace as otlp-json"
    Trace.objects.filter(trace_id=tid(2)).delete_with_spans()

    out, _ = run("traces", "import", str(path))

    assert out.strip() == "imported 1 file: 2 spans stored, 0 already stored, 0 rejected"
    after = {s.span_id: (s.name, s.attributes, s.status_message, s.start_ns, s.end_ns)
             for s in Span.objects.filter(trace__trace_id=tid(2))}
    assert after == before
    assert Trace.objects.get(trace_id=tid(2)).error_count == 1


def test_import_takes_protobuf_gzip_and_json_captures(tmp_path):
    gz = tmp_path / "mt.bin.gz"
    gz.write_bytes(gzip.compress((h.CORPUS / "msgtrace-sdk/007.bin").read_bytes()))
    out, err = run("traces", "import", str(h.CORPUS / "otel-python/001.bin"), str(gz),
                   str(h.CORPUS / "otel-python-json/001.json"))
    assert out.strip() == "imported 3 files: 28 spans stored, 0 already stored, 0 rejected"
    assert "[3/3]" in err
    assert Span.objects.count() == 28


def test_export_csv_of_a_query(store, tmp_path):
    out, _ = run("traces", "export", "--query", "service:api", "--format", "csv")
    lines = out.strip().splitlines()
    assert lines[0].startswith("trace_id,started_at,root_span_name")
    assert [line.split(",")[0] for line in lines[1:]] == [tid(1), tid(2)]


def test_stats_prints_a_summary_of_the_window(store):
    out, _ = run("stats", "--window", "24h")
    assert out.splitlines()[0].startswith("last 24h: 2 traces, 3 spans, 1 with errors (50.0%)")
    assert "model gpt-4o: 1 calls, 10 tokens" in out


def test_prune_dry_run_counts_and_prune_deletes_by_start_time(store):
    out, _ = run("prune", "--older-than", "30d", "--dry-run")
    assert out.strip() == "would delete 1 trace older than 30d"
    assert Trace.objects.count() == 3
    out, _ = run("prune", "--older-than", "1h")
    assert out.strip() == "deleted 2 traces older than 1h, and 1 resource and 0 scopes no span uses any more"
    assert list(Trace.objects.values_list("trace_id", flat=True)) == [tid(3)]
    assert Span.objects.count() == 1 and SpanEvent.objects.count() == 0
    # The service of the deleted traces goes with them; the scope all three shared stays for trace 3.
    assert [r.attributes["service.name"] for r in Resource.objects.all()] == ["web"]
    assert list(Scope.objects.values_list("name", flat=True)) == ["tests"]


def test_prune_can_also_cap_the_number_of_traces(store):
    out, _ = run("prune", "--older-than", "90d", "--keep-at-most", "1")
    assert out.strip() == "deleted 2 traces older than 90d, and 1 resource and 0 scopes no span uses any more"
    assert list(Trace.objects.values_list("trace_id", flat=True)) == [tid(3)]


def test_prune_says_nothing_of_resources_when_none_became_unused(store):
    out, _ = run("prune", "--older-than", "30d")
    assert out.strip() == "deleted 1 trace older than 30d"
    assert Resource.objects.count() == 2


def test_demo_fills_an_empty_store_with_varied_agent_traces():
    out, _ = run("demo", "--traces", "20")
    traces, spans = Trace.objects.count(), Span.objects.count()
    assert out.strip() == f"demo: stored {spans} spans in {traces} traces"
    assert traces == 20 and spans > 100
    assert Trace.objects.filter(status="error").exists()
    assert {"llm", "tool"} <= set(Span.objects.values_list("category", flat=True))
    assert Trace.objects.filter(started_at__gte=datetime.now(timezone.utc) - timedelta(days=2)).count() == 20


def test_every_command_has_help():
    for command in ("traces", "stats", "prune", "demo", "start"):
        with pytest.raises(SystemExit):
            run(command, "--help")
