"""`manage.py otlp_grpc`: serves OTLP/gRPC (TraceService/Export) until stopped. `manage.py start` runs it
beside gunicorn."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from traces import otlp_grpc


class Command(BaseCommand):
    help = "Serve OTLP/gRPC trace export (opentelemetry.proto.collector.trace.v1.TraceService/Export)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=settings.MSGTRACE_HOST, help="address to listen on (MSGTRACE_HOST)")
        parser.add_argument("--port", type=int, default=settings.MSGTRACE_GRPC_PORT,
                            help="port (MSGTRACE_GRPC_PORT, 4317 by default)")
        parser.add_argument("--parent", type=int, default=None, help="stop when the process with this id is gone")

    def handle(self, host, port, parent, **options):
        if not 0 < port < 65536:
            raise CommandError(f"--port must be between 1 and 65535, not {port} (MSGTRACE_GRPC_PORT=0 turns it off)")

        def ready(bound):
            self.stdout.write(f"msgtrace serving OTLP/gRPC on {host}:{bound}")
            self.stdout.flush()

        try:
            otlp_grpc.serve_forever(host, port, parent=parent, ready=ready)
        except OSError as exc:
            raise CommandError(f"{exc}: is another server using that port? (MSGTRACE_GRPC_PORT)") from exc
