"""Least privilege: the `persons` table becomes append-only, as `events` is.

The hub's runtime role (`hub.infra.grants`) needs the UPDATE privilege on one column of `persons`
only because an append locks the people it adds to with `SELECT … FOR UPDATE`, which PostgreSQL
allows only to a role that may update the rows. No code changes or removes a person row, so the
database now refuses it, on both backends: the privilege is then good for locking and nothing
else, and a role that owns nothing cannot disable the trigger. (The owner still can: see
docs/security.md, the insider model.)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
#: The oldest code revision that runs against this schema (docs/migrations.md): expand-only in
#: effect: the trigger refuses changes to `persons` that no code makes.
compatible_from: str = "0011"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # hub_reject_change() is migration 0001's; the privileges are left as they are (a
        # single-role setup still locks rows as the owner).
        op.execute(
            "CREATE TRIGGER persons_append_only BEFORE UPDATE OR DELETE ON persons "
            "FOR EACH ROW EXECUTE FUNCTION hub_reject_change()"
        )
        op.execute(
            "CREATE TRIGGER persons_no_truncate BEFORE TRUNCATE ON persons "
            "FOR EACH STATEMENT EXECUTE FUNCTION hub_reject_change()"
        )
        return
    for operation in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER persons_no_{operation.lower()} BEFORE {operation} ON persons "
            f"BEGIN SELECT RAISE(ABORT, 'table persons is append-only: "
            f"{operation} is not allowed'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER persons_no_truncate ON persons")
        op.execute("DROP TRIGGER persons_append_only ON persons")
        return
    for operation in ("update", "delete"):
        op.execute(f"DROP TRIGGER persons_no_{operation}")
