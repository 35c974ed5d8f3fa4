"""Running totals for `/metrics` and the disclosures awaiting acknowledgement (issues 17 and 19):
a scrape and an overdue pass cost the same at a thousand disclosures as at a million.

- `metric_counters`: per recipient, event type, series and histogram bucket, how many and the
  sum of their seconds. The hub adds to it in the same transaction as each change it counts
  (`hub/infra/metric_counters.py`); this migration fills it from the rows already there.
- `awaiting_acknowledgements`: the disclosures with an acknowledgement time that are not yet
  acknowledged, with their due time, indexed by it (and partially, by the ones the overdue
  monitor has still to escalate); their number per recipient and event type is a counter too,
  so the overdue gauge reads only the ones not yet due. A partial index on `disclosures` cannot
  do this: what ends the wait is a row in another table (`disclosure_acks`), and `disclosures`
  is append-only.

Expand-only: two new tables older code never reads. Older code does not write them either, so
what pods of older code change during a rollout is not counted until `hub db recount-metrics` runs
(docs/monitoring.md, "Rolling upgrade to 0021").

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
#: The oldest code revision that runs against this schema (docs/migrations.md): expand-only,
#: two tables older code never touches (its uncounted changes are recounted after the rollout).
compatible_from: str = "0017"

#: The histogram bounds in seconds as of this migration (`hub.services.latency.LATENCY_BUCKETS`),
#: frozen here: a later change of the bounds needs its own recount.
_BOUNDS = (
    1,
    5,
    15,
    60,
    300,
    900,
    3600,
    14400,
    43200,
    86400,
    172800,
    345600,
    604800,
    1209600,
    2592000,
    7776000,
    31536000,
)


def upgrade() -> None:
    op.create_table(
        "metric_counters",
        sa.Column("recipient_id", sa.Text, primary_key=True),
        sa.Column("event_type", sa.Text, primary_key=True),
        sa.Column("series", sa.Text, primary_key=True),
        #: A histogram bucket's upper bound ('60', '+Inf'); '' for a plain count.
        sa.Column("le", sa.Text, primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("seconds", sa.Float, nullable=False),
    )
    op.create_table(
        "awaiting_acknowledgements",
        sa.Column("disclosure_id", sa.Text, primary_key=True),
        sa.Column("recipient_id", sa.Text, nullable=False),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        #: Still to be escalated when overdue (false once escalated, and for escalations).
        sa.Column("escalate", sa.Boolean, nullable=False),
    )
    op.create_index("ix_awaiting_acknowledgements_due_at", "awaiting_acknowledgements", ["due_at"])
    op.create_index(
        "ix_awaiting_acknowledgements_to_escalate",
        "awaiting_acknowledgements",
        ["due_at", "disclosure_id"],
        postgresql_where=sa.text("escalate"),
        sqlite_where=sa.text("escalate"),
    )
    dialect = op.get_bind().dialect.name
    for statement in _backfill(dialect):
        op.execute(statement)


def downgrade() -> None:
    op.drop_index("ix_awaiting_acknowledgements_to_escalate", "awaiting_acknowledgements")
    op.drop_index("ix_awaiting_acknowledgements_due_at", "awaiting_acknowledgements")
    op.drop_table("awaiting_acknowledgements")
    op.drop_table("metric_counters")


def _seconds(dialect: str, start: str, end: str) -> str:
    if dialect == "postgresql":
        return f"CAST(EXTRACT(EPOCH FROM ({end} - {start})) AS DOUBLE PRECISION)"
    return f"((julianday({end}) - julianday({start})) * 86400.0)"


def _histogram(dialect: str, series: str, source: str, start: str, end: str) -> str:
    """One histogram's rows: per recipient, event type and bucket, the count and seconds (a
    negative duration, from clocks that disagree, counts as none)."""
    seconds = _seconds(dialect, start, end)
    bucket = " ".join(f"WHEN s <= {b} THEN '{b}'" for b in _BOUNDS)
    return f"""
        SELECT recipient_id, event_type, '{series}', le, COUNT(*),
               SUM(CASE WHEN s < 0 THEN 0.0 ELSE s END)
        FROM (
            SELECT recipient_id, event_type, s, CASE {bucket} ELSE '+Inf' END AS le
            FROM (SELECT d.recipient_id, d.event_type, {seconds} AS s FROM {source}) AS o
        ) AS b
        GROUP BY recipient_id, event_type, le"""


def _count(series: str, source: str, *by: str) -> str:
    return f"""
        SELECT d.recipient_id, d.event_type, {series}, '', COUNT(*), 0.0
        FROM {source}
        GROUP BY {", ".join(("d.recipient_id", "d.event_type", *by))}"""


def _backfill(dialect: str) -> list[str]:
    """Every figure `/metrics` gave before, computed once from the rows (as the hub recounts:
    `hub.infra.metric_counters.recount`), and the disclosures still awaiting acknowledgement."""
    decided = "disclosures d JOIN events e ON e.position = d.event_position"
    received = "disclosures d JOIN disclosure_receipts r ON r.disclosure_id = d.disclosure_id"
    acked = "disclosures d JOIN disclosure_acks a ON a.disclosure_id = d.disclosure_id"
    escalated = "disclosures d JOIN overdue_escalations x ON x.disclosure_id = d.disclosure_id"
    parts = [
        _count("'disclosures'", "disclosures d"),
        _count("'delivered:' || r.channel", received, "r.channel"),
        _count("'acknowledged'", acked),
        _count("'escalated'", escalated),
        _histogram(dialect, "event_to_decision", decided, "e.time", "d.decided_at"),
        _histogram(dialect, "intake_to_decision", decided, "e.recorded_at", "d.decided_at"),
        _histogram(
            dialect, "decision_to_delivery", received, "d.decided_at", "r.first_delivered_at"
        ),
        _histogram(
            dialect, "decision_to_acknowledgement", acked, "d.decided_at", "a.acknowledged_at"
        ),
    ]
    counters = (
        "INSERT INTO metric_counters (recipient_id, event_type, series, le, count, seconds)"
        + " UNION ALL ".join(parts)
    )
    if dialect == "postgresql":
        due = "d.decided_at + make_interval(secs => d.acknowledge_within_seconds)"
    else:
        # SQLite holds UTC text 'YYYY-MM-DD HH:MM:SS.ffffff': whole seconds added, the fraction
        # kept as it was (as the hub writes it).
        due = (
            "strftime('%Y-%m-%d %H:%M:%S', d.decided_at, "
            "'+' || d.acknowledge_within_seconds || ' seconds') || substr(d.decided_at, 20)"
        )
    awaiting = f"""
        INSERT INTO awaiting_acknowledgements
            (disclosure_id, recipient_id, event_type, due_at, escalate)
        SELECT d.disclosure_id, d.recipient_id, d.event_type, {due},
               x.disclosure_id IS NULL AND d.event_type <> 'disclosure.overdue'
        FROM disclosures d
        LEFT JOIN disclosure_acks a ON a.disclosure_id = d.disclosure_id
        LEFT JOIN overdue_escalations x ON x.disclosure_id = d.disclosure_id
        WHERE d.acknowledge_within_seconds IS NOT NULL AND a.disclosure_id IS NULL"""
    # The disclosures awaiting acknowledgement, counted (the overdue gauge subtracts those not
    # yet due).
    awaiting_count = """
        INSERT INTO metric_counters (recipient_id, event_type, series, le, count, seconds)
        SELECT recipient_id, event_type, 'awaiting', '', COUNT(*), 0.0
        FROM awaiting_acknowledgements
        GROUP BY recipient_id, event_type"""
    return [counters, awaiting, awaiting_count]
