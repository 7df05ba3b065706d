"""`manage.py alerts`: evaluates alert rules and delivers their notifications every
MSGTRACE_ALERTS_INTERVAL_SECONDS until stopped (`manage.py start` runs it beside gunicorn);
`--once` runs one round and prints what it did."""

from django.conf import settings
from django.core.management.base import BaseCommand

from alerts.scheduler import run_forever, run_once


class Command(BaseCommand):
    help = "Evaluate alert rules and deliver notifications, repeatedly until stopped (or --once)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="run one round, then exit")

    def handle(self, once=False, **options):
        if once:
            events, deliveries = run_once()
            failed = sum(1 for delivery in deliveries if not delivery.succeeded)
            self.stdout.write(f"alerts: {len(events)} changes of state, {len(deliveries)} deliveries "
                              f"({failed} failed)")
            return
        self.stdout.write(f"alerts: evaluating rules every {settings.MSGTRACE_ALERTS_INTERVAL_SECONDS} s")
        self.stdout.flush()
        run_forever()
