"""The hub's settings: one class, read from `HUB_`-prefixed environment variables.

Development mode (the embedded default) may generate its own keys into the data folder; any other
environment must be given real secrets and fails loudly without them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# PROJECT_ROOT is re-exported: the tests read the checkout's files through it.
from hub.resources import PROJECT_ROOT as PROJECT_ROOT
from hub.resources import resource_dir

#: A hub role the console gives (`console_role_map`'s values): a co-ordinator's names a region.
CONSOLE_ROLE_PATTERN = re.compile(r"dpo|operator|mappa-coordinator:[a-z0-9][a-z0-9-]{0,99}")

PLACEHOLDER_SECRETS = frozenset({"", "changeme", "change-me", "secret", "password"})


class Settings(BaseSettings):
    """Everything the hub is configured by. Secrets are `SecretStr` so they never show in a repr."""

    model_config = SettingsConfigDict(env_prefix="HUB_", extra="forbid", frozen=True)

    #: `development`, `test` or `production`; production refuses to start without real secrets
    #: (database URL, token and audit signing keys, data KEK).
    environment: Literal["development", "test", "production"] = "development"
    #: The embedded database and, outside production, generated keys.
    data_dir: Path = Path("var")
    #: `sqlite+aiosqlite:///...` or `postgresql+asyncpg://...`; defaults to SQLite in `data_dir`.
    database_url: SecretStr | None = None
    #: PostgreSQL only: the schema the hub's tables live in (default: the role's search path).
    database_schema: str | None = None
    #: Connections in each process's database pool.
    database_pool_size: int = Field(default=10, ge=1, le=200)
    #: PostgreSQL only: TLS to the database (libpq's sslmode names). Unset: as the URL's own
    #: `ssl`/`sslmode` if it names one, else `disable` for a database on this machine (loopback,
    #: localhost, a Unix socket) and `verify-full` for any other host (`hub.infra.db.sslmode`).
    database_sslmode: (
        Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] | None
    ) = None
    #: PostgreSQL only: a pooled connection idle this long is pinged before it is handed out;
    #: one the server closed is replaced without a ping (`hub.infra.db`).
    database_ping_after_idle_seconds: float = Field(default=30.0, ge=0)
    #: The connection `hub db upgrade` runs the migrations on: PostgreSQL's OWNER role, which
    #: owns the schema and its tables. Defaults to `database_url` (the embedded SQLite default
    #: and a single-role setup). Give it only to the migration step, never to the running hub:
    #: the hub runs as `database_url`'s role, which cannot alter, re-grant or disable triggers.
    database_migration_url: SecretStr | None = None
    #: PostgreSQL only: the role the hub runs as, to which `hub db upgrade` grants exactly what
    #: the hub needs (`hub.infra.grants`). Unset: the user of `database_url` when it differs from
    #: the migration URL's, else none (a single role that owns its tables, as before).
    database_runtime_role: str | None = Field(default=None, pattern=r"^[a-z_][a-z0-9_]{0,62}$")

    #: The least severe log records written (every process logs to stderr); `debug` applies
    #: to the hub's own loggers only (drivers' debug lines carry identifiers).
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    #: `json`: one JSON object per line, with the request id (for collectors); `text`: lines
    #: for a person reading a terminal.
    log_format: Literal["json", "text"] = "json"
    #: The address `hub serve` listens on.
    host: str = "127.0.0.1"
    #: The port `hub serve` listens on.
    port: int = Field(default=8000, ge=0, le=65535)
    #: The port of the health and metrics listener of a worker role (`hub serve --role
    #: relay|router|delivery`: `/healthz`, `/readyz`, `/metrics` on HUB_HOST). Unset: none
    #: (the API roles serve these on HUB_PORT). Off by default so that several roles on one
    #: host do not contend for one port; the Kubernetes manifests set 9100.
    metrics_port: int | None = Field(default=None, ge=1, le=65535)

    #: The public name of this hub, used as JWT issuer and audience.
    issuer: str = "urn:pph:hub"
    #: The `aud` of the access tokens the hub issues and accepts.
    token_audience: str = "urn:pph:api"  # noqa: S105 - an audience name, not a secret
    #: Access-token lifetime.
    token_lifetime_seconds: int = Field(default=300, ge=30, le=3600)
    #: PEM of the Ed25519/ECDSA/RSA key that signs access tokens. Generated in development.
    token_signing_key: SecretStr | None = None
    #: The token endpoint's public URL (e.g. https://hub.example/oauth/token): besides `issuer`,
    #: the `aud` a client's private_key_jwt assertion may carry (RFC 7523 section 3).
    token_endpoint_url: str | None = None
    #: PEMs (public or private) of keys that signed tokens before `token_signing_key`: their
    #: tokens still verify and the JWKS lists them, until removed (rotation without downtime).
    token_previous_signing_keys: tuple[SecretStr, ...] = ()
    #: PEM Ed25519 private key that signs webhooks with `v1a` (its public half is published at
    #: GET /v1/webhook-keys). Unset: generated into `<data_dir>/keys/webhook-signing.pem`
    #: (mode 0600) in development and test; required elsewhere.
    webhook_signing_key: SecretStr | None = None
    #: PEM Ed25519 private keys that signed webhooks before `webhook_signing_key`: during a
    #: rotation they still sign beside it and are published as `retiring`, until removed.
    webhook_retiring_signing_keys: tuple[SecretStr, ...] = ()
    #: Requests per second (sustained) and in a burst that one client may make
    #: (`hub.api.ratelimit`); beyond them, 429 with Retry-After.
    rate_limit_per_second: float = Field(default=100.0, gt=0)
    #: The burst that `rate_limit_per_second` allows.
    rate_limit_burst: int = Field(default=500, ge=1)
    #: How long (seconds) a registered client's state is kept in memory between reads
    #: (`hub.services.client_cache`); 0 reads it on every request. A change made by another
    #: process (the CLI) is seen within it; a disabled client's pushes are refused at once.
    client_cache_seconds: float = Field(default=1.0, ge=0, le=60)
    #: The same, for token requests, per calling address (slows down secret guessing).
    token_rate_limit_per_second: float = Field(default=10.0, gt=0)
    #: The burst that `token_rate_limit_per_second` allows.
    token_rate_limit_burst: int = Field(default=200, ge=1)

    #: HTTPS and mutual TLS for `hub serve` (`hub.api.tls`). With a server certificate and key
    #: (PEM files) the API serves HTTPS only, TLS 1.2 or later.
    tls_cert_file: Path | None = None
    #: The PEM private key of `tls_cert_file` (both or neither).
    tls_key_file: Path | None = None
    #: Client certificates: `off` (none asked for), `optional` (asked for, and verified when
    #: sent) or `required` (the handshake fails without a valid one). A token issued over a
    #: connection with a client certificate is bound to it (RFC 8705 `cnf`/`x5t#S256`) and
    #: honoured only with that certificate; under `required`, only bound tokens are honoured.
    tls_client_certificates: Literal["off", "optional", "required"] = "off"
    #: PEM bundle of the certificate authorities client certificates must chain to.
    tls_client_ca_file: Path | None = None

    @model_validator(mode="after")
    def _tls_settings_consistent(self) -> Settings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("HUB_TLS_CERT_FILE and HUB_TLS_KEY_FILE must be set together")
        if self.tls_client_certificates == "off":
            if self.tls_client_ca_file is not None:
                raise ValueError(
                    "HUB_TLS_CLIENT_CA_FILE is set but HUB_TLS_CLIENT_CERTIFICATES is off: "
                    "set it to optional or required, or unset the CA file"
                )
            return self
        mode = f"HUB_TLS_CLIENT_CERTIFICATES={self.tls_client_certificates}"
        if self.tls_cert_file is None:
            raise ValueError(f"{mode} needs HTTPS: set HUB_TLS_CERT_FILE and HUB_TLS_KEY_FILE")
        if self.tls_client_ca_file is None:
            raise ValueError(
                f"{mode} needs HUB_TLS_CLIENT_CA_FILE, the CAs that client certificates "
                "must chain to"
            )
        return self

    #: Largest request body (413 above it).
    max_request_bytes: int = Field(default=256 * 1024, ge=1024)
    #: Most notifications in one `POST /v1/events/batch`.
    max_batch_size: int = Field(default=500, ge=1, le=10_000)

    #: Run the router inside `hub serve` (turn off where routers run as their own processes).
    router_enabled: bool = True
    #: Notifications routed per transaction.
    router_batch_size: int = Field(default=100, ge=1, le=10_000)
    #: Seconds between the router's looks at the store when idle.
    router_poll_interval: float = Field(default=1.0, gt=0, le=60)

    #: Scaled out on Apache Kafka: the brokers (`host:port,...`). Unset (the embedded default):
    #: the router follows the store in-process. Set: an outbox relay publishes every stored event
    #: to the events topic, keyed by person, and routers consume it as one consumer group.
    kafka_bootstrap: str | None = None
    #: The client id the hub gives the Kafka brokers.
    kafka_client_id: str = "pph-hub"
    #: The topic every stored event is relayed to, keyed by person.
    kafka_events_topic: str = Field(default="pph.events", pattern=r"^[A-Za-z0-9._-]{1,249}$")
    #: Created with the topic; never changed afterwards (that would move people to other
    #: partitions). More partitions than router workers lets the group spread.
    kafka_events_partitions: int = Field(default=12, ge=1, le=10_000)
    #: Replicas of each topic the hub creates.
    kafka_replication_factor: int = Field(default=1, ge=1, le=32)
    #: How long a Kafka request may take before it fails.
    kafka_request_timeout_ms: int = Field(default=30_000, ge=1_000, le=600_000)
    #: How long the group waits for a silent router worker before giving its partitions away.
    kafka_session_timeout_ms: int = Field(default=10_000, ge=1_000, le=600_000)
    #: The consumer group of the router workers.
    kafka_router_group: str = "pph.router"
    #: Stored events the outbox relay publishes per batch.
    relay_batch_size: int = Field(default=500, ge=1, le=10_000)
    #: Seconds between the relay's looks at the outbox when idle.
    relay_poll_interval: float = Field(default=1.0, gt=0, le=60)
    #: Agencies that produce notifications to their own intake topic `<prefix><agency>` (the
    #: broker authenticates them and its ACLs keep each to its topic); consumed by the API role.
    kafka_intake_agencies: tuple[str, ...] = ()
    #: Each intake agency's topic is this prefix and the agency.
    kafka_intake_topic_prefix: str = "pph.intake."
    #: Partitions of each intake topic the hub creates.
    kafka_intake_partitions: int = Field(default=3, ge=1, le=10_000)
    #: The consumer group of the intake consumers (the API role).
    kafka_intake_group: str = "pph.intake"
    #: Messages the intake could not take, with the reason and the original bytes.
    kafka_rejects_topic: str = "pph.intake.rejects"
    #: How the hub itself connects: PLAINTEXT, SSL (mTLS with the cert and key below),
    #: SASL_PLAINTEXT or SASL_SSL (with SCRAM-SHA-256/512 and the username and password below).
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    #: SASL mechanism, with `SASL_PLAINTEXT` or `SASL_SSL`.
    kafka_sasl_mechanism: Literal["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"] | None = None
    #: SASL user name.
    kafka_sasl_username: str | None = None
    #: SASL password.
    kafka_sasl_password: SecretStr | None = None
    #: PEM bundle of the CAs the brokers' certificates must chain to.
    kafka_ssl_cafile: Path | None = None
    #: The hub's client certificate (PEM), for `SSL` (mutual TLS).
    kafka_ssl_certfile: Path | None = None
    #: The private key of `kafka_ssl_certfile` (PEM).
    kafka_ssl_keyfile: Path | None = None
    #: Recipients that take their disclosures on their own topic `<prefix><recipient>` (the
    #: Kafka delivery channel), each with the `whsec_…` secret its messages are signed with
    #: (Standard Webhooks headers), as JSON: `{"police-scotland-national": "whsec_…"}`.
    kafka_delivery_channels: dict[str, SecretStr] = {}
    #: Each Kafka delivery channel's topic is this prefix and the recipient id.
    kafka_delivery_topic_prefix: str = Field(
        default="pph.disclosures.", pattern=r"^[A-Za-z0-9._-]{0,200}$"
    )

    #: Run the webhook delivery worker and the overdue monitor inside `hub serve`.
    delivery_enabled: bool = True
    #: Seconds to wait before each retry of a failed webhook (after the first attempt); the
    #: default is close to Svix's: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (about 27 hours).
    webhook_retry_schedule: tuple[float, ...] = (5, 300, 1800, 7200, 18000, 36000, 36000)
    #: How long one webhook request may take.
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    #: Allow webhook URLs on loopback or private addresses (development and tests only:
    #: otherwise a subscription could aim the hub at internal services, SSRF).
    webhook_allow_private_addresses: bool = False
    #: Webhook sends in flight in one delivery worker.
    delivery_concurrency: int = Field(default=16, ge=1, le=512)
    #: Sends in flight to any one subscription's receiver (within `delivery_concurrency`), over
    #: kept-alive connections; each receiver's jobs are started in the order they were queued.
    delivery_concurrency_per_receiver: int = Field(default=4, ge=1, le=512)
    #: Due deliveries a worker claims at a time (and the most claimed jobs waiting for their
    #: receiver, or outcomes waiting to be recorded). Of one receiver, this many once it answers
    #: quickly; while it is unknown or slow, `delivery_concurrency_per_receiver`.
    delivery_batch_size: int = Field(default=50, ge=1, le=1000)
    #: How often an idle worker looks for due jobs (a cheap read; no lock is taken when idle).
    delivery_poll_interval: float = Field(default=0.25, gt=0, le=60)
    #: How long a worker's claim on a job lasts before another worker may take it over.
    delivery_claim_seconds: float = Field(default=60.0, gt=0, le=3600)
    #: Seconds between heartbeats on `GET /v1/feed/stream`.
    feed_heartbeat_seconds: float = Field(default=15.0, gt=0, le=300)
    #: Open `GET /v1/feed/stream` connections one client may hold in one hub process; one more
    #: is refused (429 with Retry-After). Idle streams cost the hub a connection and a poll each.
    feed_max_streams_per_client: int = Field(default=4, ge=1, le=1000)
    #: How often an open stream's client is looked up again (disabled, scope withdrawn: the
    #: stream ends). One read per client per interval, shared by all of that client's streams.
    feed_stream_recheck_seconds: float = Field(default=5.0, gt=0, le=300)
    #: A client re-reading a disclosure it has already received is logged as a consultation once
    #: per this many seconds (per client, purpose and disclosure), not on every re-read.
    feed_reread_audit_window_seconds: int = Field(default=3600, ge=0, le=86_400)

    #: Slow clients (`hub.api.connections`): a request's head (request line and headers) must
    #: arrive within this many seconds of its first byte (or of the connection, for the first
    #: request), and its body within `http_body_timeout_seconds` of its head; else the
    #: connection is closed. Heads larger than `http_max_header_bytes` are refused (431/400).
    http_header_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    #: See `http_header_timeout_seconds`.
    http_body_timeout_seconds: float = Field(default=60.0, gt=0, le=3600)
    #: See `http_header_timeout_seconds`.
    http_max_header_bytes: int = Field(default=16 * 1024, ge=1024, le=1024 * 1024)
    #: Most connections (and requests in progress) the API process holds; beyond it uvicorn
    #: answers 503. Keep it below the process's open-file limit (`hub serve` raises its soft
    #: limit to the hard limit at start, and warns when this does not fit).
    http_max_connections: int = Field(default=2048, ge=16, le=1_000_000)
    #: Seconds between looks for disclosures not acknowledged in time.
    overdue_check_interval: float = Field(default=30.0, gt=0, le=3600)

    #: PEM of the Ed25519 key that signs the audit log's checkpoints. Generated into
    #: `<data_dir>/keys/audit-signing.pem` (mode 0600) outside production; required in production.
    audit_signing_key: SecretStr | None = None
    #: The key name in the checkpoints' signature lines and in the verifier key.
    audit_key_name: str = Field(default="pph-hub-audit", pattern=r"^[^\s+]+$")
    #: Verifier keys (as `hub audit public-key` prints them) of earlier audit signing keys, as a
    #: JSON list: checkpoints they signed still verify after a rotation (docs/security.md).
    audit_previous_verifier_keys: list[str] = Field(default_factory=list, max_length=20)
    #: The log's origin line in its checkpoints (C2SP tlog-checkpoint), e.g. a host and path.
    audit_origin: str = Field(default="pph.hub/audit", min_length=1, pattern=r"^[^\n]+$")
    #: Seconds between checkpoints while the log grows.
    audit_checkpoint_interval: float = Field(default=5.0, gt=0, le=3600)
    #: Where every signed checkpoint is also published, append-only, outside the database
    #: (default `<data_dir>/audit-checkpoints`); `hub audit verify` checks the log against the
    #: latest one there. In production, point it at storage the database role and the hub's
    #: database administrators cannot rewrite (a WORM/object-lock bucket mount, another host).
    audit_checkpoint_dir: Path | None = None
    #: Run the audit sequencer and checkpointer inside `hub serve` (entries are written by
    #: every operation regardless; this only builds the Merkle tree and signs checkpoints).
    audit_enabled: bool = True

    #: Base64 of the 32-byte key-encryption key that wraps each person's data key (encryption
    #: at rest of sensitive fields, `hub.infra.protection`). Generated into
    #: `<data_dir>/keys/data-kek.key` (mode 0600) outside production; required in production.
    data_kek: SecretStr | None = None
    #: The name of `data_kek`, stored beside each data key it wraps.
    data_kek_id: str = Field(default="pph-kek-1", pattern=r"^[A-Za-z0-9._-]{1,100}$")
    #: Earlier key-encryption keys by id (base64), to unwrap data keys until `hub keys rotate`
    #: has rewrapped them under `data_kek`.
    data_previous_keks: dict[str, SecretStr] = {}

    #: The event schemas (JSON Schema) and their examples.
    events_dir: Path = resource_dir("events")
    #: The policy bundle in force (directory, sharing rules, their tests).
    policy_bundle_dir: Path = resource_dir("policies") / "scotland"
    #: The Alembic migrations.
    migrations_dir: Path = resource_dir("migrations")

    @field_validator("database_url", "database_migration_url")
    @classmethod
    def _known_driver(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is None:
            return None
        url = value.get_secret_value()
        if not url.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
            name = f"HUB_{(info.field_name or 'database_url').upper()}"
            raise ValueError(f"{name} must start with postgresql+asyncpg:// or sqlite+aiosqlite://")
        return value

    @model_validator(mode="after")
    def _one_backend(self) -> Settings:
        # Migrating one backend and running on another would leave the hub's schema unmigrated.
        migration = self.resolved_migration_url.split(":", 1)[0]
        if migration != self.resolved_database_url.split(":", 1)[0]:
            raise ValueError(
                "HUB_DATABASE_MIGRATION_URL and HUB_DATABASE_URL must name the same backend"
            )
        return self

    @model_validator(mode="after")
    def _no_insecure_fallbacks(self) -> Settings:
        if self.environment == "production":
            if self.database_url is None:
                raise ValueError("HUB_DATABASE_URL is required in production")
            key = self.token_signing_key
            if key is None or key.get_secret_value().strip().lower() in PLACEHOLDER_SECRETS:
                raise ValueError("HUB_TOKEN_SIGNING_KEY must be set to a real key in production")
            audit_key = self.audit_signing_key
            placeholder = audit_key is None or (
                audit_key.get_secret_value().strip().lower() in PLACEHOLDER_SECRETS
            )
            if placeholder:
                raise ValueError("HUB_AUDIT_SIGNING_KEY must be set to a real key in production")
            kek = self.data_kek
            if kek is None or kek.get_secret_value().strip().lower() in PLACEHOLDER_SECRETS:
                raise ValueError("HUB_DATA_KEK must be set to a real key in production")
        return self

    @property
    def resolved_database_url(self) -> str:
        """The database URL, with the embedded default (SQLite under `data_dir`) filled in."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite+aiosqlite:///{(self.data_dir / 'hub.sqlite3').resolve()}"

    @property
    def resolved_migration_url(self) -> str:
        """The URL migrations run on: `database_migration_url`, else the hub's own."""
        if self.database_migration_url is not None:
            return self.database_migration_url.get_secret_value()
        return self.resolved_database_url

    @property
    def is_embedded(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def resolved_audit_checkpoint_dir(self) -> Path:
        """`audit_checkpoint_dir`, or `<data_dir>/audit-checkpoints` when it is not set."""
        if self.audit_checkpoint_dir is not None:
            return self.audit_checkpoint_dir
        return self.data_dir / "audit-checkpoints"

    # --- The console: sign-in for people (issue 16) ---------------------------------------------
    #: The OpenID Connect issuer people sign in through (the agencies' identity provider, e.g.
    #: `https://login.example/realms/pph`). Unset: the console is off and `/` is not served.
    oidc_issuer: str | None = Field(default=None, pattern=r"^https?://[^\s]+$")
    #: The console's client id at that issuer (authorization code with PKCE).
    oidc_client_id: str | None = Field(default=None, min_length=1, max_length=200)
    #: Only for a confidential client: its secret (`client_secret_basic`). A public client
    #: relies on PKCE alone.
    oidc_client_secret: SecretStr | None = None
    #: The ID token claim that lists the person's groups or roles.
    console_role_claim: str = Field(default="groups", min_length=1, max_length=100)
    #: Which of those groups or roles gives which hub role, as JSON: `{"hub-dpo": "dpo",
    #: "hub-operator": "operator", "hub-mappa-glasgow": "mappa-coordinator:mappa-glasgow"}`
    #: (a co-ordinator's role names their MAPPA region). A person with none of them is refused.
    console_role_map: dict[str, str] = {}
    #: The ID token claim naming the agency a person acts for: an organisation id of the
    #: directory (`GET /v1/directory`) or `hub-operator`. The audit trail records it with each
    #: of their consultations and changes; a person whose token names none the hub knows is
    #: refused. Required in production; unset elsewhere, the issuer stands in for the agency.
    console_agency_claim: str | None = Field(default=None, min_length=1, max_length=100)
    #: A console session ends after this many seconds without a request, and in any case after
    #: `HUB_CONSOLE_SESSION_MAX_SECONDS` (then the person signs in again at the identity provider).
    console_session_idle_seconds: int = Field(default=900, ge=60, le=86_400)
    #: The longest a console session lasts, however active (a working day by default).
    console_session_max_seconds: int = Field(default=8 * 3600, ge=60, le=7 * 86_400)
    #: The console's cookies carry `Secure`. Browsers keep Secure cookies on http://localhost,
    #: so leave it on even in development.
    console_cookie_secure: bool = True

    @field_validator("console_role_map")
    @classmethod
    def _known_console_roles(cls, value: dict[str, str]) -> dict[str, str]:
        for group, role in value.items():
            if not CONSOLE_ROLE_PATTERN.fullmatch(role):
                raise ValueError(
                    f"HUB_CONSOLE_ROLE_MAP maps {group!r} to {role!r}: a hub role is dpo, "
                    "operator or mappa-coordinator:<region id>"
                )
        return value

    @model_validator(mode="after")
    def _console_settings_consistent(self) -> Settings:
        if (self.oidc_issuer is None) != (self.oidc_client_id is None):
            raise ValueError("HUB_OIDC_ISSUER and HUB_OIDC_CLIENT_ID must be set together")
        if self.oidc_issuer is None:
            return self
        if self.environment == "production" and not self.oidc_issuer.startswith("https://"):
            raise ValueError("HUB_OIDC_ISSUER must be an https:// URL in production")
        if not self.console_role_map:
            raise ValueError(
                "HUB_CONSOLE_ROLE_MAP is empty: with no group mapped to a hub role, nobody "
                "could use the console"
            )
        if self.environment == "production" and self.console_agency_claim is None:
            raise ValueError(
                "HUB_CONSOLE_AGENCY_CLAIM is not set: in production the audit trail must record "
                "which agency each console user acts for (an ID token claim naming it)"
            )
        if self.environment == "production" and not self.console_cookie_secure:
            raise ValueError("HUB_CONSOLE_COOKIE_SECURE cannot be off in production")
        return self


class DatabaseSettings(Settings):
    """The settings of the commands that only reach the database's schema (`hub db upgrade`,
    `current`, `check`): a migration Job or an init container is given the database's URLs and
    nothing else, so production does not demand the signing keys and the key-encryption key here
    (no migration reads them: migrations/versions/0010's docstring says why)."""

    @model_validator(mode="after")
    def _no_insecure_fallbacks(self) -> DatabaseSettings:
        if self.environment == "production" and self.database_url is None:
            raise ValueError("HUB_DATABASE_URL is required in production")
        return self
