"""msgtrace's WSGI application with the ingest-health counters turned off, for bench/ingest.py --health:
the same load served with and without them tells what counting costs ingest. Nothing else serves it."""

from msgtrace_server.wsgi import application  # noqa: F401  (what gunicorn serves; sets Django up first)

from ingest_health import record  # noqa: E402


def _not_counted(*args, **kwargs):
    return False


# Every request is counted through these two: inside the ingest's transaction (count_stored) or once
# answered (record). bench/ingest.py checks that the counters hold no request afterwards.
record.count_stored = _not_counted
record.record = _not_counted
