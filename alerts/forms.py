"""Rule and target forms: the pages post them, and the API validates its bodies through them, so a
rule means the same and is refused for the same reasons wherever it is written."""

from django import forms
from django.core.validators import MaxValueValidator

from alerts.deliver import check_url
from alerts.models import Kind, Measure, Rule, Target, TargetKind
from traces.models import stored_text
from traces.query import QueryError, trace_filter

# The rule's definition; the evaluation columns are the scheduler's and never saved from a form.
RULE_FIELDS = ["name", "kind", "query", "measure", "comparison", "threshold", "window_minutes", "for_minutes",
               "cooldown_minutes", "muted", "targets"]
DAY_MINUTES = 24 * 60


class TargetChoices(forms.ModelMultipleChoiceField):
    def _check_values(self, value):
        # An id no database column can hold is refused here: the lookup would fail rather than match nothing.
        for pk in value:
            if str(pk).strip().lstrip("-").isdigit() and abs(int(pk)) >= 2**63:
                raise forms.ValidationError(self.error_messages["invalid_pk_value"], code="invalid_pk_value",
                                            params={"pk": pk})
        return super()._check_values(value)


class RuleForm(forms.ModelForm):
    class Meta:
        model = Rule
        fields = RULE_FIELDS
        field_classes = {"targets": TargetChoices}
        widgets = {
            "query": forms.TextInput(attrs={"placeholder": "workflow:checkout AND error:true", "autocomplete": "off"}),
            "targets": forms.CheckboxSelectMultiple,
        }
        help_texts = {
            "query": "which traces the rule looks at, in the query language; blank: all traces",
            "window_minutes": "threshold rules measure this window; per-trace rules look this far back",
            "for_minutes": "threshold rules: fire once the condition has held this long",
            "cooldown_minutes": "per-trace rules: notify at most once in this time",
            "muted": "evaluated and shown, but sends no notifications",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["targets"].queryset = Target.objects.all()
        self.fields["targets"].required = False
        for name in ("window_minutes", "for_minutes", "cooldown_minutes"):
            self.fields[name].validators.append(MaxValueValidator(7 * DAY_MINUTES))
            self.fields[name].widget.attrs["max"] = 7 * DAY_MINUTES

    def clean_name(self):
        name = stored_text(" ".join(self.cleaned_data["name"].split()))
        if not name:
            raise forms.ValidationError("a rule needs a name")
        return name

    def clean_query(self):
        query = stored_text(self.cleaned_data["query"].strip())
        try:
            trace_filter(query)
        except QueryError as error:
            raise forms.ValidationError(f"not a query: {error}") from None
        return query

    def clean_window_minutes(self):
        minutes = self.cleaned_data["window_minutes"]
        if minutes < 1:
            raise forms.ValidationError("a window is at least 1 minute")
        return minutes

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("kind") == Kind.THRESHOLD and cleaned.get("measure") == Measure.ERROR_RATE:
            threshold = cleaned.get("threshold")
            if threshold is not None and not 0 <= threshold <= 100:
                self.add_error("threshold", "an error rate is a percentage, 0 to 100")
        return cleaned


class TargetForm(forms.ModelForm):
    url = forms.URLField(max_length=2000, required=False, assume_scheme="https", label="URL",
                         widget=forms.URLInput(attrs={"placeholder": "https://hooks.example.com/msgtrace"}),
                         help_text="webhooks: where notifications are posted (http or https; redirects are not followed)")

    class Meta:
        model = Target
        fields = ["name", "kind", "url", "email"]
        help_texts = {"email": "email targets: the address (needs EMAIL_HOST)"}

    def clean_name(self):
        name = stored_text(" ".join(self.cleaned_data["name"].split()))
        if not name:
            raise forms.ValidationError("a target needs a name")
        return name

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("kind")
        if kind in (TargetKind.WEBHOOK, TargetKind.SLACK):
            try:
                check_url(cleaned.get("url") or "")
            except ValueError as error:
                self.add_error("url", str(error))
            cleaned["email"] = ""
        elif kind == TargetKind.EMAIL:
            if not cleaned.get("email"):
                self.add_error("email", "an email target needs an address")
            cleaned["url"] = ""
        return cleaned


def errors_text(form):
    """A form's errors on one line, as the API answers them."""
    return "; ".join(f"{field}: {' '.join(messages)}" for field, messages in form.errors.items())
