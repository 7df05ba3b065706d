"""What a notification says, per kind of target: a generic JSON document, a Slack-compatible message
(text + blocks), or an email's subject and text. Built when the event is recorded and stored with the
notification, so every retry sends the same bytes."""

from django.conf import settings

from alerts.models import TargetKind


def _absolute(path):
    base = settings.MSGTRACE_PUBLIC_URL.rstrip("/")
    return base + path if base else path


def document(event):
    rule = event.rule
    return {
        "type": "alert",
        "state": event.state,
        "message": event.message,
        "at": event.at.isoformat(),
        "value": event.value,
        "trace_id": event.trace_id or None,
        "matched_traces": event.matched,
        "traces_url": _absolute(event.traces_url),
        "rule": {
            "id": rule.pk,
            "name": rule.name,
            "kind": rule.kind,
            "query": rule.query,
            "measure": None if rule.is_per_trace else rule.measure,
            "comparison": None if rule.is_per_trace else rule.comparison,
            "threshold": None if rule.is_per_trace else rule.threshold,
            "window_minutes": rule.window_minutes,
            "condition": rule.condition,
            "url": _absolute(rule.get_absolute_url()),
        },
    }


def _slack_escaped(text):
    # Slack's mrkdwn reads <, > and & as markup: a rule or trace name must not become a link or a mention.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack(event):
    doc = document(event)
    icon = {"firing": ":rotating_light:", "resolved": ":white_check_mark:"}.get(event.state, "")
    text = f"{icon} {_slack_escaped(event.message)}".strip()
    return {
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{text}*"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": _slack_escaped(event.rule.condition)}},
            {"type": "context", "elements": [
                {"type": "mrkdwn", "text": f"<{doc['traces_url']}|Matching traces> · <{doc['rule']['url']}|Rule> · "
                                           f"{doc['at']}"},
            ]},
        ],
    }


def email(event):
    doc = document(event)
    return {"subject": f"[msgtrace] {event.message}"[:200],
            "text": f"{event.message}\n\nRule: {event.rule.condition}\nAt: {doc['at']}\n"
                    f"Matching traces: {doc['traces_url']}\nRule: {doc['rule']['url']}\n"}


def build(event, target):
    return {TargetKind.WEBHOOK: document, TargetKind.SLACK: slack, TargetKind.EMAIL: email}[target.kind](event)


def test_payload(target, now):
    """What "send a test" sends: the target's shape, saying it is a test."""
    message = "msgtrace test notification: this target receives alerts"
    if target.kind == TargetKind.SLACK:
        return {"text": message, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": message}}]}
    if target.kind == TargetKind.EMAIL:
        return {"subject": "[msgtrace] test notification", "text": message + "\n"}
    return {"type": "test", "message": message, "at": now.isoformat()}
