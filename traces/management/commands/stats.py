"""`manage.py stats`: the dashboard's figures in a terminal."""

from datetime import datetime, timezone

from django.core.management.base import BaseCommand, CommandError

from traces.formatting import cost, duration, model_label, percent, tokens
from traces.management.commands._common import traces_matching
from traces.stats import summarize
from traces.timeframe import WINDOWS, window_start


class Command(BaseCommand):
    help = "Traces, errors, latency, tokens and cost over a window, with the busiest models and workflows."

    def add_arguments(self, parser):
        parser.add_argument("--window", default="24h", help=f"one of {', '.join(WINDOWS)} (default 24h)")
        parser.add_argument("--query", default="", help="only traces matching this query")

    def handle(self, window, query, **_):
        try:
            start = window_start(window)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        now = datetime.now(timezone.utc)
        figures = summarize(traces_matching(query).between(start, None), start, now)
        self.stdout.write(
            f"last {window}: {figures['total_traces']} traces, {figures['total_spans']} spans, "
            f"{figures['traces_with_errors']} with errors ({percent(figures['error_rate'])}), "
            f"p50 {duration(figures['p50_duration_ms'])}, p95 {duration(figures['p95_duration_ms'])}, "
            f"{tokens(figures['total_tokens'])} tokens, {cost(figures['total_cost'])}"
            + (f" (of which {cost(figures['estimated_cost'])} estimated)" if figures["estimated_cost"] else "")
            + (f", {figures['unpriced_spans']} unpriced model calls" if figures["unpriced_spans"] else "")
        )
        for row in figures["by_model"][:10]:
            self.stdout.write(f"  model {model_label(row['model'])}: {row['calls']} calls, "
                              f"{tokens(row['total_tokens'])} tokens, {cost(row['cost'])}")
        for row in figures["by_workflow"][:10]:
            self.stdout.write(f"  workflow {row['workflow'] or '(none)'}: {row['traces']} traces, "
                              f"{row['errors']} with errors")
