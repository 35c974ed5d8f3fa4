"""The business families of `/metrics` (disclosures, deliveries, acknowledgements, escalations,
the overdue gauge and the four latency histograms, per recipient and event type) as Prometheus
text.

`DeliveryMetricsText` is what a scrape uses: it keeps each series' lines between scrapes and
writes a series again only when its figures changed, so a scrape re-renders what the hub did
since the last one, not every recipient, event type and bucket (at 10^5 stored events some
24,000 lines, which `prometheus_client` took 180 to 290 ms of CPU to build and write at every
scrape).
Its text is byte for byte what `prometheus_client.generate_latest` writes for
`DeliveryCollector`, the collector of the same families (`tests/unit/api/test_delivery_metrics.py`
compares them), which stays for registries built in tests and tools.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Final

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from hub.services.latency import DeliveryMetrics, Histogram, HistogramSeries

__all__ = ["LABELS", "DeliveryCollector", "DeliveryMetricsText"]

LABELS: Final = ("recipient", "event_type")
CHANNEL_LABELS: Final = ("recipient", "event_type", "channel")


@dataclass(frozen=True, slots=True)
class _Family:
    """One business family: its name as a collector names it, help text, type and labels."""

    name: str
    documentation: str
    kind: str  # counter, gauge or histogram
    labels: tuple[str, ...] = LABELS


DISCLOSURES: Final = _Family("pph_disclosures", "Disclosures decided", "counter")
DELIVERIES: Final = _Family(
    "pph_disclosure_deliveries",
    "Disclosures that reached their recipient, by the channel that got there first",
    "counter",
    CHANNEL_LABELS,
)
ACKNOWLEDGEMENTS: Final = _Family(
    "pph_disclosure_acknowledgements", "Disclosures acknowledged", "counter"
)
ESCALATIONS: Final = _Family(
    "pph_overdue_escalations",
    "Disclosures escalated as not acknowledged in time (disclosure.overdue)",
    "counter",
)
OVERDUE: Final = _Family(
    "pph_disclosures_overdue_unacknowledged",
    "Disclosures past their acknowledgement time and not acknowledged",
    "gauge",
)
EVENT_TO_DECISION: Final = _Family(
    "pph_disclosure_event_to_decision_seconds",
    "From the occurrence (the notification's time) to the disclosure decision",
    "histogram",
)
INTAKE_TO_DECISION: Final = _Family(
    "pph_disclosure_intake_to_decision_seconds",
    "From the hub storing the notification to the disclosure decision",
    "histogram",
)
DECISION_TO_DELIVERY: Final = _Family(
    "pph_disclosure_decision_to_delivery_seconds",
    "From the disclosure decision to its first delivery to the recipient",
    "histogram",
)
DECISION_TO_ACKNOWLEDGEMENT: Final = _Family(
    "pph_disclosure_decision_to_acknowledgement_seconds",
    "From the disclosure decision to the recipient's acknowledgement",
    "histogram",
)


def _counts(s: DeliveryMetrics) -> list[tuple[_Family, Mapping[Any, int]]]:
    return [
        (DISCLOSURES, s.disclosures),
        (DELIVERIES, s.delivered),
        (ACKNOWLEDGEMENTS, s.acknowledged),
        (ESCALATIONS, s.escalated),
        (OVERDUE, s.overdue_unacknowledged),
    ]


def _histograms(s: DeliveryMetrics) -> list[tuple[_Family, Histogram]]:
    return [
        (EVENT_TO_DECISION, s.event_to_decision),
        (INTAKE_TO_DECISION, s.intake_to_decision),
        (DECISION_TO_DELIVERY, s.decision_to_delivery),
        (DECISION_TO_ACKNOWLEDGEMENT, s.decision_to_acknowledgement),
    ]


class DeliveryCollector(Collector):
    """The metric families of one `DeliveryMetrics` snapshot (for a `prometheus_client`
    registry; `/metrics` writes the same text with `DeliveryMetricsText`)."""

    def __init__(self, snapshot: DeliveryMetrics) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        for family, values in _counts(self._snapshot):
            metric: CounterMetricFamily | GaugeMetricFamily
            if family.kind == "counter":
                metric = CounterMetricFamily(
                    family.name, family.documentation, labels=family.labels
                )
            else:
                metric = GaugeMetricFamily(family.name, family.documentation, labels=family.labels)
            for key, value in sorted(values.items()):
                metric.add_metric(list(key), value)
            yield metric
        for family, histogram in _histograms(self._snapshot):
            yield _histogram(family, histogram)


def _histogram(family: _Family, histogram: Histogram) -> HistogramMetricFamily:
    metric = HistogramMetricFamily(family.name, family.documentation, labels=family.labels)
    for key, series in sorted(histogram.series.items()):
        buckets = [
            (_bound(bound), float(count))
            for bound, count in zip(histogram.buckets, series.cumulative, strict=True)
        ]
        buckets.append(("+Inf", float(series.count)))
        metric.add_metric(list(key), buckets, series.total)
    return metric


#: An `le` label as Prometheus writes it (`60.0`, `3.1536e+07`): the client's own formatting.
_bound: Callable[[float], str] = floatToGoString
_value: Callable[[float], str] = floatToGoString


class DeliveryMetricsText:
    """The business families of successive snapshots as Prometheus text (one per process).

    Each series' lines are kept with the figures they were written from, and written again
    only when those changed; a series gone from the snapshot is dropped. `render` does not
    await, so two scrapes of one event loop never interleave in it."""

    def __init__(self) -> None:
        #: family name -> label values -> (figures, lines)
        self._series: dict[str, dict[tuple[str, ...], tuple[object, str]]] = {}
        #: family name -> the bucket bounds its cached lines were written with
        self._bounds: dict[str, tuple[float, ...]] = {}
        #: How many series the last `render` wrote (the others were kept).
        self.written = 0

    def render(self, snapshot: DeliveryMetrics) -> str:
        self.written = 0
        parts: list[str] = []
        for family, values in _counts(snapshot):
            parts.append(_header(family))
            parts.extend(self._lines(family, values, partial(_count_lines, family)))
        for family, histogram in _histograms(snapshot):
            bounds = tuple(histogram.buckets)
            if self._bounds.get(family.name) != bounds:
                self._series.pop(family.name, None)
                self._bounds[family.name] = bounds
            parts.append(_header(family))
            write = partial(_histogram_lines, family, bounds)
            parts.extend(self._lines(family, histogram.series, write))
        return "".join(parts)

    def _lines(
        self,
        family: _Family,
        values: Mapping[Any, Any],
        write: Callable[[tuple[str, ...], Any], str],
    ) -> list[str]:
        cached = self._series.get(family.name, {})
        kept: dict[tuple[str, ...], tuple[object, str]] = {}
        lines = []
        for key, value in sorted(values.items()):
            hit = cached.get(key)
            if hit is None or hit[0] != value:
                hit = (value, write(key, value))
                self.written += 1
            kept[key] = hit
            lines.append(hit[1])
        self._series[family.name] = kept
        return lines


def _header(family: _Family) -> str:
    name = family.name + "_total" if family.kind == "counter" else family.name
    documentation = family.documentation.replace("\\", r"\\").replace("\n", r"\n")
    return f"# HELP {name} {documentation}\n# TYPE {name} {family.kind}\n"


def _labels(pairs: list[tuple[str, str]]) -> str:
    """Label pairs as `generate_latest` writes them: sorted by name, values escaped."""
    return ",".join(
        '{}="{}"'.format(name, value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\""))
        for name, value in sorted(pairs)
    )


def _count_lines(family: _Family, key: tuple[str, ...], value: float) -> str:
    suffix = "_total" if family.kind == "counter" else ""
    labels = _labels(list(zip(family.labels, key, strict=True)))
    return f"{family.name}{suffix}{{{labels}}} {_value(value)}\n"


def _histogram_lines(
    family: _Family, bounds: tuple[float, ...], key: tuple[str, ...], series: HistogramSeries
) -> str:
    pairs = list(zip(family.labels, key, strict=True))
    buckets = [
        *((_bound(bound), count) for bound, count in zip(bounds, series.cumulative, strict=True)),
        ("+Inf", series.count),
    ]
    lines = [
        f"{family.name}_bucket{{{_labels([*pairs, ('le', le)])}}} {_value(count)}\n"
        for le, count in buckets
    ]
    labels = _labels(pairs)
    lines.append(f"{family.name}_count{{{labels}}} {_value(series.count)}\n")
    lines.append(f"{family.name}_sum{{{labels}}} {_value(series.total)}\n")
    return "".join(lines)
