"""A time limit on the reads a visitor's query drives: lists, searches and statistics.

Any query language term is linear in the rows it reads, but a store is large and a query can be
slow anyway (free text over millions of traces). A worker that reads past the limit stops the
statement and answers "too slow, narrow it" instead of being held for minutes.

    with time_limit():
        rows = list(traces[:50])

SQLite: a progress handler, called every few thousand virtual machine steps, interrupts the statement.
PostgreSQL: a timer cancels the running statement, as statement_timeout would, without a transaction
or a SET of its own (so a list stays one statement).
"""

import threading
import time
from contextlib import contextmanager

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, OperationalError, connections

# SQLite runs some million steps a second: the handler looks at the clock about every millisecond.
_SQLITE_STEPS = 1000


class QueryTimeout(Exception):
    """A read ran past MSGTRACE_QUERY_TIMEOUT_SECONDS and was stopped."""

    def __init__(self, seconds):
        self.seconds = seconds
        super().__init__(
            f"the query took longer than {seconds:g} s and was stopped; narrow it: a shorter time range "
            "(start=1h), a fast term such as service:, status: or trace:, or fewer wildcards and free text"
        )


@contextmanager
def time_limit(seconds=None, using=DEFAULT_DB_ALIAS):
    """Statements run inside stop after `seconds` (default MSGTRACE_QUERY_TIMEOUT_SECONDS; 0: no limit)
    and raise QueryTimeout. Nested limits keep the outer one."""
    seconds = settings.MSGTRACE_QUERY_TIMEOUT_SECONDS if seconds is None else seconds
    connection = connections[using]
    if not seconds or getattr(connection, "msgtrace_time_limit", None) or connection.vendor not in _LIMITS:
        yield
        return
    connection.ensure_connection()
    deadline = time.monotonic() + seconds
    connection.msgtrace_time_limit = deadline
    try:
        with _LIMITS[connection.vendor](connection.connection, seconds, deadline):
            yield
    except OperationalError:
        if time.monotonic() < deadline:
            raise  # failed for a reason of its own
        raise QueryTimeout(seconds) from None
    finally:
        connection.msgtrace_time_limit = None


@contextmanager
def _sqlite(raw, seconds, deadline):
    # A true answer interrupts the statement: sqlite3.OperationalError "interrupted".
    raw.set_progress_handler(lambda: time.monotonic() > deadline, _SQLITE_STEPS)
    try:
        yield
    finally:
        raw.set_progress_handler(None, 0)


@contextmanager
def _postgresql(raw, seconds, deadline):
    lock = threading.Lock()
    state = {"done": False}

    def cancel():
        with lock:  # never after the block ended: the next statement is not this limit's to cancel
            if not state["done"]:
                raw.cancel_safe()  # the statement fails with QueryCanceled, an OperationalError

    timer = threading.Timer(seconds, cancel)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        with lock:
            state["done"] = True
        timer.cancel()


_LIMITS = {"sqlite": _sqlite, "postgresql": _postgresql}
