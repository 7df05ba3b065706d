"""Token counts and costs as clients send them: the range in which each is plausible, and reading the
first usable one from a span's attributes. A module of its own, importing nothing of msgtrace, so that
normalization (traces.semconv) and pricing (cached-input tokens) read counts by the same rule."""

# The largest token count and cost one span may report. Far beyond any real model call, and small
# enough that sums over millions of spans stay within a 64-bit integer.
MAX_TOKENS = 10**12
MAX_COST = 1e9


def token_count(attributes, keys, ignored=None):
    """The first of `keys` holding a whole number within 0..MAX_TOKENS, or None. A value out of that range
    is passed over, and described in `ignored` when it is given."""
    for key in keys:
        value = attributes.get(key)
        if value is None or isinstance(value, bool):
            continue
        try:
            number = int(value)
        except (TypeError, ValueError, OverflowError):
            try:
                number = int(float(value))
            except (TypeError, ValueError, OverflowError):
                continue
        if 0 <= number <= MAX_TOKENS:
            return number
        if ignored is not None:
            ignored.append(f"{key}={_shown(value)} is outside 0..{MAX_TOKENS:,}")
    return None


def cost_value(attributes, keys, ignored=None):
    """The first of `keys` holding a number within 0..MAX_COST, or None (as token_count)."""
    for key in keys:
        value = attributes.get(key)
        if value is None or isinstance(value, bool):
            continue
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            continue
        if 0 <= number <= MAX_COST:
            return number
        if ignored is not None:
            ignored.append(f"{key}={_shown(value)} is outside 0..{MAX_COST:,.0f}")
    return None


def _shown(value):
    text = str(value)
    return text if len(text) <= 40 else text[:40] + "…"
