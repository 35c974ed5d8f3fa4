"""The hub's tables as SQLAlchemy Core metadata, for building queries.

The schema itself is created only by the Alembic migrations in `migrations/`; these definitions
must match them (a test compares the two).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

metadata = sa.MetaData()

#: JSON on SQLite, JSONB on PostgreSQL.
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
#: BIGINT on PostgreSQL; INTEGER on SQLite, where only `INTEGER PRIMARY KEY` is the rowid.
Position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)

events = sa.Table(
    "events",
    metadata,
    sa.Column("position", Position, primary_key=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("event_id", sa.Text, nullable=False),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("time", Timestamp, nullable=False),
    sa.Column("subject", sa.Text, nullable=True),
    sa.Column("specversion", sa.Text, nullable=False),
    sa.Column("datacontenttype", sa.Text, nullable=False),
    sa.Column("identifiers", Json, nullable=False),
    sa.Column("data", Json, nullable=False),
    sa.Column("content_hash", sa.Text, nullable=False),
    sa.Column("person_id", sa.Text, nullable=False),
    sa.Column("stream_version", sa.Integer, nullable=False),
    sa.Column("publisher_client_id", sa.Text, nullable=False),
    sa.Column("publisher_agency", sa.Text, nullable=False),
    sa.Column("recorded_at", Timestamp, nullable=False),
    sa.UniqueConstraint("source", "event_id", name="uq_events_source_event_id"),
    sa.UniqueConstraint("person_id", "stream_version", name="uq_events_person_stream_version"),
    sa.Index("ix_events_event_id", "event_id"),
    sqlite_autoincrement=True,
)

persons = sa.Table(
    "persons",
    metadata,
    sa.Column("person_id", sa.Text, primary_key=True),
    sa.Column("created_at", Timestamp, nullable=False),
)

person_identifiers = sa.Table(
    "person_identifiers",
    metadata,
    sa.Column("scheme", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, primary_key=True),
    sa.Column("person_id", sa.Text, sa.ForeignKey("persons.person_id"), nullable=False),
    sa.Column("linked_at", Timestamp, nullable=False),
    sa.Index("ix_person_identifiers_person_id", "person_id"),
)

clients = sa.Table(
    "clients",
    metadata,
    sa.Column("client_id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("agency", sa.Text, nullable=False),
    #: Space-separated OAuth scopes, as in RFC 6749 section 3.3.
    sa.Column("scopes", sa.Text, nullable=False),
    #: A password hash (scrypt, `hub.auth.secrets`); the secret itself is never stored.
    sa.Column("secret_hash", sa.Text, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("disabled_at", Timestamp, nullable=True),
)
