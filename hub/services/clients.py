"""Agency clients: the systems (PR2, ViSOR, a council's case system) allowed to call the hub.

Each client belongs to one agency and holds a fixed set of OAuth scopes. Its secret is shown once,
when it is registered or rotated; the hub keeps only a hash of it. A client that authenticates
with `private_key_jwt` holds public keys instead, which can be replaced in place.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Protocol

from hub.domain.audit.entries import AuditEntry
from hub.errors import Conflict, InvalidInput

#: Every scope a client may hold, with what it allows.
SCOPES: Mapping[str, str] = {
    "events:publish": "push notifications into the hub",
    "events:read": "read back notifications the client's agency published",
    "feed:read": "pull the notifications disclosed to the client's agency",
    "subscriptions:manage": "create and change the agency's delivery subscriptions",
    "policy:explain": "ask why a notification was or was not shared, and with whom",
    "audit:read": "query the disclosure audit trail and report on a person (data protection "
    "officers)",
    "audit:verify": "fetch the audit trail's signed checkpoints and Merkle proofs (hashes only)",
    "audit:restrict": "restrict what a person's subject access report discloses",
    "reviews:decide": "approve or decline the proposed disclosures the client's agency reviews",
    "admin": "operate the hub: clients, dead letters, replays",
    "clients:manage": "register, list, disable and change the credentials of agency clients "
    "(hub operators only)",
}

#: The scope of `/v1/admin/clients`, which only a client of the hub's operator may hold.
CLIENTS_MANAGE = "clients:manage"

MAX_NAME_LENGTH = 200

#: The hub's own roles, which a client may act for besides the directory's agencies. They are
#: not recipients: nothing is ever disclosed to them, and they own no notification source.
HUB_AGENCIES: Mapping[str, str] = {
    "hub-operator": "runs the hub: dead letters, replays (scope admin), clients (clients:manage)",
    "hub-dpo": "the hub's data protection officer: audits, explains, restricts",
}
OPERATOR_AGENCY = "hub-operator"


@dataclass(frozen=True, slots=True)
class RegisteredClient:
    """An agency system registered to call the hub."""

    client_id: str
    name: str
    agency: str
    scopes: frozenset[str]
    #: The scrypt hash of its secret; empty for a client that authenticates with its keys.
    secret_hash: str = field(repr=False)
    created_at: datetime
    disabled_at: datetime | None = None
    #: The public JWK Set (JSON) of a `private_key_jwt` client; None for a secret's client.
    jwks: str | None = None

    @property
    def is_enabled(self) -> bool:
        return self.disabled_at is None

    @property
    def has_secret(self) -> bool:
        return bool(self.secret_hash)


#: The audit entries of a change, from the client before and after it (`ClientRepository.change`).
ChangeRecord = Callable[["RegisteredClient", "RegisteredClient"], Sequence[AuditEntry]]


class ClientRepository(Protocol):
    """Where registered clients are kept. Audit entries given with a change are written in the
    change's own transaction: both happen, or neither."""

    async def add(self, client: RegisteredClient, *, audit: Sequence[AuditEntry] = ()) -> None:
        """Store a new client and `audit`; `Conflict` if its id is already taken."""
        ...

    async def get(self, client_id: str) -> RegisteredClient | None:
        """The client with this id, disabled or not; None when there is none."""
        ...

    async def list_all(self) -> list[RegisteredClient]:
        """Every client, oldest first."""
        ...

    async def disable(self, client_id: str, *, at: datetime | None = None) -> RegisteredClient:
        """Stop the client from getting or using tokens, from `at` (default: now).

        Disabling a disabled client changes nothing. `NotFound` if there is no such client.
        """
        ...

    async def use_assertion_id(self, client_id: str, jti: str, expires_at: datetime) -> bool:
        """Record that the client's assertion `jti` was used, until `expires_at`; False if it
        was already used (a replay). Forgets ids whose assertions have expired."""
        ...

    async def change(
        self,
        client_id: str,
        change: Callable[[RegisteredClient], RegisteredClient],
        *,
        audit: ChangeRecord | None = None,
    ) -> RegisteredClient:
        """Read the client (locked against concurrent changes), apply `change` and store what it
        returns with the entries `audit` gives for it, in one transaction; an error from
        `change` or `audit` changes nothing. `NotFound` when there is no such client."""
        ...


class SecretHasher(Protocol):
    """Turns a plaintext client secret into the self-describing hash that is stored."""

    def __call__(self, secret: str, /) -> str: ...


def parse_scopes(scopes: Iterable[str] | str) -> frozenset[str]:
    """The set of scopes named, each of which must be known.

    A string is read as an OAuth scope parameter: scope names separated by spaces.
    """
    names = scopes.split() if isinstance(scopes, str) else [s.strip() for s in scopes]
    for name in names:
        if name not in SCOPES:
            raise InvalidInput(f"unknown scope {name!r}; known scopes: {', '.join(SCOPES)}")
    return frozenset(names)


def required_text(value: str, what: str) -> str:
    text = value.strip()
    if not text:
        raise InvalidInput(f"a client's {what} must not be empty")
    if len(text) > MAX_NAME_LENGTH:
        raise InvalidInput(f"a client's {what} must be at most {MAX_NAME_LENGTH} characters")
    if not text.isprintable():
        raise InvalidInput(f"a client's {what} must not contain control characters")
    return text


def _checked(
    name: str,
    agency: str,
    scopes: Iterable[str] | str,
    known_agencies: Collection[str] | None,
) -> tuple[str, str, frozenset[str]]:
    clean_name = required_text(name, "name")
    clean_agency = required_text(agency, "agency")
    if known_agencies is not None:
        check_agency(clean_agency, known_agencies)
    granted = parse_scopes(scopes)
    if not granted:
        raise InvalidInput("a client needs at least one scope")
    return clean_name, clean_agency, granted


def check_agency(agency: str, known_agencies: Collection[str]) -> str:
    """`agency`, if a client may act for it: a directory entry or one of the hub's roles."""
    if agency not in known_agencies and agency not in HUB_AGENCIES:
        raise InvalidInput(
            f"agency {agency!r} is not in the policy bundle's directory: a client acts for "
            "one directory entry (e.g. sps, police-scotland, sw-glasgow-city) or one of the "
            f"hub's own roles ({', '.join(HUB_AGENCIES)})"
        )
    return agency


def checked_scopes(scopes: Iterable[str] | str, agency: str) -> frozenset[str]:
    """The scopes named, each known and one the agency may hold, at least one: what client
    administration (`hub.services.client_admin`, API and CLI) grants."""
    granted = parse_scopes(scopes)
    if not granted:
        raise InvalidInput("a client needs at least one scope")
    if CLIENTS_MANAGE in granted and agency != OPERATOR_AGENCY:
        # Least privilege: administering clients is the hub operator's, never an agency's.
        raise InvalidInput(
            f"only a client of {OPERATOR_AGENCY} may hold the scope {CLIENTS_MANAGE}, "
            f"not one of {agency!r}"
        )
    return granted


async def register_key_client(
    repo: ClientRepository,
    *,
    name: str,
    agency: str,
    scopes: Iterable[str] | str,
    jwks: str,
    known_agencies: Collection[str] | None = None,
    audit: Callable[[RegisteredClient], Sequence[AuditEntry]] | None = None,
) -> RegisteredClient:
    """Register a client that authenticates with `private_key_jwt`: it has no secret, only the
    public JWK Set `jwks` (already checked by `hub.auth.client_keys.public_jwks`)."""
    clean_name, clean_agency, granted = _checked(name, agency, scopes, known_agencies)
    client = RegisteredClient(
        client_id="cl_" + secrets.token_urlsafe(12),
        name=clean_name,
        agency=clean_agency,
        scopes=granted,
        secret_hash="",
        created_at=datetime.now(UTC),
        jwks=jwks,
    )
    await repo.add(client, audit=() if audit is None else audit(client))
    return client


async def register_client(
    repo: ClientRepository,
    *,
    name: str,
    agency: str,
    scopes: Iterable[str] | str,
    hash_secret: SecretHasher,
    known_agencies: Collection[str] | None = None,
    audit: Callable[[RegisteredClient], Sequence[AuditEntry]] | None = None,
) -> tuple[RegisteredClient, str]:
    """Register a new client; return it and its plaintext secret, which is never shown again.

    `hash_secret` is `hub.auth.secrets.hash_secret` (passed in because application services
    sit below `hub.auth` in the layers and may not import it).
    """
    clean_name, clean_agency, granted = _checked(name, agency, scopes, known_agencies)
    secret = secrets.token_urlsafe(32)
    client = RegisteredClient(
        client_id="cl_" + secrets.token_urlsafe(12),
        name=clean_name,
        agency=clean_agency,
        scopes=granted,
        secret_hash=hash_secret(secret),
        created_at=datetime.now(UTC),
    )
    await repo.add(client, audit=() if audit is None else audit(client))
    return client, secret


async def rotate_client_secret(
    repo: ClientRepository, client_id: str, *, hash_secret: SecretHasher
) -> tuple[RegisteredClient, str]:
    """Give a secret client a new secret, returned once; the old one stops working at once
    (tokens already issued with it live out their lifetime). `InvalidInput` for a client that
    authenticates with its keys, `Conflict` for a disabled one, `NotFound`."""
    secret = secrets.token_urlsafe(32)
    secret_hash = hash_secret(secret)

    def apply(client: RegisteredClient) -> RegisteredClient:
        check_enabled(client)
        if not client.has_secret:
            raise InvalidInput(
                f"client {client.client_id} authenticates with private_key_jwt and has no secret: "
                "replace its public keys with `hub clients set-keys` instead"
            )
        return replace(client, secret_hash=secret_hash)

    return await repo.change(client_id, apply), secret


async def replace_client_keys(
    repo: ClientRepository, client_id: str, *, jwks: str
) -> RegisteredClient:
    """Replace the public JWK Set of a `private_key_jwt` client (`jwks` already checked by
    `hub.auth.client_keys.public_jwks`): assertions signed by a key no longer in it are refused
    from now on. `InvalidInput` for a client that authenticates with a secret, `Conflict` for a
    disabled one, `NotFound`."""

    def apply(client: RegisteredClient) -> RegisteredClient:
        check_enabled(client)
        if client.jwks is None:
            raise InvalidInput(
                f"client {client.client_id} authenticates with a client secret, not with keys: "
                "rotate its secret with `hub clients rotate-secret`, or register a new client "
                "with --jwks"
            )
        return replace(client, jwks=jwks)

    return await repo.change(client_id, apply)


def check_enabled(client: RegisteredClient) -> None:
    if not client.is_enabled:
        raise Conflict(
            f"client {client.client_id} is disabled: its credentials are not changed (register "
            "a new client instead)"
        )
