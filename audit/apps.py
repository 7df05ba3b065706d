"""The audit log: who signed in, deleted traces, issued or revoked keys, changed roles or shared traces."""
from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit log"

    def ready(self):
        from audit import receivers
        from traces.signals import traces_deleted

        # The trace store announces its deletions rather than call the audit log: traces depends on no listener.
        traces_deleted.connect(receivers.traces_deleted, dispatch_uid="msgtrace-audit-traces-deleted")
