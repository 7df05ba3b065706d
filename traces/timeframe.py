"""Points in time as people type them: ISO-8601, or relative to now ("15m", "1h", "7d", "2w"); and the one
place where unix nanoseconds, as OTLP counts time, become datetimes and back."""

import re
from datetime import datetime, timedelta, timezone

UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
# The dashboard's windows; "all" has no start.
WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7),
           "30d": timedelta(days=30), "all": None}
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)


def parse_moment(text, now=None):
    """A datetime (UTC) for `text`; raises ValueError with a message a person can act on."""
    now = now or datetime.now(timezone.utc)
    text = (text or "").strip()
    if text == "now":
        return now
    match = _RELATIVE.match(text)
    if match:
        return now - timedelta(**{UNITS[match.group(2)]: float(match.group(1))})
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a time: use ISO-8601 (2026-01-31T12:00:00Z) or a span back from now (15m, 1h, 7d)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def window_start(window, now=None):
    """The start of a named window ("1h", "24h", "7d", "30d", "all" -> None)."""
    if window not in WINDOWS:
        raise ValueError(f"unknown window {window!r}: use one of {', '.join(WINDOWS)}")
    delta = WINDOWS[window]
    return None if delta is None else (now or datetime.now(timezone.utc)) - delta


def datetime_from_ns(ns):
    """Unix nanoseconds -> an aware UTC datetime, exact to the microsecond (a float would round)."""
    return datetime.fromtimestamp(ns // 1_000_000_000, timezone.utc).replace(microsecond=(ns // 1000) % 1_000_000)


def ns_from_datetime(moment):
    """A datetime -> unix nanoseconds; a naive one is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (moment - EPOCH) // _MICROSECOND * 1000
