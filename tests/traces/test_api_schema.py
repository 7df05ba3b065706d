"""Property-based: every operation in /api/v1/openapi.json, called with generated parameters, never
answers 500, and every answer matches the schema the API publishes."""

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import override_settings
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests import helpers as h

with override_settings(MSGTRACE_AUTH=False):  # loaded at collection, before the conftest's fixtures
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())


@pytest.fixture
def seeded(client):
    h.post_corpus(client, "otel-python/001.bin")
    h.post_corpus(client, "msgtrace-sdk/007.bin")
    # Schemathesis calls the WSGI application directly; like Django's test client, keep it from
    # closing the connection that holds the test's transaction at the end of each request.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_within_its_schema(case, seeded):
    # Not "positive data acceptance": a string the schema allows can still be a query with a syntax
    # error (400) or a cursor this server never issued (422), and saying so is the right answer.
    case.call_and_validate(
        checks=[not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    )
