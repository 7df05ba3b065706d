"""The audit page's query parameters, validated; the form also spells the page's URLs."""

from urllib.parse import urlencode

from django import forms
from django.urls import reverse

from audit.models import Action, AuditEvent
from traces.pagination import InvalidCursor
from traces.parameters import check_cursor

PARAMETERS = ["action", "actor", "cursor"]


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(choices=[("", "Any action"), *Action.choices], required=False)
    actor = forms.CharField(required=False, max_length=200, widget=forms.TextInput(attrs={
        "type": "search", "placeholder": "any actor", "autocomplete": "off", "spellcheck": "false"}))
    cursor = forms.CharField(required=False, max_length=512)

    def clean_actor(self):
        return self.cleaned_data["actor"].strip()

    def clean_cursor(self):
        cursor = self.cleaned_data["cursor"].strip()
        if cursor:
            try:
                check_cursor(cursor, AuditEvent, "at")
            except InvalidCursor as error:
                raise forms.ValidationError(f"{error}: start again from the newest events") from None
        return cursor

    def events(self):
        data = self.cleaned_data
        return AuditEvent.objects.search(action=data["action"], actor=data["actor"]).newest_first()

    def is_filtered(self):
        return bool(self.cleaned_data.get("action") or self.cleaned_data.get("actor"))

    def url(self, **changes):
        """This page's URL with `changes`; blank parameters are left out."""
        values = {name: self.cleaned_data.get(name) for name in PARAMETERS} | changes
        query = urlencode({name: value for name, value in values.items() if value})
        return reverse("audit") + (f"?{query}" if query else "")
