"""Parsing shared by msgtrace's management commands."""

import re
from datetime import timedelta

from django.core.management.base import CommandError

_AGE = re.compile(r"^\s*(\d+)\s*([mhd])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_age(text):
    """'30d', '12h', '90m' -> timedelta; CommandError otherwise."""
    match = _AGE.match(text or "")
    if not match:
        raise CommandError(f"{text!r} is not an age: use a number with m, h or d, such as 30d, 12h or 90m")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def traces_matching(query):
    """Trace.objects matching a query-language string, with syntax errors as CommandError."""
    from traces.models import Trace
    from traces.query import QueryError

    try:
        traces = Trace.objects.matching(query)
        traces.exists()  # compile now, so a bad query fails here with its message
    except QueryError as exc:
        raise CommandError(f"bad query: {exc}") from None
    return traces


def find_trace(trace_id):
    from traces.models import Trace

    trace = Trace.objects.with_trace_id((trace_id or "").strip())
    if trace is None:
        raise CommandError(f"no trace {trace_id}")
    return trace
