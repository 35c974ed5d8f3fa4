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
    # The `traceparent` of the append's span (migration 0019, docs/tracing.md); null when off.
    sa.Column("trace_context", sa.Text, nullable=True),
    # An agency's imported history (migration 0023, `hub import`): folded into its person's
    # profile, never routed to anyone. False for every pushed event.
    sa.Column("history", sa.Boolean, nullable=False, server_default=sa.false()),
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
    #: The public JWK Set of a `private_key_jwt` client (migration 0007); null for a secret.
    sa.Column("jwks", sa.Text, nullable=True),
)

# -- routing: person profiles, disclosure decisions, consumer checkpoints (migration 0002) ------

person_profiles = sa.Table(
    "person_profiles",
    metadata,
    sa.Column("person_id", sa.Text, primary_key=True),
    #: The position of the last event folded into the profile.
    sa.Column("position", Position, nullable=False),
    sa.Column("profile", Json, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
)

disclosures = sa.Table(
    "disclosures",
    metadata,
    sa.Column("disclosure_id", sa.Text, primary_key=True),
    sa.Column("event_position", Position, nullable=False),
    sa.Column("event_id", sa.Text, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("person_id", sa.Text, nullable=False),
    sa.Column("recipient_id", sa.Text, nullable=False),
    sa.Column("fields", Json, nullable=False),
    sa.Column("rules", Json, nullable=False),
    sa.Column("purposes", Json, nullable=False),
    sa.Column("legal_bases", Json, nullable=False),
    sa.Column("policy_version", sa.Text, nullable=False),
    sa.Column("profile_position", Position, nullable=False),
    #: The event itself, or the admission that made its record follow the person.
    sa.Column("trigger_position", Position, nullable=False),
    sa.Column("acknowledge_within_seconds", sa.Integer, nullable=True),
    sa.Column("decided_at", Timestamp, nullable=False),
    #: {scheme: value} the hub supplied from the person index to a record that follows the
    #: person (migration 0013); null when it supplied none.
    sa.Column("supplied_identifiers", Json, nullable=True),
    sa.UniqueConstraint(
        "event_position",
        "recipient_id",
        "trigger_position",
        name="uq_disclosures_event_recipient_trigger",
    ),
    sa.Index("ix_disclosures_recipient_id", "recipient_id", "trigger_position"),
    sa.Index("ix_disclosures_person_id", "person_id", "event_position"),
    #: A recipient's disclosures by decision time: the MAPPA dashboard's periods (migration 0022).
    sa.Index("ix_disclosures_recipient_decided_at", "recipient_id", "decided_at"),
)

disclosure_denials = sa.Table(
    "disclosure_denials",
    metadata,
    sa.Column("denial_id", sa.Text, primary_key=True),
    sa.Column("event_position", Position, nullable=False),
    sa.Column("event_id", sa.Text, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("person_id", sa.Text, nullable=False),
    sa.Column("recipient_id", sa.Text, nullable=False),
    sa.Column("rules", Json, nullable=False),
    sa.Column("reasons", Json, nullable=False),
    # The refusing forbid rules' purposes and basis citations; null before migration 0015.
    sa.Column("purposes", Json, nullable=True),
    sa.Column("legal_bases", Json, nullable=True),
    sa.Column("policy_version", sa.Text, nullable=False),
    sa.Column("profile_position", Position, nullable=False),
    sa.Column("trigger_position", Position, nullable=False),
    sa.Column("decided_at", Timestamp, nullable=False),
    sa.UniqueConstraint(
        "event_position",
        "recipient_id",
        "trigger_position",
        name="uq_disclosure_denials_event_recipient_trigger",
    ),
    sa.Index("ix_disclosure_denials_recipient_id", "recipient_id", "trigger_position"),
    sa.Index("ix_disclosure_denials_person_id", "person_id", "event_position"),
)

consumer_checkpoints = sa.Table(
    "consumer_checkpoints",
    metadata,
    sa.Column("consumer", sa.Text, primary_key=True),
    #: The position of the last event the consumer has recorded its effects for.
    sa.Column("position", Position, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
)

identifier_conflicts = sa.Table(
    "identifier_conflicts",
    metadata,
    sa.Column("review_id", sa.Text, primary_key=True),
    sa.Column("raised_at", Timestamp, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("event_id", sa.Text, nullable=False),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("publisher_client_id", sa.Text, nullable=False),
    sa.Column("publisher_agency", sa.Text, nullable=False),
    #: {"scheme:value": person_id} — who the subject index holds each identifier for.
    sa.Column("claims", Json, nullable=False),
    #: The refused notification, so that nothing pushed is lost. Sealed (`notification_format`
    #: "sealed-v1", migration 0010): its sensitive fields under the conflict's own data key,
    #: `wrapped_key` (by the key-encryption key `kek_id`), destroyed (`key_destroyed_at`) when the
    #: case is resolved or a person it names is crypto-shredded (`hub.infra.conflicts`).
    sa.Column("notification", Json, nullable=False),
    sa.Column("resolved_at", Timestamp, nullable=True),
    sa.Column("resolved_by", sa.Text, nullable=True),
    sa.Column("resolution", sa.Text, nullable=True),
    sa.Column("notification_format", sa.Text, nullable=False, server_default="plain"),
    sa.Column("kek_id", sa.Text, nullable=True),
    sa.Column("wrapped_key", sa.LargeBinary, nullable=True),
    sa.Column("key_destroyed_at", Timestamp, nullable=True),
    #: What kind of conflict (migration 0013): "two-people" (identifiers of two different
    #: people) or "second-value" (a second value of a single-valued scheme for one person).
    sa.Column("kind", sa.Text, nullable=False, server_default="two-people"),
)

# -- delivery: feeds, subscriptions, the webhook outbox, receipts and acknowledgements (0004) --

#: Each recipient's disclosures numbered 1, 2, 3 … in decision order (no gaps: a recipient that
#: sees 7 after 5 knows it missed 6).
recipient_feed = sa.Table(
    "recipient_feed",
    metadata,
    sa.Column("recipient_id", sa.Text, primary_key=True),
    sa.Column("seq", Position, primary_key=True),
    sa.Column("disclosure_id", sa.Text, nullable=False),
    sa.Column("added_at", Timestamp, nullable=False),
    sa.UniqueConstraint("disclosure_id", name="uq_recipient_feed_disclosure"),
)

recipient_counters = sa.Table(
    "recipient_counters",
    metadata,
    sa.Column("recipient_id", sa.Text, primary_key=True),
    sa.Column("last_seq", Position, nullable=False),
)

subscriptions = sa.Table(
    "subscriptions",
    metadata,
    sa.Column("subscription_id", sa.Text, primary_key=True),
    sa.Column("recipient_id", sa.Text, nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    #: Event types it wants (never wider than the recipient's entitlement); null: all of them.
    sa.Column("event_types", Json, nullable=True),
    #: The rendering of a disclosure: "json" (redacted CloudEvent); adapters add native formats.
    sa.Column("format", sa.Text, nullable=False, server_default="json"),
    #: Standard Webhooks signing secrets (`whsec_…`), newest first; several during rotation.
    #: Sealed (`secrets_format` "sealed-v1", migration 0010): `[{"kek_id", "sealed"}, …]`, each
    #: wrapped by the key-encryption key `kek_id`, bound to the subscription id
    #: (`hub.infra.subscriptions.SubscriptionSecrets`); "plain": rows from before 0010.
    sa.Column("secrets", Json, nullable=False),
    sa.Column("secrets_format", sa.Text, nullable=False, server_default="plain"),
    #: active | disabled
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("status_reason", sa.Text, nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    #: The `json` format's body version: 1 `{disclosure, notification}`, 2 Standard Webhooks
    #: `{type, timestamp, data}` (0017; rows from before keep 1).
    sa.Column("payload_version", sa.Integer, nullable=False, server_default="1"),
    #: `["v1"]` (HMAC with `secrets`), `["v1a"]` (Ed25519, the hub's keys) or both (0017).
    sa.Column("signature_schemes", Json, nullable=False, server_default='["v1"]'),
    sa.Index("ix_subscriptions_recipient_id", "recipient_id"),
)

#: The transactional outbox of webhook jobs: one per (disclosure, subscription), written in the
#: router's transaction. status: pending | delivered | dead | cancelled.
deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("delivery_id", sa.Text, primary_key=True),
    sa.Column("disclosure_id", sa.Text, nullable=False),
    sa.Column("subscription_id", sa.Text, nullable=False),
    sa.Column("recipient_id", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", Timestamp, nullable=False),
    sa.Column("claimed_by", sa.Text, nullable=True),
    sa.Column("claimed_until", Timestamp, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("delivered_at", Timestamp, nullable=True),
    sa.UniqueConstraint("disclosure_id", "subscription_id", name="uq_deliveries_job"),
    sa.Index("ix_deliveries_due", "status", "next_attempt_at"),
    sa.Index("ix_deliveries_recipient", "recipient_id", "status"),
)

delivery_attempts = sa.Table(
    "delivery_attempts",
    metadata,
    sa.Column("attempt_id", sa.Text, primary_key=True),
    sa.Column("delivery_id", sa.Text, nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("attempted_at", Timestamp, nullable=False),
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("latency_ms", sa.Float, nullable=True),
    #: delivered | retry | dead | disabled (410)
    sa.Column("outcome", sa.Text, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Index("ix_delivery_attempts_delivery", "delivery_id"),
)

#: When a disclosure first reached its recipient (by any channel): the delivery latency.
disclosure_receipts = sa.Table(
    "disclosure_receipts",
    metadata,
    sa.Column("disclosure_id", sa.Text, primary_key=True),
    sa.Column("first_delivered_at", Timestamp, nullable=False),
    sa.Column("channel", sa.Text, nullable=False),
)

disclosure_acks = sa.Table(
    "disclosure_acks",
    metadata,
    sa.Column("disclosure_id", sa.Text, primary_key=True),
    sa.Column("recipient_id", sa.Text, nullable=False),
    sa.Column("client_id", sa.Text, nullable=False),
    sa.Column("acknowledged_at", Timestamp, nullable=False),
)

#: Disclosures not acknowledged in time, each escalated once (as a `disclosure.overdue` event).
overdue_escalations = sa.Table(
    "overdue_escalations",
    metadata,
    sa.Column("disclosure_id", sa.Text, primary_key=True),
    sa.Column("escalated_at", Timestamp, nullable=False),
    sa.Column("event_id", sa.Text, nullable=False),
)

#: Running totals for `/metrics` (migration 0021, `hub.infra.metric_counters`): per recipient,
#: event type, series (`disclosures`, `delivered:<channel>`, `acknowledged`, `escalated`, or a
#: latency histogram) and histogram bucket, how many and the sum of their seconds.
metric_counters = sa.Table(
    "metric_counters",
    metadata,
    sa.Column("recipient_id", sa.Text, primary_key=True),
    sa.Column("event_type", sa.Text, primary_key=True),
    sa.Column("series", sa.Text, primary_key=True),
    #: A histogram bucket's upper bound in seconds ('60', '+Inf'), not cumulative; '' for a count.
    sa.Column("le", sa.Text, primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
    sa.Column("seconds", sa.Float, nullable=False),
)

#: Disclosures with an acknowledgement time not yet acknowledged (migration 0021): what the
#: overdue gauge and monitor read, by due time, instead of every disclosure.
awaiting_acknowledgements = sa.Table(
    "awaiting_acknowledgements",
    metadata,
    sa.Column("disclosure_id", sa.Text, primary_key=True),
    sa.Column("recipient_id", sa.Text, nullable=False),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("due_at", Timestamp, nullable=False),
    #: Still to be escalated once overdue: false once escalated, and for escalations themselves.
    sa.Column("escalate", sa.Boolean, nullable=False),
    sa.Index("ix_awaiting_acknowledgements_due_at", "due_at"),
    sa.Index(
        "ix_awaiting_acknowledgements_to_escalate",
        "due_at",
        "disclosure_id",
        postgresql_where=sa.text("escalate"),
        sqlite_where=sa.text("escalate"),
    ),
)

# -- the audit trail: entries, the Merkle tree over them, signed checkpoints (migration 0005) --

#: Every audit entry, numbered in the order it was written; `entry` is the canonical JSON exactly
#: as it is hashed into the tree (`hub.domain.audit.entries.AuditEntry.canonical_bytes`).
audit_entries = sa.Table(
    "audit_entries",
    metadata,
    sa.Column("position", Position, primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("occurred_at", Timestamp, nullable=False),
    sa.Column("entry", sa.Text, nullable=False),
    sa.Column("recorded_at", Timestamp, nullable=False),
    sqlite_autoincrement=True,
)

#: Leaf `leaf_index` of the Merkle tree is the entry at `entry_position`: dense indexes 0, 1, 2 …
#: in position order. The highest index is the sequencer's progress.
audit_leaves = sa.Table(
    "audit_leaves",
    metadata,
    sa.Column("leaf_index", Position, primary_key=True, autoincrement=False),
    sa.Column("entry_position", Position, nullable=False),
    sa.Column("leaf_hash", sa.LargeBinary, nullable=False),
    sa.UniqueConstraint("entry_position", name="uq_audit_leaves_entry_position"),
)

#: Perfect subtrees of level 1 and up (level 0 is `audit_leaves.leaf_hash`): the tree over leaves
#: [index * 2**level, (index + 1) * 2**level), written once its last leaf is.
audit_subtrees = sa.Table(
    "audit_subtrees",
    metadata,
    sa.Column("level", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("index", Position, primary_key=True, autoincrement=False),
    sa.Column("hash", sa.LargeBinary, nullable=False),
)

#: Signed checkpoints (C2SP tlog-checkpoint signed notes) of the tree's first `tree_size` leaves.
audit_checkpoints = sa.Table(
    "audit_checkpoints",
    metadata,
    sa.Column("tree_size", Position, primary_key=True, autoincrement=False),
    sa.Column("root_hash", sa.LargeBinary, nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("signed_at", Timestamp, nullable=False),
)

# -- DPO queries, restrictions on subject access reports, erasure (migration 0006) -------------

#: The columns DPO queries select audit entries by, written with each entry (derived: the
#: entry's canonical JSON is the record, and a verifier never trusts this).
audit_index = sa.Table(
    "audit_index",
    metadata,
    sa.Column(
        "position",
        Position,
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("occurred_at", Timestamp, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("person_id", sa.Text, nullable=True),
    sa.Column("recipient_id", sa.Text, nullable=True),
    sa.Column("event_id", sa.Text, nullable=True),
    sa.Column("purpose", sa.Text, nullable=True),
    sa.Index("ix_audit_index_person", "person_id", "position"),
    sa.Index("ix_audit_index_recipient", "recipient_id", "position"),
    sa.Index("ix_audit_index_occurred_at", "occurred_at"),
    sa.Index("ix_audit_index_purpose", "purpose", "position"),
    sa.Index("ix_audit_index_event", "event_id"),
)

audit_index_rules = sa.Table(
    "audit_index_rules",
    metadata,
    sa.Column("rule", sa.Text, primary_key=True),
    sa.Column(
        "position",
        Position,
        primary_key=True,
        autoincrement=False,
    ),
)

#: What a subject access report must withhold about a person, and on which ground.
person_restrictions = sa.Table(
    "person_restrictions",
    metadata,
    sa.Column("restriction_id", sa.Text, primary_key=True),
    sa.Column("person_id", sa.Text, sa.ForeignKey("persons.person_id"), nullable=False),
    sa.Column("ground", sa.Text, nullable=False),
    sa.Column("withhold", Json, nullable=True),
    sa.Column("reference", sa.Text, nullable=True),
    sa.Column("placed_at", Timestamp, nullable=False),
    sa.Column("placed_by", sa.Text, nullable=False),
    sa.Column("lifted_at", Timestamp, nullable=True),
    sa.Column("lifted_by", sa.Text, nullable=True),
    sa.Index("ix_person_restrictions_person", "person_id"),
)

#: Events whose personal data (`events.data`) was erased at the end of retention.
event_erasures = sa.Table(
    "event_erasures",
    metadata,
    sa.Column(
        "position",
        Position,
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("erased_at", Timestamp, nullable=False),
    sa.Column("erased_by", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("fields", Json, nullable=False),
)

# -- client authentication by private_key_jwt (migration 0007) ---------------------------------

#: The `jti` of each client assertion accepted, kept until the assertion expires (no replay).
client_assertion_jtis = sa.Table(
    "client_assertion_jtis",
    metadata,
    sa.Column("client_id", sa.Text, primary_key=True),
    sa.Column("jti", sa.Text, primary_key=True),
    sa.Column("expires_at", Timestamp, nullable=False),
    sa.Index("ix_client_assertion_jtis_expires_at", "expires_at"),
)

# -- router workers in a Kafka consumer group (migration 0008) ----------------------------------

#: Each event position a Kafka router worker routed, recorded with its decisions: repeats from
#: the topic are skipped, and two workers never both record one event.
routed_events = sa.Table(
    "routed_events",
    metadata,
    sa.Column("position", Position, primary_key=True, autoincrement=False),
    sa.Column("person_id", sa.Text, nullable=False),
    sa.Column("stream_version", Position, nullable=False),
    sa.Column("routed_at", Timestamp, nullable=False),
)

# -- encryption at rest: per-person data keys (migration 0009) ----------------------------------

#: Each person's data keys, wrapped by a key-encryption key (`kek_id`). Mutable, unlike the
#: event store: rotation rewraps `wrapped_key`, and crypto-shredding sets it to NULL with
#: `destroyed_at`, after which the fields it sealed are gone everywhere.
person_keys = sa.Table(
    "person_keys",
    metadata,
    sa.Column("key_id", sa.Text, primary_key=True),
    sa.Column("person_id", sa.Text, nullable=False),
    sa.Column("kek_id", sa.Text, nullable=False),
    sa.Column("wrapped_key", sa.LargeBinary, nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("destroyed_at", Timestamp, nullable=True),
    sa.Index("ix_person_keys_person_id", "person_id"),
)

# -- case-by-case review: proposed disclosures and their decisions (migration 0014) -------------

#: A permitted decision under a rule with `review`, held until a reviewer decides it
#: (`hub.domain.reviews`). `disclosure` is the disclosure it would be, as JSON; approval records
#: it in `disclosures` (decided at the approval) and numbers it in the recipient's feed.
disclosure_proposals = sa.Table(
    "disclosure_proposals",
    metadata,
    sa.Column("proposal_id", sa.Text, primary_key=True),
    sa.Column("disclosure_id", sa.Text, nullable=False),
    sa.Column("event_position", Position, nullable=False),
    sa.Column("event_id", sa.Text, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("person_id", sa.Text, nullable=False),
    sa.Column("recipient_id", sa.Text, nullable=False),
    #: The reviewed rules that hold it, and the recipient ids that may decide it.
    sa.Column("rules", Json, nullable=False),
    sa.Column("reviewers", Json, nullable=False),
    sa.Column("disclosure", Json, nullable=False),
    sa.Column("proposed_at", Timestamp, nullable=False),
    sa.Column("escalate_at", Timestamp, nullable=True),
    sa.UniqueConstraint("disclosure_id", name="uq_disclosure_proposals_disclosure_id"),
    sa.Index("ix_disclosure_proposals_escalate_at", "escalate_at"),
)

#: Who may decide each proposal (its `reviewers`, one row each), keyed for a reviewer's list in
#: proposal order: the index `GET /v1/reviews` reads. Written with the proposal, never changed.
proposal_reviewers = sa.Table(
    "proposal_reviewers",
    metadata,
    sa.Column("reviewer", sa.Text, primary_key=True),
    sa.Column("proposed_at", Timestamp, primary_key=True),
    sa.Column("proposal_id", sa.Text, primary_key=True),
)

#: A reviewer's decision on a proposal: one per proposal (its key), never changed.
review_decisions = sa.Table(
    "review_decisions",
    metadata,
    sa.Column("proposal_id", sa.Text, primary_key=True),
    sa.Column("event_id", sa.Text, nullable=False),
    sa.Column("outcome", sa.Text, nullable=False),  # approved | declined
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("decided_by", sa.Text, nullable=False),
    sa.Column("agency", sa.Text, nullable=False),
    sa.Column("decided_at", Timestamp, nullable=False),
)

#: An undecided proposal escalated once its rule's `escalate_after` had passed.
review_escalations = sa.Table(
    "review_escalations",
    metadata,
    sa.Column("proposal_id", sa.Text, primary_key=True),
    sa.Column("escalated_at", Timestamp, nullable=False),
)

#: What code each applied migration runs with (migration 0018, docs/migrations.md): a row per
#: revision applied from 0018 on, written by `migrations/env.py` as the migration is applied. Code
#: older than the database reads its revision's row to know whether it may keep serving.
schema_compatibility = sa.Table(
    "schema_compatibility",
    metadata,
    sa.Column("revision", sa.Text, primary_key=True),
    sa.Column("compatible_from", sa.Text, nullable=False),
    sa.Column("applied_at", Timestamp, nullable=False),
)

#: Each run of `hub audit verify` (migration 0020): when, by which process, how much of the log
#: it checked and the first failure it found. Append-only; the console's audit status page
#: shows the latest (hub.domain.audit.verification_runs).
audit_verification_runs = sa.Table(
    "audit_verification_runs",
    metadata,
    sa.Column("run_id", sa.Text, primary_key=True),
    sa.Column("started_at", Timestamp, nullable=False),
    sa.Column("finished_at", Timestamp, nullable=False),
    sa.Column("result", sa.Text, nullable=False),
    sa.Column("entries", Position, nullable=False),
    sa.Column("last_position", Position, nullable=True),
    sa.Column("checkpoints", Position, nullable=False),
    sa.Column("latest_checkpoint", Position, nullable=True),
    sa.Column("held_checkpoint", Position, nullable=True),
    sa.Column("evidence_checked", sa.Boolean, nullable=False),
    sa.Column("failed_check", sa.Text, nullable=True),
    sa.Column("failed_position", Position, nullable=True),
    sa.Column("failed_leaf", Position, nullable=True),
    sa.Column("failed_tree_size", Position, nullable=True),
    sa.Column("failure_message", sa.Text, nullable=True),
    sa.Column("ran_by", sa.Text, nullable=False),
    sa.Index("ix_audit_verification_runs_started_at", "started_at"),
)
