"""Sign-ins go to the audit log: who, from where, and never the password that was tried."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.roles import assign_role
from audit.models import Action, AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(access_control):
    user = get_user_model().objects.create_user("alice", password="the right passphrase 1")
    assign_role(user, "member")
    return user


def test_a_failed_sign_in_is_recorded_with_the_name_and_address_but_not_the_password(alice):
    response = Client().post("/signin", {"username": "alice", "password": "hunter2 wrong guess"})

    assert response.status_code == 200  # the form again, with its error
    event = AuditEvent.objects.get()
    assert (event.action, event.actor, event.target, event.via, event.address) == (
        Action.SIGN_IN_FAILED, "alice", "alice", "ui", "127.0.0.1")
    stored = " ".join(str(value) for value in AuditEvent.objects.values_list().get())
    assert "hunter2" not in stored


def test_a_sign_in_is_recorded_after_the_failures_before_it(alice):
    client = Client()
    client.post("/signin", {"username": "alice", "password": "wrong"})
    response = client.post("/signin", {"username": "alice", "password": "the right passphrase 1"})

    assert response.status_code == 302
    assert list(AuditEvent.objects.newest_first().values_list("action", "actor")) == [
        (Action.SIGN_IN, "alice"), (Action.SIGN_IN_FAILED, "alice")]
