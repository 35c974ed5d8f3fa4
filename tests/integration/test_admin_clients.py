"""Client administration by API (`/v1/admin/clients`, scope `clients:manage`) and the CLI that
calls the same use cases, on both backends through real HTTP: a registered client gets a token
and pushes; a disabled one is refused at once; credentials rotate; bad input is refused by field
and changes nothing; every change is in the audit trail, without secrets. And the directory."""

from __future__ import annotations

import contextlib
import io
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa

from hub.cli import _parser as cli_parser
from hub.errors import Conflict, HubError, InvalidInput
from hub.infra.tables import audit_entries
from hub.services.client_admin import Operator
from hub.settings import Settings
from tests.conftest import Database
from tests.integration.api_helpers import RunningHub, bearer, example, running_hub
from tests.integration.audit_faults import refuse_audit_entries_mentioning
from tests.integration.test_client_auth import TOKEN_URL, assertion, new_key, request_token

pytestmark = pytest.mark.asyncio

ADMIN = "/v1/admin/clients"


@pytest_asyncio.fixture
async def hub(database: Database) -> AsyncIterator[RunningHub]:
    settings = database.settings.model_copy(update={"token_endpoint_url": TOKEN_URL})
    async with running_hub(settings) as running:
        yield running


async def operator(hub: RunningHub) -> dict[str, str]:
    return bearer(await hub.token("hub-operator", "clients:manage"))


async def secret_token(hub: RunningHub, client_id: str, secret: str) -> Any:
    return await hub.http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )


def notification() -> dict[str, Any]:
    pushed = example("custody.admission")
    pushed["id"] = str(uuid.uuid4())
    return pushed


async def client_audit(hub: RunningHub) -> list[dict[str, Any]]:
    """The audit entries about clients, as stored (the whole canonical entry text)."""
    async with hub.container.engine.connect() as connection:
        rows = (await connection.execute(sa.select(audit_entries.c.entry))).scalars().all()
    entries = [json.loads(row) for row in rows]
    return [e for e in entries if str(e.get("outcome", "")).startswith("client-")]


async def everything(hub: RunningHub) -> tuple[Any, ...]:
    """The client register and the audit trail: what a refused request must leave as it was."""
    async with hub.container.engine.connect() as connection:
        clients = (await connection.execute(sa.text("SELECT * FROM clients"))).all()
        audit = (await connection.execute(sa.select(audit_entries.c.entry))).all()
    return tuple(clients), tuple(audit)


def assert_problem(answer: Any, status: int, pointer: str | None = None) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = answer.json()
    if pointer is not None:
        assert pointer in {e["pointer"] for e in problem["errors"]}, problem
    return problem


async def test_a_registered_client_gets_a_token_pushes_and_is_refused_once_disabled(
    hub: RunningHub,
) -> None:
    admin = await operator(hub)
    made = await hub.http.post(
        ADMIN,
        json={"name": "PR2", "agency": "sps", "scopes": ["events:publish", "events:read"]},
        headers=admin,
    )
    assert made.status_code == 201, made.text
    client = made.json()
    secret = client["client_secret"]
    assert client["auth_method"] == "client_secret_basic"
    assert client["status"] == "active"
    assert made.headers["location"] == f"{ADMIN}/{client['id']}"

    issued = await secret_token(hub, client["id"], secret)
    assert issued.status_code == 200, issued.text
    token = bearer(issued.json()["access_token"])
    pushed = notification()
    assert (await hub.http.post("/v1/events", json=pushed, headers=token)).status_code == 201
    read = await hub.http.get(f"/v1/events/{pushed['id']}", headers=token)
    assert read.status_code == 200, read.text

    shown = (await hub.http.get(f"{ADMIN}/{client['id']}", headers=admin)).json()
    assert "client_secret" not in shown
    assert shown["scopes"] == ["events:publish", "events:read"]

    disabled = await hub.http.patch(
        f"{ADMIN}/{client['id']}", json={"status": "disabled"}, headers=admin
    )
    assert disabled.json()["status"] == "disabled"
    # Refused at once: the token it already holds, and any new one.
    assert (
        await hub.http.post("/v1/events", json=notification(), headers=token)
    ).status_code == 401
    assert (await secret_token(hub, client["id"], secret)).status_code == 401

    enabled = await hub.http.patch(
        f"{ADMIN}/{client['id']}", json={"status": "active"}, headers=admin
    )
    assert enabled.json()["status"] == "active"
    assert (await secret_token(hub, client["id"], secret)).status_code == 200

    listed = (await hub.http.get(ADMIN, params={"agency": "sps"}, headers=admin)).json()
    assert [c["id"] for c in listed["clients"]] == [client["id"]]
    assert "client_secret" not in listed["clients"][0]
    assert secret not in json.dumps(listed)

    outcomes = [e["outcome"] for e in await client_audit(hub)]
    assert outcomes == ["client-registered", "client-disabled", "client-enabled"]


async def test_rotation_gives_a_new_secret_or_new_keys_and_the_old_stop_working(
    hub: RunningHub,
) -> None:
    admin = await operator(hub)
    made = (
        await hub.http.post(
            ADMIN, json={"name": "PR2", "agency": "sps", "scopes": ["events:read"]}, headers=admin
        )
    ).json()
    rotated = await hub.http.post(f"{ADMIN}/{made['id']}/credentials", json={}, headers=admin)
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["client_secret"]
    assert new_secret != made["client_secret"]
    assert (await secret_token(hub, made["id"], made["client_secret"])).status_code == 401
    assert (await secret_token(hub, made["id"], new_secret)).status_code == 200

    old_key, new_key_ = new_key(), new_key()
    keyed = await hub.http.post(
        ADMIN,
        json={
            "name": "ViSOR",
            "agency": "police-scotland",
            "scopes": ["feed:read"],
            "jwks": {"keys": [old_key.as_dict(private=False)]},
        },
        headers=admin,
    )
    assert keyed.status_code == 201, keyed.text
    keyed_id = keyed.json()["id"]
    assert keyed.json()["client_secret"] is None
    assert keyed.json()["key_ids"] == [old_key.kid]
    # A key client sends its new keys; a secret's client sends none.
    assert_problem(
        await hub.http.post(f"{ADMIN}/{keyed_id}/credentials", json={}, headers=admin), 422, "/jwks"
    )
    replaced = await hub.http.post(
        f"{ADMIN}/{keyed_id}/credentials",
        json={"jwks": {"keys": [new_key_.as_dict(private=False)]}},
        headers=admin,
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["key_ids"] == [new_key_.kid]
    assert (await request_token(hub, assertion(keyed_id, old_key))).status_code == 401
    assert (await request_token(hub, assertion(keyed_id, new_key_))).status_code == 200

    audit = await client_audit(hub)
    assert [e["outcome"] for e in audit] == [
        "client-registered",
        "client-secret-rotated",
        "client-registered",
        "client-keys-replaced",
    ]
    text = json.dumps(audit)
    for secret in (made["client_secret"], new_secret):
        assert secret not in text
    stored = await hub.container.clients.get(made["id"])
    assert stored is not None
    assert stored.secret_hash not in text
    assert all(e["actor"] != "hub" and e["agency"] == "hub-operator" for e in audit)


async def test_bad_input_is_refused_by_field_and_changes_nothing(hub: RunningHub) -> None:
    admin = await operator(hub)
    made = (
        await hub.http.post(
            ADMIN, json={"name": "PR2", "agency": "sps", "scopes": ["events:read"]}, headers=admin
        )
    ).json()
    key = new_key()
    public = {"keys": [key.as_dict(private=False)]}
    keyed = {"name": "ViSOR", "agency": "police-scotland", "scopes": ["feed:read"], "jwks": public}
    assert (await hub.http.post(ADMIN, json=keyed, headers=admin)).status_code == 201
    before = await everything(hub)
    base = {"name": "PR2 Low Moss", "agency": "sps", "scopes": ["events:read"]}
    refusals = [
        ({**base, "agency": "sw-atlantis"}, "/agency"),
        ({**base, "scopes": ["events:everything"]}, "/scopes"),
        ({**base, "scopes": []}, "/scopes"),
        ({**base, "scopes": ["clients:manage"]}, "/scopes"),
        ({**base, "name": " "}, "/name"),
        ({**base, "jwks": {"kty": "oct", "k": "c2VjcmV0"}}, "/jwks"),
        ({**base, "colour": "red"}, "/colour"),
        ({"agency": "sps", "scopes": ["events:read"]}, "/name"),
    ]
    for body, pointer in refusals:
        assert_problem(await hub.http.post(ADMIN, json=body, headers=admin), 422, pointer)
    changes = [
        ({"scopes": ["nonsense"]}, "/scopes"),
        ({"scopes": ["clients:manage"]}, "/scopes"),
        ({"status": "asleep"}, "/status"),
        ({"status": None}, "/status"),
    ]
    for body, pointer in changes:
        answer = await hub.http.patch(f"{ADMIN}/{made['id']}", json=body, headers=admin)
        assert_problem(answer, 422, pointer)
    as_json = admin | {"content-type": "application/json"}
    assert_problem(await hub.http.post(ADMIN, content=b"[1]", headers=as_json), 422)
    assert_problem(await hub.http.get(f"{ADMIN}/cl_nobody", headers=admin), 404)
    assert_problem(
        await hub.http.patch(f"{ADMIN}/cl_nobody", json={"status": "disabled"}, headers=admin), 404
    )
    # One key, one client: a key already registered is refused for another.
    duplicate = await hub.http.post(ADMIN, json={**keyed, "name": "ViSOR 2"}, headers=admin)
    assert key.kid in assert_problem(duplicate, 409)["detail"]
    reused = await hub.http.post(ADMIN, json={**base, "jwks": public}, headers=admin)
    assert_problem(reused, 409)
    assert await everything(hub) == before

    # A disabled client's credentials are not rotated: 409, nothing changed.
    await hub.http.patch(f"{ADMIN}/{made['id']}", json={"status": "disabled"}, headers=admin)
    before = await everything(hub)
    refused = await hub.http.post(f"{ADMIN}/{made['id']}/credentials", json={}, headers=admin)
    assert "disabled" in assert_problem(refused, 409)["detail"]
    assert await everything(hub) == before


async def test_only_the_operator_scope_administers_clients(hub: RunningHub) -> None:
    # Even `admin` (dead letters, replays) is not enough: least privilege.
    agency = bearer(await hub.token("sps", "events:publish admin subscriptions:manage"))
    before = await everything(hub)
    for method, url in [("GET", ADMIN), ("GET", f"{ADMIN}/cl_x"), ("POST", ADMIN)]:
        body = {"name": "mine", "agency": "sps", "scopes": ["clients:manage"]}
        answer = await hub.http.request(method, url, json=body, headers=agency)
        assert "clients:manage" in assert_problem(answer, 403)["detail"]
    assert_problem(await hub.http.get(ADMIN), 401)
    assert await everything(hub) == before


async def test_the_directory_lists_recipients_roles_and_areas(hub: RunningHub) -> None:
    assert_problem(await hub.http.get("/v1/directory"), 401)
    answer = await hub.http.get("/v1/directory", headers=bearer(await hub.token("sps")))
    assert answer.status_code == 200, answer.text
    directory = answer.json()
    recipients = {r["id"]: r for r in directory["recipients"]}
    bundle = hub.container.policy.directory
    assert set(recipients) == set(bundle.recipients)
    glasgow = bundle.recipients["sw-glasgow-city"]
    assert recipients["sw-glasgow-city"]["role"] == glasgow.role
    assert recipients["sw-glasgow-city"]["areas"] == sorted(glasgow.areas)
    assert {a["gss"] for a in directory["areas"]} == set(bundle.areas)
    assert directory["policy_version"] == hub.container.policy.version


async def cli(settings: Settings, *argv: str) -> str:
    args = cli_parser().parse_args(list(argv))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert await args.run(args, settings) == 0
    return out.getvalue()


async def test_the_cli_and_the_api_administer_alike(hub: RunningHub, tmp_path: Path) -> None:
    settings = hub.container.settings
    admin = await operator(hub)
    key = new_key()
    public = {"keys": [key.as_dict(private=False)]}
    (tmp_path / "keys.json").write_text(json.dumps(public))
    by_cli = json.loads(
        await cli(
            settings,
            *("clients", "add", "--name", "PR2", "--agency", "sps"),
            *("--scope", "events:read", "--jwks", str(tmp_path / "keys.json"), "--json"),
        )
    )
    # The same duplicate rule: the API refuses the key the CLI registered, and the CLI the key
    # the API did.
    body = {"name": "PR2 too", "agency": "sps", "scopes": ["feed:read"], "jwks": public}
    assert_problem(await hub.http.post(ADMIN, json=body, headers=admin), 409)
    other = new_key()
    (tmp_path / "other.json").write_text(json.dumps({"keys": [other.as_dict(private=False)]}))
    body = {**body, "jwks": {"keys": [other.as_dict(private=False)]}}
    assert (await hub.http.post(ADMIN, json=body, headers=admin)).status_code == 201
    args = cli_parser().parse_args(
        ["clients", "set-keys", by_cli["client_id"], "--jwks", str(tmp_path / "other.json")]
    )
    with pytest.raises(Conflict, match=other.kid):
        await args.run(args, settings)
    # The same scope rule: the CLI refuses what the API refuses.
    args = cli_parser().parse_args(
        ["clients", "set-scopes", by_cli["client_id"], "--scope", "clients:manage"]
    )
    with pytest.raises(InvalidInput, match="hub-operator"):
        await args.run(args, settings)
    await cli(settings, "clients", "set-scopes", by_cli["client_id"], "--scope", "feed:read")
    await cli(settings, "clients", "disable", by_cli["client_id"])
    seen = (await hub.http.get(f"{ADMIN}/{by_cli['client_id']}", headers=admin)).json()
    assert seen["scopes"] == ["feed:read"]
    assert seen["status"] == "disabled"
    listed = json.loads(await cli(settings, "clients", "list", "--agency", "sps", "--json"))
    assert [c["name"] for c in listed] == ["PR2", "PR2 too"]
    assert listed[0]["client_id"] == by_cli["client_id"]

    audit = await client_audit(hub)
    assert [(e["outcome"], e["actor"].partition(":")[0]) for e in audit] == [
        ("client-registered", "cli"),
        ("client-registered", audit[1]["actor"]),
        ("client-scopes-changed", "cli"),
        ("client-disabled", "cli"),
    ]
    assert audit[1]["actor"].startswith("cl_")
    assert audit[0]["details"]["auth_method"] == "private_key_jwt"


@pytest.mark.parametrize("change", ["registered", "disabled", "scopes-changed", "secret-rotated"])
async def test_a_change_whose_audit_entry_cannot_be_written_does_not_happen(
    database: Database, hub: RunningHub, change: str
) -> None:
    """Each change and its audit entry commit together or not at all: no change to a client
    is ever in force without its entry."""
    admin = hub.container.client_administration()
    by = Operator("cl_operator", "hub-operator")
    made = await admin.register(name="PR2", agency="sps", scopes="feed:read", jwks=None, by=by)
    await refuse_audit_entries_mentioning(database, f"client-{change}")
    before = await everything(hub)
    client_id = made.client.client_id
    attempts = {
        "registered": lambda: admin.register(
            name="PR3", agency="sps", scopes="feed:read", jwks=None, by=by
        ),
        "disabled": lambda: admin.update(client_id, enabled=False, by=by),
        "scopes-changed": lambda: admin.update(client_id, scopes="feed:read events:publish", by=by),
        "secret-rotated": lambda: admin.rotate(client_id, jwks=None, by=by),
    }
    with pytest.raises(HubError):
        await attempts[change]()
    assert await everything(hub) == before
    answer = await secret_token(hub, made.client.client_id, str(made.secret))
    assert answer.status_code == 200, answer.text  # still enabled, old secret still good
