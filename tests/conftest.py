import pytest

from tests import servers


@pytest.fixture
def server(tmp_path):
    """msgtrace under gunicorn with 2 workers, on a database of its own (SQLite file or PostgreSQL)."""
    with servers.gunicorn(tmp_path, workers=2) as running:
        yield running
