"""The Grafana dashboard (deploy/grafana/msgtrace.json) charts metrics a real scrape exposes, and the compose
profile "monitoring" wires Prometheus to msgtrace and Grafana to Prometheus and the dashboard (read as
files: no Docker needed)."""

import json
import re

import pytest
import yaml

from tests import servers
from tests.helpers import post, request, span
from tests.monitoring.support import Scrape

ROOT = servers.ROOT
DASHBOARD = json.loads((ROOT / "deploy" / "grafana" / "msgtrace.json").read_text())
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
PROMETHEUS = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
DATASOURCES = yaml.safe_load((ROOT / "deploy" / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text())
PROVIDERS = yaml.safe_load((ROOT / "deploy" / "grafana" / "provisioning" / "dashboards" / "msgtrace.yml").read_text())
METRIC = re.compile(r"\bmsgtrace_[a-z_]+\b")


def charts():
    return [panel for panel in DASHBOARD["panels"] if panel["type"] != "row"]


def expressions():
    return [target["expr"] for panel in charts() for target in panel["targets"]]


@pytest.mark.django_db
def test_every_metric_the_dashboard_charts_is_in_a_real_scrape(client, settings):
    """After one export, with one alert rule (a rule's own series exist once there is a rule)."""
    from alerts.models import Rule

    settings.MSGTRACE_METRICS_PUBLIC = True
    Rule.objects.create(name="errors")
    post(client, request(span(trace=1, span=1), span(trace=1, span=2, parent=1, model="gpt-4o", tokens=(10, 2),
                                                          cost=(0.01, 0.02))))
    scraped = Scrape(client.get("/metrics").content.decode())
    used = {name for expr in expressions() for name in METRIC.findall(expr)}
    assert len(used) >= 15
    assert sorted(used - scraped.names()) == []


def test_the_dashboard_is_a_grafana_dashboard_over_the_provisioned_data_source():
    assert DASHBOARD["uid"] == "msgtrace" and DASHBOARD["schemaVersion"] >= 36
    source = DATASOURCES["datasources"][0]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"
    ids = [panel["id"] for panel in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids))
    for panel in charts():
        assert panel["title"] and panel["targets"], panel
        assert panel["datasource"] == {"type": "prometheus", "uid": source["uid"]}
        assert {"h", "w", "x", "y"} <= panel["gridPos"].keys() and panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        assert [target["refId"] for target in panel["targets"]] == [chr(65 + i) for i in range(len(panel["targets"]))]
    titles = {panel["title"] for panel in charts()}
    assert {"Export requests by status", "Spans stored, duplicated and rejected", "Ingest latency",
            "Tokens by model", "Cost per hour by model", "Alert rules by state", "Database size"} <= titles


def test_the_monitoring_profile_scrapes_msgtrace_with_its_token_and_provisions_grafana():
    services = COMPOSE["services"]
    assert services["prometheus"]["profiles"] == ["monitoring"] == services["grafana"]["profiles"]
    # msgtrace expects the token that Prometheus reads from its secret file.
    assert "${MSGTRACE_METRICS_TOKEN" in services["msgtrace"]["environment"]["MSGTRACE_METRICS_TOKEN"]
    assert COMPOSE["secrets"]["msgtrace_metrics_token"] == {"environment": "MSGTRACE_METRICS_TOKEN"}
    assert services["prometheus"]["secrets"] == ["msgtrace_metrics_token"]
    (job,) = PROMETHEUS["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["authorization"] == {"type": "Bearer", "credentials_file": "/run/secrets/msgtrace_metrics_token"}
    assert job["static_configs"] == [{"targets": ["msgtrace:4321"]}]

    def mounts(service):
        return {target: ROOT / source.removeprefix("./")
                for source, target, *_ in (volume.split(":") for volume in services[service]["volumes"])
                if source.startswith("./")}

    assert mounts("prometheus") == {"/etc/prometheus/prometheus.yml": ROOT / "deploy" / "prometheus" / "prometheus.yml"}
    grafana = mounts("grafana")
    assert grafana["/etc/grafana/provisioning"] == ROOT / "deploy" / "grafana" / "provisioning"
    dashboards = PROVIDERS["providers"][0]["options"]["path"]
    assert grafana[f"{dashboards}/msgtrace.json"] == ROOT / "deploy" / "grafana" / "msgtrace.json"
    assert all(path.exists() for path in [*mounts("prometheus").values(), *grafana.values()])
