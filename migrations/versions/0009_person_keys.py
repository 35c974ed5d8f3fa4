"""Per-person data keys for the encryption at rest of sensitive fields.

Each key is stored wrapped by a key-encryption key (`kek_id`); rotation rewraps it in place and
crypto-shredding destroys it (`wrapped_key` NULL, `destroyed_at` set), so this table, unlike the
event store, is not append-only.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
#: The oldest code revision that runs against this schema (docs/migrations.md): not expand-only:
#: newer code seals fields under these keys, which older code would read as values.
compatible_from: str = "0009"

Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "person_keys",
        sa.Column("key_id", sa.Text, primary_key=True),
        sa.Column("person_id", sa.Text, nullable=False),
        sa.Column("kek_id", sa.Text, nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary, nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("destroyed_at", Timestamp, nullable=True),
    )
    op.create_index("ix_person_keys_person_id", "person_keys", ["person_id"])


def downgrade() -> None:
    op.drop_index("ix_person_keys_person_id", table_name="person_keys")
    op.drop_table("person_keys")
