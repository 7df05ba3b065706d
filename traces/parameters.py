"""The list parameters a visitor types besides the query, checked before they reach the database:
moments (start, end) and page cursors. The API and the pages both use these, so a value that one
refuses the other refuses with the same words."""

from datetime import datetime, timedelta, timezone

from traces.pagination import InvalidCursor, decode_cursor
from traces.timeframe import parse_moment

# A day's margin inside what datetime can hold, so that adding a microsecond or converting to any
# offset never overflows.
EARLIEST = datetime.min.replace(tzinfo=timezone.utc) + timedelta(days=1)
LATEST = datetime.max.replace(tzinfo=timezone.utc) - timedelta(days=1)
# Both databases store integers in 64 bits; a larger one cannot even be sent.
_INTEGERS = range(-(2**63), 2**63)


def moment(text):
    """parse_moment() for a value from outside: a UTC datetime between years 1 and 9999, or
    ValueError with a message a person can act on."""
    try:
        value = parse_moment(text).astimezone(timezone.utc)
    except OverflowError:
        value = None
    if value is None or not EARLIEST <= value <= LATEST:
        raise ValueError(f"{text.strip()!r} is out of range: use a time between the years 1 and 9999")
    return value


def check_cursor(cursor, model, field):
    """The (value, pk) of a cursor for a list of `model` ordered by `field`, or InvalidCursor.

    decode_cursor() reads any JSON pair; one this server handed out for this order holds a value of
    the field's type and a 64-bit id, which is all the page query can take.
    """
    value, pk = decode_cursor(cursor)
    kind = model._meta.get_field(field).get_internal_type()
    if kind == "DateTimeField":
        fits = isinstance(value, datetime) and value.tzinfo is not None and _in_range(value)
    elif kind == "FloatField":
        fits = isinstance(value, (int, float)) and not isinstance(value, bool) and _finite(value)
    else:  # the integer columns
        fits = isinstance(value, int) and not isinstance(value, bool) and value in _INTEGERS
    if not fits or isinstance(pk, bool) or pk not in _INTEGERS:
        raise InvalidCursor("the cursor is not one this server handed out for this order")
    return value, pk


def _in_range(value):
    try:
        return EARLIEST <= value.astimezone(timezone.utc) <= LATEST
    except OverflowError:
        return False


def _finite(value):
    try:
        return abs(float(value)) < float("inf")
    except OverflowError:  # an integer too large for a double
        return False
