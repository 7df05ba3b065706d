"""Sign-ins, failed sign-ins and sign-outs go to the audit log."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from audit.log import record
from audit.models import Action


@receiver(user_logged_in)
def signed_in(sender, request, user, **kwargs):
    record(Action.SIGN_IN, user.get_username(), via=_via(request), request=request)


@receiver(user_login_failed)
def sign_in_failed(sender, credentials, request=None, **kwargs):
    # credentials hold the password too: only the user name is kept
    name = str(credentials.get("username", ""))[:150]
    record(Action.SIGN_IN_FAILED, name or "(no user name)", name, via=_via(request), request=request)


@receiver(user_logged_out)
def signed_out(sender, request, user, **kwargs):
    if user is not None:
        record(Action.SIGN_OUT, user.get_username(), via=_via(request), request=request)


def _via(request):
    if request is None:
        return ""
    return "admin" if request.path_info.startswith("/admin/") else "ui"
