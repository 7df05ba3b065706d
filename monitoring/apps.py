from django.apps import AppConfig, apps


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = "Monitoring"

    def ready(self):
        from monitoring import metrics

        if apps.is_installed("alerts"):
            from monitoring import alerts

            metrics.register(alerts.collect)
