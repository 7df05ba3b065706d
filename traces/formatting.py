"""Numbers as people read them, wherever msgtrace shows them: the pages (registered as template
filters by ui.templatetags.msgtrace_ui), the admin and the management commands."""

import math


def duration(milliseconds):
    """1.2 ms, 450 ms, 2.35 s, 3m 05s, 1h 02m."""
    if milliseconds is None or milliseconds == "":
        return "–"
    ms = float(milliseconds)
    if ms < 1:
        return f"{ms * 1000:.0f} µs"
    if ms < 10:
        return f"{ms:.1f} ms"
    if ms < 1000:
        return f"{ms:.0f} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, seconds = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def duration_ns(nanoseconds):
    return duration(None if nanoseconds is None else nanoseconds / 1e6)


def tokens(count):
    """12, 1,234, 12.3k, 4.56M."""
    if count is None or count == "":
        return "–"
    count = int(count)
    if count < 10_000:
        return f"{count:,}"
    if count < 1_000_000:
        return f"{count / 1000:.1f}k"
    return f"{count / 1_000_000:.2f}M"


def cost(amount, currency="USD"):
    """$12.30, $0.0123, and two significant digits for the fractions of a cent one call costs ($0.000023)."""
    if amount is None or amount == "":
        return "–"
    amount = float(amount)
    symbol = "$" if currency in ("", "USD", None) else f"{currency} "
    if amount == 0:
        return f"{symbol}0"
    if 0 < amount < 0.0001:
        return f"{symbol}{amount:.{1 - math.floor(math.log10(amount))}f}"
    if amount < 0.01:
        return f"{symbol}{amount:.4f}"
    if amount < 100:
        return f"{symbol}{amount:.2f}"
    return f"{symbol}{amount:,.0f}"


def percent(fraction):
    if fraction is None:
        return "–"
    return f"{float(fraction) * 100:.1f}%"


def model_label(model):
    """A model's name, or what a model call that named none is listed as."""
    return model or "(no model)"
