"""The composition root's light half, for the administration commands (`hub clients …`): the
database, the agency clients and the audit log their changes are written to, and the agency
directory that says which agencies exist — built without the policy bundle's rules, the event
schemas, Kafka, the webhook sender, OpenTelemetry's SDK or the web stack, which
`hub.bootstrap.running` loads and a command that registers one client does not need.

A fresh `hub clients add` took 2.5 to 2.9 s in `hub.bootstrap.running` (bench/RESULTS.md, "CLI
start"); most of it importing and validating what it never used."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from hub.auth.secrets import hash_secret
from hub.domain.policy.directory import Directory, load_directory
from hub.errors import StoreUnavailable
from hub.infra import db
from hub.infra.audit import SqlAuditLog
from hub.infra.clients import SqlClientRepository
from hub.infra.schema_compatibility import schema_verdict
from hub.services.client_admin import ClientAdministration
from hub.services.clients import ClientRepository
from hub.settings import Settings

__all__ = ["Administration", "administering", "client_administration"]


def client_administration(clients: ClientRepository, directory: Directory) -> ClientAdministration:
    """Registering and changing agency clients (API and CLI alike), each change audited; an
    agency must be one of the directory's (or one of the hub's own roles)."""
    return ClientAdministration(
        clients, hash_secret=hash_secret, known_agencies=directory.recipients
    )


@dataclass(frozen=True)
class Administration:
    """What the administration commands work on."""

    settings: Settings
    engine: AsyncEngine
    #: The agency clients; every change is written with its audit entry, in one transaction.
    clients: ClientRepository
    directory: Directory

    def client_administration(self) -> ClientAdministration:
        return client_administration(self.clients, self.directory)


@asynccontextmanager
async def administering(settings: Settings) -> AsyncIterator[Administration]:
    """Build the administration's parts; dispose of them on exit.

    As `hub.bootstrap.running` does: the embedded database (SQLite) is brought up to date when
    it is behind (a first command on a new data directory); a schema this code does not run on
    is refused. The directory is read from the bundle on its own and checked as the hub checks
    it; the rest of the bundle is the hub's to validate when it starts."""
    engine = db.create_engine(settings)
    try:
        verdict = await schema_verdict(engine, settings)
        if settings.is_embedded and verdict.state == "behind":
            await db.migrate(settings)
        elif not verdict.runnable:
            raise StoreUnavailable(f"the database schema does not fit this code: {verdict.reason}")
        directory = load_directory(settings.policy_bundle_dir)
        yield Administration(
            settings=settings,
            engine=engine,
            clients=SqlClientRepository(engine, SqlAuditLog(engine)),
            directory=directory,
        )
    finally:
        await engine.dispose()
