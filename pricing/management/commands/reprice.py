"""`manage.py reprice`: estimated costs recomputed after prices change (never reported ones)."""

from datetime import datetime, timezone

from django.core.management.base import BaseCommand

from pricing.reprice import reprice
from traces.management.commands._common import parse_age


class Command(BaseCommand):
    help = "Prices again the model calls whose cost msgtrace estimated, and the totals of their traces."

    def add_arguments(self, parser):
        parser.add_argument("--since", help="only calls that started this long ago or later (30d, 12h, 90m)")
        parser.add_argument("--model", help="only calls to this model (request or response model)")
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, since, model, batch_size, **_):
        start = datetime.now(timezone.utc) - parse_age(since) if since else None

        def progress(done, total):
            self.stdout.write(f"  {done}/{total} model calls")

        result = reprice(since=start, model=model, batch_size=max(1, batch_size), progress=progress)
        self.stdout.write(
            f"repriced {result.spans} model calls: {result.changed} changed, {result.traces} traces' totals updated"
        )
