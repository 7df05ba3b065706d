"""The three roles and what each may do. A role is kept in Django's own user flags, so that
`createsuperuser` makes an admin and the Django admin enforces the same rules: an admin is a
superuser, a member is staff (the admin shows members traces to view and delete, nothing else),
a viewer is neither."""

from django.contrib.auth.models import Group, Permission
from django.db import models, transaction

READ, WRITE, ADMIN, INGEST = "read", "write", "admin", "ingest"


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    MEMBER = "member", "Member"
    ADMIN = "admin", "Admin"


PERMISSIONS = {
    Role.VIEWER: frozenset({READ}),
    Role.MEMBER: frozenset({READ, WRITE}),
    Role.ADMIN: frozenset({READ, WRITE, ADMIN}),
}
ROLE_HELP = {
    Role.VIEWER: "reads every trace",
    Role.MEMBER: "also deletes traces and shares them",
    Role.ADMIN: "also manages users, API keys, prices and settings",
}
MEMBERS_GROUP = "msgtrace members"
# What a member may do in the Django admin: look at traces and spans, and delete traces.
MEMBER_ADMIN_PERMISSIONS = [("traces", "view_trace"), ("traces", "delete_trace"), ("traces", "view_span")]


def role_of(user):
    if not user.is_active:
        return None
    if user.is_superuser:
        return Role.ADMIN
    if user.is_staff:
        return Role.MEMBER
    return Role.VIEWER


def members_group():
    group, created = Group.objects.get_or_create(name=MEMBERS_GROUP)
    if created or group.permissions.count() != len(MEMBER_ADMIN_PERMISSIONS):
        group.permissions.set([
            Permission.objects.get(content_type__app_label=app, codename=codename)
            for app, codename in MEMBER_ADMIN_PERMISSIONS
        ])
    return group


@transaction.atomic
def assign_role(user, role):
    """Gives `user` exactly the flags and group of `role` and saves it."""
    role = Role(role)
    user.is_superuser = role == Role.ADMIN
    user.is_staff = role in (Role.MEMBER, Role.ADMIN)
    user.save(update_fields=["is_superuser", "is_staff"])
    if role == Role.MEMBER:
        user.groups.add(members_group())
    else:
        user.groups.remove(*Group.objects.filter(name=MEMBERS_GROUP))
