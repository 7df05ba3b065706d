"""Runs in a browser: an admin creates a webhook target and sends it a test, then a rule on the error rate of
a service; failing traces come in, one evaluation (`manage.py alerts --once`) fires it into a local receiver,
and the rule's page shows it firing with its history and deliveries and leads to the matching traces.
Screenshots of that page at desktop and phone width for the docs."""

import json
import subprocess
import sys

import pytest
from playwright.sync_api import expect

from tests.alerts.conftest import Receiver, verify
from tests.servers import ROOT
from tests.ui.browser.support import fresh_trace, overflow, post_otlp
from tests.ui.browser.test_screenshots import save

SERVICE = "checkout-alerts"


@pytest.fixture
def receiver():
    running = Receiver()
    yield running
    running.close()


def evaluate_once(site):
    done = subprocess.run([sys.executable, "manage.py", "alerts", "--once"], cwd=ROOT, env=site.env,
                          capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


def test_a_rule_fires_into_a_webhook_and_leads_to_its_traces(open_page, site, receiver):
    page = open_page(site)
    page.goto("/alerts/targets")
    page.get_by_label("Name").fill("Team <b>hook</b>")
    page.get_by_label("URL").fill(receiver.url)
    page.get_by_role("button", name="Create target").click()
    secret = page.locator("[data-secret]").inner_text().strip()
    assert secret.startswith("whsec_")
    row = page.locator("tr[data-target]", has_text="Team <b>hook</b>")
    row.get_by_role("button", name="Send a test").click()
    expect(page.locator("table.alert-deliveries tr[data-delivered='yes']").first).to_contain_text("(test)")
    assert verify(receiver.requests[0], secret)

    page.goto("/alerts")
    page.get_by_role("link", name="New rule").click()
    page.get_by_label("Name").fill("Checkout failing")
    page.get_by_label("Query").fill(f"service:{SERVICE}")
    page.get_by_label("Measure").select_option("error_rate")
    page.get_by_label("Threshold").fill("20")
    page.get_by_label("Window minutes").fill("10")
    page.get_by_label("Team <b>hook</b>").check()
    page.get_by_role("button", name="Create rule").click()
    expect(page.locator(".page-head .alert-state")).to_have_text("OK")

    for n in range(4):
        post_otlp(site, fresh_trace(service=SERVICE, error="card declined" if n < 3 else None)[0])
    assert "1 changes of state" in evaluate_once(site)

    page.reload()
    expect(page.locator(".page-head .alert-state")).to_have_text("Firing")
    expect(page.locator("table.alert-history tr[data-state='firing']")).to_contain_text("Error rate (%) 75")
    expect(page.locator("table.alert-deliveries tr[data-delivered='yes']")).to_have_count(1)
    fired = json.loads(receiver.requests[-1]["body"])
    assert fired["state"] == "firing" and fired["rule"]["name"] == "Checkout failing"
    assert verify(receiver.requests[-1], secret)

    page.get_by_role("link", name="Matching traces").click()
    expect(page).to_have_url(f"{site.url}/traces?q=service%3A{SERVICE}&start=10m")
    expect(page.locator("#global-search, input[name='q']").first).to_be_visible()
    assert page.locator(f"text={SERVICE}").count() >= 4

    for device in ("desktop", "phone"):
        shot = open_page(site, phone=device == "phone")
        shot.goto("/alerts")
        shot.get_by_role("link", name="Checkout failing").click()
        expect(shot.locator(".page-head .alert-state")).to_have_text("Firing")
        assert overflow(shot) <= 1
        save(shot, f"alerts-{device}")
