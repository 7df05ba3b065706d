"""The estimate of a model call's cost: genai-prices' rates at the span's start, with model names as
clients send them. Expected numbers come from genai-prices' own calc_price, never from msgtrace."""

from datetime import datetime, timezone

import pytest
from genai_prices import Usage, __version__, calc_price
from genai_prices.data_snapshot import get_snapshot

from pricing.estimate import estimate, price_span

JUNE_2025 = datetime(2025, 6, 1, tzinfo=timezone.utc)


def ns(moment):
    return int(moment.timestamp()) * 1_000_000_000


def table(model, moment=JUNE_2025, provider=None, **tokens):
    return calc_price(Usage(**tokens), model, provider_id=provider, genai_request_timestamp=moment)


def test_a_call_is_priced_at_the_table_rate_for_its_model():
    found = estimate("gpt-4o-mini", "", "openai", 1000, 200, 0, 0, ns(JUNE_2025))
    expected = table("gpt-4o-mini", input_tokens=1000, output_tokens=200)
    assert found.total_cost == pytest.approx(float(expected.total_price), abs=1e-12)
    assert found.input_cost == pytest.approx(0.00015)  # $0.15 per million input tokens
    assert found.output_cost == pytest.approx(0.00012)  # $0.60 per million output tokens
    assert found.version == f"genai-prices {__version__}"


def test_cached_input_tokens_are_priced_at_their_own_rate():
    found = estimate("gpt-4o-mini", "", "openai", 1000, 0, 400, 0, ns(JUNE_2025))
    expected = table("gpt-4o-mini", input_tokens=1000, cache_read_tokens=400)
    assert found.input_cost == pytest.approx(float(expected.input_price), abs=1e-12)
    # 600 at $0.15 and 400 at $0.075 per million, not 1,000 at $0.15
    assert found.input_cost == pytest.approx(600 * 0.15e-6 + 400 * 0.075e-6)


def test_cache_writes_are_priced_apart_too():
    moment = datetime(2025, 3, 1, tzinfo=timezone.utc)
    found = estimate("claude-3-5-sonnet-20241022", "", "anthropic", 5000, 100, 1000, 2000, ns(moment))
    expected = table("claude-3-5-sonnet-20241022", moment, input_tokens=5000, output_tokens=100,
                     cache_read_tokens=1000, cache_write_tokens=2000)
    assert found.total_cost == pytest.approx(float(expected.total_price), abs=1e-12)


@pytest.mark.parametrize("name, resolves_to", [
    ("gpt-4o-2024-08-06", "gpt-4o"),
    ("openai/gpt-4o", "gpt-4o"),
    ("openrouter/openai/gpt-4o-mini", "gpt-4o-mini"),
    ("GPT-4o-mini", "gpt-4o-mini"),
    ("anthropic/claude-3-5-sonnet-20241022", "claude-3-5-sonnet"),
    ("us.anthropic.claude-3-5-sonnet-20241022-v2:0", "claude-3-5-sonnet"),
])
def test_model_names_as_clients_send_them_resolve(name, resolves_to):
    found = estimate(name, "", "", 10_000, 1_000, 0, 0, ns(JUNE_2025))
    expected = table(resolves_to, input_tokens=10_000, output_tokens=1_000)
    assert found is not None
    assert found.total_cost == pytest.approx(float(expected.total_price), abs=1e-12)


def test_the_response_model_is_priced_before_the_request_model():
    found = estimate("gpt-4o", "gpt-4o-mini-2024-07-18", "openai", 1000, 1000, 0, 0, ns(JUNE_2025))
    expected = table("gpt-4o-mini", input_tokens=1000, output_tokens=1000)
    assert found.total_cost == pytest.approx(float(expected.total_price), abs=1e-12)


def test_the_request_model_is_priced_when_the_response_model_is_unknown():
    found = estimate("gpt-4o", "gpt-4o-private-snapshot-x", "openai", 1000, 1000, 0, 0, ns(JUNE_2025))
    assert found.total_cost == pytest.approx(float(table("gpt-4o", input_tokens=1000, output_tokens=1000).total_price))


def test_an_unknown_model_has_no_estimate():
    assert estimate("fake-plain", "fake-plain-2025-01-01", "openai", 52, 9, 0, 0, ns(JUNE_2025)) is None
    assert estimate("", "", "", 52, 9, 0, 0, ns(JUNE_2025)) is None


def _price_change():
    """(provider, model, the day before, the day its new price started) for a model of the table whose
    input or output price changed on a date."""
    from datetime import timedelta

    for provider in get_snapshot().providers:
        for model in provider.models:
            for price in model.prices if isinstance(model.prices, list) else ():
                start = getattr(price.constraint, "start_date", None)
                if start is None:
                    continue
                after = datetime(start.year, start.month, start.day, 12, tzinfo=timezone.utc)
                before = after - timedelta(days=1)
                try:  # the model as its id resolves, with a price that differs on the two days
                    old, new = (table(model.id, day, provider.id, input_tokens=100_000) for day in (before, after))
                except LookupError:
                    continue
                if old.total_price != new.total_price:
                    return provider, model, before, after
    pytest.skip("the table holds no model whose price changed on a date")


def test_a_call_is_priced_at_the_rate_in_force_when_it_started():
    provider, model, before, after = _price_change()
    costs = []
    for moment in (before, after):
        found = estimate(model.id, "", provider.id, 100_000, 10_000, 0, 0, ns(moment))
        expected = table(model.id, moment, provider.id, input_tokens=100_000, output_tokens=10_000)
        assert found.total_cost == pytest.approx(float(expected.total_price), abs=1e-12)
        costs.append(found.total_cost)
    assert costs[0] != costs[1]


@pytest.mark.parametrize("usage", [(1234, 567, 0, 0), (250_000, 1000, 30_000, 0), (9000, 10, 2000, 1000)])
def test_the_fast_path_agrees_with_genai_prices_for_every_model_in_the_table(usage):
    from pricing.estimate import _table_price

    input_tokens, output_tokens, cache_read, cache_write = usage
    disagreements = []
    for provider in get_snapshot().providers:
        for model in provider.models:
            calc = model.calc_price(
                Usage(input_tokens=input_tokens, output_tokens=output_tokens, cache_read_tokens=cache_read or None,
                      cache_write_tokens=cache_write or None),
                provider, genai_request_timestamp=JUNE_2025,
            )
            ours = _table_price((provider, model), JUNE_2025, *usage)
            if abs(ours.total_cost - float(calc.total_price)) > 1e-9:
                disagreements.append((provider.id, model.id, ours.total_cost, float(calc.total_price)))
    assert disagreements == []


def normalized(**fields):
    base = {"category": "llm", "model": "gpt-4o-mini", "response_model": "", "provider": "openai",
            "input_tokens": 1000, "output_tokens": 100, "total_tokens": 1100, "input_cost": None,
            "output_cost": None, "total_cost": None, "currency": ""}
    return base | fields


def test_a_reported_cost_is_kept_and_marked_reported():
    fields = normalized(total_cost=0.5, input_cost=0.2, output_cost=0.3, currency="USD")
    price_span(fields, {}, ns(JUNE_2025))
    assert (fields["cost_source"], fields["total_cost"], fields["price_version"]) == ("reported", 0.5, "")


def test_tokens_of_an_unknown_model_are_unpriced():
    fields = normalized(model="my-llama")
    price_span(fields, {}, ns(JUNE_2025))
    assert (fields["cost_source"], fields["total_cost"]) == ("unpriced", None)


def test_only_model_calls_get_a_cost_source():
    fields = normalized(category="agent")
    price_span(fields, {}, ns(JUNE_2025))
    assert (fields["cost_source"], fields["total_cost"]) == ("", None)
    fields = normalized(input_tokens=None, output_tokens=None, total_tokens=None)
    price_span(fields, {}, ns(JUNE_2025))
    assert fields["cost_source"] == ""


@pytest.mark.parametrize("key", ["gen_ai.usage.cache_read_input_tokens", "gen_ai.usage.cache_read.input_tokens",
                                 "llm.token_count.prompt_details.cache_read"])
def test_cached_tokens_are_read_from_openllmetry_otel_and_openinference_keys(key):
    fields = normalized(output_tokens=0)
    price_span(fields, {key: 400}, ns(JUNE_2025))
    assert fields["cost_source"] == "estimated"
    assert fields["input_cost"] == pytest.approx(600 * 0.15e-6 + 400 * 0.075e-6)
