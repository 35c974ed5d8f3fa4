"""deploy/monitoring/: the Prometheus alert rules and the Grafana dashboard parse, are complete,
and every expression in them names only metrics (and labels) the hub really exports, as read
from a registry of the hub's own collectors fed with one figure each (not a hand-kept list).

`promtool check rules` is not run: it is not obtainable here without building Prometheus."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from hub.api.delivery_metrics import DeliveryMetricsText
from hub.api.http_metrics import HttpMetrics
from hub.api.role_metrics import OperationalCollector, WorkerCollector, process_registry
from hub.api.router_lag import RouterLagCollector
from hub.services.latency import DeliveryMetrics, Histogram, HistogramSeries
from hub.services.operations import OperationalGauges
from hub.services.routing_lag import RouterLag
from hub.services.worker import WorkerStatus

ROOT = Path(__file__).resolve().parents[3]
ALERTS = ROOT / "deploy" / "monitoring" / "alerts.yaml"
DASHBOARD = ROOT / "deploy" / "monitoring" / "dashboard.json"

#: PromQL's functions and aggregations these files may use (a typo in one is caught too).
FUNCTIONS = {
    "sum",
    "max",
    "min",
    "avg",
    "count",
    "rate",
    "increase",
    "deriv",
    "clamp_min",
    "histogram_quantile",
}
KEYWORDS = {"and", "or", "unless", "bool"}
#: Series Prometheus makes itself, and the labels it adds to every scraped series.
PROMETHEUS_SERIES = {"up": {"job", "instance"}}
TARGET_LABELS = {"job", "instance"}

_TOKENS = re.compile(
    r'"(?:[^"\\]|\\.)*"'  # a string
    r"|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"  # a number
    r"|\[[^\]]*\]"  # a range or subquery
    r"|(?P<name>[A-Za-z_:][A-Za-z0-9_:]*)\s*(?P<matchers>\{[^}]*\})?\s*(?P<call>\()?"
)
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_MATCHER = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)\s*"')


def exported_series() -> dict[str, set[str]]:
    """Every series name the hub's collectors write, with its label names."""
    now = datetime.now(UTC)
    key = ("social-work", "custody.release")
    histogram = Histogram(buckets=(1.0, 60.0), series={key: HistogramSeries((0, 1), 2.0, 1)})
    http = HttpMetrics()
    http.observe("GET", "/v1/events/{event_id}", 200, 0.01)
    collectors = [
        http,
        WorkerCollector([WorkerStatus("relay", "running", now, 0, 0, None, 3)], database_up=True),
        OperationalCollector(OperationalGauges(1, 1, 1, 1, now - timedelta(seconds=5)), now),
        RouterLagCollector(RouterLag(checkpoint=1, head=2, oldest_waiting_since=now), now),
    ]
    business = DeliveryMetrics(
        disclosures={key: 1},
        delivered={(*key, "webhook"): 1},
        acknowledged={key: 1},
        escalated={key: 1},
        overdue_unacknowledged={key: 1},
        event_to_decision=histogram,
        intake_to_decision=histogram,
        decision_to_delivery=histogram,
        decision_to_acknowledgement=histogram,
        now=now,
    )
    registry = process_registry()
    for collector in collectors:
        registry.register(collector)
    # As `/metrics` writes it: the registry's text, then the business families'.
    page = generate_latest(registry).decode() + DeliveryMetricsText().render(business)
    series: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(page):
        for sample in family.samples:
            series.setdefault(sample.name, set()).update(sample.labels)
    return series


def references(expression: str) -> list[tuple[str, set[str], bool]]:
    """(name, label names matched, is a call) for each name in a PromQL expression."""
    assert expression.count("(") == expression.count(")"), expression
    found = []
    for token in _TOKENS.finditer(_GROUPING.sub(" ", expression)):
        name = token.group("name")
        if name is None or name in KEYWORDS:
            continue
        labels = set(_MATCHER.findall(token.group("matchers") or ""))
        found.append((name, labels, token.group("call") is not None))
    return found


def problems(expression: str, series: dict[str, set[str]]) -> list[str]:
    """What in `expression` the hub does not export (empty: all of it is real)."""
    known = {**series, **PROMETHEUS_SERIES}
    wrong = []
    metrics = 0
    for name, labels, call in references(expression):
        if call:
            if name not in FUNCTIONS:
                wrong.append(f"unknown function {name}")
            continue
        metrics += 1
        if name not in known:
            wrong.append(f"no such metric {name}")
        elif unknown := labels - known[name] - TARGET_LABELS:
            wrong.append(f"{name} has no label {sorted(unknown)}")
    if metrics == 0:
        wrong.append("names no metric")
    return wrong


def alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(ALERTS.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def dashboard_targets() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [
        (panel["title"], target["expr"])
        for panel in dashboard["panels"]
        for target in panel["targets"]
    ]


def test_the_checker_finds_a_misspelt_metric_an_unknown_label_and_function() -> None:
    series = exported_series()
    assert problems('max(pph_worker_lag{worker="relay"})', series) == []
    assert problems("max(pph_router_lag_event)", series) == ["no such metric pph_router_lag_event"]
    assert problems('max(pph_worker_lag{person="x"})', series) == [
        "pph_worker_lag has no label ['person']"
    ]
    assert problems("maxx(pph_router_lag_events)", series) == ["unknown function maxx"]
    assert problems("sum by (recipient) (1)", series) == ["names no metric"]


def test_every_alert_names_only_what_the_hub_exports() -> None:
    series = exported_series()
    for rule in alert_rules():
        assert problems(rule["expr"], series) == [], rule["alert"]


def test_every_alert_is_complete_and_named_once() -> None:
    rules = alert_rules()
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names))
    for rule in rules:
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert set(rule["annotations"]) == {"summary", "description"}, rule["alert"]


@pytest.mark.parametrize(
    "metric",
    [
        "pph_router_lag_events",  # router lag growing
        "pph_worker_lag",  # relay lag growing
        "pph_webhook_dead_letters",
        "pph_webhook_deliveries_failing",  # webhook failure rate
        "pph_audit_checkpoint_age_seconds",  # checkpoint too old
        "pph_database_up",  # readiness down
        "pph_disclosures_overdue_unacknowledged",  # overdue acknowledgements
    ],
)
def test_an_alert_watches(metric: str) -> None:
    assert any(
        metric in {name for name, _, _ in references(rule["expr"])} for rule in alert_rules()
    )


def test_every_dashboard_panel_plots_what_the_hub_exports() -> None:
    series = exported_series()
    targets = dashboard_targets()
    assert targets
    for title, expression in targets:
        assert problems(expression, series) == [], title


def test_the_dashboard_panels_are_distinct_and_laid_out_on_the_grid() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] == "pph-hub"
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    cells: set[tuple[int, int]] = set()
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"].strip("${}") in variables, panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] >= 0, panel["title"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        covered = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not covered & cells, f"{panel['title']} overlaps another panel"
        cells |= covered
        refs = [target["refId"] for target in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]
