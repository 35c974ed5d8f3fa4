"""Client public keys for `private_key_jwt` (RFC 7523), and the assertion ids already used.

`clients.jwks` holds the public JWK Set a client signs its token-request assertions with (null
for a client that authenticates with a secret). `client_assertion_jtis` remembers each assertion's
`jti` until the assertion expires, so that a captured assertion cannot be replayed.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
#: The oldest code revision that runs against this schema (docs/migrations.md): expand-only: a
#: nullable column and a new table older code never reads.
compatible_from: str = "0006"

Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("clients", sa.Column("jwks", sa.Text, nullable=True))
    op.create_table(
        "client_assertion_jtis",
        sa.Column("client_id", sa.Text, nullable=False),
        sa.Column("jti", sa.Text, nullable=False),
        sa.Column("expires_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("client_id", "jti"),
    )
    op.create_index("ix_client_assertion_jtis_expires_at", "client_assertion_jtis", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_client_assertion_jtis_expires_at", table_name="client_assertion_jtis")
    op.drop_table("client_assertion_jtis")
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("jwks")
