"""A saved view on the dashboard: the "View" select applies the view's service, workflow, model and query to
every figure, and its "since" as the window when it names one; the rest of its filters are the list's."""

import re

import pytest

from saved_views.models import SavedView
from tests.saved_views.test_saved_views import signed_in
from tests.ui.test_dashboard import card

pytestmark = pytest.mark.django_db


def view(name, owner=None, shared=True, **params):
    return SavedView.objects.create(name=name, owner=owner, shared=shared, params=params)


def test_a_view_narrows_the_figures_to_its_filters_over_its_window(client, five_traces):
    api = view("api, this week", service="api", start="7d", status="error", min_duration_ms="1")

    page = client.get(f"/?view={api.pk}").text

    # Traces 1, 2 and 5 ran on api within 7 days; the view's status and duration are the list's alone.
    assert card(page, "Traces") == ("3", "in the last 7 days")
    assert '<a class="stat" href="/traces?start=7d&amp;service=api">' in page
    assert f'<option value="{api.pk}" selected>api, this week</option>' in page
    assert f'<a href="?window=1h&amp;view={api.pk}" hx-get="/?window=1h&amp;view={api.pk}"' in page
    assert f'hx-get="/?window=7d&amp;view={api.pk}"' in page  # the live refresh keeps the view


def test_a_chosen_window_wins_over_the_views(client, five_traces):
    api = view("api", service="api", start="7d")

    assert card(client.get(f"/?view={api.pk}&window=1h").text, "Traces") == ("1", "in the last hour")


def test_a_since_that_is_no_dashboard_window_leaves_the_default(client, five_traces):
    research = view("research", workflow="research", q="model:claude*", start="2h")

    page = client.get(f"/?view={research.pk}").text

    assert card(page, "Traces") == ("1", "in the last 24 hours")


def test_no_view_or_an_unknown_one_shows_everything(client, five_traces):
    page = client.get("/?view=999").text

    assert card(page, "Traces") == ("4", "in the last 24 hours")
    assert re.search(r'<option value="">All traces</option>\s*</select>', page)


def test_someone_elses_private_view_is_neither_offered_nor_applied(client, five_traces, access_control):
    ann, ben = signed_in("ann"), signed_in("ben")
    private = view("ann's api", owner=ann.user, shared=False, service="api")

    page = ben.get(f"/?view={private.pk}").text

    assert card(page, "Traces") == ("4", "in the last 24 hours")
    assert "ann&#x27;s api" not in page
    assert card(ann.get(f"/?view={private.pk}").text, "Traces") == ("2", "in the last 24 hours")
