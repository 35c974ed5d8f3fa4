"""`hub keys webhook-key`: a new Ed25519 key the hub accepts as HUB_WEBHOOK_SIGNING_KEY."""

from __future__ import annotations

import argparse
import asyncio
import base64

import pytest

from hub.auth.webhook_keys import webhook_key_from_pem
from hub.cli.keys import _webhook_key
from hub.settings import Settings


def test_it_prints_a_usable_private_key_and_its_public_key(
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = Settings.model_construct(environment="test")
    assert asyncio.run(_webhook_key(argparse.Namespace(), settings)) == 0
    printed = capsys.readouterr()
    key = webhook_key_from_pem(printed.out, "active", "HUB_WEBHOOK_SIGNING_KEY")
    assert printed.err == f"public key {key.public_key} (kid {key.kid})\n"
    assert len(base64.b64decode(key.public_key.removeprefix("whpk_"))) == 32
    assert "PRIVATE KEY" not in printed.err
