"""Delivering notifications to a real local HTTP receiver: signed bodies in each target's shape,
failures retried with exponential backoff then given up, every attempt in the delivery log."""

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from alerts import deliver, scheduler
from alerts.models import Delivery, Notification, Status, Target, TargetKind
from tests import helpers as h
from tests.alerts.conftest import rule, verify

pytestmark = pytest.mark.django_db


@pytest.fixture
def firing(client):
    """Ten failed checkouts a minute ago: a rule on their error rate fires at its first round."""
    for n in range(1, 11):
        h.post(client, h.body(h.span(trace=n, span=n, start_ms=h.ago(1), attributes={"workflow.name": "checkout"},
                                     error="declined", name="checkout <script>alert(1)</script>")))


def test_a_slack_target_gets_text_and_blocks_with_names_escaped(receiver, firing):
    slack = Target.objects.create(name="slack", kind=TargetKind.SLACK, url=receiver.url)
    rule(slack, name="<!channel> checkout & co")
    scheduler.run_once(timezone.now())
    [payload] = receiver.payloads()
    assert set(payload) == {"text", "blocks"}
    assert payload["text"].startswith(":rotating_light: &lt;!channel&gt; checkout &amp; co is firing: Error rate")
    assert [block["type"] for block in payload["blocks"]] == ["section", "section", "context"]
    assert "<!channel>" not in str(payload)
    assert "|Matching traces>" in payload["blocks"][2]["elements"][0]["text"]
    assert verify(receiver.requests[0], slack.signing_secret)


def test_a_failing_receiver_is_retried_with_backoff_then_given_up(receiver, webhook, firing):
    receiver.answers = [500]
    rule(webhook)
    now = timezone.now()
    scheduler.run_once(now)
    notification = Notification.objects.get()
    waits = []
    for _ in range(deliver.MAX_ATTEMPTS - 1):
        notification.refresh_from_db()
        waits.append((notification.next_attempt_at - now).total_seconds())
        now = notification.next_attempt_at
        # Not a moment early: nothing is sent before the backoff has passed.
        assert deliver.deliver_due(now - timedelta(seconds=1)) == []
        deliver.deliver_due(now)
    assert waits == [15, 30, 60, 120]
    notification.refresh_from_db()
    assert notification.status == Status.FAILED and notification.attempts == deliver.MAX_ATTEMPTS
    assert deliver.deliver_due(now + timedelta(days=1)) == []
    log = list(Delivery.objects.order_by("attempt"))
    assert [d.attempt for d in log] == [1, 2, 3, 4, 5] and {d.status_code for d in log} == {500}
    assert log[0].error == "the receiver answered 500" and log[0].response_excerpt.startswith("answer 1:")
    assert len(receiver.requests) == 5 and len({r["body"] for r in receiver.requests}) == 1


def test_a_receiver_that_does_not_answer_in_time_is_logged_as_a_timeout(receiver, webhook, settings):
    settings.MSGTRACE_WEBHOOK_TIMEOUT_SECONDS = 1
    receiver.delay = 2
    delivery = deliver.send_test(webhook, timezone.now())
    assert delivery.status_code is None and "timed out" in delivery.error
    assert 900 < delivery.latency_ms < 2500
    assert Notification.objects.get().status == Status.FAILED  # a test is tried once


def test_a_redirect_is_not_followed(receiver, webhook):
    receiver.answers, receiver.redirect_to = [302], "http://169.254.169.254/latest/meta-data"
    delivery = deliver.send_test(webhook, timezone.now())
    assert "redirect" in delivery.error and "not followed" in delivery.error and not delivery.succeeded
    assert len(receiver.requests) == 1


def test_an_unreachable_receiver_is_logged(db):
    target = Target.objects.create(name="gone", url="http://127.0.0.1:9/hook")
    delivery = deliver.send_test(target, timezone.now())
    assert delivery.status_code is None and "refused" in delivery.error.lower()


def test_an_email_target_sends_through_django_email_when_configured(settings, firing):
    settings.EMAIL_HOST = "smtp.example.com"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    rule(Target.objects.create(name="on call", kind=TargetKind.EMAIL, email="oncall@example.com"))
    scheduler.run_once(timezone.now())
    [message] = mail.outbox
    assert message.to == ["oncall@example.com"] and message.subject.startswith("[msgtrace] checkout errors is firing")
    assert "/traces?q=workflow%3Acheckout" in message.body
    assert Notification.objects.get().status == Status.SENT


def test_email_without_email_settings_is_logged_as_not_configured(settings, db):
    settings.EMAIL_HOST = ""
    target = Target.objects.create(name="on call", kind=TargetKind.EMAIL, email="oncall@example.com")
    assert deliver.send_test(target, timezone.now()).error == "email is not configured: set EMAIL_HOST"


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not h.using_postgres(), reason="two connections writing at once: PostgreSQL")
def test_two_schedulers_racing_on_one_database_notify_once(client, receiver):
    webhook = Target.objects.create(name="team hook", url=receiver.url)
    for n in range(1, 11):
        h.post(client, h.body(h.span(trace=n, span=n, start_ms=h.ago(1), attributes={"workflow.name": "checkout"},
                                     error="declined")))
    rule(webhook)
    now, start = timezone.now(), threading.Barrier(4)
    results = []

    def scheduler_process():
        try:
            start.wait()
            results.append(scheduler.run_once(now))
        finally:
            connection.close()

    threads = [threading.Thread(target=scheduler_process) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(len(events) for events, _ in results) == 1
    assert len(receiver.requests) == 1 and Delivery.objects.count() == 1
