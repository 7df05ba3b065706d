"""`manage.py demo`: realistic agent traces, so that a newcomer sees a populated UI."""

from django.core.management.base import BaseCommand, CommandError

from traces import demo


class Command(BaseCommand):
    help = "Fill the store with realistic, varied agent traces from the last day and a half."

    def add_arguments(self, parser):
        parser.add_argument("--traces", type=int, default=60, help="how many traces (default 60)")
        parser.add_argument("--seed", type=int, default=7, help="the same seed makes the same traces")

    def handle(self, traces, seed, **_):
        if traces < 1:
            raise CommandError("--traces must be at least 1")
        self.stderr.write(f"generating {traces} traces...")
        stored_traces, stored_spans = demo.load(traces=traces, seed=seed)
        self.stdout.write(f"demo: stored {stored_spans} spans in {stored_traces} traces")
