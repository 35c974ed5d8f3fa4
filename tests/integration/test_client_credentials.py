"""Changing a registered client's credentials in place, on both backends and through the CLI:
`hub clients rotate-secret` (the new secret works, the old one fails) and `hub clients set-keys`
(the new keys sign, the old ones do not; a bad JWK Set is refused by name and changes nothing)."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from joserfc.jwk import OKPKey

from hub.cli import _parser as cli_parser
from hub.errors import Conflict, HubError, InvalidInput, NotFound
from hub.settings import Settings
from tests.conftest import Database
from tests.integration.api_helpers import RunningHub, bearer, running_hub
from tests.integration.test_client_auth import (
    TOKEN_URL,
    PrivateKey,
    assertion,
    key_client,
    new_key,
    request_token,
    small_rsa_public_jwk,
)

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def hub(database: Database) -> AsyncIterator[RunningHub]:
    # No client cache: these tests change clients through the CLI (another container) and check
    # the next token request at once; across processes a change is seen within
    # HUB_CLIENT_CACHE_SECONDS, which only a CLI slower than the cache's lifetime used to hide.
    settings = database.settings.model_copy(
        update={"token_endpoint_url": TOKEN_URL, "client_cache_seconds": 0.0}
    )
    async with running_hub(settings) as running:
        yield running


async def cli(settings: Settings, *argv: str) -> str:
    """`hub ARGV` through the CLI's own parser and runner; what it printed."""
    args = cli_parser().parse_args(list(argv))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert await args.run(args, settings) == 0
    return out.getvalue()


async def secret_token(hub: RunningHub, client_id: str, secret: str) -> Any:
    return await hub.http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )


def jwks_file(tmp_path: Path, name: str, *keys: PrivateKey) -> Path:
    path = tmp_path / f"{name}.jwks.json"
    path.write_text(json.dumps({"keys": [key.as_dict(private=False) for key in keys]}))
    return path


async def stored_jwks(hub: RunningHub, client_id: str) -> str | None:
    client = await hub.container.clients.get(client_id)
    assert client is not None
    return client.jwks


async def test_a_rotated_secret_works_and_the_old_one_does_not(hub: RunningHub) -> None:
    settings = hub.container.settings
    added = json.loads(
        await cli(
            settings,
            *("clients", "add", "--name", "PR2", "--agency", "sps"),
            *("--scope", "events:read", "--json"),
        )
    )
    client_id, old = added["client_id"], added["client_secret"]
    before = await secret_token(hub, client_id, old)
    assert before.status_code == 200, before.text

    rotated = json.loads(await cli(settings, "clients", "rotate-secret", client_id, "--json"))
    assert rotated["client_id"] == client_id
    new = rotated["client_secret"]
    assert new != old

    refused = await secret_token(hub, client_id, old)
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_client"
    answer = await secret_token(hub, client_id, new)
    assert answer.status_code == 200, answer.text
    token = answer.json()["access_token"]
    listed = await hub.http.get("/v1/events/nothing-here", headers=bearer(token))
    assert listed.status_code == 404  # the token works (an unknown event, not a 401)
    # The human-readable form shows the secret once, too.
    shown = await cli(settings, "clients", "rotate-secret", client_id)
    assert "client_secret:" in shown
    assert "old secret no longer works" in shown


async def test_replaced_keys_sign_and_the_old_ones_do_not(hub: RunningHub, tmp_path: Path) -> None:
    settings = hub.container.settings
    old, new, spare = new_key(), new_key("Ed25519"), new_key("RS256")
    client = await key_client(hub, old)
    assert (await request_token(hub, assertion(client.client_id, old))).status_code == 200

    shown = json.loads(
        await cli(
            settings,
            *("clients", "set-keys", client.client_id),
            *("--jwks", str(jwks_file(tmp_path, "new", new, spare)), "--json"),
        )
    )
    assert shown == {"client_id": client.client_id, "key_ids": [new.kid, spare.kid]}

    refused = await request_token(hub, assertion(client.client_id, old))
    assert refused.status_code == 401, refused.text
    for key, algorithm in ((new, "Ed25519"), (spare, "RS256")):
        answer = await request_token(hub, assertion(client.client_id, key, algorithm))
        assert answer.status_code == 200, answer.text


async def test_a_bad_key_set_is_refused_by_name_and_changes_nothing(
    hub: RunningHub, tmp_path: Path
) -> None:
    settings = hub.container.settings
    key = new_key()
    client = await key_client(hub, key)
    before = await stored_jwks(hub, client.client_id)
    documents = {
        "private": json.dumps({"keys": [key.as_dict(private=True)]}),
        "symmetric": json.dumps({"kty": "oct", "k": "c2VjcmV0"}),
        "2048 bits": json.dumps(small_rsa_public_jwk()),
        "not JSON": "{",
        "1 to 10 keys": json.dumps({"keys": []}),
        "must be an Ed25519 key": json.dumps(OKPKey.generate_key("X25519").as_dict(private=False)),
    }
    for problem, document in documents.items():
        path = tmp_path / "bad.json"
        path.write_text(document)
        args = ("clients", "set-keys", client.client_id, "--jwks", str(path))
        with pytest.raises(InvalidInput, match=problem):
            await cli(settings, *args)
        assert await stored_jwks(hub, client.client_id) == before
    missing = ("clients", "set-keys", client.client_id, "--jwks", str(tmp_path / "absent.json"))
    with pytest.raises(InvalidInput, match="cannot read"):
        await cli(settings, *missing)
    assert await stored_jwks(hub, client.client_id) == before
    assert (await request_token(hub, assertion(client.client_id, key))).status_code == 200


async def test_credentials_change_only_for_their_kind_of_client_while_it_is_enabled(
    hub: RunningHub, tmp_path: Path
) -> None:
    settings = hub.container.settings
    key = new_key()
    keyed = await key_client(hub, key)
    added = json.loads(
        await cli(
            settings,
            *("clients", "add", "--name", "PR2", "--agency", "sps"),
            *("--scope", "events:read", "--json"),
        )
    )
    secret_client = added["client_id"]
    keys = str(jwks_file(tmp_path, "keys", new_key()))

    with pytest.raises(InvalidInput, match="set-keys"):
        await cli(settings, "clients", "rotate-secret", keyed.client_id)
    with pytest.raises(InvalidInput, match="rotate-secret"):
        await cli(settings, "clients", "set-keys", secret_client, "--jwks", keys)
    with pytest.raises(NotFound, match="cl_nobody"):
        await cli(settings, "clients", "rotate-secret", "cl_nobody")
    # Nothing changed: both still authenticate as before.
    assert (await request_token(hub, assertion(keyed.client_id, key))).status_code == 200
    assert (await secret_token(hub, secret_client, added["client_secret"])).status_code == 200

    await cli(settings, "clients", "disable", secret_client)
    await cli(settings, "clients", "disable", keyed.client_id)
    with pytest.raises(Conflict, match="disabled"):
        await cli(settings, "clients", "rotate-secret", secret_client)
    with pytest.raises(HubError, match="disabled"):
        await cli(settings, "clients", "set-keys", keyed.client_id, "--jwks", keys)
