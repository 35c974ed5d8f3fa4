"""The technical metrics every role of the hub exports on its `/metrics` (the API's, and a
worker role's listener): the process (CPU, memory, descriptors, garbage collection), the
workers of this process (state, retries, lag: the relay's and the embedded router's are
positions behind the store's head), the embedded router's lag, the webhook outbox (queue
depth, jobs failing, dead letters), the audit sequencer's lag and the latest checkpoint's age.

Built into a fresh registry at every scrape. What a scrape costs: reading `/proc/self` (the
process collector), one indexed statement for the router's lag (embedded only: the router
that follows the store), one for the operational gauges (`hub.infra.operational_gauges` says
what each part reads), and one lag query per worker that can tell its lag (the relay and the
embedded router: index end-points). None grows with the number of disclosures. Labels name
workers and states, never a person or an identifier.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from hub.api.router_lag import RouterLagCollector
from hub.errors import StoreUnavailable
from hub.services.operations import OperationalGauges
from hub.services.worker import WorkerLoop, WorkerState, WorkerStatus

if TYPE_CHECKING:
    from hub.bootstrap import Container

__all__ = [
    "WORKER_STATES",
    "OperationalCollector",
    "WorkerCollector",
    "process_registry",
    "technical_registry",
]

#: Every state a worker can be in, each a series of `pph_worker_state` (the enum pattern).
WORKER_STATES: tuple[WorkerState, ...] = ("starting", "running", "retrying", "stopped", "failed")


async def technical_registry(
    container: Container, loops: Mapping[str, WorkerLoop], now: datetime | None = None
) -> tuple[CollectorRegistry, bool]:
    """A registry of this process's technical metrics, and whether the database answered.

    While the database is unavailable the process's and the workers' figures are still given
    (they matter most then), the database's are left out, and `pph_database_up` is 0."""
    registry = process_registry()
    try:
        if not container.scaled_out:
            # Scaled out, the routers consume Kafka and record the positions they routed,
            # not this checkpoint: their lag is the consumer group's (the brokers' figure),
            # and the relay's (`pph_worker_lag{worker="relay"}`) is how far Kafka is behind.
            registry.register(RouterLagCollector(await container.router_lag(), now))
        registry.register(OperationalCollector(await container.operational_gauges(), now))
        database_up = True
    except StoreUnavailable:
        database_up = False
    statuses = []
    for loop in loops.values():
        if database_up:
            await loop.measure_lag()
        statuses.append(loop.status())
    registry.register(WorkerCollector(statuses, database_up))
    return registry, database_up


def process_registry() -> CollectorRegistry:
    """A fresh registry with this process's collectors: CPU, memory, descriptors and start
    time (from `/proc/self`), the Python version, garbage collection."""
    registry = CollectorRegistry(auto_describe=False)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


class WorkerCollector(Collector):
    """The background workers of this process, and whether the database answered."""

    def __init__(self, statuses: list[WorkerStatus], database_up: bool) -> None:
        self._statuses = sorted(statuses, key=lambda s: s.name)
        self._database_up = database_up

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("pph_database_up", "Whether the database answered this scrape")
        up.add_metric([], 1.0 if self._database_up else 0.0)
        yield up
        state = GaugeMetricFamily(
            "pph_worker_state", "1 for the state each worker is in", labels=["worker", "state"]
        )
        since = GaugeMetricFamily(
            "pph_worker_state_since_seconds",
            "When each worker entered its state (Unix time)",
            labels=["worker"],
        )
        retries = CounterMetricFamily(
            "pph_worker_retries", "Transient failures retried since start", labels=["worker"]
        )
        failures = GaugeMetricFamily(
            "pph_worker_consecutive_failures",
            "Failures in a row of the current retry spell (0 unless retrying)",
            labels=["worker"],
        )
        lag = GaugeMetricFamily(
            "pph_worker_lag",
            "Work the worker has still to do (the relay and the router: positions behind the "
            "store's head), where it can tell",
            labels=["worker"],
        )
        for status in self._statuses:
            for name in WORKER_STATES:
                state.add_metric([status.name, name], 1.0 if status.state == name else 0.0)
            since.add_metric([status.name], status.since.timestamp())
            retries.add_metric([status.name], status.retries)
            failures.add_metric([status.name], status.failures)
            if status.lag is not None:
                lag.add_metric([status.name], status.lag)
        yield from (state, since, retries, failures, lag)


class OperationalCollector(Collector):
    """The webhook outbox, the audit sequencer's lag and the latest checkpoint's age."""

    def __init__(self, gauges: OperationalGauges, now: datetime | None = None) -> None:
        self._gauges = gauges
        self._now = now or datetime.now(UTC)

    def collect(self) -> Iterator[Metric]:
        g = self._gauges
        yield _gauge(
            "pph_delivery_queue_depth",
            "Webhook jobs waiting to be delivered, retries included",
            g.delivery_queue,
        )
        yield _gauge(
            "pph_webhook_deliveries_failing",
            "Webhook jobs waiting whose last attempt failed (to be retried)",
            g.deliveries_failing,
        )
        yield _gauge(
            "pph_webhook_dead_letters",
            "Webhook jobs given up on after the retry schedule (the dead-letter queue)",
            g.dead_letters,
        )
        yield _gauge(
            "pph_audit_sequencer_lag",
            "Audit entries written but not yet in the Merkle tree (positions behind the head)",
            g.audit_sequencer_lag,
        )
        age = GaugeMetricFamily(
            "pph_audit_checkpoint_age_seconds",
            "Since the latest audit checkpoint was signed (absent before the first)",
        )
        if g.checkpoint_signed_at is not None:
            age.add_metric([], max((self._now - g.checkpoint_signed_at).total_seconds(), 0.0))
        yield age


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation)
    family.add_metric([], value)
    return family
