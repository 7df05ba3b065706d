"""Signing in and out, the first-run setup page, and changing one's password."""

from django.contrib.auth import get_user_model, login
from django.contrib.auth import views as auth_views
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import reverse_lazy


from accounts.forms import FirstAdminForm
from accounts.models import SetupToken
from accounts.roles import Role, assign_role
from audit.log import record
from audit.models import Action


class SignInView(auth_views.LoginView):
    template_name = "accounts/signin.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        return super().get_context_data(**kwargs) | {"no_users": not get_user_model().objects.exists()}


class SignOutView(auth_views.LogoutView):
    next_page = reverse_lazy("signin")


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password.html"
    success_url = reverse_lazy("settings")

    def form_valid(self, form):
        response = super().form_valid(form)
        record(Action.PASSWORD_CHANGED, self.request.user.get_username(), self.request.user.get_username(),
               via="ui", request=self.request)
        return response


def setup(request):
    """Creates the first admin, for whoever holds the link that `manage.py start` printed."""
    token = request.GET.get("token", "")
    if get_user_model().objects.exists():
        return render(request, "accounts/setup.html", {"done": True}, status=410)
    if not SetupToken.objects.accepts(token):
        return render(request, "accounts/setup.html", {"bad_token": True}, status=403)
    form = FirstAdminForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            user = form.save()
            assign_role(user, Role.ADMIN)
            SetupToken.objects.all().delete()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        record(Action.SETUP, user.get_username(), user.get_username(), via="ui", request=request)
        return redirect("settings")
    return render(request, "accounts/setup.html", {"form": form, "token": token})


