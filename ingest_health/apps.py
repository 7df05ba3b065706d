from django.apps import AppConfig


class IngestHealthConfig(AppConfig):
    name = "ingest_health"
    verbose_name = "Ingest health"
