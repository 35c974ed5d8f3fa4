"""A client generated from the OpenAPI document (openapi-python-client), as an agency's developer
would make one, pushes a notification to a running hub and reads it back, on both backends: the
document is complete enough to drive a generator, with no schema the generator has to drop."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import httpx
import pytest

from hub.api.app import create_app
from hub.auth.secrets import hash_secret
from hub.services.clients import register_client
from tests.conftest import Database
from tests.integration.api_helpers import example

PACKAGE = "pph_generated_client"
BASE_URL = "http://hub.test"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The client package generated from the document, imported."""
    folder = tmp_path_factory.mktemp("generated")
    document = folder / "openapi.json"
    document.write_text(json.dumps(create_app().openapi()))
    config = folder / "config.yaml"
    # No post hooks: the generator would run ruff over the package, which the test does not need.
    config.write_text(
        f"project_name_override: {PACKAGE}\npackage_name_override: {PACKAGE}\npost_hooks: []\n"
    )
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "openapi_python_client",
            "generate",
            "--path",
            str(document),
            "--config",
            str(config),
            "--output-path",
            str(folder / PACKAGE),
            "--meta",
            "none",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    # The generator drops what it cannot model, with a warning: nothing may be dropped.
    assert "Unable to" not in run.stdout + run.stderr, run.stdout + run.stderr
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def _module(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


@pytest.mark.asyncio
async def test_a_generated_client_pushes_a_notification(
    generated: ModuleType, database: Database
) -> None:
    client_module = _module("client")
    models = _module("models")
    issue_token = _module("api.oauth.issue_token")
    publish = _module("api.events.publish_notification")
    get_notification = _module("api.events.get_notification")

    app = create_app(database.settings)
    async with app.router.lifespan_context(app):
        registered, secret = await register_client(
            app.state.container.clients,
            name="generated client",
            agency="sps",
            scopes=["events:publish", "events:read"],
            hash_secret=hash_secret,
        )
        transport = {"transport": httpx.ASGITransport(app=app)}
        anonymous = client_module.Client(base_url=BASE_URL, httpx_args=transport)
        token = await issue_token.asyncio(
            client=anonymous,
            body=models.IssueTokenBody.from_dict(
                {
                    "grant_type": "client_credentials",
                    "client_id": registered.client_id,
                    "client_secret": secret,
                }
            ),
        )
        assert isinstance(token, models.TokenResponse), token
        agency = client_module.AuthenticatedClient(
            base_url=BASE_URL, token=token.access_token, httpx_args=transport
        )

        notification = models.CustodyAdmissionNotification.from_dict(example("custody.admission"))
        first = await publish.asyncio_detailed(client=agency, body=notification)
        assert first.status_code == 201, first.content
        assert isinstance(first.parsed, models.AcceptedNotification)
        assert first.parsed.duplicate is False
        again = await publish.asyncio_detailed(client=agency, body=notification)
        assert again.status_code == 200, again.content
        assert again.parsed.duplicate is True
        assert again.parsed.position == first.parsed.position

        stored = await get_notification.asyncio(
            client=agency, event_id=notification.id, source=notification.source
        )
        assert isinstance(stored, models.StoredNotification), stored
        assert stored.position == first.parsed.position
        assert stored.notification.to_dict()["data"] == example("custody.admission")["data"]

        wrong = example("custody.admission")
        wrong["id"] = "another-admission"
        wrong["identifiers"] = {"sps_number": "not digits"}
        refused = await publish.asyncio_detailed(
            client=agency, body=models.CustodyAdmissionNotification.from_dict(wrong)
        )
        assert refused.status_code == 422, refused.content
        assert isinstance(refused.parsed, models.Problem)
        assert refused.parsed.errors[0].pointer == "/identifiers/sps_number"
