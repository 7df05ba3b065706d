"""Writing the audit log. Never raises: an audit row that cannot be written is logged instead,
rather than failing (and so undoing) what it records."""

import logging

from accounts.addresses import client_address
from audit.models import AuditEvent

log = logging.getLogger("msgtrace.audit")
TARGET_LIMIT = 10_000


def record(action, actor, target="", count=None, via="", request=None):
    if isinstance(target, (list, tuple, set)):
        target = " ".join(sorted(str(item) for item in target))
    try:
        return AuditEvent.objects.create(actor=str(actor)[:200], action=action, target=str(target)[:TARGET_LIMIT],
                                         count=count, via=via, address=client_address(request))
    except Exception:
        log.warning("audit event not recorded: %s by %s on %s", action, actor, target, exc_info=True)
        return None
