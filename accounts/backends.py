from django.conf import settings
from django.contrib.auth.backends import RemoteUserBackend

from accounts.roles import assign_role


class ProxyUserBackend(RemoteUserBackend):
    """Users named by an authenticating proxy: created on first sight with MSGTRACE_REMOTE_USER_ROLE."""

    create_unknown_user = True

    def configure_user(self, request, user, created=True):
        if created:
            assign_role(user, settings.MSGTRACE_REMOTE_USER_ROLE)
        return user
