from django.apps import AppConfig


class TracesConfig(AppConfig):
    name = "traces"
    verbose_name = "Traces"

    def ready(self):
        from corsheaders.signals import check_request_enabled

        from traces.cors import allow_cross_origin

        check_request_enabled.connect(allow_cross_origin, dispatch_uid="msgtrace-cors")
