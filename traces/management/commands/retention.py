"""`manage.py retention`: applies MSGTRACE_RETENTION_DAYS and MSGTRACE_RETENTION_MAX_TRACES every
MSGTRACE_RETENTION_INTERVAL_SECONDS until stopped. `manage.py start` runs it beside gunicorn."""

from django.core.management.base import BaseCommand, CommandError

from traces.retention import configured, run_forever


class Command(BaseCommand):
    help = "Prune traces by the MSGTRACE_RETENTION_* settings, repeatedly, until stopped."

    def handle(self, **options):
        policy = configured()
        if policy["older_than"] is None and policy["keep_at_most"] is None:
            raise CommandError("no retention configured: set MSGTRACE_RETENTION_DAYS or MSGTRACE_RETENTION_MAX_TRACES")
        described = ", ".join(
            part for part in (
                f"traces older than {policy['older_than'].days} days" if policy["older_than"] else "",
                f"all but the newest {policy['keep_at_most']}" if policy["keep_at_most"] else "",
            ) if part
        )
        self.stdout.write(f"retention: removing {described}")
        self.stdout.flush()
        run_forever()
