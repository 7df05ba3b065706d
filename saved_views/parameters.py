"""What a saved view stores: the trace list's filters, sort and grouping, validated by the list's own form
and normalized, so that a view applies exactly what the list would have shown."""

from urllib.parse import urlencode

from django.http import QueryDict
from django.urls import reverse

from ui.forms import DEFAULT_SORT, FILTERS, TraceListForm

SAVED = FILTERS + ["sort", "group"]  # not the page (cursor, before): a view opens on its first page


class InvalidView(ValueError):
    pass


def normalized(params):
    """{name: text} of the non-blank parameters in `params` (a dict or QueryDict), as TraceListForm reads
    them; raises InvalidView naming each problem, or any parameter the list does not know."""
    unknown = sorted(set(params) - set(SAVED))
    if unknown:
        raise InvalidView(f"unknown parameter{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}; "
                          f"a view saves {', '.join(SAVED)}")
    data = QueryDict(mutable=True)
    for name in SAVED:
        value = params.get(name)
        if value is not None:
            data[name] = str(value)
    form = TraceListForm(data)
    if not form.is_valid():
        raise InvalidView("; ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items()))
    cleaned = form.cleaned_data
    kept = {
        "q": cleaned["q"].strip(),
        "status": cleaned["status"],
        "service": cleaned["service"].strip(),
        "workflow": cleaned["workflow"].strip(),
        "model": cleaned["model"].strip(),
        "min_duration_ms": _number(cleaned["min_duration_ms"]),
        "max_duration_ms": _number(cleaned["max_duration_ms"]),
        "start": cleaned["start"],
        "end": cleaned["end"],
        "sort": "" if cleaned["sort"] == DEFAULT_SORT else cleaned["sort"],
        "group": "trace" if cleaned["group"] == "trace" else "",  # one row per run is the default
    }
    return {name: value for name, value in kept.items() if value}


def from_list_url(url):
    """The saved parameters of a trace list URL (what the list's "Save this view" form sends); the page
    it was on is dropped."""
    query = QueryDict(url.partition("?")[2])
    return normalized({name: query.get(name) for name in SAVED if name in query})


def list_url(params):
    """The trace list with these parameters, in the list's own order (PostgreSQL's jsonb keeps none)."""
    ordered = [(name, params[name]) for name in SAVED if name in params]
    return reverse("traces") + ("?" + urlencode(ordered) if ordered else "")


def _number(value):
    if value is None:
        return ""
    return str(int(value)) if value.is_integer() else str(value)
