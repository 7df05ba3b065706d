"""The query parameters of the session and user pages, validated."""

from urllib.parse import urlencode

from django import forms

from conversations.listing import DEFAULT_SORT, DEFAULT_WINDOW, MAX_PAGE
from traces.timeframe import WINDOWS, window_start

WINDOW_TEXT = {"1h": "in the last hour", "24h": "in the last 24 hours", "7d": "in the last 7 days",
               "30d": "in the last 30 days", "all": "at any time"}
SORT_LABELS = {"latest": "Latest", "traces": "Most traces", "cost": "Cost", "errors": "Errors", "tokens": "Tokens"}


class PageForm(forms.Form):
    page = forms.IntegerField(required=False, min_value=1, max_value=MAX_PAGE)

    @property
    def page_number(self):
        return self.cleaned_data.get("page") or 1


class ListForm(PageForm):
    """/sessions and /users: ?q=<part of the id>&sort=<SORTS>&window=<WINDOWS>&page=<n>."""

    q = forms.CharField(required=False, max_length=256, label="Search", widget=forms.TextInput(attrs={
        "type": "search", "placeholder": "Part of an id", "autocomplete": "off", "spellcheck": "false"}))
    sort = forms.ChoiceField(choices=list(SORT_LABELS.items()), required=False)
    window = forms.ChoiceField(choices=[(name, name) for name in WINDOWS], required=False)

    def clean_sort(self):
        return self.cleaned_data["sort"] or DEFAULT_SORT

    def clean_window(self):
        return self.cleaned_data["window"] or DEFAULT_WINDOW

    @property
    def window_text(self):
        return WINDOW_TEXT[self.cleaned_data["window"]]

    def start(self, now):
        return window_start(self.cleaned_data["window"], now)

    def url(self, path, **changes):
        """`path` with this form's parameters, `changes` applied, defaults and blanks left out."""
        params = {"q": self.cleaned_data["q"], "sort": self.cleaned_data["sort"],
                  "window": self.cleaned_data["window"], "page": self.page_number} | changes
        defaults = {"sort": DEFAULT_SORT, "window": DEFAULT_WINDOW, "page": 1}
        params = {key: value for key, value in params.items() if value and value != defaults.get(key)}
        return path + ("?" + urlencode(params) if params else "")

    def sorts(self, path):
        """[(label, url, current)] for the sort links."""
        current = self.cleaned_data["sort"]
        return [(label, self.url(path, sort=name, page=None), name == current) for name, label in SORT_LABELS.items()]

    def windows(self, path):
        current = self.cleaned_data["window"]
        return [(name, self.url(path, window=name, page=None), name == current) for name in WINDOWS]


def problems(form):
    return [f"{name}: {' '.join(errors)}" for name, errors in form.errors.items()]
