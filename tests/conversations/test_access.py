"""Who reads sessions and users: with access control on, every role reads them; anonymous callers are sent
to sign in (pages) or answered 401 (API); an API key reads them with the read scope."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.models import ApiKey
from accounts.roles import assign_role
from tests.conversations.conversation import post_conversations

pytestmark = pytest.mark.django_db
PATHS = ["/sessions", "/sessions/chat-1", "/users", "/users/alice",
         "/api/v1/sessions", "/api/v1/sessions/chat-1", "/api/v1/users", "/api/v1/users/alice"]


@pytest.fixture
def store(client, settings):
    post_conversations(client)  # ingest is open while no ingest key exists
    settings.MSGTRACE_AUTH = True


@pytest.mark.parametrize("role", ["viewer", "member", "admin"])
def test_every_role_reads_sessions_and_users(store, role):
    user = get_user_model().objects.create_user(role, password="a long passphrase 1")
    assign_role(user, role)
    client = Client()
    client.force_login(user)

    assert [client.get(path).status_code for path in PATHS] == [200] * len(PATHS)


def test_anonymous_callers_are_refused_and_a_read_key_reads_the_api(store):
    anonymous = Client()
    assert [anonymous.get(path).status_code for path in PATHS] == [302] * 4 + [401] * 4

    _, secret = ApiKey.objects.issue("tests", ["read"])
    keyed = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert [keyed.get(path).status_code for path in PATHS[4:]] == [200] * 4
