"""The pages' filters: traces.formatting's numbers as people read them, and moments as <time> tags."""

from datetime import timezone

from django import template
from django.utils.html import format_html

from traces import formatting
from traces.timeframe import datetime_from_ns

register = template.Library()

for _name in ("duration", "duration_ns", "tokens", "cost", "percent"):
    register.filter(_name, getattr(formatting, _name))


@register.simple_tag
def moment(value, relative=True):
    """A <time> that msgtrace.js shows relative ("3 min ago") in the browser's time zone, with the
    absolute time on hover; without JavaScript it reads as UTC. `value`: a datetime or unix nanoseconds."""
    if isinstance(value, (int, float)):
        value = datetime_from_ns(int(value))
    if value is None:
        return "–"
    iso = value.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    text = value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    return format_html(
        '<time datetime="{}" title="{}" data-moment="{}">{}</time>', iso, text, "relative" if relative else "absolute", text
    )
