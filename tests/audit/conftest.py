import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.roles import assign_role


@pytest.fixture
def signed_in(db, access_control):
    """signed_in(role, name=role): a test client with a user of that role signed in, access control on."""

    def sign_in(role, name=None):
        user = get_user_model().objects.create_user(name or role, password="a long passphrase 1")
        assign_role(user, role)
        client = Client()
        client.force_login(user)
        return client

    return sign_in
