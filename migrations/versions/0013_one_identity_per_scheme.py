"""One identity per scheme: the kind of each identifier conflict, and the identifiers the hub
supplies from its person index to a record that follows the person.

`identifier_conflicts.kind` says why a notification was parked: "two-people" (its identifiers
belong to two different people; every row before this migration) or "second-value" (it would
give a person a second value of a single-valued scheme, such as a second SPS number).

`disclosures.supplied_identifiers` holds, for a record re-disclosed to the establishment that
receives the person, the identifiers its rule grants that the notification itself lacks, taken
from the person index ({"sps_number": "…"}); null when the hub supplied none (every row before
this migration). The disclosure's audit entry digests the row, so what was disclosed stays bound.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
#: The oldest code revision that runs against this schema (docs/migrations.md): not expand-only:
#: older code would take a "second-value" conflict for a two-people one.
compatible_from: str = "0013"

Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.add_column(
        "identifier_conflicts",
        sa.Column("kind", sa.Text, nullable=False, server_default="two-people"),
    )
    op.add_column("disclosures", sa.Column("supplied_identifiers", Json, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("disclosures") as batch:
        batch.drop_column("supplied_identifiers")
    with op.batch_alter_table("identifier_conflicts") as batch:
        batch.drop_column("kind")
