"""Runs converge whatever the order: random one-span traces of one process, dense in time (nested,
crossing, touching, equal intervals), posted in several orders and batchings, end in one grouping."""

import random

import pytest

from tests import helpers as h
from traces.models import Trace

pytestmark = pytest.mark.django_db(transaction=False)

NAMES = ("Agent", "Generator", "openai.chat", "Tool Library", "scatter_gather", "step")


def random_traces(rng, count):
    """(trace number, span number, parent span number or None, name, start ms, duration ms): one-span
    traces with starts and ends on a coarse grid, so that equal starts, equal ends and touching
    intervals are frequent; a few of them get a second span, a child, and leave their runs."""
    traces = []
    for number in range(1, count + 1):
        start = rng.randrange(0, 40) * 5
        duration = rng.choice((0, 5, 10, 20, 40, 80, 160))
        traces.append((number, number, None, rng.choice(NAMES), start, duration))
        if rng.random() < 0.1:
            traces.append((number, 1000 + number, number, "child", start, duration))
    return traces


def body_of(traces):
    return h.body(*(h.span(trace=n, span=span, parent=parent, name=name, start_ms=start, duration_ms=duration)
                    for n, span, parent, name, start, duration in traces))


def grouping():
    """(trace, the trace it hangs under, how, its run's outermost trace, the run's trace count) of
    every trace; a trace with no run root recorded (it never took part) is its own run's."""
    by_pk = dict(Trace.objects.values_list("pk", "trace_id"))
    return sorted(
        (trace_id, by_pk.get(parent), link, by_pk.get(root, trace_id), count)
        for trace_id, parent, link, root, count in Trace.objects.values_list(
            "trace_id", "run_parent_id", "run_link", "run_root_id", "run_trace_count")
    )


def send_in(client, traces, rng, batch):
    order = list(traces)
    rng.shuffle(order)
    for at in range(0, len(order), batch):
        assert h.post(client, body_of(order[at:at + batch])).status_code == 200


@pytest.mark.parametrize("seed", range(20))
def test_any_order_and_batching_gives_the_grouping_of_everything_at_once(client, seed):
    """Among them, a trace whose acceptance under its encloser changes when a later arrival crosses
    one of its earlier siblings' enclosers (the sibling leaves the run, and the trace no longer
    crosses anything): every sibling under the encloser is decided again."""
    rng = random.Random(seed)
    traces = random_traces(rng, 30)
    assert h.post(client, body_of(traces)).status_code == 200
    expected = grouping()
    for attempt in range(4):
        Trace.objects.all().delete()
        send_in(client, traces, random.Random(seed * 100 + attempt), batch=1 + attempt % 3)
        assert grouping() == expected, f"order {attempt}"

