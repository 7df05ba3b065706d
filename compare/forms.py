from django import forms

from traces.models import is_hex_id


class TraceIdField(forms.CharField):
    def clean(self, value):
        value = super().clean(value).strip().lower()
        if not is_hex_id(value, 32):
            raise forms.ValidationError("a trace id is 32 hexadecimal digits")
        return value


class CompareForm(forms.Form):
    """The two traces to compare: /compare?a=<trace_id>&b=<trace_id>."""

    a = TraceIdField(label="A")
    b = TraceIdField(label="B")


def picked(query):
    """The trace list's check boxes (pick=<trace_id>, once per checked row) as a CompareForm."""
    values = query.getlist("pick")
    if len(values) != 2:
        return None
    return CompareForm({"a": values[0], "b": values[1]})
