"""Least privilege on PostgreSQL: what the hub's runtime role may do, in one list, granted by the
owner role when `hub db upgrade` runs.

Two roles: the OWNER runs the migrations and owns the schema, its tables, sequences and trigger
functions; the RUNTIME role is what `hub serve` and every other command connect as. Only the
owner of a table (or a superuser) can ALTER it, DISABLE or DROP its triggers, TRUNCATE it
(beyond any grant), DROP it, change its owner or grant privileges on it. The runtime role owns
nothing, holds no grant option and gets exactly the privileges in `GRANTS`: so an insider with
the hub's own credentials cannot switch off the append-only triggers or give itself UPDATE.

`apply_runtime_grants` runs in the migration's transaction after the last migration: it revokes
everything from the runtime role in the schema and grants `GRANTS` again, so the list below is
the whole truth whatever an earlier version granted. It refuses a table missing from the list
(a new migration's table must be added here, with what the hub does to it), a runtime role that
is the owner, a member of it, a superuser or a role creator (each could take the owner's rights
back), and a runtime role that owns the schema or a table in it.

SQLite has no roles: whoever can write the database file can do anything to it (see
docs/security.md); nothing here applies to it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Connection, make_url

from hub.errors import StoreError
from hub.settings import Settings

#: Append-only tables: the hub reads and adds rows, never changes or removes one (their
#: triggers refuse it too, migrations 0001 to 0006).
APPEND_ONLY = "SELECT, INSERT"

#: Every table in the hub's schema and the privileges the runtime role holds on it, with what
#: the hub does that needs more than APPEND_ONLY (`hub/infra/*.py`). `SELECT … FOR UPDATE` needs
#: the UPDATE privilege on at least one column. Keep this the one place grants are decided.
GRANTS: Mapping[str, str] = {
    # -- the event store (hub.infra.store, hub.infra.retention)
    # Erasure at the end of retention empties `data`; the trigger lets only that through, and
    # only for a position with an `event_erasures` row (migration 0006).
    "events": f"{APPEND_ONLY}, UPDATE (data)",
    "event_erasures": APPEND_ONLY,
    # Appends lock the people they add to (`SELECT … FOR UPDATE`); no column is ever changed,
    # and `created_at` is the one column whose change would alter no identity or link.
    "persons": f"{APPEND_ONLY}, UPDATE (created_at)",
    "person_identifiers": APPEND_ONLY,
    # Per-person data keys: replaced on erasure (crypto-shredding) and on key rotation.
    "person_keys": f"{APPEND_ONLY}, UPDATE",
    # -- clients and tokens (hub.infra.clients): disabled, secrets rotated; used assertion ids
    # are forgotten once expired.
    "clients": f"{APPEND_ONLY}, UPDATE",
    "client_assertion_jtis": f"{APPEND_ONLY}, DELETE",
    # -- routing (hub.infra.routing, hub.infra.relay_store)
    # Derived state, rebuilt on a policy change (all rows deleted, then inserted).
    "person_profiles": f"{APPEND_ONLY}, UPDATE, DELETE",
    "consumer_checkpoints": f"{APPEND_ONLY}, UPDATE",
    "recipient_counters": f"{APPEND_ONLY}, UPDATE",
    "disclosures": APPEND_ONLY,
    "disclosure_denials": APPEND_ONLY,
    "routed_events": APPEND_ONLY,
    "recipient_feed": APPEND_ONLY,
    # Parked conflicts: resolved, dismissed, sealed (hub.infra.conflicts, hub.infra.protection).
    "identifier_conflicts": f"{APPEND_ONLY}, UPDATE",
    # -- delivery (hub.infra.subscriptions, hub.infra.deliveries, hub.infra.feed, .overdue)
    # Subscriptions are changed, paused and ended in place (an ended one is marked, not deleted).
    "subscriptions": f"{APPEND_ONLY}, UPDATE",
    # Webhook jobs are claimed, rescheduled and finished in place.
    "deliveries": f"{APPEND_ONLY}, UPDATE",
    "delivery_attempts": APPEND_ONLY,
    "disclosure_receipts": APPEND_ONLY,
    "disclosure_acks": APPEND_ONLY,
    "overdue_escalations": APPEND_ONLY,
    # Running totals, added to in place; rebuilt by `hub db recount-metrics` (all rows deleted,
    # then inserted). Disclosures awaiting acknowledgement: removed when acknowledged, marked
    # when escalated (hub.infra.metric_counters).
    "metric_counters": f"{APPEND_ONLY}, UPDATE, DELETE",
    "awaiting_acknowledgements": f"{APPEND_ONLY}, UPDATE, DELETE",
    # -- case-by-case review (hub.infra.reviews): proposals, decisions and escalations are
    # written once and never changed.
    "disclosure_proposals": APPEND_ONLY,
    "proposal_reviewers": APPEND_ONLY,
    "review_decisions": APPEND_ONLY,
    "review_escalations": APPEND_ONLY,
    # -- the audit log (hub.infra.audit, hub.infra.audit_queries)
    "audit_entries": APPEND_ONLY,
    "audit_leaves": APPEND_ONLY,
    "audit_subtrees": APPEND_ONLY,
    "audit_checkpoints": APPEND_ONLY,
    "audit_index": APPEND_ONLY,
    "audit_index_rules": APPEND_ONLY,
    # Runs of `hub audit verify`: each recorded once (hub.infra.audit_verification_runs).
    "audit_verification_runs": APPEND_ONLY,
    # A restriction is lifted by stamping who and when; nothing else about it changes.
    "person_restrictions": f"{APPEND_ONLY}, UPDATE (lifted_at, lifted_by)",
    # -- the schema's revision: `hub serve` and /readyz check it, only `hub db upgrade` moves it.
    "alembic_version": "SELECT",
    # What code the schema's revision runs with (readiness, `hub db current|check`).
    "schema_compatibility": "SELECT",
}

#: Sequences (the event and audit positions): `nextval` and reading `last_value`; not UPDATE,
#: which would allow `setval` (moving a position counter back).
SEQUENCE_PRIVILEGES = "USAGE, SELECT"

#: Granted to the runtime role on tables and sequences the owner creates later outside
#: `hub db upgrade` (the alembic CLI): the append-only floor, until the next upgrade applies
#: `GRANTS` (which refuses a table it does not list).
DEFAULT_TABLE_PRIVILEGES = APPEND_ONLY

#: One privilege of a GRANTS entry: `SELECT`, or `UPDATE (a, b)` for some columns only.
_PRIVILEGE = re.compile(r"(SELECT|INSERT|UPDATE|DELETE)(?: \(([a-z_]+(?:, [a-z_]+)*)\))?")


class DatabaseRolesUnsafe(StoreError):
    """The configured roles do not keep the hub's runtime role from the owner's rights."""

    title = "Database roles unsafe"


def runtime_role(settings: Settings) -> str | None:
    """The role to grant the hub's privileges to, or None (one role owns and runs: as before).

    `HUB_DATABASE_RUNTIME_ROLE` if set; else the user of `HUB_DATABASE_URL` when a separate
    migration URL names another user. Never on SQLite.
    """
    if settings.is_embedded:
        return None
    if settings.database_runtime_role is not None:
        return settings.database_runtime_role
    if settings.database_migration_url is None:
        return None
    runtime_user = make_url(settings.resolved_database_url).username
    owner_user = make_url(settings.resolved_migration_url).username
    return runtime_user if runtime_user and runtime_user != owner_user else None


def apply_runtime_grants(connection: Connection, role: str, schema: str | None) -> list[str]:
    """As the owner, in the migration's transaction: make `GRANTS` the runtime role's whole set
    of privileges in `schema` (default: the current schema). Returns the tables granted on."""
    quote = connection.dialect.identifier_preparer.quote
    if schema is None:
        schema = str(connection.execute(sa.text("SELECT current_schema()")).scalar_one())
    _check_roles(connection, role, schema)
    tables = _tables(connection, schema)
    unlisted = sorted(set(tables) - set(GRANTS))
    if unlisted:
        raise DatabaseRolesUnsafe(
            f"no grant decided for table(s) {', '.join(unlisted)}: add each to GRANTS in "
            "hub/infra/grants.py with what the hub does to it"
        )
    for table in tables:
        parse_privileges(GRANTS[table])  # only a plain privilege list reaches the GRANT below
    grantee, where = quote(role), quote(schema)
    statements = [
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {where} FROM {grantee}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {where} FROM {grantee}",
        f"REVOKE ALL ON SCHEMA {where} FROM {grantee}",
        f"GRANT USAGE ON SCHEMA {where} TO {grantee}",
        *(f"GRANT {GRANTS[t]} ON TABLE {where}.{quote(t)} TO {grantee}" for t in tables),
        f"GRANT {SEQUENCE_PRIVILEGES} ON ALL SEQUENCES IN SCHEMA {where} TO {grantee}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {where} "
        f"GRANT {DEFAULT_TABLE_PRIVILEGES} ON TABLES TO {grantee}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {where} "
        f"GRANT {SEQUENCE_PRIVILEGES} ON SEQUENCES TO {grantee}",
    ]
    for statement in statements:
        connection.exec_driver_sql(statement)
    return tables


def _tables(connection: Connection, schema: str) -> list[str]:
    rows = connection.execute(
        sa.text(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = :schema AND c.relkind IN ('r', 'p') ORDER BY c.relname"
        ),
        {"schema": schema},
    )
    return [str(name) for (name,) in rows]


def _check_roles(connection: Connection, role: str, schema: str) -> None:
    found = (
        connection.execute(
            sa.text(
                # pg_has_role counts inherited membership, and the database owner's implicit
                # membership of pg_database_owner (which owns `public` on PostgreSQL 15).
                "SELECT r.rolsuper, r.rolcreaterole, r.rolname = current_user AS is_owner, "
                "r.rolname <> current_user "
                "AND pg_has_role(r.oid, current_user, 'MEMBER') AS is_member, "
                "EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname = :schema "
                "AND pg_has_role(r.oid, n.nspowner, 'MEMBER')) AS owns_schema, "
                "(SELECT string_agg(c.relname, ', ' ORDER BY c.relname) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = :schema "
                "AND pg_has_role(r.oid, c.relowner, 'MEMBER')) AS owned "
                "FROM pg_roles r WHERE r.rolname = :role"
            ),
            {"role": role, "schema": schema},
        )
        .mappings()
        .first()
    )
    if found is None:
        raise DatabaseRolesUnsafe(
            f"the runtime role {role!r} does not exist: create it (LOGIN, no other attribute)"
        )
    if found["is_owner"]:
        raise DatabaseRolesUnsafe(
            f"the hub's runtime role {role!r} is the role running the migrations (the owner): "
            "give HUB_DATABASE_MIGRATION_URL the owner role and HUB_DATABASE_URL another"
        )
    problems = [
        (found["is_member"], "is a member of the owner role, so it has the owner's rights"),
        (found["rolsuper"], "is a superuser"),
        (found["rolcreaterole"], "has CREATEROLE, so it could make itself a member of the owner"),
        (found["owns_schema"], f"owns the schema {schema!r} (or its database)"),
        (found["owned"] is not None, f"owns (or is a member of the owner of) {found['owned']}"),
    ]
    reasons = [reason for failed, reason in problems if failed]
    if reasons:
        raise DatabaseRolesUnsafe(
            f"the hub's runtime role {role!r} {'; '.join(reasons)}: it must be a plain LOGIN "
            "role that owns nothing (see docs/security.md, the insider model)"
        )


def parse_privileges(listed: str) -> dict[str, frozenset[str] | None]:
    """A GRANTS entry as {privilege: its columns, or None for the whole table}; ValueError if
    it is not a plain list of SELECT, INSERT, UPDATE and DELETE (each at most once)."""
    parsed: dict[str, frozenset[str] | None] = {}
    for part in re.split(r",\s*(?![^()]*\))", listed):
        match = _PRIVILEGE.fullmatch(part.strip())
        if match is None or match[1] in parsed:
            raise ValueError(f"not a plain privilege list: {listed!r}")
        parsed[match[1]] = frozenset(match[2].split(", ")) if match[2] else None
    return parsed
