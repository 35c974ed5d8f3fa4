"""The operational gauges as Prometheus families: each figure under its name, the checkpoint's
age counted from the scrape's moment and left out before the first checkpoint."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from hub.api.role_metrics import OperationalCollector
from hub.services.operations import OperationalGauges

NOW = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)


def scraped(gauges: OperationalGauges) -> dict[str, float]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(OperationalCollector(gauges, NOW))
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for sample in family.samples
    }


def test_each_figure_is_exported_under_its_name() -> None:
    signed = NOW - timedelta(seconds=42.5)
    assert scraped(OperationalGauges(7, 3, 2, 11, signed)) == {
        "pph_delivery_queue_depth": 7,
        "pph_webhook_deliveries_failing": 3,
        "pph_webhook_dead_letters": 2,
        "pph_audit_sequencer_lag": 11,
        "pph_audit_checkpoint_age_seconds": 42.5,
    }


def test_no_checkpoint_yet_leaves_its_age_out() -> None:
    assert "pph_audit_checkpoint_age_seconds" not in scraped(OperationalGauges(0, 0, 0, 0, None))


def test_a_checkpoint_from_a_clock_ahead_is_not_negative() -> None:
    ahead = NOW + timedelta(seconds=3)
    assert scraped(OperationalGauges(0, 0, 0, 0, ahead))["pph_audit_checkpoint_age_seconds"] == 0
