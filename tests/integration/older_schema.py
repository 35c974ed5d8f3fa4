"""The schema at an older revision, and a subscription as it stored it: for tests of what a
migration does to what was there before it."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Connection

from hub.infra import tables
from hub.infra.db import alembic_config
from hub.settings import Settings
from tests.conftest import Database


def _downgrade(connection: Connection, settings: Settings, revision: str) -> None:
    config = alembic_config(settings)
    config.attributes["connection"] = connection
    command.downgrade(config, revision)


async def schema_at(database: Database, revision: str) -> None:
    """Take the schema back to `revision`, as the owner (the hub's role cannot change it)."""
    async with database.owner.connect() as connection:
        await connection.run_sync(_downgrade, database.settings, revision)
        await connection.commit()


async def subscription_before(
    database: Database, revision: str, *, subscription_id: str, recipient: str, url: str
) -> str:
    """The schema at `revision` with a `json` subscription as it stood then, its secret in
    plain text; the secret."""
    await schema_at(database, revision)
    secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    async with database.engine.begin() as connection:
        await connection.execute(
            sa.text(
                "INSERT INTO subscriptions (subscription_id, recipient_id, url, event_types, "
                "format, secrets, status, created_at, updated_at) VALUES (:id, "
                ":recipient, :url, NULL, 'json', :secrets, 'active', :now, :now)"
            ).bindparams(
                sa.bindparam("secrets", type_=tables.subscriptions.c.secrets.type),
                sa.bindparam("now", type_=tables.subscriptions.c.created_at.type),
            ),
            {
                "id": subscription_id,
                "recipient": recipient,
                "url": url,
                "secrets": [secret],
                "now": datetime.now(UTC),
            },
        )
    return secret
