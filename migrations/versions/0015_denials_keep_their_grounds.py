"""A denial row keeps its grounds: the purposes and legal-basis citations of the forbid rules
that refused the recipient (issue 15).

`disclosure_denials.purposes` and `.legal_bases` are JSON lists, empty when no rule applied and
the default denial decided; null on every row written before this migration (their audit entries
recorded the grounds from then on, the rows did not). The denial's audit entry digests the row,
so the grounds stay bound to it.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
#: The oldest code revision that runs against this schema (docs/migrations.md): expand-only:
#: nullable columns; older code's rows read as written before the migration.
compatible_from: str = "0013"

Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.add_column("disclosure_denials", sa.Column("purposes", Json, nullable=True))
    op.add_column("disclosure_denials", sa.Column("legal_bases", Json, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("disclosure_denials") as batch:
        batch.drop_column("legal_bases")
        batch.drop_column("purposes")
