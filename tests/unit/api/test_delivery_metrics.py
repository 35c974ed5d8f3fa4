"""`DeliveryMetricsText`: the business families of `/metrics` written byte for byte as
`prometheus_client` writes `DeliveryCollector`'s, scrape after scrape, with only the series
whose figures changed written again."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from hub.api.delivery_metrics import DeliveryCollector, DeliveryMetricsText
from hub.services.latency import (
    LATENCY_BUCKETS,
    DeliveryMetrics,
    Histogram,
    HistogramSeries,
    Key,
)

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
#: Label values a directory could hold, the awkward ones included (escaped in the text).
RECIPIENTS = ["social-work", "police-scotland", 'odd "quoted"', "back\\slash", "new\nline"]
EVENT_TYPES = ["custody.release", "mappa.referral", "health.admission"]


def series(rng: random.Random, bounds: tuple[float, ...]) -> HistogramSeries:
    counts = [rng.randrange(0, 4) for _ in range(len(bounds) + 1)]
    cumulative = tuple(sum(counts[: i + 1]) for i in range(len(bounds)))
    return HistogramSeries(cumulative, rng.uniform(0, 1e7), sum(counts))


def histogram(rng: random.Random, keys: list[Key], bounds: tuple[float, ...]) -> Histogram:
    return Histogram(bounds, {key: series(rng, bounds) for key in keys if rng.random() < 0.8})


def snapshot(seed: int, bounds: tuple[float, ...] = LATENCY_BUCKETS) -> DeliveryMetrics:
    rng = random.Random(seed)
    keys = [(r, e) for r in RECIPIENTS for e in EVENT_TYPES if rng.random() < 0.7]

    def counts() -> dict[Key, int]:
        return {key: rng.randrange(1, 10**6) for key in keys if rng.random() < 0.8}

    return DeliveryMetrics(
        disclosures=counts(),
        delivered={
            (*key, channel): 1 + rng.randrange(500)
            for key in keys
            for channel in ("feed", "webhook")
        },
        acknowledged=counts(),
        escalated=counts(),
        overdue_unacknowledged=counts(),
        event_to_decision=histogram(rng, keys, bounds),
        intake_to_decision=histogram(rng, keys, bounds),
        decision_to_delivery=histogram(rng, keys, bounds),
        decision_to_acknowledgement=histogram(rng, keys, bounds),
        now=NOW,
    )


def collected(metrics: DeliveryMetrics) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DeliveryCollector(metrics))
    return generate_latest(registry).decode()


def test_the_text_is_what_prometheus_client_writes_for_the_collector() -> None:
    for seed in range(20):
        metrics = snapshot(seed)
        assert DeliveryMetricsText().render(metrics) == collected(metrics)


def test_empty_families_keep_their_help_and_type() -> None:
    empty = Histogram(LATENCY_BUCKETS)
    metrics = DeliveryMetrics({}, {}, {}, {}, {}, empty, empty, empty, empty, NOW)
    text = DeliveryMetricsText().render(metrics)
    assert text == collected(metrics)
    assert [f.name for f in text_string_to_metric_families(text)] == [
        "pph_disclosures",
        "pph_disclosure_deliveries",
        "pph_disclosure_acknowledgements",
        "pph_overdue_escalations",
        "pph_disclosures_overdue_unacknowledged",
        "pph_disclosure_event_to_decision_seconds",
        "pph_disclosure_intake_to_decision_seconds",
        "pph_disclosure_decision_to_delivery_seconds",
        "pph_disclosure_decision_to_acknowledgement_seconds",
    ]


def test_scrape_after_scrape_the_text_follows_the_figures() -> None:
    text = DeliveryMetricsText()
    for seed in [1, 2, 2, 3, 1, 4, 4]:  # new series, gone series, changed and unchanged ones
        metrics = snapshot(seed)
        assert text.render(metrics) == collected(metrics)
    coarse = snapshot(5, bounds=(1.0, 60.0, 3600.0))  # other bounds: every series written anew
    assert text.render(coarse) == collected(coarse)


def test_only_the_series_whose_figures_changed_are_written_again() -> None:
    text = DeliveryMetricsText()
    metrics = snapshot(7)
    text.render(metrics)
    everything = text.written
    assert everything > 50

    assert text.render(metrics) == collected(metrics)
    assert text.written == 0

    key, old = sorted(metrics.decision_to_delivery.series.items())[0]
    grown = HistogramSeries(tuple(c + 1 for c in old.cumulative), old.total + 0.5, old.count + 1)
    counted = dict(metrics.disclosures)
    counted[key] = counted.get(key, 0) + 1
    changed = replace(
        metrics,
        disclosures=counted,
        decision_to_delivery=Histogram(
            metrics.decision_to_delivery.buckets,
            {**metrics.decision_to_delivery.series, key: grown},
        ),
    )
    assert text.render(changed) == collected(changed)
    assert text.written == 2
