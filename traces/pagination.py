"""Keyset (cursor) pagination: a page starts after the last row of the previous one, so pages stay
stable while new traces arrive, and reading page 1,000 costs what reading page 1 does."""

import base64
import json
from datetime import datetime

from django.db.models import Q


class InvalidCursor(ValueError):
    pass


def encode_cursor(value, pk):
    if isinstance(value, datetime):
        value = {"t": value.isoformat()}
    raw = json.dumps([value, pk], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor):
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, pk = json.loads(raw)
        if isinstance(value, dict):
            value = datetime.fromisoformat(value["t"])
        if not isinstance(pk, int) or not isinstance(value, (int, float, datetime)):
            raise TypeError
        return value, pk
    except (ValueError, TypeError, KeyError):
        raise InvalidCursor("the cursor is not one this server handed out") from None


def page(queryset, field, descending, cursor, limit):
    """(rows, next cursor or None) of a queryset already ordered by (field, id) in that direction."""
    if cursor:
        value, pk = decode_cursor(cursor)
        op = "lt" if descending else "gt"
        queryset = queryset.filter(Q(**{f"{field}__{op}": value}) | Q(**{field: value, f"pk__{op}": pk}))
    rows = list(queryset[: limit + 1])
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]
    return rows, encode_cursor(getattr(last, field), last.pk)
