"""Live pages: each polls its fragment every few seconds with the ETag of what it shows, and an
unchanged store answers 304 after one indexed read, so idle viewers cost the server almost nothing."""

from datetime import datetime, timezone

from django.conf import settings
from django.utils.cache import get_conditional_response, patch_cache_control

from traces.models import Span

# A trace whose root span arrived looks complete once nothing new came for this long.
QUIET_SECONDS = 10


def store_version():
    """The newest span's id: every ingest that stores a span moves it. One read of the primary key's
    index, newest end first, whatever the table's size."""
    return Span.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def etag(*parts):
    return '"' + "-".join(str(part) for part in parts) + '"'


def run_etag(members):
    """What a trace page shows changes with its run's members and with each span they take in
    (traces.store stamps updated_at on every trace a batch touches)."""
    newest = max(member.updated_at for member in members)
    return etag(members[0].pk, len(members), int(newest.timestamp() * 1_000_000))


def not_modified(request, tag):
    """The 304 for a poll whose If-None-Match names `tag`, or None: then render and `tagged` it."""
    return get_conditional_response(request, etag=tag)


def tagged(response, tag):
    response["ETag"] = tag
    # Asked again every time: a cached copy would hide the change the poll is for.
    patch_cache_control(response, no_cache=True, private=True)
    return response


def poll(tag, **extra):
    """The template context of a live fragment's poll: its ETag and interval."""
    return {"live": {"etag": tag, "seconds": settings.MSGTRACE_LIVE_POLL_SECONDS} | extra}


def quiet_seconds(members):
    """Seconds since the run last took in a span, by the server's clock (the page counts on from there)."""
    newest = max(member.updated_at for member in members)
    return max(0, int((datetime.now(timezone.utc) - newest).total_seconds()))
