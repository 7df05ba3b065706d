"""`manage.py prune --older-than 30d`: retention on demand, for cron."""

from django.core.management.base import BaseCommand, CommandError

from traces.management.commands._common import parse_age
from traces.retention import prune, remove_unused
from traces.signals import Deletion


class Command(BaseCommand):
    help = (
        "Delete traces that started before an age (units m, h, d), then the resources and scopes no span "
        "uses any more, in batches."
    )

    def add_arguments(self, parser):
        parser.add_argument("--older-than", required=True, help="age such as 30d, 12h or 90m")
        parser.add_argument("--keep-at-most", type=int, help="also keep only this many newest traces")
        parser.add_argument("--dry-run", action="store_true", help="count what would be deleted, delete nothing")

    def handle(self, older_than, keep_at_most, dry_run, **_):
        age = parse_age(older_than)
        if keep_at_most is not None and keep_at_most < 1:
            raise CommandError("--keep-at-most must be at least 1")
        progress = None if dry_run else (lambda done: self.stderr.write(f"  {done} traces deleted so far"))
        with Deletion("manage.py prune", via="command") as deletion:
            count = prune(older_than=age, keep_at_most=keep_at_most, dry_run=dry_run, progress=progress,
                          deletion=deletion)
        verb = "would delete" if dry_run else "deleted"
        summary = f"{verb} {count} trace{'s' if count != 1 else ''} older than {older_than}"
        if not dry_run:
            resources, scopes = remove_unused()
            if resources or scopes:
                summary += (
                    f", and {resources} resource{'s' if resources != 1 else ''} and {scopes}"
                    f" scope{'s' if scopes != 1 else ''} no span uses any more"
                )
        self.stdout.write(summary)
