"""Secrets at rest: webhook signing secrets sealed, and the sensitive fields of parked
identifier-conflict notifications sealed under a data key of each conflict's own.

`subscriptions.secrets` held each subscription's Standard Webhooks secrets in clear; the hub now
stores them sealed under the key-encryption key (`[{"kek_id", "sealed"}, …]`, format
"sealed-v1"). `identifier_conflicts.notification` held the refused notification in clear; the hub
now seals its sensitive fields under a data key of the conflict's own, kept wrapped beside it
(`kek_id`, `wrapped_key`) and destroyed (`key_destroyed_at`) on resolution or crypto-shredding.

This migration only adds the columns, with a format marker that says "plain" for every existing
row: the hub seals those rows when it starts, and `hub keys rotate` does too. The sealing is not
done here because a migration is given a database connection and nothing else
(`migrations/env.py`): it has no key-encryption key, which lives outside the database
(`HUB_DATA_KEK`, or outside production a file under the data directory), and `hub db upgrade`
must not need it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
#: The oldest code revision that runs against this schema (docs/migrations.md): not expand-only:
#: newer code seals webhook secrets, which older code would sign with as they are.
compatible_from: str = "0010"

Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column(
        "subscriptions",
        sa.Column("secrets_format", sa.Text, nullable=False, server_default="plain"),
    )
    op.add_column(
        "identifier_conflicts",
        sa.Column("notification_format", sa.Text, nullable=False, server_default="plain"),
    )
    op.add_column("identifier_conflicts", sa.Column("kek_id", sa.Text, nullable=True))
    op.add_column("identifier_conflicts", sa.Column("wrapped_key", sa.LargeBinary, nullable=True))
    op.add_column("identifier_conflicts", sa.Column("key_destroyed_at", Timestamp, nullable=True))


def downgrade() -> None:
    # What is sealed cannot be turned back into plaintext here, without the key: refuse, rather
    # than leave rows that a hub before 0010 would misread (sign with garbage, show ciphertext).
    bind = op.get_bind()
    for table, column in (
        ("subscriptions", "secrets_format"),
        ("identifier_conflicts", "notification_format"),
    ):
        sealed = bind.execute(
            sa.text(f"SELECT COUNT(*) FROM {table} WHERE {column} <> 'plain'")
        ).scalar_one()
        if sealed:
            raise RuntimeError(
                f"{sealed} row(s) of {table} are sealed: a hub before migration 0010 cannot read "
                "them; delete them (or re-create those subscriptions) first"
            )
    with op.batch_alter_table("identifier_conflicts") as batch:
        batch.drop_column("key_destroyed_at")
        batch.drop_column("wrapped_key")
        batch.drop_column("kek_id")
        batch.drop_column("notification_format")
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("secrets_format")
