"""The composition root: the one place that builds engines, stores and services.

Nothing connects at import time. `running(settings)` builds a `Container` inside the app's
lifespan (or a CLI command) and disposes of it afterwards; tests call it with their own settings.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from hub.auth.tokens import TokenService
from hub.domain.policy import PolicyBundle
from hub.domain.schemas import SchemaRegistry
from hub.errors import StoreUnavailable
from hub.infra import db
from hub.infra.audit import SqlAuditLog, load_audit_signer
from hub.infra.audit_queries import SqlAuditIndex, SqlRestrictions
from hub.infra.clients import SqlClientRepository
from hub.infra.conflicts import SqlConflictReviewList
from hub.infra.deliveries import SqlDeliveryQueue
from hub.infra.feed import SqlFeedStore
from hub.infra.latency import SqlLatencyStore
from hub.infra.overdue import SqlOverdueStore
from hub.infra.retention import SqlRetentionStore
from hub.infra.routing import SqlRoutingStore
from hub.infra.store import create_event_store
from hub.infra.subscriptions import SqlSubscriptionRepository
from hub.infra.webhooks import DnsResolver, HttpWebhookSender
from hub.services.audit import (
    AuditCheckpointer,
    AuditSequencer,
    AuditSigner,
    AuditTrail,
    AuditVerifier,
)
from hub.services.audit_queries import AuditQueryService, ConsultationLog
from hub.services.clients import ClientRepository
from hub.services.conflicts import ConflictReviewList
from hub.services.delivery import DeliveryQueue, DeliveryService, DeliveryWorker, WebhookSender
from hub.services.explain import ExplainService
from hub.services.feed import FeedService
from hub.services.intake import IntakeService
from hub.services.latency import LatencyService
from hub.services.overdue import OverdueMonitor, OverdueStore
from hub.services.ports import EventStore, RoutingStore
from hub.services.retention import RetentionService
from hub.services.routing import Router
from hub.services.subscriptions import SubscriptionService, entitled_event_types
from hub.settings import Settings

logger = logging.getLogger("hub")


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
    overdue: OverdueStore
    #: Webhook subscriptions; the delivery outbox, as workers and as the dead-letter API see it.
    subscriptions: SubscriptionService
    delivery_queue: DeliveryQueue
    deliveries: DeliveryService
    webhook_sender: WebhookSender
    #: The audit trail: entries (written by the stores above in their own transactions), the
    #: Merkle tree and its signed checkpoints, proofs, DPO queries and consultations.
    audit_log: SqlAuditLog
    audit_signer: AuditSigner
    audit_trail: AuditTrail
    audit_queries: AuditQueryService
    consultations: ConsultationLog
    #: Erasure of personal data past the bundle's retention periods (`hub retention apply`).
    retention: RetentionService
    #: Set whenever notifications are appended, so that the in-process router wakes at once.
    appended: asyncio.Event = field(default_factory=asyncio.Event)

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

    def delivery_worker(self, *, worker_id: str | None = None) -> DeliveryWorker:
        """A webhook delivery worker on this container's outbox (each caller runs its own)."""
        settings = self.settings
        return DeliveryWorker(
            self.delivery_queue,
            self.store,
            self.webhook_sender,
            self.policy.redact,
            retry_schedule=settings.webhook_retry_schedule,
            concurrency=settings.delivery_concurrency,
            batch_size=settings.delivery_batch_size,
            poll_interval=settings.delivery_poll_interval,
            claim_seconds=settings.delivery_claim_seconds,
            send_timeout=settings.webhook_timeout_seconds,
            worker_id=worker_id,
        )

    def audit_sequencer(self) -> AuditSequencer:
        """Adds every new audit entry to the Merkle tree, in order (each caller runs its own)."""
        # Large batches: on PostgreSQL each batch first waits for the appends in flight (the
        # never-skip horizon), so under load a 1,000-entry batch fell ever further behind while
        # 10,000 kept the lag at about one batch (bench/audit.py, bench/RESULTS.md).
        return AuditSequencer(self.audit_log, batch_size=10_000)

    def audit_checkpointer(self) -> AuditCheckpointer:
        """Signs the tree's root every `audit_checkpoint_interval` seconds while it grows."""
        return AuditCheckpointer(
            self.audit_log, self.audit_signer, interval=self.settings.audit_checkpoint_interval
        )

    def audit_verifier(self) -> AuditVerifier:
        return AuditVerifier(
            self.audit_log, self.audit_signer.verifier_key, self.audit_signer.origin
        )

    def router(self) -> Router:
        """A router over this container's store and policy (each caller runs its own)."""
        return Router(
            self.store,
            self.routing,
            lambda: self.policy,
            batch_size=self.settings.router_batch_size,
            poll_interval=self.settings.router_poll_interval,
        )


@asynccontextmanager
async def running(settings: Settings, *, migrate: bool | None = None) -> AsyncIterator[Container]:
    """Build everything the hub runs on; dispose of it on exit.

    The embedded default (SQLite) brings its own schema up to date; PostgreSQL must be migrated
    explicitly with `hub db upgrade` (an operator decision), and the hub refuses to start on an
    out-of-date schema rather than run against tables it does not know.
    """
    engine = db.create_engine(settings)
    # Plain http and private addresses only where an operator says so (development, tests).
    require_https = settings.environment not in ("development", "test")
    resolver = DnsResolver()
    sender = HttpWebhookSender(
        timeout=settings.webhook_timeout_seconds,
        resolver=resolver,
        allow_private=settings.webhook_allow_private_addresses,
        require_https=require_https,
        max_connections=settings.delivery_concurrency,
    )
    try:
        if migrate if migrate is not None else settings.is_embedded:
            await db.upgrade(engine, settings)
        elif not await db.is_up_to_date(engine, settings):
            raise StoreUnavailable(
                "the database schema is not at the latest migration: run `hub db upgrade`"
            )
        schemas = SchemaRegistry.load(settings.events_dir)
        # An invalid bundle stops the hub here, with every problem as file:line.
        policy = PolicyBundle.load(settings.policy_bundle_dir, schemas)
        logger.info("policy bundle %s version %s", policy.name, policy.version)
        # Every store that changes or discloses personal data logs it in its own transaction.
        audit_log = SqlAuditLog(engine)
        audit_signer = load_audit_signer(settings)
        store = create_event_store(engine, audit=audit_log)
        conflicts = SqlConflictReviewList(engine, audit=audit_log)
        appended = asyncio.Event()
        delivery_queue = SqlDeliveryQueue(engine, audit=audit_log)
        consultations = ConsultationLog(audit_log)
        yield Container(
            settings=settings,
            engine=engine,
            store=store,
            clients=SqlClientRepository(engine),
            tokens=TokenService.from_settings(settings),
            schemas=schemas,
            intake=IntakeService(
                schemas, store, settings.max_batch_size, conflicts, on_appended=appended.set
            ),
            conflicts=conflicts,
            policy=policy,
            routing=SqlRoutingStore(engine, audit=audit_log),
            explain=ExplainService(store, schemas, policy),
            feed=FeedService(
                SqlFeedStore(engine, audit=audit_log), policy, consultations=consultations
            ),
            latency=LatencyService(SqlLatencyStore(engine)),
            overdue=SqlOverdueStore(engine),
            subscriptions=SubscriptionService(
                SqlSubscriptionRepository(engine),
                resolver,
                lambda recipient_id: entitled_event_types(policy, recipient_id),
                require_https=require_https,
                allow_private=settings.webhook_allow_private_addresses,
            ),
            delivery_queue=delivery_queue,
            deliveries=DeliveryService(delivery_queue),
            webhook_sender=sender,
            audit_log=audit_log,
            audit_signer=audit_signer,
            audit_trail=AuditTrail(audit_log),
            audit_queries=AuditQueryService(
                SqlAuditIndex(engine),
                SqlRestrictions(engine, audit_log),
                store,
                consultations,
            ),
            consultations=consultations,
            retention=RetentionService(SqlRetentionStore(engine, audit_log), policy.retention),
            appended=appended,
        )
    finally:
        await sender.aclose()
        await engine.dispose()
