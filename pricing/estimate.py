"""The cost of a span that reports tokens but no cost, and the source of every model call's cost.

    reported   the client sent a cost: kept as it is, never overwritten
    estimated  tokens times the rate in force at the span's start (price_version says which table)
    unpriced   tokens, but no price is known for the model

Rates come from operators' custom prices first (pricing.models.CustomPrice), then from the
genai-prices table shipped with the package. Everything here runs on the ingest path before the
transaction: a pure function over the decoded span and in-memory tables. Custom prices are loaded
into memory and reloaded only when their version row changes, read at most every
MSGTRACE_PRICE_REFRESH_SECONDS.
"""

import threading
import time
from datetime import datetime, timezone
from decimal import Decimal

from django.conf import settings

from traces.models import counts_as_usage
from traces.usage_values import token_count

REPORTED, ESTIMATED, UNPRICED = "reported", "estimated", "unpriced"
COST_SOURCES = (REPORTED, ESTIMATED, UNPRICED)

# Cached-input tokens, highest precedence first: OTel GenAI (current and earlier spellings),
# OpenLLMetry, OpenInference. Like OpenAI's usage and genai-prices, input tokens are taken to include
# them; a span whose cached tokens exceed its input tokens counted them apart (Anthropic's own usage).
CACHE_READ_KEYS = (
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_read_input_tokens",
    "llm.usage.cache_read_input_tokens",
    "llm.token_count.prompt_details.cache_read",
)
CACHE_WRITE_KEYS = (
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.cache_creation_input_tokens",
    "llm.usage.cache_creation_input_tokens",
    "llm.token_count.prompt_details.cache_write",
)
MILLION = Decimal(1_000_000)
# Per-model price keys the fast path computes itself; counts that a span never reports (web searches
# and the like) price at nothing. Any other key goes through genai-prices' own calculation.
_FAST_KEYS = frozenset({"input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok"})
_NEVER_COUNTED = frozenset({
    "web_searches_kcount", "storage_searches_kcount", "code_executions_kcount", "rerank_searches_kcount",
    "social_searches_kcount",
})
_CACHE_LIMIT = 10_000


class Estimate:
    __slots__ = ("input_cost", "output_cost", "total_cost", "version")

    def __init__(self, input_cost, output_cost, total_cost, version):
        self.input_cost, self.output_cost, self.total_cost, self.version = input_cost, output_cost, total_cost, version


def table_version():
    """The genai-prices table's version: its data ships with the package."""
    import genai_prices

    return f"genai-prices {genai_prices.__version__}"


# ---------------------------------------------------------------------------------------------
# Ingest


def price_span(normalized, attributes, start_ns):
    """Sets normalized["cost_source"] and ["price_version"], and the costs of an estimate. Only model
    calls (traces.models.counts_as_usage) get a source: theirs are the costs every total adds up."""
    normalized["cost_source"] = ""
    normalized["price_version"] = ""
    if not counts_as_usage(normalized["category"]):
        return
    if normalized["total_cost"] is not None:
        normalized["cost_source"] = REPORTED
        return
    if normalized["input_tokens"] is None and normalized["output_tokens"] is None:
        if normalized["total_tokens"] is not None:
            normalized["cost_source"] = UNPRICED  # tokens, but not which were input and which output
        return
    found = estimate(
        normalized["model"], normalized["response_model"], normalized["provider"], normalized["input_tokens"] or 0,
        normalized["output_tokens"] or 0, token_count(attributes, CACHE_READ_KEYS) or 0,
        token_count(attributes, CACHE_WRITE_KEYS) or 0,
        start_ns,
    )
    if found is None:
        normalized["cost_source"] = UNPRICED
        return
    normalized["input_cost"], normalized["output_cost"] = found.input_cost, found.output_cost
    normalized["total_cost"], normalized["currency"] = found.total_cost, "USD"
    normalized["cost_source"], normalized["price_version"] = ESTIMATED, found.version


def estimate(model, response_model, provider, input_tokens, output_tokens, cache_read, cache_write, start_ns):
    """An Estimate from the rate in force at start_ns, or None when no price is known for the model.
    The response model (what actually answered) is tried before the requested one."""
    if cache_read + cache_write > input_tokens:
        input_tokens += cache_read + cache_write
    names = [name for name in dict.fromkeys((response_model.strip(), model.strip())) if name]
    if not names:
        return None
    moment = datetime.now(timezone.utc) if start_ns is None else datetime.fromtimestamp(start_ns / 1e9, timezone.utc)
    custom = custom_prices.find(names, provider, moment)
    if custom is not None:
        return custom.price(input_tokens, output_tokens, cache_read, cache_write)
    for name in names:
        found = _resolve(name, provider)
        if found is not None:
            return _table_price(found, moment, input_tokens, output_tokens, cache_read, cache_write)
    return None


# ---------------------------------------------------------------------------------------------
# The genai-prices table

_resolved = {}
_compiled = {}


def name_variants(name):
    """(model name, provider hint) pairs to look up, most literal first: `gpt-4o-2024-08-06` as it is
    (genai-prices knows dated names), `openai/gpt-4o` and `openrouter/openai/gpt-4o` without their
    vendor prefixes, `us.anthropic.claude-...-v2:0` (Bedrock) without region, vendor and revision."""
    name = name.lower()
    yield name, None
    if "/" in name:
        parts = [part for part in name.split("/") if part]
        if len(parts) > 1:
            yield parts[-1], parts[-2]
    bare = name.rsplit("/", 1)[-1]
    if "." in bare and bare.split(".", 1)[0] in ("us", "eu", "apac", "global"):
        bare = bare.split(".", 1)[1]
    if "." in bare and bare.split(".", 1)[0] in ("anthropic", "meta", "mistral", "cohere", "amazon", "ai21"):
        vendor, bare = bare.split(".", 1)
        yield bare.split(":", 1)[0], vendor


def _resolve(name, provider):
    """genai-prices' (provider, model) for a name as a client sent it, or None; remembered either way."""
    key = (name, provider)
    if key in _resolved:
        return _resolved[key]
    from genai_prices.data_snapshot import get_snapshot

    snapshot = get_snapshot()
    found = None
    for variant, hint in name_variants(name):
        for provider_id in dict.fromkeys((provider.lower() or None if provider else None, hint, None)):
            try:
                found = snapshot.find_provider_model(variant, None, provider_id, None)
            except LookupError:
                continue
            break
        if found is not None:
            break
    if len(_resolved) >= _CACHE_LIMIT:
        _resolved.clear()
    _resolved[key] = found
    return found


def _table_price(found, moment, input_tokens, output_tokens, cache_read, cache_write):
    provider, model = found
    model_price = model.get_prices(moment)
    rates = _compiled.get(id(model_price))
    if rates is None or rates[0] is not model_price:
        rates = (model_price, _compile(model_price))
        if len(_compiled) >= _CACHE_LIMIT:
            _compiled.clear()
        _compiled[id(model_price)] = rates
    version = table_version()
    if rates[1] is None:  # prices the fast path does not know: genai-prices' own calculation
        from genai_prices import Usage

        usage = Usage(input_tokens=input_tokens, output_tokens=output_tokens, cache_read_tokens=cache_read or None,
                      cache_write_tokens=cache_write or None)
        calc = model.calc_price(usage, provider, genai_request_timestamp=moment)
        return Estimate(float(calc.input_price), float(calc.output_price), float(calc.total_price), version)
    input_rate, cache_read_rate, cache_write_rate, output_rate = rates[1]
    return _priced(input_rate, cache_read_rate, cache_write_rate, output_rate, input_tokens, output_tokens,
                   cache_read, cache_write, version)


def _compile(model_price):
    keys = {key for key, value in model_price.__dict__.items() if value is not None and not key.startswith("_")}
    if not keys <= _FAST_KEYS | _NEVER_COUNTED or "input_mtok" not in keys:
        return None
    return tuple(getattr(model_price, key) for key in ("input_mtok", "cache_read_mtok", "cache_write_mtok", "output_mtok"))


def _rate(price, input_tokens):
    """A rate per million tokens; tiered prices apply their tier's rate to every token once the
    input crosses it, as genai-prices does."""
    if price is None or isinstance(price, Decimal):
        return price
    rate = price.base
    for tier in reversed(price.tiers):
        if input_tokens > tier.start:
            return tier.price
    return rate


def _priced(input_rate, cache_read_rate, cache_write_rate, output_rate, input_tokens, output_tokens, cache_read,
            cache_write, version):
    """Cached tokens at their own rate where the model has one, otherwise as plain input."""
    uncached = input_tokens
    input_price = Decimal(0)
    cache_read_rate = _rate(cache_read_rate, input_tokens)
    cache_write_rate = _rate(cache_write_rate, input_tokens)
    if cache_read_rate is not None and cache_read:
        uncached -= cache_read
        input_price += cache_read_rate * cache_read
    if cache_write_rate is not None and cache_write:
        uncached -= cache_write
        input_price += cache_write_rate * cache_write
    input_price += _rate(input_rate, input_tokens) * uncached
    output_rate = _rate(output_rate, input_tokens)
    output_price = output_rate * output_tokens if output_rate is not None else Decimal(0)
    input_price, output_price = input_price / MILLION, output_price / MILLION
    return Estimate(float(input_price), float(output_price), float(input_price + output_price), version)


# ---------------------------------------------------------------------------------------------
# Custom prices


class _Custom:
    __slots__ = ("pk", "provider", "valid_from", "input", "cached_input", "output", "version")

    def price(self, input_tokens, output_tokens, cache_read, cache_write):
        return _priced(self.input, self.cached_input, None, self.output, input_tokens, output_tokens, cache_read,
                       cache_write, self.version)


class CustomPrices:
    """The operators' prices in memory, by lowercased model name, newest `valid_from` first."""

    def __init__(self):
        self._by_model = {}
        self._version = None
        self._checked = float("-inf")
        self._lock = threading.Lock()

    def forget(self):
        """Reload at the next use (this process changed a price)."""
        self._version = None
        self._checked = float("-inf")

    def find(self, names, provider, moment):
        self._refresh()
        if not self._by_model:
            return None
        provider = (provider or "").lower()
        for name in names:
            for variant, _hint in name_variants(name):
                for custom in self._by_model.get(variant, ()):
                    if (not custom.provider or custom.provider == provider) and (
                        custom.valid_from is None or custom.valid_from <= moment
                    ):
                        return custom
        return None

    def _refresh(self):
        now = time.monotonic()
        if now - self._checked < settings.MSGTRACE_PRICE_REFRESH_SECONDS:
            return
        with self._lock:
            if now - self._checked < settings.MSGTRACE_PRICE_REFRESH_SECONDS:
                return
            self._checked = now
            try:
                self._load()
            except Exception:  # noqa: BLE001 - pricing never fails an ingest; the last prices stay
                pass

    def _load(self):
        from pricing.models import CustomPrice, PriceTableVersion

        version = PriceTableVersion.current()
        if version == self._version:
            return
        by_model = {}
        for row in CustomPrice.objects.order_by("model", "-valid_from", "-pk"):
            custom = _Custom()
            custom.pk, custom.provider, custom.valid_from = row.pk, row.provider.lower(), row.valid_from
            custom.input, custom.cached_input, custom.output = row.input_per_mtok, row.cached_input_per_mtok, row.output_per_mtok
            custom.version = f"custom price {row.pk} (v{version})"
            by_model.setdefault(row.model.strip().lower(), []).append(custom)
        for prices in by_model.values():  # in force from the latest start; a price for always comes last
            prices.sort(key=lambda c: c.valid_from or datetime.min.replace(tzinfo=timezone.utc), reverse=True)
        self._by_model, self._version = by_model, version


custom_prices = CustomPrices()
