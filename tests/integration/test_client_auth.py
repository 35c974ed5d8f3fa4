"""`private_key_jwt` client authentication (RFC 7523) at `POST /oauth/token`, on both backends,
with real keys: a client registered with its public keys signs an assertion and gets a token; an
assertion that is replayed, signed by another key, addressed elsewhere, long-lived, expired, or
whose issuer is not its subject gets nothing. And the hub's own token signing key rotating
without downtime, with `GET /.well-known/jwks.json` listing the current and previous keys."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey
from pydantic import SecretStr

from hub.auth.client_keys import public_jwks
from hub.auth.keys import generate_pem, signing_key_from_pem
from hub.cli import _parser as cli_parser
from hub.errors import HubError, InvalidInput
from hub.services.clients import RegisteredClient, register_key_client
from tests.conftest import Database
from tests.integration.api_helpers import RunningHub, bearer, running_hub

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ISSUER = "urn:pph:hub"
TOKEN_URL = "https://hub.example/oauth/token"

PrivateKey = ECKey | OKPKey | RSAKey


@pytest_asyncio.fixture
async def hub(database: Database) -> AsyncIterator[RunningHub]:
    settings = database.settings.model_copy(update={"token_endpoint_url": TOKEN_URL})
    async with running_hub(settings) as running:
        yield running


def new_key(algorithm: str = "ES256") -> PrivateKey:
    if algorithm == "ES256":
        return ECKey.generate_key("P-256", auto_kid=True)
    if algorithm == "Ed25519":
        return OKPKey.generate_key("Ed25519", auto_kid=True)
    return RSAKey.generate_key(2048, auto_kid=True)


async def key_client(
    hub: RunningHub, *keys: PrivateKey, scopes: str = "feed:read"
) -> RegisteredClient:
    document = json.dumps({"keys": [k.as_dict(private=False) for k in keys]})
    return await register_key_client(
        hub.container.clients,
        name="ViSOR",
        agency="sw-glasgow-city",
        scopes=scopes,
        jwks=public_jwks(document),
    )


def assertion(client_id: str, key: PrivateKey, algorithm: str = "ES256", **overrides: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": client_id,
        "sub": client_id,
        "aud": ISSUER,
        "iat": now,
        "exp": now + 60,
        "jti": str(uuid.uuid4()),
    }
    claims.update(overrides)
    claims = {name: value for name, value in claims.items() if value is not None}
    return jwt.encode({"alg": algorithm, "kid": key.kid}, claims, key, algorithms=[algorithm])


async def request_token(hub: RunningHub, signed: str, **form: str) -> Any:
    return await hub.http.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": signed,
            **form,
        },
    )


@pytest.mark.asyncio
@pytest.mark.parametrize("algorithm", ["ES256", "Ed25519", "RS256"])
async def test_a_signed_assertion_gets_a_token_that_works(hub: RunningHub, algorithm: str) -> None:
    key = new_key(algorithm)
    client = await key_client(hub, key)

    answer = await request_token(hub, assertion(client.client_id, key, algorithm))

    assert answer.status_code == 200, answer.text
    token = answer.json()["access_token"]
    assert answer.json()["scope"] == "feed:read"
    feed = await hub.http.get("/v1/feed", headers=bearer(token))
    assert feed.status_code == 200, feed.text


@pytest.mark.asyncio
async def test_the_token_endpoint_url_is_an_audience_too(hub: RunningHub) -> None:
    key = new_key()
    client = await key_client(hub, key)
    signed = assertion(client.client_id, key, aud=TOKEN_URL)
    answer = await request_token(hub, signed, client_id=client.client_id)
    assert answer.status_code == 200, answer.text


@pytest.mark.asyncio
async def test_either_registered_key_signs(hub: RunningHub) -> None:
    old, new = new_key(), new_key()
    client = await key_client(hub, old, new)
    for key in (old, new):
        answer = await request_token(hub, assertion(client.client_id, key))
        assert answer.status_code == 200, answer.text


@pytest.mark.asyncio
async def test_an_assertion_is_used_once(hub: RunningHub) -> None:
    key = new_key()
    client = await key_client(hub, key)
    signed = assertion(client.client_id, key)

    first = await request_token(hub, signed)
    replayed = await request_token(hub, signed)

    assert first.status_code == 200, first.text
    assert replayed.status_code == 401, replayed.text
    assert replayed.json()["error"] == "invalid_client"


def _bad_assertions(client_id: str, key: PrivateKey) -> dict[str, str]:
    now = int(time.time())
    stranger = new_key()
    return {
        "signed by another key": jwt.encode(
            {"alg": "ES256", "kid": key.kid},
            {"iss": client_id, "sub": client_id, "aud": ISSUER, "exp": now + 60, "jti": "a"},
            stranger,
            algorithms=["ES256"],
        ),
        "another audience": assertion(client_id, key, aud="https://elsewhere.example/token"),
        "issuer is not the subject": assertion(client_id, key, iss="cl_someone_else"),
        "valid for too long": assertion(client_id, key, exp=now + 3600),
        "expired": assertion(client_id, key, iat=now - 600, exp=now - 300),
        "no jti": assertion(client_id, key, jti=None),
        "no exp": assertion(client_id, key, exp=None),
        "an unknown client": assertion("cl_nobody", key),
    }


@pytest.mark.asyncio
async def test_bad_assertions_get_nothing(hub: RunningHub) -> None:
    key = new_key()
    client = await key_client(hub, key)
    for case, signed in _bad_assertions(client.client_id, key).items():
        answer = await request_token(hub, signed)
        assert answer.status_code == 401, (case, answer.text)
        assert answer.json()["error"] == "invalid_client", case
        assert "access_token" not in answer.text


@pytest.mark.asyncio
async def test_hmac_and_unsigned_assertions_are_refused(hub: RunningHub) -> None:
    key = new_key()
    client = await key_client(hub, key)
    claims = {
        "iss": client.client_id,
        "sub": client.client_id,
        "aud": ISSUER,
        "exp": int(time.time()) + 60,
        "jti": str(uuid.uuid4()),
    }
    unsigned = (
        jwt.encode({"alg": "ES256"}, claims, key, algorithms=["ES256"]).rsplit(".", 1)[0] + "."
    )
    # HS256 keyed with the public key's thumbprint: an attacker's "algorithm confusion".
    hmac = jwt.encode(
        {"alg": "HS256"}, claims, OctKey.import_key(key.thumbprint()), algorithms=["HS256"]
    )
    for forged in (unsigned, hmac):
        answer = await request_token(hub, forged)
        assert answer.status_code == 401, answer.text


@pytest.mark.asyncio
async def test_a_key_client_cannot_use_a_secret_nor_mix_methods(hub: RunningHub) -> None:
    key = new_key()
    client = await key_client(hub, key)

    with_secret = await hub.http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client.client_id, ""),
    )
    assert with_secret.status_code in (400, 401), with_secret.text

    both = await request_token(hub, assertion(client.client_id, key), client_secret="anything")
    assert both.status_code == 400, both.text
    assert both.json()["error"] == "invalid_request"

    other_id = await request_token(hub, assertion(client.client_id, key), client_id="cl_other")
    assert other_id.status_code == 401, other_id.text

    wrong_type = await request_token(
        hub, assertion(client.client_id, key), client_assertion_type="urn:example:saml"
    )
    assert wrong_type.status_code == 400, wrong_type.text


@pytest.mark.asyncio
async def test_a_disabled_key_client_gets_no_token(hub: RunningHub) -> None:
    key = new_key()
    client = await key_client(hub, key)
    await hub.container.clients.disable(client.client_id)
    answer = await request_token(hub, assertion(client.client_id, key))
    assert answer.status_code == 401, answer.text


def small_rsa_public_jwk() -> dict[str, Any]:
    numbers = rsa.generate_private_key(65537, 1024).public_key().public_numbers()

    def b64(value: int) -> str:
        raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return {"kty": "RSA", "n": b64(numbers.n), "e": b64(numbers.e)}


def test_only_public_asymmetric_keys_are_registered() -> None:
    ec = new_key()
    stored = json.loads(public_jwks(json.dumps(ec.as_dict(private=False))))
    [only] = stored["keys"]
    assert "d" not in only
    assert only["kid"] == ec.kid
    refused = {
        "private key": json.dumps(ec.as_dict(private=True)),
        "symmetric key": json.dumps({"kty": "oct", "k": "c2VjcmV0"}),
        "small RSA key": json.dumps(small_rsa_public_jwk()),
        "not JSON": "{",
        "empty set": json.dumps({"keys": []}),
        "X25519 key": json.dumps(OKPKey.generate_key("X25519").as_dict(private=False)),
    }
    for case, document in refused.items():
        with pytest.raises(InvalidInput):
            public_jwks(document)
        del case


@pytest.mark.asyncio
async def test_the_cli_registers_a_client_by_its_public_keys(
    database: Database, tmp_path: Path
) -> None:
    key = new_key()
    path = tmp_path / "visor.jwks.json"
    path.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    base = ["clients", "add", "--name", "ViSOR", "--agency", "police-scotland"]
    args = cli_parser().parse_args([*base, "--scope", "feed:read", "--jwks", str(path), "--json"])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert await args.run(args, database.settings) == 0
    shown = json.loads(out.getvalue())
    assert "client_secret" not in shown
    assert shown["key_ids"] == [key.kid]

    private = tmp_path / "leaked.json"
    private.write_text(json.dumps(key.as_dict(private=True)))
    args = cli_parser().parse_args([*base, "--scope", "feed:read", "--jwks", str(private)])
    with pytest.raises(HubError, match="private"):
        await args.run(args, database.settings)


# -- the hub's signing keys rotate without downtime: JWKS lists current and previous keys --


@pytest.mark.asyncio
async def test_a_signing_key_rotation_keeps_issued_tokens_valid_until_the_old_key_goes(
    database: Database,
) -> None:
    old_pem, new_pem = generate_pem().decode(), generate_pem().decode()
    before = database.settings.model_copy(update={"token_signing_key": SecretStr(old_pem)})
    during = database.settings.model_copy(
        update={
            "token_signing_key": SecretStr(new_pem),
            "token_previous_signing_keys": (SecretStr(old_pem),),
        }
    )
    after = database.settings.model_copy(update={"token_signing_key": SecretStr(new_pem)})
    old_kid = signing_key_from_pem(old_pem).kid
    new_kid = signing_key_from_pem(new_pem).kid

    async with running_hub(before) as hub:
        issued = await hub.token("sw-glasgow-city", "feed:read")
        keys = (await hub.http.get("/.well-known/jwks.json")).json()["keys"]
        assert [k["kid"] for k in keys] == [old_kid]

    async with running_hub(during) as hub:
        still = await hub.http.get("/v1/feed", headers=bearer(issued))
        assert still.status_code == 200, still.text
        fresh = await hub.token("sw-glasgow-city", "feed:read")
        answer = await hub.http.get("/.well-known/jwks.json")
        assert answer.headers["content-type"].startswith("application/jwk-set+json")
        keys = answer.json()["keys"]
        assert [k["kid"] for k in keys] == [new_kid, old_kid]
        assert all("d" not in k for k in keys)

    async with running_hub(after) as hub:
        gone = await hub.http.get("/v1/feed", headers=bearer(issued))
        assert gone.status_code == 401, gone.text
        assert "unknown key" in gone.headers["www-authenticate"]
        current = await hub.http.get("/v1/feed", headers=bearer(fresh))
        assert current.status_code == 200, current.text
