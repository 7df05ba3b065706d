"""`manage.py start`: msgtrace in production shape. Applies migrations, collects static files when
they are missing or stale, then replaces this process with gunicorn (never the development server),
whose master starts the OTLP/gRPC server beside the workers (MSGTRACE_GRPC_PORT)."""

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from accounts import first_run

GUNICORN_CONFIG = Path(settings.BASE_DIR) / "deploy" / "gunicorn.conf.py"


def static_is_stale():
    manifest = Path(settings.STATIC_ROOT) / "staticfiles.json"
    if not manifest.exists():
        return True
    sources = [Path(settings.BASE_DIR) / "static"]
    newest = max((f.stat().st_mtime for folder in sources if folder.is_dir() for f in folder.rglob("*") if f.is_file()),
                 default=0)
    return newest > manifest.stat().st_mtime


class Command(BaseCommand):
    help = "Apply migrations, collect static files if needed, and serve msgtrace with gunicorn."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=settings.MSGTRACE_HOST, help="address to listen on (MSGTRACE_HOST)")
        parser.add_argument("--port", type=int, default=settings.MSGTRACE_PORT, help="port (MSGTRACE_PORT)")
        parser.add_argument("--workers", type=int, default=settings.MSGTRACE_WORKERS,
                            help="gunicorn worker processes (MSGTRACE_WORKERS)")
        parser.add_argument("--grpc-port", type=int, default=settings.MSGTRACE_GRPC_PORT,
                            help="OTLP/gRPC port, 0 for none (MSGTRACE_GRPC_PORT)")

    def handle(self, host, port, workers, grpc_port, **options):
        if not 0 < port < 65536:
            raise CommandError(f"--port must be between 1 and 65535, not {port}")
        if not 0 <= grpc_port < 65536:
            raise CommandError(f"--grpc-port must be between 1 and 65535, or 0 for none, not {grpc_port}")
        if workers < 1:
            raise CommandError(f"--workers must be at least 1, not {workers}")
        call_command("migrate", interactive=False, verbosity=0)
        if static_is_stale():
            # In a process of its own: the settings pick hashed static names when collectstatic runs.
            # A checkout's msgtrace_server is importable from its root; an installed one from anywhere.
            subprocess.run([sys.executable, "-m", "msgtrace_server", "collectstatic", "--noinput", "-v0"],
                           cwd=None if settings.MSGTRACE_INSTALLED else settings.BASE_DIR, check=True)
        bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self.stdout.write(f"msgtrace serving on http://{bind} with {workers} workers (gunicorn)")
        first_run.announce(self.stdout.write, host, port)
        if grpc_port:
            grpc_bind = f"[{host}]:{grpc_port}" if ":" in host else f"{host}:{grpc_port}"
            self.stdout.write(f"msgtrace serving OTLP/gRPC on {grpc_bind}")
        self.stdout.flush()
        # gunicorn's master starts the OTLP/gRPC process (deploy/gunicorn.conf.py, when_ready).
        os.environ["MSGTRACE_GRPC_PORT"] = str(grpc_port)
        argv = [sys.executable, "-m", "gunicorn", "msgtrace_server.wsgi", "--config", str(GUNICORN_CONFIG),
                "--bind", bind, "--workers", str(workers)]
        os.execv(sys.executable, argv)
