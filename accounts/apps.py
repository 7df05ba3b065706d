from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Access"

    def ready(self):
        from accounts import signals  # noqa: F401  (sign-ins go to the audit log)
