"""The composition root: the one place that builds engines, stores and services.

Nothing connects at import time. `running(settings)` builds a `Container` inside the app's
lifespan (or a CLI command) and disposes of it afterwards; tests call it with their own settings.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncEngine

from hub.auth.tokens import TokenService
from hub.auth.webhook_keys import load_webhook_signer
from hub.bootstrap_admin import client_administration
from hub.bootstrap_audit import recorded_audit_verification
from hub.domain.loaded_contract import load_contract
from hub.domain.policy import PolicyBundle
from hub.domain.schema_revisions import SchemaVerdict
from hub.domain.schemas import SchemaRegistry
from hub.errors import BusError, InvalidInput, StoreUnavailable
from hub.infra import db
from hub.infra.audit import SqlAuditLog, load_audit_signer
from hub.infra.audit_evidence import SqlEvidence
from hub.infra.audit_queries import SqlAuditIndex, SqlRestrictions
from hub.infra.audit_verification_runs import SqlVerificationRuns
from hub.infra.bulk_import import create_history_writer
from hub.infra.checkpoint_dir import CheckpointDirectory
from hub.infra.clients import SqlClientRepository
from hub.infra.conflicts import SqlConflictReviewList
from hub.infra.deliveries import SqlDeliveryQueue
from hub.infra.delivery_wakeup import DeliveryListener, SignallingRoutingStore
from hub.infra.erasure_reapply import SqlKeyShredder
from hub.infra.feed import SqlFeedStore
from hub.infra.kafka_bus import KafkaEventConsumer, KafkaEventPublisher
from hub.infra.kafka_delivery import KafkaDisclosureProducer
from hub.infra.kafka_intake import KafkaIntakeConsumer, KafkaRejects
from hub.infra.kafka_security import client_options
from hub.infra.latency import SqlLatencyStore
from hub.infra.latency_periods import SqlLatencyPeriodStore
from hub.infra.operational_gauges import SqlOperationalGauges
from hub.infra.overdue import SqlOverdueStore
from hub.infra.protection import (
    FieldProtection,
    SqlPersonKeys,
    load_field_protection,
    load_kek_ring,
)
from hub.infra.relay_store import SqlRelayCheckpoints
from hub.infra.retention import SqlRetentionStore
from hub.infra.reviews import SqlReviewStore
from hub.infra.routing import SqlRoutingStore
from hub.infra.routing_lag import SqlRouterLag
from hub.infra.schema_compatibility import schema_verdict
from hub.infra.store import SqlEventStore, create_event_store
from hub.infra.subscriptions import (
    SecretOpeningDeliveryQueue,
    SqlSubscriptionRepository,
    SubscriptionSecrets,
)
from hub.infra.webhooks import DnsResolver, HttpWebhookSender
from hub.services.audit import (
    AuditCheckpointer,
    AuditSequencer,
    AuditSigner,
    AuditTrail,
    AuditVerifier,
)
from hub.services.audit_beacon import CheckpointHeaderSender, LatestCheckpoint
from hub.services.audit_evidence import EvidenceChecker
from hub.services.audit_queries import AuditQueryService, ConsultationLog
from hub.services.audit_verification_runs import RecordedVerification, VerificationRuns
from hub.services.bulk_import import BulkImportService
from hub.services.bus import EventPublisher
from hub.services.client_admin import ClientAdministration
from hub.services.client_cache import CachedClientRepository
from hub.services.clients import ClientRepository
from hub.services.conflicts import ConflictReviewList
from hub.services.delivery import DeliveryQueue, DeliveryService, DeliveryWorker, WebhookSender
from hub.services.erasure_reapply import ErasureReapplier
from hub.services.explain import ExplainService
from hub.services.feed import FeedService
from hub.services.intake import IntakeService
from hub.services.kafka_delivery import KafkaDeliveryChannel
from hub.services.kafka_intake import KafkaIntake
from hub.services.kafka_router import RouterWorker
from hub.services.latency import LatencyService
from hub.services.latency_periods import LatencyPeriodService
from hub.services.operations import OperationalGauges
from hub.services.overdue import OverdueMonitor, OverdueStore
from hub.services.ports import EventStore, RoutingStore
from hub.services.relay import Relay
from hub.services.rereads import RereadWindow
from hub.services.retention import RetentionService
from hub.services.reviews import ReviewEscalator, ReviewService
from hub.services.routing import CONSUMER as ROUTER_CONSUMER
from hub.services.routing import Router
from hub.services.routing_lag import RouterLag
from hub.services.subscriptions import SubscriptionService, entitled_event_types
from hub.services.webhook_signing import WebhookSigner
from hub.services.worker import WorkerLoop
from hub.settings import Settings

logger = logging.getLogger("hub")

#: Large batches: on PostgreSQL each batch first waits for the appends in flight (the never-skip
#: horizon), so under load a 1,000-entry batch fell ever further behind while 10,000 kept the lag
#: at about one batch (bench/audit.py, bench/RESULTS.md).
AUDIT_SEQUENCER_BATCH = 10_000
#: How long the sequencer waits after a partial batch, so that a trickle is batched.
AUDIT_SEQUENCER_POLL = 0.2
#: Seconds between checks that a delivery worker's `LISTEN` connection still answers.
DELIVERY_LISTENER_CHECK = 5.0


@dataclass(frozen=True)
class DataKeys:
    """What `hub keys rotate` and `hub persons erase` work on: each person's data keys, the
    webhook signing secrets and the parked conflicts' keys, all under the one key-encryption
    key ring the stores were built with."""

    #: Destroys a person's data keys (crypto-shredding, logged) and rewraps them.
    people: SqlPersonKeys
    webhook_secrets: SqlSubscriptionRepository
    conflicts: SqlConflictReviewList


@dataclass(frozen=True)
class Container:
    settings: Settings
    engine: AsyncEngine
    store: EventStore
    clients: ClientRepository
    tokens: TokenService
    schemas: SchemaRegistry
    intake: IntakeService
    conflicts: ConflictReviewList
    policy: PolicyBundle
    routing: RoutingStore
    explain: ExplainService
    #: Each recipient's feed, its receipts and acknowledgements.
    feed: FeedService
    latency: LatencyService
    #: The same figures for periods of time (the MAPPA dashboard).
    latency_periods: LatencyPeriodService
    overdue: OverdueStore
    #: Webhook subscriptions; the delivery outbox, as workers and as the dead-letter API see it.
    subscriptions: SubscriptionService
    delivery_queue: DeliveryQueue
    deliveries: DeliveryService
    webhook_sender: WebhookSender
    #: The hub's Ed25519 keys (active, then retiring) that sign `v1a`, as GET /v1/webhook-keys
    #: publishes them, with the subscriptions' secrets for `v1`.
    webhook_signer: WebhookSigner
    #: The audit trail: entries (written by the stores above in their own transactions), the
    #: Merkle tree and its signed checkpoints, proofs, DPO queries and consultations.
    audit_log: SqlAuditLog
    audit_signer: AuditSigner
    audit_trail: AuditTrail
    #: Signed checkpoints published outside the database, and the latest one for the header
    #: of every feed response and webhook delivery.
    audit_checkpoints: CheckpointDirectory
    audit_beacon: LatestCheckpoint
    audit_queries: AuditQueryService
    consultations: ConsultationLog
    #: Erasure of personal data past the bundle's retention periods (`hub retention apply`).
    retention: RetentionService
    #: The keys that protect sensitive fields at rest (`hub keys`, `hub persons erase`).
    keys: DataKeys
    #: Case-by-case review of proposed disclosures (`/v1/reviews`, `hub reviews`).
    reviews: ReviewService
    review_store: SqlReviewStore
    #: Set whenever notifications are appended, so that the in-process router (or, scaled out,
    #: the outbox relay) wakes at once.
    appended: asyncio.Event = field(default_factory=asyncio.Event)
    #: Set when webhook jobs are queued (by the routing store here; on PostgreSQL, by any
    #: process through `LISTEN`), so that the delivery workers claim them at once.
    deliveries_due: asyncio.Event = field(default_factory=asyncio.Event)
    #: Scaled out (`kafka_bootstrap` set): publishes stored events to the events topic.
    publisher: EventPublisher | None = None
    #: Opens the sealed sensitive fields for readers built outside `running()` (none: plaintext).
    protection: FieldProtection | None = None

    def client_administration(self) -> ClientAdministration:
        """Registering and changing agency clients (API and CLI alike), each change audited."""
        return client_administration(self.clients, self.policy.directory)

    @property
    def scaled_out(self) -> bool:
        """Routing consumes the Kafka events topic instead of following the store."""
        return self.settings.kafka_bootstrap is not None

    def overdue_monitor(self) -> OverdueMonitor:
        """A monitor escalating disclosures not acknowledged in time; what it appends wakes
        the in-process router."""
        return OverdueMonitor(
            self.store,
            self.overdue,
            self.routing,
            self.schemas,
            self.policy.directory,
            interval=self.settings.overdue_check_interval,
            on_appended=self.appended.set,
        )

    def review_escalator(self) -> ReviewEscalator:
        """Escalates proposals undecided past their rule's `escalate_after`."""
        return ReviewEscalator(self.review_store, interval=self.settings.overdue_check_interval)

    def delivery_worker(self, *, worker_id: str | None = None) -> DeliveryWorker:
        """A webhook delivery worker on this container's outbox (each caller runs its own)."""
        settings = self.settings
        return DeliveryWorker(
            self.delivery_queue,
            self.store,
            self.webhook_sender,
            self.policy.redact,
            signer=self.webhook_signer,
            retry_schedule=settings.webhook_retry_schedule,
            concurrency=settings.delivery_concurrency,
            per_receiver=settings.delivery_concurrency_per_receiver,
            batch_size=settings.delivery_batch_size,
            poll_interval=settings.delivery_poll_interval,
            claim_seconds=settings.delivery_claim_seconds,
            send_timeout=settings.webhook_timeout_seconds,
            worker_id=worker_id,
            notifications=(
                DeliveryListener(
                    self.engine, self.deliveries_due, check_seconds=DELIVERY_LISTENER_CHECK
                )
                if self.engine.dialect.name == "postgresql"
                else None
            ),
        )

    def audit_sequencer(self) -> AuditSequencer:
        """Adds every new audit entry to the Merkle tree, in order (each caller runs its own)."""
        return AuditSequencer(
            self.audit_log, batch_size=AUDIT_SEQUENCER_BATCH, poll_interval=AUDIT_SEQUENCER_POLL
        )

    def audit_checkpointer(self) -> AuditCheckpointer:
        """Signs the tree's root every `audit_checkpoint_interval` seconds while it grows."""
        return AuditCheckpointer(
            self.audit_log,
            self.audit_signer,
            publisher=self.audit_checkpoints,
            interval=self.settings.audit_checkpoint_interval,
        )

    def audit_sequencer_loop(self) -> WorkerLoop:
        """The audit sequencer in the worker loop."""
        return self.audit_sequencer().loop()

    def audit_checkpointer_loop(self) -> WorkerLoop:
        """The audit checkpointer in the worker loop, every `audit_checkpoint_interval` s."""
        return self.audit_checkpointer().loop()

    def audit_verifier(self) -> AuditVerifier:
        return AuditVerifier(
            self.audit_log,
            self.audit_signer.trusted_keys,
            self.audit_signer.origin,
            held=self.audit_checkpoints,
        )

    def bulk_import(self) -> BulkImportService:
        """`hub import`: an agency's history into the store in chunks (`COPY` on PostgreSQL),
        checked as intake checks a push, audited as collection."""
        store = self.store
        if not isinstance(store, SqlEventStore):
            raise InvalidInput("hub import needs the SQL event store")
        return BulkImportService(
            self.schemas,
            create_history_writer(
                self.engine, store=store, audit=self.audit_log, protection=self.protection
            ),
            self.clients,
            self.policy.directory,
        )

    def erasure_reapplier(self) -> ErasureReapplier:
        """Re-destroys, after a restore, the keys an audit export says were erased
        (`hub db reapply-erasures`); it trusts only exports this hub's audit keys verify."""
        return ErasureReapplier(
            SqlKeyShredder(self.engine, self.audit_log), self.audit_signer.trusted_keys
        )

    def audit_evidence(self) -> EvidenceChecker:
        """Checks the events, decisions, erasures, feeds and query index against the log."""
        return EvidenceChecker(SqlEvidence(self.engine))

    def audit_verification_runs(self) -> VerificationRuns:
        """The recorded runs of `hub audit verify` (the console shows the latest)."""
        return SqlVerificationRuns(self.engine)

    def recorded_audit_verification(self) -> RecordedVerification:
        """`hub audit verify`: the log against its checkpoints, then the rows against the log,
        recorded as a run of this process (the CLI builds it light: `hub.bootstrap_audit`)."""
        return recorded_audit_verification(
            self.engine, self.audit_log, self.audit_signer, self.audit_checkpoints
        )

    def router(
        self, *, batch_size: int | None = None, poll_interval: float | None = None
    ) -> Router:
        """A router over this container's store, routing store (which logs every decision)
        and policy (each caller runs its own); batch size and poll interval from the settings
        unless given."""
        return Router(
            self.store,
            self.routing,
            lambda: self.policy,
            batch_size=self.settings.router_batch_size if batch_size is None else batch_size,
            poll_interval=(
                self.settings.router_poll_interval if poll_interval is None else poll_interval
            ),
        )

    async def ping_database(self) -> None:
        """Raises unless the database answers."""
        await db.ping(self.engine)

    async def router_lag(self) -> RouterLag:
        """How far the router that follows the store is behind it (`hub.services.routing_lag`)."""
        return await SqlRouterLag(self.engine).router_lag(ROUTER_CONSUMER)

    async def operational_gauges(self) -> OperationalGauges:
        """The webhook outbox's backlog, the audit sequencer's lag and the latest checkpoint's
        time, in one indexed statement (`hub.infra.operational_gauges`): for `/metrics`."""
        return await SqlOperationalGauges(self.engine).operational_gauges()

    async def schema_verdict(self) -> SchemaVerdict:
        """The database's schema revision against this code's: at its head, a later revision
        that declares it runs with this code, behind, or incompatible (docs/migrations.md)."""
        return await schema_verdict(self.engine, self.settings)

    def relay(self) -> Relay:
        """The outbox relay to the events topic (scaled out only)."""
        if self.publisher is None:
            raise InvalidInput("the outbox relay needs HUB_KAFKA_BOOTSTRAP")
        settings = self.settings
        return Relay(
            self.store,
            SqlRelayCheckpoints(self.engine),
            self.publisher,
            batch_size=settings.relay_batch_size,
            poll_interval=settings.relay_poll_interval,
        )

    def router_worker(self) -> RouterWorker:
        """A member of the router consumer group's work (scaled out; each caller its own)."""
        routing, store = self.routing, self.store
        if not isinstance(routing, SqlRoutingStore):
            raise InvalidInput("router workers need the SQL routing store")
        if not isinstance(store, SqlEventStore):
            # It opens the sealed fields the relay publishes, with the store's key.
            raise InvalidInput("router workers need the SQL event store")
        return RouterWorker(store, routing, lambda: self.policy)

    def router_consumer(self) -> KafkaEventConsumer:
        """A member of the router group on the events topic (each caller its own)."""
        settings = self.settings
        if settings.kafka_bootstrap is None:
            raise InvalidInput("router workers in a consumer group need HUB_KAFKA_BOOTSTRAP")
        return KafkaEventConsumer(
            settings.kafka_bootstrap,
            settings.kafka_events_topic,
            settings.kafka_router_group,
            partitions=settings.kafka_events_partitions,
            replication_factor=settings.kafka_replication_factor,
            client_id=settings.kafka_client_id,
            batch_size=settings.router_batch_size,
            session_timeout_ms=settings.kafka_session_timeout_ms,
            heartbeat_interval_ms=max(settings.kafka_session_timeout_ms // 3, 100),
            client_options=client_options(settings),
        )

    @asynccontextmanager
    async def kafka_intake(self) -> AsyncIterator[tuple[KafkaIntake, KafkaIntakeConsumer]]:
        """The Kafka intake of `kafka_intake_agencies` and a member of its consumer group; the
        rejects producer is closed on exit."""
        settings = self.settings
        if settings.kafka_bootstrap is None:
            raise InvalidInput("Kafka intake needs HUB_KAFKA_BOOTSTRAP")
        options = client_options(settings)
        rejects = KafkaRejects(
            settings.kafka_bootstrap,
            settings.kafka_rejects_topic,
            client_id=settings.kafka_client_id,
            client_options=options,
        )
        consumer = KafkaIntakeConsumer(
            settings.kafka_bootstrap,
            settings.kafka_intake_agencies,
            settings.kafka_intake_group,
            topic_prefix=settings.kafka_intake_topic_prefix,
            rejects_topic=settings.kafka_rejects_topic,
            partitions=settings.kafka_intake_partitions,
            replication_factor=settings.kafka_replication_factor,
            client_id=settings.kafka_client_id,
            session_timeout_ms=settings.kafka_session_timeout_ms,
            client_options=options,
        )
        try:
            yield KafkaIntake(self.intake.publish, rejects, self.policy.directory), consumer
        finally:
            try:
                await rejects.close()
            except BusError as error:  # a reject not yet acknowledged is published again
                logger.warning("closing the rejects producer: %s", error.message)

    @asynccontextmanager
    async def kafka_delivery(self) -> AsyncIterator[KafkaDeliveryChannel]:
        """The Kafka delivery channel of `kafka_delivery_channels`; its producer is closed on
        exit."""
        settings = self.settings
        if settings.kafka_bootstrap is None:
            raise InvalidInput("the Kafka delivery channel needs HUB_KAFKA_BOOTSTRAP")
        producer = KafkaDisclosureProducer(
            settings.kafka_bootstrap,
            replication_factor=settings.kafka_replication_factor,
            client_id=f"{settings.kafka_client_id}-delivery",
            request_timeout_ms=settings.kafka_request_timeout_ms,
            client_options=client_options(settings),
        )
        channel = KafkaDeliveryChannel(
            SqlFeedStore(self.engine, audit=self.audit_log, protection=self.protection),
            self.feed,
            SqlRelayCheckpoints(self.engine),
            producer,
            {r: s.get_secret_value() for r, s in settings.kafka_delivery_channels.items()},
            topic_prefix=settings.kafka_delivery_topic_prefix,
        )
        try:
            yield channel
        finally:
            try:
                await producer.close()
            except BusError as error:  # an unacknowledged page is published again on restart
                logger.warning("closing the delivery producer: %s", error.message)


#: What `hub serve --role` runs: the HTTP API, the outbox relay, routing, delivery (webhooks and
#: the overdue monitor), or all of them in one process (the default).
Role = Literal["api", "relay", "router", "delivery", "all"]
ROLES: tuple[Role, ...] = ("api", "relay", "router", "delivery", "all")


@asynccontextmanager
async def workers(container: Container, role: Role = "all") -> AsyncIterator[dict[str, WorkerLoop]]:
    """Start the background workers `role` runs, each in the worker loop
    (`hub.services.worker`, which retries transient faults forever and keeps the state
    `/readyz` and `/metrics` report); stop them on exit (each within 30 s).

    Embedded, the router follows the store, woken by every append. Scaled out, the relay
    (woken by every append) publishes stored events to the events topic and the router is a
    member of the router consumer group. The audit sequencer and checkpointer, and the Kafka
    intake of `kafka_intake_agencies`, run with the API.
    A worker that fails is logged and its task keeps the error; it is never silently lost."""
    settings = container.settings
    if role == "relay" and not container.scaled_out:
        raise InvalidInput("--role relay needs HUB_KAFKA_BOOTSTRAP (the relay publishes to Kafka)")
    stop = asyncio.Event()
    loops: dict[str, WorkerLoop] = {}
    async with AsyncExitStack() as resources:
        if role in ("router", "all") and settings.router_enabled:
            if container.scaled_out:
                worker = container.router_worker()
                loops["router"] = worker.loop(container.router_consumer(), stop)
            else:
                loops["router"] = container.router().loop(container.appended)
        if role in ("relay", "all") and container.scaled_out:
            loops["relay"] = container.relay().loop(container.appended)
        if role in ("delivery", "all") and settings.delivery_enabled:
            # Woken when jobs are queued; polls the outbox every `delivery_poll_interval` too.
            delivery = container.delivery_worker()
            loops["delivery"] = delivery.loop(container.deliveries_due)
            loops["overdue"] = container.overdue_monitor().loop()
            loops["review-escalation"] = container.review_escalator().loop()
            if container.scaled_out and settings.kafka_delivery_channels:
                channel = await resources.enter_async_context(container.kafka_delivery())
                loops["kafka-delivery"] = channel.loop()
        if role in ("api", "all") and container.scaled_out and settings.kafka_intake_agencies:
            intake, consumer = await resources.enter_async_context(container.kafka_intake())
            loops["kafka-intake"] = intake.loop(consumer, stop)
        if role in ("api", "all") and settings.audit_enabled:
            loops["audit-sequencer"] = container.audit_sequencer_loop()
            loops["audit-checkpointer"] = container.audit_checkpointer_loop()
        for loop in loops.values():
            loop.start(stop)
        try:
            yield loops
        finally:
            stop.set()
            for name, loop in loops.items():
                assert loop.task is not None
                try:
                    await asyncio.wait_for(loop.task, timeout=30)
                except Exception:
                    logger.exception("worker %s ended with an error", name)


def event_publisher(settings: Settings) -> EventPublisher | None:
    """The Kafka publisher of the events topic when scaled out (connects on first use)."""
    if settings.kafka_bootstrap is None:
        return None
    return KafkaEventPublisher(
        settings.kafka_bootstrap,
        settings.kafka_events_topic,
        partitions=settings.kafka_events_partitions,
        replication_factor=settings.kafka_replication_factor,
        client_id=settings.kafka_client_id,
        request_timeout_ms=settings.kafka_request_timeout_ms,
        client_options=client_options(settings),
    )


def audit_signer(settings: Settings) -> AuditSigner:
    """The hub's audit checkpoint signer and the keys it trusts (`hub audit public-key` needs
    them without a database)."""
    return load_audit_signer(settings)


async def upgrade_database(settings: Settings, revision: str = "head") -> db.Migrated:
    """Apply the Alembic migrations up to `revision` as the owner role (`hub db upgrade`) and
    grant the runtime role its privileges; what was reached and granted."""
    return await db.migrate(settings, revision)


async def recount_metrics(settings: Settings) -> int:
    """Rebuild `/metrics`' running totals and the disclosures awaiting acknowledgement from the
    rows (`hub db recount-metrics`: after a rolling upgrade to 0020, during which older code
    changed what it did not count); how many disclosures were read."""
    engine = db.create_engine(settings)
    try:
        return await SqlLatencyStore(engine).recount()
    finally:
        await engine.dispose()


async def database_schema(settings: Settings) -> SchemaVerdict:
    """The database's schema revision against this code's (`hub db current|check`), on the
    hub's own connection, without starting anything."""
    engine = db.create_engine(settings)
    try:
        return await schema_verdict(engine, settings)
    finally:
        await engine.dispose()


@asynccontextmanager
async def running(settings: Settings, *, migrate: bool | None = None) -> AsyncIterator[Container]:
    """Build everything the hub runs on; dispose of it on exit.

    The embedded default (SQLite) brings its own schema up to date; PostgreSQL must be migrated
    explicitly with `hub db upgrade` (an operator decision), and the hub refuses to start on a
    schema it does not run on (behind, or a later revision that does not declare it runs with
    this code: docs/migrations.md) rather than run against tables it does not know.
    """
    engine = db.create_engine(settings)
    # Plain http and private addresses only where an operator says so (development, tests).
    require_https = settings.environment not in ("development", "test")
    resolver = DnsResolver()
    publisher = event_publisher(settings)
    sender = HttpWebhookSender(
        timeout=settings.webhook_timeout_seconds,
        resolver=resolver,
        allow_private=settings.webhook_allow_private_addresses,
        require_https=require_https,
        max_connections=settings.delivery_concurrency,
    )
    try:
        verdict = await schema_verdict(engine, settings)
        if (migrate if migrate is not None else settings.is_embedded) and verdict.state in (
            "behind",
            "current",
        ):
            # As the owner (the migration URL), never through the hub's own connection. A
            # later schema that runs with this code is left as it is (a rolling upgrade's
            # newer processes migrated it; this code cannot move it back).
            await db.migrate(settings)
        elif not verdict.runnable:
            raise StoreUnavailable(f"the database schema does not fit this code: {verdict.reason}")
        if await db.runs_as_owner(engine):
            logger.warning(
                "the hub runs as the owner of its tables: anyone with its credentials can alter "
                "them, re-grant privileges or disable the append-only triggers; run migrations "
                "as another role (HUB_DATABASE_MIGRATION_URL) and the hub as a role that owns "
                "nothing (docs/security.md)"
            )
        # An invalid bundle stops the hub here, with every problem as file:line.
        schemas, policy = load_contract(settings.events_dir, settings.policy_bundle_dir)
        logger.info("policy bundle %s version %s", policy.name, policy.version)
        # Every store that changes or discloses personal data logs it in its own transaction.
        audit_log = SqlAuditLog(engine)
        signer = audit_signer(settings)
        # Sensitive fields are sealed under per-person data keys as they are stored, and
        # opened by every reader (`hub.infra.protection`).
        protection = load_field_protection(settings, schemas)
        # Webhook signing secrets and parked conflict notifications are sealed under the same
        # key-encryption key; rows from before migration 0010 are sealed now.
        keks = load_kek_ring(settings)
        # The hub's own keys for `v1a` webhook signatures (required in production).
        webhook_signer = load_webhook_signer(settings)
        webhook_secrets = SubscriptionSecrets(keks)
        subscription_repository = SqlSubscriptionRepository(engine, webhook_secrets)
        await subscription_repository.seal_plaintext_secrets()
        store = create_event_store(engine, audit=audit_log, protection=protection)
        deliveries_due = asyncio.Event()
        routing = SignallingRoutingStore(engine, audit=audit_log, deliveries_due=deliveries_due)
        review_store = SqlReviewStore(engine, routing=routing, audit=audit_log)
        conflicts = SqlConflictReviewList(
            engine, keks=keks, fields=protection.fields, audit=audit_log
        )
        await conflicts.seal_plaintext()
        appended = asyncio.Event()
        delivery_queue = SecretOpeningDeliveryQueue(
            SqlDeliveryQueue(engine, audit=audit_log, protection=protection),
            webhook_secrets,
            retry_schedule=settings.webhook_retry_schedule,
        )
        consultations = ConsultationLog(audit_log)
        audit_beacon = LatestCheckpoint(
            audit_log, max_age=min(settings.audit_checkpoint_interval, 5.0)
        )
        yield Container(
            settings=settings,
            engine=engine,
            store=store,
            clients=CachedClientRepository(
                SqlClientRepository(engine, audit_log), ttl=settings.client_cache_seconds
            ),
            tokens=TokenService.from_settings(settings),
            schemas=schemas,
            intake=IntakeService(
                schemas, store, settings.max_batch_size, conflicts, on_appended=appended.set
            ),
            conflicts=conflicts,
            policy=policy,
            routing=routing,
            deliveries_due=deliveries_due,
            explain=ExplainService(store, schemas, policy, routing),
            feed=FeedService(
                SqlFeedStore(engine, audit=audit_log, protection=protection),
                policy,
                rereads=RereadWindow(settings.feed_reread_audit_window_seconds),
                consultations=consultations,
            ),
            latency=LatencyService(SqlLatencyStore(engine)),
            latency_periods=LatencyPeriodService(SqlLatencyPeriodStore(engine)),
            overdue=SqlOverdueStore(engine, protection=protection),
            subscriptions=SubscriptionService(
                subscription_repository,
                resolver,
                lambda recipient_id: entitled_event_types(policy, recipient_id),
                require_https=require_https,
                allow_private=settings.webhook_allow_private_addresses,
            ),
            delivery_queue=delivery_queue,
            deliveries=DeliveryService(delivery_queue),
            webhook_sender=CheckpointHeaderSender(sender, audit_beacon),
            webhook_signer=webhook_signer,
            audit_log=audit_log,
            audit_signer=signer,
            audit_trail=AuditTrail(audit_log),
            audit_checkpoints=CheckpointDirectory(settings.resolved_audit_checkpoint_dir),
            audit_beacon=audit_beacon,
            audit_queries=AuditQueryService(
                SqlAuditIndex(engine),
                SqlRestrictions(engine, audit_log),
                store,
                consultations,
            ),
            consultations=consultations,
            retention=RetentionService(SqlRetentionStore(engine, audit_log), policy.retention),
            keys=DataKeys(
                SqlPersonKeys(engine, keks, audit_log, protection.fields),
                subscription_repository,
                conflicts,
            ),
            reviews=ReviewService(review_store),
            review_store=review_store,
            appended=appended,
            publisher=publisher,
            protection=protection,
        )
    finally:
        if publisher is not None:
            try:
                await publisher.close()
            except BusError as error:  # the relay publishes again what was not acknowledged
                logger.warning("closing the event publisher: %s", error.message)
        await sender.aclose()
        await engine.dispose()
