"""Every answer the hub gives is one its OpenAPI document declares, on both backends: requests
generated from the document (valid and invalid, with and without a token) get only statuses
declared for their operation, each with a declared media type.

Bounded (`EXAMPLES` per operation) so that it stays a few seconds per backend; the unbounded
search for server errors is `test_openapi_fuzz.py`'s.
"""

from __future__ import annotations

import asyncio
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.generation.case import Case
from schemathesis.python import asgi

from hub.api.app import create_app
from hub.settings import Settings
from tests.conftest import Database
from tests.integration.test_openapi_fuzz import _register

EXAMPLES = 5
SKIPPED = {("GET", "/v1/feed/stream")}  # never ends by design


def _declared(operation: dict[str, Any], status: int) -> dict[str, Any] | None:
    responses = operation["responses"]
    for key in (str(status), f"{str(status)[0]}XX", "default"):
        if key in responses:
            declared: dict[str, Any] = responses[key]
            return declared
    return None


def _check(
    operation: Any,
    declared_operation: dict[str, Any],
    session: Any,
    headers: dict[str, str],
    undeclared: set[str],
) -> None:
    """Generated requests for one operation; what they get that is not declared, in
    `undeclared`."""

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(), authenticated=st.booleans())
    def exercise(case: Case, authenticated: bool) -> None:
        response = case.call(session=session, headers=headers if authenticated else {})
        label = f"{case.method} {operation.path} -> {response.status_code}"
        declared = _declared(declared_operation, response.status_code)
        if declared is None:
            undeclared.add(f"{label}: status not declared")
            return
        # schemathesis keeps each header as the list of its values.
        values = response.headers.get("content-type") or [""]
        media_type = values[0].split(";")[0]
        content = declared.get("content")
        types = {key.split(";")[0].strip() for key in content or ()}
        if content is not None and media_type and media_type not in types:
            undeclared.add(f"{label}: {media_type} not declared ({sorted(types)})")

    exercise()


def test_every_answer_is_declared(database: Database) -> None:
    hub_settings: Settings = database.settings.model_copy(
        update={"delivery_enabled": False, "rate_limit_burst": 100_000}
    )
    client_id, secret = asyncio.run(_register(hub_settings))
    app = create_app(hub_settings)
    document = app.openapi()
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    undeclared: set[str] = set()
    checked = 0
    try:
        with asgi.get_client(app) as session:
            answer = session.post(
                "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
            )
            assert answer.status_code == 200, answer.text
            headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}
            for result in schema.get_all_operations():
                operation = result.ok()
                method = operation.method.upper()
                if (method, operation.path) in SKIPPED:
                    continue
                declared = document["paths"][operation.path][operation.method.lower()]
                _check(operation, declared, session, headers, undeclared)
                checked += 1
    finally:
        asgi.shutdown_lifespans()
    assert checked > 30  # every operation of the document, not none
    assert not undeclared, "\n".join(sorted(undeclared))
