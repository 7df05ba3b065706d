"""Durations as people read them: "15 minutes", where django-axes hands the lockout page "PT15M"."""

from datetime import datetime, timezone

from django import template
from django.utils.timesince import timesince

register = template.Library()
_ANY_MOMENT = datetime(2000, 1, 1, tzinfo=timezone.utc)


@register.filter
def in_words(delta):
    """A timedelta as "15 minutes" or "1 hour, 30 minutes"; "" for None."""
    if delta is None:
        return ""
    return timesince(_ANY_MOMENT, _ANY_MOMENT + delta)
