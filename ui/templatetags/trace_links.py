"""Small helpers for the trace page and the span panel. URLs come from the page's `links` (ui.links),
so that the same templates serve msgtrace's pages and a share link's."""

from django import template
from django.utils.html import format_html

register = template.Library()


@register.simple_tag
def trace_url(links, trace_id, view="timeline"):
    """The page of a trace (of the run it belongs to, behind a share link) in that view."""
    return links.trace(trace_id, view)


@register.simple_tag
def filter_link(links, css_class="", **filters):
    """The value of the one filter given as a link to the trace list narrowed to it, or as plain text
    where the list is out of reach (behind a share link)."""
    (value,) = filters.values()
    url = links.traces_with(**filters)
    if url is None:
        return format_html('<span class="{}">{}</span>', css_class, value) if css_class else value
    if css_class:
        return format_html('<a class="{}" href="{}">{}</a>', css_class, url, value)
    return format_html('<a href="{}">{}</a>', url, value)


@register.filter
def short_id(value, length=8):
    """The first characters of a long hex id, for places where the whole id is one click away."""
    value = str(value or "")
    return value[:length] + "…" if len(value) > length else value


@register.filter
def span_url(layout, span_id):
    """The span panel's URL, keeping the trace page's current view (layout: ui.timeline.Layout)."""
    return layout.span_url(span_id)
