"""gunicorn settings for msgtrace (`manage.py start` uses them; so can a plain `gunicorn -c`).

Threaded workers (gthread): each request decodes and commits a batch, CPU and disk bound, which threads
do not speed up under the GIL, but a client that is slow to send its body now holds one thread, not a
whole worker, so /health, the pages and other exporters are still answered meanwhile. A body that has not
arrived whole within MSGTRACE_BODY_TIMEOUT_SECONDS is answered 408 (traces/request_body.py), which frees
the thread; nginx in front buffers bodies before they reach gunicorn (docs/deployment.md). Long timeouts:
a 32 MiB OTLP batch on a slow disk can take a while."""

import os
import shutil
import subprocess
import sys
import tempfile

wsgi_app = "msgtrace_server.wsgi"
bind = f"{os.environ.get('MSGTRACE_HOST', '127.0.0.1')}:{os.environ.get('MSGTRACE_PORT', '4321')}"
workers = int(os.environ.get("MSGTRACE_WORKERS", "2"))
worker_class = "gthread"
# Threads per worker: stalled clients a worker outlasts before it stops answering (up to the body deadline).
threads = 8
timeout = 120
graceful_timeout = 30
keepalive = 5
# Behind nginx: trust its X-Forwarded-* headers only from the local machine.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = None  # msgtrace logs one line per OTLP request itself; nginx logs the rest
errorlog = "-"
loglevel = os.environ.get("MSGTRACE_LOG_LEVEL", "info").lower()
control_socket_disable = True


def _retention_configured():
    return any(int(os.environ.get(name) or 0) for name in ("MSGTRACE_RETENTION_DAYS", "MSGTRACE_RETENTION_MAX_TRACES"))


def _alerts_on():
    return os.environ.get("MSGTRACE_ALERTS", "on").strip().lower() not in ("off", "false", "0", "no")


def _grpc_host(server):
    """OTLP/gRPC listens on the host gunicorn binds (`manage.py start --host`), else MSGTRACE_HOST."""
    for address in server.cfg.bind:
        if not address.startswith(("unix:", "fd://")):
            return address.rsplit(":", 1)[0].strip("[]")
    return os.environ.get("MSGTRACE_HOST", "127.0.0.1")


def on_starting(server):
    """/metrics sums what every worker and the OTLP/gRPC process counted (monitoring/metrics.py): each
    process writes its counters into PROMETHEUS_MULTIPROC_DIR, which the processes inherit from here.
    Emptied on start: counts of an earlier server would otherwise be summed with this one's."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        os.makedirs(folder, exist_ok=True)
        for name in os.listdir(folder):
            if name.endswith(".db"):
                os.remove(os.path.join(folder, name))
    else:
        folder = tempfile.mkdtemp(prefix="msgtrace-metrics-")
        server.metrics_dir = folder  # removed on exit
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    server.log.info("metrics: counting in %s", folder)


def child_exit(server, worker):
    # A dead worker's counters stay summed; only its live gauges go.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def when_ready(server):
    """Retention, the alert scheduler and OTLP/gRPC run once per server, each in a process of its own beside
    the workers: a thread in the master would be copied, mid-query, into every worker the master forks."""
    # From a checkout's root (this file lies in its deploy/); installed, this file lies in the
    # msgtrace_server package, which then imports from any folder.
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cwd = root if os.path.isfile(os.path.join(root, "manage.py")) else None
    if _retention_configured():
        server.retention = subprocess.Popen([sys.executable, "-m", "msgtrace_server", "retention"], cwd=cwd)
        server.log.info("retention: pruning old traces in process %s", server.retention.pid)
    if _alerts_on():
        # Another server on the same database may run one too: rules are claimed per round (alerts/evaluate.py).
        server.alerts = subprocess.Popen([sys.executable, "-m", "msgtrace_server", "alerts"], cwd=cwd)
        server.log.info("alerts: evaluating rules in process %s", server.alerts.pid)
    grpc_port = int(os.environ.get("MSGTRACE_GRPC_PORT", "").strip() or 4317)  # 0: off
    if grpc_port:
        # --parent: a master killed outright (SIGKILL, the OOM killer) must not leave the port held.
        server.otlp_grpc = subprocess.Popen(
            [sys.executable, "-m", "msgtrace_server", "otlp_grpc", "--host", _grpc_host(server),
             "--port", str(grpc_port), "--parent", str(os.getpid())], cwd=cwd,
        )
        server.log.info("otlp grpc: serving port %s in process %s", grpc_port, server.otlp_grpc.pid)


def on_exit(server):
    for name in ("retention", "alerts", "otlp_grpc"):
        process = getattr(server, name, None)
        if process is not None:
            process.terminate()
            process.wait(timeout=15)
    if getattr(server, "metrics_dir", None):
        shutil.rmtree(server.metrics_dir, ignore_errors=True)
