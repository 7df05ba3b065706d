"""Runs in a browser: the session list opens a session, which reads as a conversation with its cost; a
user's page; screenshots of the three at desktop and phone width for the docs."""

from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from tests.ui.browser.support import api, overflow
from tests.ui.browser.test_screenshots import save


def longest_session(site):
    """The demo session of the most turns (the first of them on a tie): it shows a conversation whole."""
    sessions = api(site, "/sessions", sort="traces", window="all")["sessions"]
    assert sessions, "the demo data has no sessions"
    return max(sessions, key=lambda s: (s["turn_count"], s["cost"]))


def test_the_list_opens_a_session_that_reads_as_a_conversation(open_page, site):
    chosen = longest_session(site)
    detail = api(site, f"/sessions/{quote(chosen['session_id'], safe='')}")
    page = open_page(site)
    page.goto("/sessions?window=all&sort=traces")

    row = page.locator(f'tr[data-session="{chosen["session_id"]}"]')
    expect(row.locator('[data-label="Turns"]')).to_have_text(str(chosen["turn_count"]))
    row.get_by_role("link", name=chosen["session_id"]).click()

    expect(page).to_have_url(f"{site.url}/sessions/{quote(chosen['session_id'], safe='')}")
    expect(page.locator('[data-total="turns"]')).to_have_text(str(detail["turn_count"]))
    turns = page.locator("ol.turns > li.turn")
    expect(turns).to_have_count(len(detail["turns"]))
    first = detail["turns"][0]
    if first["user_message"]:
        expect(turns.first.locator(".msg-user")).to_contain_text(first["user_message"][:40])
    turns.first.locator("a.turn-trace").click()
    expect(page).to_have_url(f"{site.url}/traces/{first['trace_id']}")


def sessions(page, site):
    page.goto("/sessions?window=all")
    expect(page.locator("table.sessions-table tbody tr").first).to_be_visible()


def session(page, site):
    page.goto(f"/sessions/{quote(longest_session(site)['session_id'], safe='')}")
    expect(page.locator("ol.turns > li.turn").first).to_be_visible()


def user(page, site):
    users = api(site, "/users", sort="traces", window="all")["users"]
    page.goto(f"/users/{quote(users[0]['user_id'], safe='')}")
    expect(page.locator(".usage-chart svg rect").first).to_be_visible()


SHOTS = {"sessions": sessions, "session": session, "user": user}


@pytest.mark.parametrize("device", ["desktop", "phone"])
@pytest.mark.parametrize("name", SHOTS)
def test_screenshot(open_page, site, name, device):
    page = open_page(site, phone=device == "phone")

    SHOTS[name](page, site)

    assert overflow(page) <= 1
    save(page, f"{name}-{device}")
