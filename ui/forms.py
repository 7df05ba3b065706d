"""The pages' query parameters, validated. A form knows what its URL means: the filters for
TraceQuerySet.search(), the sort and the page; the views only call the query layer with them."""

from datetime import timedelta
from urllib.parse import urlencode

from django import forms
from django.urls import reverse

from traces.models import SORTS, Status, Trace
from traces.pagination import InvalidCursor
from traces.parameters import check_cursor, moment
from traces.query import QueryError
from traces.stats import USAGE_DIMENSIONS
from traces.timeframe import WINDOWS

# The list's columns that sort, with the direction a first click sorts them in.
SORTABLE = {"start_time": "-", "duration": "-", "spans": "-", "tokens": "-", "cost": "-"}
SORT_CHOICES = [(prefix + field, prefix + field) for field in SORTABLE for prefix in ("", "-")]
DEFAULT_SORT = "-start_time"
# Quick picks for the list's "since" box; it also takes any ISO-8601 time.
START_PRESETS = ["15m", "1h", "24h", "7d", "30d"]
# Everything that says which traces the list shows, in the order the URL spells them.
FILTERS = ["q", "status", "service", "workflow", "model", "min_duration_ms", "max_duration_ms", "start", "end"]


def _text(placeholder, **attrs):
    return forms.TextInput(attrs={"placeholder": placeholder, "autocomplete": "off", **attrs})


def _number(placeholder):
    label = f"{placeholder} duration (ms)"
    return forms.NumberInput(attrs={"placeholder": placeholder, "step": "any", "aria-label": label})


def _moment(text):
    try:
        return moment(text)
    except ValueError as error:
        raise forms.ValidationError(str(error)) from None


class DashboardForm(forms.Form):
    window = forms.ChoiceField(choices=[(name, name) for name in WINDOWS], required=False)
    # What the usage charts are stacked by.
    usage = forms.ChoiceField(choices=[(name, name) for name in USAGE_DIMENSIONS], required=False)

    def usage_dimension(self):
        return (self.is_valid() and self.cleaned_data["usage"]) or "model"

    def window_name(self, default=None):
        """The chosen window; a missing or unknown one falls back to `default`, else 24 hours."""
        return (self.is_valid() and self.cleaned_data["window"]) or default or "24h"


class FlowsForm(forms.Form):
    """The flows page: which runs its diagram reads."""

    workflow = forms.CharField(required=False, max_length=256)
    service = forms.CharField(required=False, max_length=256)
    window = forms.ChoiceField(choices=[(name, name) for name in WINDOWS], required=False)

    def clean_window(self):
        return self.cleaned_data["window"] or "24h"

    def search(self):
        """Keyword arguments for TraceQuerySet.search() (the window aside)."""
        return {"workflow": self.cleaned_data["workflow"].strip(), "service": self.cleaned_data["service"].strip()}


class TraceListForm(forms.Form):
    q = forms.CharField(required=False, strip=False, max_length=4000, label="Search", widget=_text(
        "Search, e.g.  error:true duration:>2s model:gpt-4o*", id="search", type="search",
        spellcheck="false", autocapitalize="off", list="recent-searches", **{"aria-label": "Search traces"}))
    status = forms.ChoiceField(choices=[("", "Any")] + list(Status.choices), required=False)
    service = forms.CharField(required=False, max_length=256, widget=_text("any service"))
    workflow = forms.CharField(required=False, max_length=256, widget=_text("any workflow"))
    model = forms.CharField(required=False, max_length=256, widget=_text("any model"))
    min_duration_ms = forms.FloatField(required=False, min_value=0, label="Min duration (ms)", widget=_number("min"))
    max_duration_ms = forms.FloatField(required=False, min_value=0, label="Max duration (ms)", widget=_number("max"))
    start = forms.CharField(required=False, max_length=64, label="Since", widget=_text(
        "any time", list="start-presets", title="15m, 1h, 24h, 7d, 30d or an ISO-8601 time"))
    # Exclusive, as TraceQuerySet.between(): a dashboard chart's bucket links to the traces that started in it.
    end = forms.CharField(required=False, max_length=64, label="Until", widget=_text(
        "now", list="start-presets", title="an ISO-8601 time, or 15m, 1h, 24h... back from now"))
    sort = forms.ChoiceField(choices=SORT_CHOICES, required=False)
    cursor = forms.CharField(required=False, max_length=512)
    before = forms.CharField(required=False, max_length=512)
    # One row per run (traces.runs), or every trace.
    group = forms.ChoiceField(choices=[("run", "run"), ("trace", "trace")], required=False)
    # The new-traces poll: how many matching traces started after this moment?
    new_since = forms.CharField(required=False, max_length=64)

    query_error = None  # the QueryError of an unreadable q, for the caret under its column

    @property
    def query_caret(self):
        """Spaces up to the error's column: printed under the query in a monospace font, then ^."""
        return " " * max(0, self.query_error.column - 1) if self.query_error else ""

    def clean_q(self):
        q = self.cleaned_data["q"]  # not stripped: error columns count from what was typed
        try:
            Trace.objects.matching(q)  # compiles the query, which is where its errors surface
        except QueryError as error:
            self.query_error = error
            raise forms.ValidationError(error.message) from None
        return q

    def clean_start(self):
        text = self.cleaned_data["start"].strip()
        if text:
            _moment(text)
        return text

    def clean_end(self):
        text = self.cleaned_data["end"].strip()
        if text:
            _moment(text)
        return text

    def clean_new_since(self):
        text = self.cleaned_data["new_since"].strip()
        return _moment(text) if text else None

    def _clean_cursor(self, name):
        cursor = self.cleaned_data[name].strip()
        # "sort" is declared before the cursors, so it is clean (or known invalid) by now.
        sort = self.cleaned_data.get("sort")
        if cursor and sort:
            try:
                check_cursor(cursor, Trace, SORTS[sort.lstrip("-")])
            except InvalidCursor as error:
                raise forms.ValidationError(f"{error}: start again from the first page") from None
        return cursor

    def clean_cursor(self):
        return self._clean_cursor("cursor")

    def clean_before(self):
        return self._clean_cursor("before")

    def clean_sort(self):
        return self.cleaned_data["sort"] or DEFAULT_SORT

    def clean(self):
        data = super().clean()
        low, high = data.get("min_duration_ms"), data.get("max_duration_ms")
        if low is not None and high is not None and low > high:
            self.add_error("max_duration_ms", "must not be less than the minimum")
        return data

    # --- what the URL means --------------------------------------------------------------------

    def search(self):
        """Keyword arguments for TraceQuerySet.search()."""
        data = self.cleaned_data
        return {
            "q": data["q"],
            "status": data["status"],
            "service": data["service"].strip(),
            "workflow": data["workflow"].strip(),
            "model": data["model"].strip(),
            "min_duration_ms": data["min_duration_ms"],
            "max_duration_ms": data["max_duration_ms"],
            "start": moment(data["start"]) if data["start"] else None,
            "end": moment(data["end"]) if data["end"] else None,
        }

    @property
    def by_run(self):
        return self.data.get("group") != "trace"

    def traces(self):
        traces = Trace.objects.search(**self.search())
        return traces.runs() if self.by_run else traces

    def new_traces(self):
        """The matching traces that started after new_since (microsecond precision, as stored)."""
        return self.traces().between(self.cleaned_data["new_since"] + timedelta(microseconds=1))

    def filter_errors(self):
        """(label, messages) of the invalid fields; a query the language cannot read is shown under the query."""
        return [(self[name].label if name in self.fields else "Filters", errors)
                for name, errors in self.errors.items() if name != "q" or not self.query_error]

    def is_filtered(self):
        return any(self.params().get(name) for name in FILTERS)

    def params(self):
        """The parameters as given, blank ones left out (an invalid form keeps what was typed)."""
        data = self.data
        names = FILTERS + ["sort", "cursor", "before", "group"]
        return {name: data.get(name) for name in names if data.get(name, "").strip()}

    def url(self, **changes):
        """This list's URL with some parameters changed (None removes one); the default sort is left out."""
        params = self.params() | changes
        if params.get("sort") == DEFAULT_SORT:
            params["sort"] = None
        query = urlencode({name: value for name, value in params.items() if value not in (None, "")})
        return reverse("traces") + ("?" + query if query else "")


class ShareLinkForm(forms.Form):
    """The trace page's Share panel: how long the new link works."""

    days = forms.TypedChoiceField(label="Expires after", coerce=int, initial=7,
                                  choices=[(1, "1 day"), (7, "7 days"), (30, "30 days")])
