import pytest

# Before anything imports it: tests/test_nginx.py uses the browser helpers too.
pytest.register_assert_rewrite("tests.ui.browser.support")

from tests import helpers, servers  # noqa: E402


@pytest.fixture(autouse=True)
def plain_static_files(settings):
    """Pages render with plain static names whether or not collectstatic has run in this checkout
    (the hashed names of a stale manifest would break them)."""
    settings.STORAGES = settings.STORAGES | {
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    }


@pytest.fixture(autouse=True)
def access_control_off(settings):
    """Tests of everything but access control call msgtrace as MSGTRACE_AUTH=off lets anyone; those of
    access control turn it on with the `access_control` fixture."""
    settings.MSGTRACE_AUTH = False


@pytest.fixture
def access_control(settings):
    settings.MSGTRACE_AUTH = True


@pytest.fixture
def server(tmp_path):
    """msgtrace under gunicorn with 2 workers, on a database of its own (SQLite file or PostgreSQL)."""
    with servers.gunicorn(tmp_path, workers=2) as running:
        yield running


@pytest.fixture
def five_traces(client):
    """The test client, with the five traces of tests.helpers.post_five_traces in the store."""
    return helpers.post_five_traces(client)
