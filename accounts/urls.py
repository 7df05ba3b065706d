from django.urls import path

from accounts.views import settings_page, signin

urlpatterns = [
    path("signin", signin.SignInView.as_view(), name="signin"),
    path("signout", signin.SignOutView.as_view(), name="signout"),
    path("setup", signin.setup, name="setup"),
    path("account/password", signin.PasswordChangeView.as_view(), name="account-password"),
    path("settings", settings_page.settings_page, name="settings"),
    path("settings/keys", settings_page.create_key, name="settings-keys"),
    path("settings/keys/<int:key_id>/revoke", settings_page.revoke_key, name="settings-key-revoke"),
    path("settings/users", settings_page.create_user, name="settings-users"),
    path("settings/users/<int:user_id>", settings_page.change_user, name="settings-user"),
    path("settings/share-links/<int:link_id>/revoke", settings_page.revoke_share_link, name="settings-share-revoke"),
]
