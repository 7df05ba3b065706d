"""Formatting for the pages: numbers as people read them, computed here so templates only loop."""

import math
from datetime import datetime, timezone

from django import template
from django.utils.html import format_html

register = template.Library()


@register.filter
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


@register.filter
def duration_ns(nanoseconds):
    return duration(None if nanoseconds is None else nanoseconds / 1e6)


@register.filter
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


@register.filter
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


@register.filter
def percent(fraction):
    if fraction is None:
        return "–"
    return f"{float(fraction) * 100:.1f}%"


def _as_datetime(value):
    if isinstance(value, (int, float)):  # unix nanoseconds
        return datetime.fromtimestamp(value / 1e9, timezone.utc)
    return value


@register.simple_tag
def moment(value, relative=True):
    """A <time> that msgtrace.js shows relative ("3 min ago") in the browser's time zone, with the
    absolute time on hover; without JavaScript it reads as UTC."""
    value = _as_datetime(value)
    if value is None:
        return "–"
    iso = value.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    text = value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    return format_html(
        '<time datetime="{}" title="{}" data-moment="{}">{}</time>', iso, text, "relative" if relative else "absolute", text
    )
