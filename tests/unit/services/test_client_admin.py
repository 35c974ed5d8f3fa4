"""`hub.services.client_admin` without I/O: the rules the API and the CLI share (the scope only
the operator may hold, one key one client, credentials of the client's own kind), each refusal
naming its field and changing nothing, and audit entries that never hold a secret."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime

import pytest

from hub.domain.audit.entries import AuditEntry
from hub.errors import Conflict, InvalidRequest, NotFound
from hub.services.client_admin import ClientAdministration, Operator
from hub.services.clients import ChangeRecord, RegisteredClient

pytestmark = pytest.mark.asyncio

BY = Operator("cl_operator", "hub-operator")
JWKS = json.dumps({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "abc", "kid": "k1"}]})


class Audit:
    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []


class Clients:
    """An in-memory `ClientRepository`: enough for the use cases (no assertion ids); the audit
    entries given with a change are kept with it, as the SQL repository keeps them in the
    change's transaction."""

    def __init__(self, audit: Audit) -> None:
        self.stored: dict[str, RegisteredClient] = {}
        self.audit = audit

    async def add(self, client: RegisteredClient, *, audit: Sequence[AuditEntry] = ()) -> None:
        self.stored[client.client_id] = client
        self.audit.entries.extend(audit)

    async def get(self, client_id: str) -> RegisteredClient | None:
        return self.stored.get(client_id)

    async def list_all(self) -> list[RegisteredClient]:
        return list(self.stored.values())

    async def disable(self, client_id: str, *, at: datetime | None = None) -> RegisteredClient:
        raise NotImplementedError

    async def use_assertion_id(self, client_id: str, jti: str, expires_at: datetime) -> bool:
        raise NotImplementedError

    async def change(
        self,
        client_id: str,
        change: Callable[[RegisteredClient], RegisteredClient],
        *,
        audit: ChangeRecord | None = None,
    ) -> RegisteredClient:
        if client_id not in self.stored:
            raise NotFound(client_id)
        before = self.stored[client_id]
        after = change(before)
        entries = [] if audit is None else list(audit(before, after))
        self.stored[client_id] = after
        self.audit.entries.extend(entries)
        return after


def administration() -> tuple[ClientAdministration, Clients, Audit]:
    audit = Audit()
    clients = Clients(audit)
    admin = ClientAdministration(
        clients, hash_secret=lambda s: "hashed:" + s, known_agencies={"sps"}
    )
    return admin, clients, audit


async def test_a_secret_is_returned_once_and_never_audited() -> None:
    admin, clients, audit = administration()
    made = await admin.register(name="PR2", agency="sps", scopes="feed:read", jwks=None, by=BY)
    assert made.secret is not None
    rotated = await admin.rotate(made.client.client_id, jwks=None, by=BY)
    assert rotated.secret not in (None, made.secret)
    text = b"".join(e.canonical_bytes() for e in audit.entries).decode()
    assert [e.outcome for e in audit.entries] == ["client-registered", "client-secret-rotated"]
    assert made.secret not in text
    assert str(rotated.secret) not in text
    assert "hashed" not in text
    assert clients.stored[made.client.client_id].secret_hash == f"hashed:{rotated.secret}"


@pytest.mark.parametrize(
    ("agency", "scopes", "pointer"),
    [
        ("sps", "clients:manage", "/scopes"),
        ("sps", "", "/scopes"),
        ("sps", "feed:everything", "/scopes"),
        ("atlantis", "feed:read", "/agency"),
    ],
)
async def test_a_refused_registration_names_its_field_and_changes_nothing(
    agency: str, scopes: str, pointer: str
) -> None:
    admin, clients, audit = administration()
    with pytest.raises(InvalidRequest) as refused:
        await admin.register(name="PR2", agency=agency, scopes=scopes, jwks=None, by=BY)
    assert [p.pointer for p in refused.value.problems] == [pointer]
    assert clients.stored == {}
    assert audit.entries == []


async def test_the_operator_scope_is_the_operators_only() -> None:
    admin, _, _ = administration()
    made = await admin.register(
        name="ops", agency="hub-operator", scopes="clients:manage", jwks=None, by=BY
    )
    assert made.client.scopes == {"clients:manage"}


async def test_one_key_one_client() -> None:
    admin, clients, audit = administration()
    await admin.register(name="ViSOR", agency="sps", scopes="feed:read", jwks=JWKS, by=BY)
    before = dict(clients.stored), list(audit.entries)
    with pytest.raises(Conflict, match="k1"):
        await admin.register(name="ViSOR 2", agency="sps", scopes="feed:read", jwks=JWKS, by=BY)
    assert (dict(clients.stored), list(audit.entries)) == before


async def test_credentials_of_the_clients_own_kind() -> None:
    admin, _, _ = administration()
    secret_client = await admin.register(
        name="PR2", agency="sps", scopes="feed:read", jwks=None, by=BY
    )
    keyed = await admin.register(name="ViSOR", agency="sps", scopes="feed:read", jwks=JWKS, by=BY)
    with pytest.raises(InvalidRequest, match="rotate-secret"):
        await admin.rotate(secret_client.client.client_id, jwks=JWKS, by=BY)
    with pytest.raises(InvalidRequest, match="set-keys"):
        await admin.rotate(keyed.client.client_id, jwks=None, by=BY)


async def test_a_disabled_client_is_not_given_credentials_and_enabling_is_audited() -> None:
    admin, _, audit = administration()
    made = await admin.register(name="PR2", agency="sps", scopes="feed:read", jwks=None, by=BY)
    client_id = made.client.client_id
    assert not (await admin.update(client_id, enabled=False, by=BY)).is_enabled
    with pytest.raises(Conflict, match="disabled"):
        await admin.rotate(client_id, jwks=None, by=BY)
    assert (await admin.update(client_id, enabled=True, by=BY)).is_enabled
    # Changing nothing records nothing.
    await admin.update(client_id, enabled=True, scopes=["feed:read"], by=BY)
    outcomes = [e.outcome for e in audit.entries]
    assert outcomes == ["client-registered", "client-disabled", "client-enabled"]
