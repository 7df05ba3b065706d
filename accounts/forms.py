from django import forms
from django.contrib.auth.forms import UserCreationForm

from accounts.models import KEY_SCOPES
from accounts.roles import ROLE_HELP, Role

SCOPE_HELP = {"ingest": "send traces (OTLP)", "read": "read the REST API", "write": "delete through the REST API"}


class FirstAdminForm(UserCreationForm):
    """The setup page's form: the first user, who becomes an admin."""


class NewUserForm(UserCreationForm):
    role = forms.ChoiceField(choices=[(role.value, f"{role.label}: {ROLE_HELP[role]}") for role in Role],
                             initial=Role.VIEWER)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # UserCreationForm focuses its user name, which would scroll the settings page down to this form.
        self.fields["username"].widget.attrs.pop("autofocus", None)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class NewKeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="what uses it, e.g. 'checkout service'")
    scopes = forms.MultipleChoiceField(choices=[(scope, f"{scope}: {SCOPE_HELP[scope]}") for scope in KEY_SCOPES],
                                       widget=forms.CheckboxSelectMultiple, initial=["ingest"])
