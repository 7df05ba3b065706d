"""Rules evaluated over a clock the tests move: a threshold rule fires in the first round that sees its
condition, resolves when it no longer holds, and notifies once per change of state, however many
schedulers look at it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts import scheduler
from alerts.models import Delivery, Event, Notification, Rule, State, Status
from tests import helpers as h
from tests.alerts.conftest import rule, verify

pytestmark = pytest.mark.django_db


def post_checkout(client, first, errors, ok, minutes_ago=1):
    """`errors` failed and `ok` good checkout traces, `minutes_ago` (negative: ahead of the real clock)."""
    for n in range(first, first + errors + ok):
        h.post(client, h.body(h.span(trace=n, span=n, name="checkout", start_ms=h.ago(minutes_ago), duration_ms=40,
                                     attributes={"workflow.name": "checkout"},
                                     error="card declined" if n < first + errors else None)))


def test_error_rate_rule_fires_in_the_first_round_after_the_errors_and_resolves_when_they_stop(client, receiver,
                                                                                               webhook):
    alert = rule(webhook)
    now = timezone.now()
    scheduler.run_once(now)
    assert Rule.objects.get().state == State.OK and receiver.requests == []

    post_checkout(client, 1, errors=3, ok=7)  # 30 % of checkouts fail
    post_checkout(client, 20, errors=0, ok=0)
    h.post(client, h.body(h.span(trace=30, span=30, start_ms=h.ago(1), error="other workflow")))  # not checkout
    events, deliveries = scheduler.run_once(now + timedelta(seconds=30))

    assert [event.state for event in events] == [State.FIRING]
    assert Rule.objects.get().state == State.FIRING and Rule.objects.get().last_value == pytest.approx(30.0)
    [request] = receiver.requests
    assert verify(request, webhook.signing_secret)
    assert not verify(request, "whsec_some other secret")
    payload = receiver.payloads()[0]
    assert payload["state"] == "firing" and payload["value"] == pytest.approx(30.0)
    assert payload["rule"]["name"] == "checkout errors" and payload["rule"]["query"] == "workflow:checkout"
    assert payload["traces_url"].startswith("/traces?q=workflow%3Acheckout&start=")
    [delivery] = deliveries
    assert delivery.status_code == 200 and delivery.response_excerpt.startswith("answer 1: xxx")
    assert len(delivery.response_excerpt) == 500 and delivery.latency_ms > 0
    assert Notification.objects.get().status == Status.SENT

    # Still failing half a minute later: no second notification.
    scheduler.run_once(now + timedelta(seconds=60))
    assert len(receiver.requests) == 1

    # Ten minutes on only good checkouts come in: the rule resolves, and says so.
    post_checkout(client, 40, errors=0, ok=5, minutes_ago=-11)
    events, _ = scheduler.run_once(now + timedelta(minutes=12))
    assert [event.state for event in events] == [State.RESOLVED]
    assert Rule.objects.get(pk=alert.pk).state == State.RESOLVED
    assert [p["state"] for p in receiver.payloads()] == ["firing", "resolved"]
    assert all(verify(request, webhook.signing_secret) for request in receiver.requests)
    assert list(Event.objects.order_by("at").values_list("state", flat=True)) == ["firing", "resolved"]
    assert Delivery.objects.count() == 2


def test_a_condition_that_must_hold_for_some_minutes_fires_only_once_it_has(client, receiver, webhook):
    rule(webhook, for_minutes=5, window_minutes=30)
    post_checkout(client, 1, errors=5, ok=5)
    now = timezone.now()
    scheduler.run_once(now)
    assert Rule.objects.get().state == State.OK and Rule.objects.get().breach_since == now
    scheduler.run_once(now + timedelta(minutes=4))
    assert receiver.requests == []
    scheduler.run_once(now + timedelta(minutes=5))
    assert Rule.objects.get().state == State.FIRING and len(receiver.requests) == 1


@pytest.mark.parametrize(("measure", "expected"), [
    ("count", 3), ("error_rate", 100 / 3), ("p50", 800), ("p95", 12000), ("p99", 12000),
    ("cost", 0.00406), ("tokens", 3090),
])
def test_each_measure_is_taken_over_the_window(five_traces, measure, expected):
    from alerts.evaluate import measure as measured

    # Traces 3, 4 and 5 started in the last hour: 12000, 50 and 800 ms; 4 failed.
    alert = rule(measure=measure, query="", window_minutes=60, threshold=0)
    assert measured(alert, timezone.now()) == pytest.approx(expected)


def test_a_per_trace_rule_notifies_about_a_matching_trace_then_keeps_quiet_for_its_cool_down(client, receiver,
                                                                                              webhook):
    alert = rule(webhook, kind="per_trace", query="workflow:checkout AND error:true", cooldown_minutes=15)
    now = timezone.now()
    post_checkout(client, 1, errors=1, ok=3)
    scheduler.run_once(now)
    [payload] = receiver.payloads()
    assert payload["trace_id"] == h.tid(1) and payload["matched_traces"] == 1 and payload["state"] == "firing"

    post_checkout(client, 10, errors=2, ok=0, minutes_ago=-5)
    scheduler.run_once(now + timedelta(minutes=6))  # inside the cool-down
    assert len(receiver.requests) == 1

    post_checkout(client, 20, errors=1, ok=0, minutes_ago=-15)
    scheduler.run_once(now + timedelta(minutes=16))
    payloads = receiver.payloads()
    assert len(payloads) == 2 and payloads[1]["trace_id"] == h.tid(20) and payloads[1]["matched_traces"] == 1

    scheduler.run_once(now + timedelta(minutes=40))  # nothing matched for a cool-down: resolved
    assert Rule.objects.get(pk=alert.pk).state == State.RESOLVED
    assert [p["state"] for p in receiver.payloads()] == ["firing", "firing", "resolved"]


def test_a_muted_rule_records_its_state_but_sends_nothing(client, receiver, webhook):
    rule(webhook, muted=True)
    post_checkout(client, 1, errors=3, ok=0)
    scheduler.run_once(timezone.now())
    assert Rule.objects.get().state == State.FIRING and Event.objects.count() == 1
    assert receiver.requests == [] and Notification.objects.count() == 0


def test_a_restarted_scheduler_sends_nothing_twice_and_resumes_what_was_not_sent(client, receiver, webhook):
    rule(webhook)
    post_checkout(client, 1, errors=3, ok=0)
    now = timezone.now()
    receiver.answers = [503, 200]
    scheduler.run_once(now)  # fires; the first delivery fails
    assert Notification.objects.get().status == Status.PENDING

    # A new process: the same rule, the same round's time. The claim made by the first one stands.
    events, deliveries = scheduler.run_once(now)
    assert events == [] and deliveries == []
    # Once the backoff has passed, the pending notification goes out, and then never again.
    scheduler.run_once(now + timedelta(seconds=16))
    scheduler.run_once(now + timedelta(seconds=47))
    assert [r["body"] for r in receiver.requests][0] == receiver.requests[1]["body"]
    assert len(receiver.requests) == 2 and Notification.objects.get().status == Status.SENT
    assert Event.objects.count() == 1


def test_manage_py_alerts_once_runs_one_round_and_says_what_it_did(client, receiver, webhook):
    from io import StringIO

    from django.core.management import call_command

    rule(webhook)
    post_checkout(client, 1, errors=3, ok=1)
    out = StringIO()
    call_command("alerts", once=True, stdout=out)
    assert out.getvalue() == "alerts: 1 changes of state, 1 deliveries (0 failed)\n"
    assert Rule.objects.get().state == State.FIRING and len(receiver.requests) == 1
