"""What `manage.py start` and `runserver` say about access when they start: the one-time setup link
while no user exists, and whether ingest is open."""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model

from accounts import ingest_keys
from accounts.models import SetupToken

log = logging.getLogger("msgtrace.access")


def base_url(host, port):
    if host in ("0.0.0.0", "::", ""):
        host = "localhost"  # listening everywhere: this machine's own name works from here
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def announce(write, host, port):
    """Writes (with `write`) and logs the lines about access a starting server should print."""
    url = base_url(host, port)
    if not settings.MSGTRACE_AUTH:
        write("Access control is off (MSGTRACE_AUTH=off): anyone who can reach this port can read and delete every trace.")
        return
    if not get_user_model().objects.exists():
        link = f"{url}/setup?token={SetupToken.objects.issue()}"
        write(f"No user yet. Create the first admin with this one-time link:\n\n    {link}\n")
        log.warning("create the first admin with this one-time link: %s", link)
    status = ingest_keys.status()
    if status.open:
        write(f"Ingest is open: anyone who can reach this port may send traces. Create an ingest key at {url}/settings.")
    else:
        keys = status.api_keys + status.configured_keys
        revoked = f", {status.revoked_keys} revoked" if status.revoked_keys else ""
        write(f"Ingest needs a key ({keys} ingest key{'s' if keys != 1 else ''}{revoked}).")
