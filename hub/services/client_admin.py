"""Administering agency clients, as the API (`/v1/admin/clients`) and the CLI (`hub clients`)
both do it: register, list, disable or enable, change scopes, rotate credentials. Every change is
written to the audit trail (never a secret); bad input is refused naming its field (the JSON
Pointer of the API's request body) and changes nothing.

Each change and its audit entry are written in one transaction (`ClientRepository` takes the
entries with the change): a change is never stored without its entry, nor an entry without it.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Literal

from hub.domain.audit.client_admin import client_changed
from hub.domain.audit.entries import AuditEntry
from hub.errors import Conflict, FieldProblem, InvalidInput, InvalidRequest, NotFound
from hub.services.clients import (
    ClientRepository,
    RegisteredClient,
    SecretHasher,
    check_agency,
    check_enabled,
    checked_scopes,
    register_client,
    register_key_client,
    required_text,
)


@dataclass(frozen=True, slots=True)
class Operator:
    """Who administers: the operator's client (API) or `cli:<user>` (CLI), and its agency."""

    actor: str
    agency: str


@dataclass(frozen=True, slots=True)
class Credentials:
    """A client and, when it was just given one, its new secret (shown once, never stored)."""

    client: RegisteredClient
    secret: str | None = None


AuthMethod = Literal["client_secret_basic", "private_key_jwt"]


def auth_method(client: RegisteredClient) -> AuthMethod:
    return "client_secret_basic" if client.jwks is None else "private_key_jwt"


def key_ids(client: RegisteredClient) -> list[str]:
    """The `kid` of each public key of a `private_key_jwt` client (every stored key has one)."""
    if client.jwks is None:
        return []
    return [str(key["kid"]) for key in json.loads(client.jwks)["keys"]]


@contextmanager
def field(pointer: str) -> Iterator[None]:
    """Turn `InvalidInput` about one value into an `InvalidRequest` naming its field."""
    try:
        yield
    except InvalidRequest:
        raise
    except InvalidInput as error:
        raise InvalidRequest(error.message, [FieldProblem(pointer, error.message)]) from error


class ClientAdministration:
    """The use cases behind `/v1/admin/clients` and `hub clients`."""

    def __init__(
        self,
        clients: ClientRepository,
        *,
        hash_secret: SecretHasher,
        known_agencies: Collection[str],
    ) -> None:
        self._clients = clients
        self._hash_secret = hash_secret
        self._known_agencies = known_agencies

    async def register(
        self,
        *,
        name: str,
        agency: str,
        scopes: Sequence[str] | str,
        jwks: str | None,
        by: Operator,
    ) -> Credentials:
        """A new client with a secret (returned once) or, given `jwks` (already checked by
        `hub.auth.client_keys.public_jwks`), one that authenticates with `private_key_jwt`.
        `Conflict` when one of the keys is already another client's."""
        with field("/name"):
            clean_name = required_text(name, "name")
        with field("/agency"):
            clean_agency = check_agency(required_text(agency, "agency"), self._known_agencies)
        with field("/scopes"):
            checked_scopes(scopes, clean_agency)
        if jwks is not None:
            await self._check_keys_unused(jwks, client_id=None)
        secret: str | None = None
        with field("/agency"):
            if jwks is None:
                client, secret = await register_client(
                    self._clients,
                    name=clean_name,
                    agency=clean_agency,
                    scopes=scopes,
                    hash_secret=self._hash_secret,
                    known_agencies=self._known_agencies,
                    audit=lambda new: [_entry("registered", new, by)],
                )
            else:
                client = await register_key_client(
                    self._clients,
                    name=clean_name,
                    agency=clean_agency,
                    scopes=scopes,
                    jwks=jwks,
                    known_agencies=self._known_agencies,
                    audit=lambda new: [_entry("registered", new, by)],
                )
        return Credentials(client, secret)

    async def list_clients(
        self, *, agency: str | None = None, enabled: bool | None = None
    ) -> list[RegisteredClient]:
        """Every client, oldest first; only the agency's, or only enabled or disabled ones."""
        return [
            c
            for c in await self._clients.list_all()
            if (agency is None or c.agency == agency)
            and (enabled is None or c.is_enabled == enabled)
        ]

    async def get(self, client_id: str) -> RegisteredClient:
        client = await self._clients.get(client_id)
        if client is None:
            raise NotFound(f"there is no client {client_id}")
        return client

    async def update(
        self,
        client_id: str,
        *,
        enabled: bool | None = None,
        scopes: Sequence[str] | str | None = None,
        by: Operator,
    ) -> RegisteredClient:
        """Disable or enable the client, and/or replace its scopes (each one its agency may
        hold). A disabled client is refused at once: its tokens stop working with it."""
        now = datetime.now(UTC)

        def apply(client: RegisteredClient) -> RegisteredClient:
            changed = client
            if scopes is not None:
                with field("/scopes"):
                    changed = replace(changed, scopes=checked_scopes(scopes, client.agency))
            if enabled is True:
                changed = replace(changed, disabled_at=None)
            elif enabled is False and changed.disabled_at is None:
                changed = replace(changed, disabled_at=now)
            return changed

        def record(before: RegisteredClient, after: RegisteredClient) -> list[AuditEntry]:
            entries = []
            if after.scopes != before.scopes:
                entries.append(_entry("scopes-changed", after, by))
            if after.is_enabled != before.is_enabled:
                entries.append(_entry("enabled" if after.is_enabled else "disabled", after, by))
            return entries

        return await self._clients.change(client_id, apply, audit=record)

    async def rotate(self, client_id: str, *, jwks: str | None, by: Operator) -> Credentials:
        """New credentials: a new secret (returned once) for a secret's client, in which case
        `jwks` must be None; the new public keys `jwks` for a `private_key_jwt` client. The old
        secret or keys stop working at once (the hub keeps no grace period); tokens already
        issued live out their lifetime. `Conflict` for a disabled client."""
        client = await self.get(client_id)
        secret: str | None = None
        if client.jwks is None:
            if jwks is not None:
                raise InvalidRequest(
                    f"client {client_id} authenticates with a client secret: it gets a new "
                    "secret, not keys (send no jwks; CLI: `hub clients rotate-secret`)",
                    [FieldProblem("/jwks", "not for a client that authenticates with a secret")],
                )
            secret = _new_secret()
            secret_hash = self._hash_secret(secret)
        elif jwks is None:
            raise InvalidRequest(
                f"client {client_id} authenticates with private_key_jwt and has no secret: "
                "send its new public keys as jwks (CLI: `hub clients set-keys`)",
                [FieldProblem("/jwks", "required for a private_key_jwt client")],
            )

        if jwks is not None:
            await self._check_keys_unused(jwks, client_id=client_id)

        def apply(current: RegisteredClient) -> RegisteredClient:
            check_enabled(current)
            if current.jwks is None and secret is not None:
                return replace(current, secret_hash=secret_hash)
            if current.jwks is not None and jwks is not None:
                return replace(current, jwks=jwks)
            raise Conflict(f"client {client_id} changed how it authenticates meanwhile")

        change = "secret-rotated" if secret is not None else "keys-replaced"
        after = await self._clients.change(
            client_id, apply, audit=lambda _before, rotated: [_entry(change, rotated, by)]
        )
        return Credentials(after, secret)

    async def _check_keys_unused(self, jwks: str, *, client_id: str | None) -> None:
        """`Conflict` when a key of `jwks` is registered to another client: one key, one
        client, so that an assertion names its client unambiguously and a leaked key is
        withdrawn from one place."""
        wanted = _public_keys(jwks)
        for other in await self._clients.list_all():
            if other.client_id == client_id or other.jwks is None:
                continue
            shared = wanted.keys() & _public_keys(other.jwks).keys()
            if shared:
                kid = wanted[min(shared)]
                raise Conflict(
                    f"the key {kid} is already registered to client {other.client_id}: each "
                    "client has keys of its own"
                )


def _entry(change: str, client: RegisteredClient, by: Operator) -> AuditEntry:
    """The audit entry of one change to `client` by `by`: never a secret, hash or key."""
    return client_changed(
        change=change,
        client_id=client.client_id,
        client_agency=client.agency,
        scopes=client.scopes,
        auth_method=auth_method(client),
        actor=by.actor,
        agency=by.agency,
        at=datetime.now(UTC),
        keys=len(key_ids(client)),
    )


#: The members that make up a public key (RFC 7638 section 3.2), by key type.
_KEY_MEMBERS = {"EC": ("crv", "x", "y"), "OKP": ("crv", "x"), "RSA": ("e", "n")}


def _public_keys(jwks: str) -> dict[tuple[str, ...], str]:
    """Each public key of a stored JWK Set, by its key material, with its `kid`."""
    found: dict[tuple[str, ...], str] = {}
    for key in json.loads(jwks)["keys"]:
        kty = str(key["kty"])
        material = (kty, *(str(key.get(m, "")) for m in _KEY_MEMBERS.get(kty, ())))
        found[material] = str(key["kid"])
    return found


def _new_secret() -> str:
    return secrets.token_urlsafe(32)
