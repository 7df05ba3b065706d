"""`manage.py traces list|show|delete|export|import`: the trace store from a terminal."""

import csv
import gzip
import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from traces import otlp
from traces.export import otlp_json, spreadsheet_safe
from traces.formatting import cost, duration, duration_ns, tokens
from traces.management.commands._common import find_trace, traces_matching
from traces.models import Span, Trace, is_error
from traces.signals import Deletion
from traces.store import store
from traces.tree import build, walk

SUMMARY_FIELDS = ["trace_id", "started_at", "root_span_name", "workflow_name", "service_name", "status", "duration_ms",
                  "span_count", "error_count", "input_tokens", "output_tokens", "total_tokens", "total_cost",
                  "models_used", "user_id", "session_id"]


class _Unterminated:
    """Writes to a command's stdout without the newline it adds to every write."""

    def __init__(self, output):
        self.output = output

    def write(self, text):
        self.output.write(text, ending="")


class Command(BaseCommand):
    help = "List, show, delete, export and import traces."

    def add_arguments(self, parser):
        commands = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        listing = commands.add_parser("list", help="trace summaries, newest first")
        listing.add_argument("query", nargs="?", default="", help="query language, e.g. 'error:true AND service:api'")
        listing.add_argument("--limit", type=int, default=50)
        show = commands.add_parser("show", help="a trace's span tree")
        show.add_argument("trace_id")
        delete = commands.add_parser("delete", help="remove traces with their spans, events and links")
        delete.add_argument("trace_id", nargs="?")
        delete.add_argument("--query", help="delete every trace matching this query")
        export = commands.add_parser("export", help="write traces as OTLP/JSON or CSV summaries")
        export.add_argument("trace_id", nargs="?")
        export.add_argument("--query", help="export every trace matching this query")
        export.add_argument("--format", choices=["otlp-json", "csv"], default="otlp-json")
        export.add_argument("--output", "-o", help="file to write (default: standard output)")
        importing = commands.add_parser("import", help="store OTLP files (protobuf or JSON, gzipped or not)")
        importing.add_argument("files", nargs="+")

    def handle(self, action, **options):
        getattr(self, f"handle_{action}")(**options)

    # --- list and show -------------------------------------------------------------------------

    def handle_list(self, query, limit, **_):
        if limit < 1:
            raise CommandError("--limit must be at least 1")
        rows = list(traces_matching(query).sorted_by("-start_time")[:limit])
        for trace in rows:
            self.stdout.write(
                f"{trace.started_at:%Y-%m-%d %H:%M:%S}  {trace.trace_id}  {duration(trace.duration_ms):>9}  "
                f"{trace.span_count:>5} spans  {trace.error_count:>3} err  {tokens(trace.total_tokens):>7} tok  "
                f"{cost(trace.total_cost):>8}  {trace.service_name or '-'}  {trace.root_span_name}"
            )
        self.stdout.write(f"{len(rows)} trace{'s' if len(rows) != 1 else ''}")

    def handle_show(self, trace_id, **_):
        trace = find_trace(trace_id)
        spans = list(trace.spans.outline())
        self.stdout.write(
            f"trace {trace.trace_id}  {trace.service_name}  {duration(trace.duration_ms)}  {trace.span_count} spans, "
            f"{trace.error_count} errors, {tokens(trace.total_tokens)} tokens, {cost(trace.total_cost)}"
        )
        for node in walk(build(spans)):
            span = node.span
            marks = " ".join(
                mark for mark in (
                    f"[{span.category}]" if span.category != "other" else "",
                    span.model,
                    f"{tokens(span.total_tokens)} tok" if span.total_tokens else "",
                    cost(span.total_cost) if span.total_cost else "",
                    "ERROR " + span.status_message if is_error(span.status_code) else "",
                    "(parent missing)" if node.orphan else "",
                ) if mark
            )
            self.stdout.write(f"{'  ' * node.depth}{span.name}  {duration_ns(span.duration_ns)}  {marks}".rstrip())

    # --- delete and export ---------------------------------------------------------------------

    def _selection(self, trace_id, query):
        if (trace_id is None) == (query is None):
            raise CommandError("give a TRACE_ID or --query, not both and not neither (--query '' selects every trace)")
        if trace_id:
            return Trace.objects.filter(pk=find_trace(trace_id).pk)
        return traces_matching(query)

    def handle_delete(self, trace_id, query, **_):
        with Deletion("manage.py traces delete", via="command") as deletion:
            deleted = self._selection(trace_id, query).delete_with_spans(deletion=deletion)
        self.stdout.write(f"deleted {deleted} trace{'s' if deleted != 1 else ''}")

    def handle_export(self, trace_id, query, format, output, **_):
        traces = self._selection(trace_id, query).sorted_by("start_time")
        out = open(output, "w", newline="", encoding="utf-8") if output else _Unterminated(self.stdout)
        try:
            if format == "csv":
                writer = csv.writer(out)
                writer.writerow(SUMMARY_FIELDS)
                count = 0
                for trace in traces.iterator(chunk_size=2000):
                    writer.writerow([spreadsheet_safe(";".join(trace.models_used) if f == "models_used"
                                                      else getattr(trace, f)) for f in SUMMARY_FIELDS])
                    count += 1
            else:
                spans = Span.objects.filter(trace__in=traces.values("pk")).for_display().order_by("trace_id", "start_ns", "id")
                for chunk in json.JSONEncoder().iterencode(otlp_json(spans)):
                    out.write(chunk)
                out.write("\n")
                count = traces.count()
        finally:
            if output:
                out.close()
        self.stderr.write(f"exported {count} trace{'s' if count != 1 else ''} as {format}")

    # --- import --------------------------------------------------------------------------------

    def handle_import(self, files, **_):
        stored = duplicates = rejected = 0
        for number, name in enumerate(files, 1):
            path = Path(name)
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise CommandError(f"{name}: {exc.strerror}") from None
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
            encoding = otlp.JSON if data.lstrip()[:1] in (b"{", b"[") else otlp.PROTOBUF
            try:
                batch = otlp.decode(data, encoding, settings.MSGTRACE_MAX_ATTRIBUTE_BYTES)
            except otlp.BadRequest as exc:
                raise CommandError(f"{name}: {exc}") from None
            result = store(batch)
            stored, duplicates, rejected = stored + result.stored, duplicates + result.duplicates, rejected + batch.rejected
            if batch.rejected:
                self.stderr.write(f"{name}: {batch.error_message}")
            if len(files) > 1:
                self.stderr.write(f"[{number}/{len(files)}] {name}: {result.stored} spans stored")
        self.stdout.write(f"imported {len(files)} file{'s' if len(files) != 1 else ''}: {stored} spans stored, "
                          f"{duplicates} already stored, {rejected} rejected")
