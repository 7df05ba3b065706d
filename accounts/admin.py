"""The Django admin's view of access: users with their role, API keys (the secret shown once, on
creation) and share links. Only admins (superusers) see these; members see traces alone."""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm

from accounts.access import caller_of
from accounts.forms import SCOPE_HELP
from accounts.models import KEY_SCOPES, ApiKey, ShareLink
from accounts.roles import ROLE_HELP, Role, assign_role, role_of
from audit.log import record
from audit.models import Action

User = get_user_model()
ROLE_CHOICES = [(role.value, f"{role.label}: {ROLE_HELP[role]}") for role in Role]


class RoleChangeForm(UserChangeForm):
    role = forms.ChoiceField(choices=ROLE_CHOICES)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].initial = role_of(self.instance) or Role.VIEWER


class RoleCreationForm(UserCreationForm):
    role = forms.ChoiceField(choices=ROLE_CHOICES, initial=Role.VIEWER)


admin.site.unregister(User)


@admin.register(User)
class MsgtraceUserAdmin(UserAdmin):
    """Roles instead of Django's flags and permissions, which a role sets."""

    form = RoleChangeForm
    add_form = RoleCreationForm
    list_display = ("username", "role", "is_active", "last_login", "date_joined")
    list_filter = ("is_active", "is_superuser", "is_staff")
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name", "email")}),
        ("Access", {"fields": ("role", "is_active")}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("username", "password1", "password2", "role")}),)

    @admin.display(description="role")
    def role(self, user):
        return role_of(user) or "deactivated"

    def save_model(self, request, obj, form, change):
        before = role_of(obj) if change else None
        super().save_model(request, obj, form, change)
        role = form.cleaned_data["role"]
        assign_role(obj, role)
        actor = caller_of(request).name
        if not change:
            record(Action.USER_CREATED, actor, f"{obj.get_username()} ({role})", via="admin", request=request)
        elif before != role:
            record(Action.ROLE_CHANGED, actor, f"{obj.get_username()}: {before} → {role}", via="admin", request=request)


class NewApiKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(choices=[(s, f"{s}: {SCOPE_HELP[s]}") for s in KEY_SCOPES],
                                       widget=forms.CheckboxSelectMultiple, initial=["ingest"])

    class Meta:
        model = ApiKey
        fields = ("name", "scopes")


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "scopes", "created_at", "created_by", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "prefix")
    readonly_fields = ("name", "prefix", "scopes", "created_at", "created_by", "last_used_at", "revoked_at")
    actions = ["revoke"]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = NewApiKeyForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else ()

    def get_fields(self, request, obj=None):
        return ("name", "scopes") if obj is None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            return
        key, secret = ApiKey.objects.issue(form.cleaned_data["name"], form.cleaned_data["scopes"],
                                           created_by=request.user)
        obj.pk, obj.prefix = key.pk, key.prefix  # the admin's redirect and message name the issued key
        record(Action.KEY_CREATED, caller_of(request).name, f"{key.prefix}… ({key.name}; {key.scopes})",
               via="admin", request=request)
        messages.warning(request, f"Copy the key now; it is not stored and will not be shown again: {secret}")

    def has_delete_permission(self, request, obj=None):
        # Only a revoked key can be deleted, one at a time: a revoked ingest key keeps ingest closed (so
        # that revoking a leaked key never opens it to everyone); deleting every one opens it again.
        return obj is not None and not obj.is_active and super().has_delete_permission(request, obj)

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        record(Action.KEY_DELETED, caller_of(request).name, f"{obj.prefix}… ({obj.name})", via="admin", request=request)

    @admin.action(description="Revoke the selected API keys")
    def revoke(self, request, queryset):
        for key in queryset.filter(revoked_at__isnull=True):
            key.revoke()
            record(Action.KEY_REVOKED, caller_of(request).name, f"{key.prefix}… ({key.name})", via="admin",
                   request=request)


@admin.register(ShareLink)
class ShareLinkAdmin(admin.ModelAdmin):
    list_display = ("trace_id", "created_by", "created_at", "expires_at", "revoked_at")
    readonly_fields = list_display
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False  # made from a trace page, where the link is shown

    @admin.action(description="Revoke the selected share links")
    def revoke(self, request, queryset):
        for link in queryset.filter(revoked_at__isnull=True):
            link.revoke()
            record(Action.SHARE_REVOKED, caller_of(request).name, f"link {link.pk} to {link.trace_id}", via="admin",
                   request=request)
