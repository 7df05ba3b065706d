"""Costs you can trust, end to end: a msgflux agent call whose model calls report tokens but no cost
gets an estimate marked as estimated on every surface; reported costs are kept; unknown models are
unpriced and counted; custom prices win, and `manage.py reprice` applies them to stored spans."""

import io
import re
from datetime import datetime, timezone
from decimal import Decimal
from html import unescape

import pytest
from django.core.management import call_command
from genai_prices import Usage, __version__, calc_price
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from pricing.estimate import custom_prices
from pricing.models import CustomPrice
from tests import helpers as h
from traces.formatting import cost
from traces.models import Span, Trace

pytestmark = pytest.mark.django_db
TABLE = f"genai-prices {__version__}"


def msgflux_capture(name="004.bin", model="gpt-4o-mini", response_model="gpt-4o-mini-2024-07-18"):
    """A captured msgflux request (msgflux 0.5.1 through msgtrace-sdk 1.2.0, model calls recorded by
    OpenLLMetry) whose fake-server model names are replaced by real ones; everything else as captured."""
    message = ExportTraceServiceRequest.FromString((h.CORPUS / "msgflux" / name).read_bytes())
    for resource_spans in message.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                for kv in span.attributes:
                    if kv.key == "gen_ai.request.model":
                        kv.value.string_value = model
                    elif kv.key == "gen_ai.response.model":
                        kv.value.string_value = response_model
    return message


def model_calls(message):
    """(start ns, input tokens, output tokens) of each openai.chat span, read from the request itself."""
    calls = []
    for resource_spans in message.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                attributes = {kv.key: kv.value for kv in span.attributes}
                if span.name == "openai.chat":
                    calls.append((span.start_time_unix_nano, attributes["gen_ai.usage.input_tokens"].int_value,
                                  attributes["gen_ai.usage.output_tokens"].int_value))
    return calls


def table_price(model, start_ns, input_tokens, output_tokens, **more):
    moment = datetime.fromtimestamp(start_ns / 1e9, timezone.utc)
    usage = Usage(input_tokens=input_tokens, output_tokens=output_tokens, **more)
    return float(calc_price(usage, model, genai_request_timestamp=moment).total_price)


def page_text(response):
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", response.content.decode())))


def test_a_msgflux_gpt_4o_mini_call_gets_an_estimate_marked_as_estimated(client):
    message = msgflux_capture()
    assert h.post(client, message).status_code == 200
    calls = model_calls(message)
    assert len(calls) == 2
    spans = Span.objects.filter(name="openai.chat").order_by("start_ns")
    for span, (start_ns, input_tokens, output_tokens) in zip(spans, calls, strict=True):
        assert (span.cost_source, span.price_version, span.currency) == ("estimated", TABLE, "USD")
        assert span.total_cost == pytest.approx(table_price("gpt-4o-mini", start_ns, input_tokens, output_tokens))
        assert span.total_cost > 0

    # The API says so, per span and per trace.
    span = spans[0]
    trace_id = span.trace.trace_id
    body = client.get(f"/api/v1/traces/{trace_id}").json()
    assert body["total_cost"] == pytest.approx(span.total_cost)
    assert body["estimated_cost"] == pytest.approx(span.total_cost)
    assert body["unpriced_spans"] == 0
    api_span = next(s for s in body["spans"] if s["span_id"] == span.span_id)
    assert (api_span["cost_source"], api_span["price_version"]) == ("estimated", TABLE)

    # The span panel and the trace header.
    panel = page_text(client.get(f"/traces/{trace_id}/spans/{span.span_id}", HTTP_HX_REQUEST="true"))
    assert f"Cost estimated by msgtrace from the tokens ({TABLE})" in panel
    # The page of a trace stitched into the agent's run shows the run: both calls, both estimated.
    header = page_text(client.get(f"/traces/{trace_id}"))
    shown, estimated = re.search(r"Cost (\S+) of which (\S+) estimated", header).groups()
    assert shown == estimated
    assert shown in (cost(span.total_cost), cost(sum(s.total_cost for s in spans)))

    # The dashboard says how much of its total is estimated.
    dashboard = page_text(client.get("/", {"window": "all"}))
    total = sum(s.total_cost for s in spans)
    assert f"{cost(total)} model calls of which {cost(total)} estimated" in dashboard


def test_a_reported_cost_is_never_overwritten(client):
    call = h.span(model="gpt-4o-mini", tokens=(1000, 100), cost=(0.25, 0.5))
    assert h.post(client, h.body(call)).status_code == 200
    span = Span.objects.get()
    assert (span.cost_source, span.total_cost, span.price_version) == ("reported", 0.75, "")
    assert Trace.objects.get().estimated_cost == 0
    call_command("reprice", stdout=io.StringIO())
    assert Span.objects.get().total_cost == 0.75


def test_an_unknown_model_is_unpriced_and_counted(client):
    # 001.bin as captured: msgflux talked to a fake server whose model no price table knows.
    assert h.post_corpus(client, "msgflux/001.bin").status_code == 200
    span = Span.objects.get(name="openai.chat")
    assert (span.cost_source, span.total_cost, span.input_tokens) == ("unpriced", None, 52)
    assert span.trace.unpriced_spans == 1
    assert client.get(f"/api/v1/traces/{span.trace.trace_id}").json()["unpriced_spans"] == 1
    found = client.get("/api/v1/traces", {"q": "cost_source:unpriced"}).json()["traces"]
    assert [t["trace_id"] for t in found] == [span.trace.trace_id]
    assert client.get("/api/v1/traces", {"q": "cost_source:estimated"}).json()["traces"] == []
    spans = client.get("/api/v1/spans", {"q": "cost_source:unpriced"}).json()
    assert [s["span_id"] for s in spans["spans"]] == [span.span_id]
    stats = client.get("/api/v1/stats", {"window": "all"}).json()
    assert stats["unpriced_spans"] == 1


def test_a_custom_price_wins_over_the_table_and_reprice_applies_it_to_stored_spans(client):
    message = msgflux_capture()
    h.post(client, message)
    calls = model_calls(message)
    before = {span.pk: span.total_cost for span in Span.objects.filter(cost_source="estimated")}
    assert len(before) == 2

    CustomPrice.objects.create(model="gpt-4o-mini", input_per_mtok=Decimal("1"), output_per_mtok=Decimal("2"))
    out = io.StringIO()
    call_command("reprice", "--since", "3650d", "--model", "gpt-4o-mini", "--batch-size", "1", stdout=out)
    assert out.getvalue().splitlines() == [
        "  1/2 model calls", "  2/2 model calls", "repriced 2 model calls: 2 changed, 2 traces' totals updated",
    ]
    spans = Span.objects.filter(name="openai.chat").order_by("start_ns")
    for span, (_start, input_tokens, output_tokens) in zip(spans, calls, strict=True):
        expected = (input_tokens * 1 + output_tokens * 2) / 1e6
        assert span.total_cost == pytest.approx(expected)
        assert span.cost_source == "estimated"
        assert span.price_version.startswith("custom price ")
        trace = span.trace
        assert (trace.total_cost, trace.estimated_cost) == (pytest.approx(expected), pytest.approx(expected))

    # New spans use it at once, without reprice.
    h.post(client, msgflux_capture("003.bin"))
    for span, (_start, input_tokens, output_tokens) in zip(
        Span.objects.filter(name="openai.chat").order_by("-start_ns")[:2][::-1], model_calls(msgflux_capture("003.bin"))
    ):
        assert span.total_cost == pytest.approx((input_tokens + output_tokens * 2) / 1e6)


def test_a_custom_price_prices_a_self_hosted_model_once_reprice_runs(client):
    h.post(client, h.body(h.span(model="my-llama-70b", tokens=(2_000_000, 500_000))))
    assert Span.objects.get().cost_source == "unpriced"
    assert Trace.objects.get().unpriced_spans == 1
    CustomPrice.objects.create(model="my-llama-70b", input_per_mtok=Decimal("0.5"), output_per_mtok=Decimal("1.5"))
    call_command("reprice", stdout=io.StringIO())
    span, trace = Span.objects.get(), Trace.objects.get()
    assert (span.cost_source, span.total_cost) == ("estimated", pytest.approx(1.75))
    assert (trace.total_cost, trace.estimated_cost, trace.unpriced_spans) == (pytest.approx(1.75), pytest.approx(1.75), 0)


def test_a_custom_price_in_force_from_a_date_leaves_earlier_calls_at_the_table_rate(client):
    h.post(client, h.body(h.span(model="gpt-4o-mini", tokens=(1000, 1000))))  # 2026-01-01
    CustomPrice.objects.create(model="gpt-4o-mini", input_per_mtok=Decimal("9"), output_per_mtok=Decimal("9"),
                               valid_from=datetime(2026, 2, 1, tzinfo=timezone.utc))
    call_command("reprice", stdout=io.StringIO())
    assert Span.objects.get().total_cost == pytest.approx(table_price("gpt-4o-mini", h.T0, 1000, 1000))


def test_custom_prices_are_editable_in_the_admin(admin_client):
    response = admin_client.post("/admin/pricing/customprice/add/", {
        "model": "ft:gpt-4o-mini:acme", "provider": "", "input_per_mtok": "0.3", "cached_input_per_mtok": "",
        "output_per_mtok": "1.2", "valid_from_0": "", "valid_from_1": "", "note": "fine-tuned",
    })
    assert response.status_code == 302
    price = CustomPrice.objects.get()
    assert (price.model, price.input_per_mtok, price.output_per_mtok) == ("ft:gpt-4o-mini:acme", Decimal("0.3"), Decimal("1.2"))
    custom_prices.forget()
    from pricing.estimate import estimate

    assert estimate("ft:gpt-4o-mini:acme", "", "openai", 1_000_000, 0, 0, 0, h.T0).total_cost == pytest.approx(0.3)
