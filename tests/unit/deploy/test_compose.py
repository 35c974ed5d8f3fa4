"""deploy/compose.yaml is a valid Compose file (the Compose Specification's JSON Schema, vendored
by deploy/vendor-compose-schema.sh), every `HUB_*` variable it or its secrets file sets is a real
setting, and what it gives each role is enough for production: the keys production requires
(issue 17: it once never set HUB_DATA_KEK, so every service refused to start) come from the
secrets file, never from compose.yaml itself."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jsonschema import Draft202012Validator

from hub.settings import PROJECT_ROOT, Settings

DEPLOY = PROJECT_ROOT / "deploy"
SCHEMA = PROJECT_ROOT / "tests" / "vendor" / "compose-spec" / "compose-spec.json"
COMPOSE: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
HUB_SERVICES = ("migrate", "api", "relay", "router", "delivery")
SECRETS_FILE = "hub-secrets.env"


def secrets_example_names() -> list[str]:
    text = (DEPLOY / f"{SECRETS_FILE}.example").read_text(encoding="utf-8")
    return re.findall(r"^(HUB_[A-Z0-9_]+)=", text, flags=re.M)


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's `${NAME}`, `${NAME:-default}` and `${NAME:?error}` (enough for this file)."""

    def one(match: re.Match[str]) -> str:
        name, op, arg = match[1], match[2], match[3]
        if env.get(name):
            return env[name]
        if op == ":-":
            return arg or ""
        raise AssertionError(f"{name} unset: {arg}")

    return re.sub(r"\$\{([A-Z0-9_]+)(?:(:[-?])([^}]*))?\}", one, value)


def test_compose_yaml_is_valid_against_the_compose_specification() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    errors = sorted(
        Draft202012Validator(schema).iter_errors(COMPOSE), key=lambda e: list(e.absolute_path)
    )
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_the_schema_rejects_what_compose_would() -> None:
    """The validation above is not vacuous: a misspelt service key fails it."""
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    broken = {"services": {"api": {"image": "x", "enviroment": {"HUB_PORT": "1"}}}}
    assert not Draft202012Validator(schema).is_valid(broken)


def test_the_hub_services_read_their_keys_from_the_secrets_file_only() -> None:
    for name in HUB_SERVICES:
        service = COMPOSE["services"][name]
        assert {"path": SECRETS_FILE, "required": True} in service["env_file"], name
        literal = set(service["environment"]) & set(secrets_example_names())
        assert not literal, f"{name} sets {sorted(literal)} in compose.yaml itself"
    assert "/deploy/hub-secrets.env" in (PROJECT_ROOT / ".gitignore").read_text(encoding="utf-8")


def test_every_hub_variable_is_a_real_setting() -> None:
    fields = set(Settings.model_fields)
    named = set(secrets_example_names())
    for service in COMPOSE["services"].values():
        named |= {k for k in service.get("environment", {}) if k.startswith("HUB_")}
    unknown = sorted(n for n in named if n.removeprefix("HUB_").lower() not in fields)
    assert not unknown, f"not settings of hub.settings.Settings: {unknown}"
    assert len(named) > 10


def _pem() -> str:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return pem.decode()


@pytest.mark.parametrize("service", HUB_SERVICES)
def test_each_role_gets_every_setting_production_requires(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service's environment, interpolated as Compose would, plus the secrets file filled in
    as its example says, makes valid production settings."""
    secrets = {
        "HUB_TOKEN_SIGNING_KEY": _pem(),
        "HUB_AUDIT_SIGNING_KEY": _pem(),
        "HUB_WEBHOOK_SIGNING_KEY": _pem(),
        "HUB_DATA_KEK": base64.b64encode(os.urandom(32)).decode(),
    }
    assert sorted(secrets) == sorted(secrets_example_names())
    shell = {"POSTGRES_PASSWORD": "a-long-random-password"}
    given = COMPOSE["services"][service]["environment"]
    environment = {k: interpolate(str(v), shell) for k, v in given.items()}
    for name in [n for n in os.environ if n.startswith("HUB_")]:
        monkeypatch.delenv(name)
    for name, value in {**environment, **secrets}.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.environment == "production"
    assert settings.data_kek is not None
    assert settings.webhook_signing_key is not None


def test_without_the_kek_production_refuses() -> None:
    """What the test above guards: production settings without HUB_DATA_KEK do not start."""
    with pytest.raises(ValueError, match="HUB_DATA_KEK"):
        Settings(
            environment="production",
            database_url="postgresql+asyncpg://hub:pw@postgres/hub",
            token_signing_key=_pem(),
            audit_signing_key=_pem(),
        )


def test_the_vendored_schema_is_the_pinned_one() -> None:
    version = (SCHEMA.parent / "VERSION").read_text(encoding="utf-8").splitlines()
    digest = hashlib.sha256(SCHEMA.read_bytes()).hexdigest()
    assert version[1] == f"{digest}  compose-spec.json"
    script = (DEPLOY / "vendor-compose-schema.sh").read_text(encoding="utf-8")
    assert digest in script


def test_paths_in_compose_exist() -> None:
    build = COMPOSE["x-hub"]["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).is_file()
    assert (DEPLOY / f"{SECRETS_FILE}.example").is_file()
