"""Standard Webhooks conformance, chosen per subscription: `payload_version` (1: the body as it
was, `{disclosure, notification}`; 2: `{type, timestamp, data}`) and `signature_schemes` (`v1`
HMAC with the subscription's secrets; `v1a` Ed25519 with the hub's published keys). Every
existing subscription keeps what it had (version 1, `["v1"]`), so no receiver breaks; new ones
get version 2 and both schemes unless they ask otherwise (the service's defaults, not these).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
#: The oldest code revision that runs against this schema (docs/migrations.md): not expand-only:
#: older code would deliver version 1 bodies to a subscription that asked for version 2.
compatible_from: str = "0017"

Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.add_column(
        "subscriptions",
        sa.Column("payload_version", sa.Integer, nullable=False, server_default="1"),
    )
    op.add_column(
        "subscriptions",
        sa.Column("signature_schemes", Json, nullable=False, server_default='["v1"]'),
    )


def downgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("signature_schemes")
        batch.drop_column("payload_version")
