"""Small helpers for the trace page and the span panel."""

from urllib.parse import urlencode

from django import template
from django.urls import reverse


register = template.Library()

# Trace-list filters with a form field of their own; the rest go through the query language.
_LIST_FIELDS = {"service", "workflow", "model"}


def _quoted(value):
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("*", "\\*") + '"'


@register.simple_tag
def traces_url(**filters):
    """The trace list narrowed to one service, workflow, model, user or session."""
    params = {}
    terms = []
    for field, value in filters.items():
        if not value:
            continue
        if field in _LIST_FIELDS:
            params[field] = value
        else:
            terms.append(f"{field}:{_quoted(str(value))}")
    if terms:
        params["q"] = " ".join(terms)
    return reverse("traces") + ("?" + urlencode(params) if params else "")


@register.filter
def short_id(value, length=8):
    """The first characters of a long hex id, for places where the whole id is one click away."""
    value = str(value or "")
    return value[:length] + "…" if len(value) > length else value


@register.filter
def span_url(layout, span_id):
    """The span panel's URL, keeping the trace page's current view (layout: ui.timeline.Layout)."""
    return layout.span_url(span_id)
