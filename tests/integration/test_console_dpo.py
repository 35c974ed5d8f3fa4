"""The data protection officer's console pages over real HTTP, on both backends, signed in
through the real Keycloak: find a person by any identifier, see their history with names (not
client ids), download the subject access report (the API's own, restrictions honoured), and
every look recorded in the audit trail with the signed-in person as the actor. Bad input gets a
clear message on the page and reads nothing; only the dpo role gets in."""

# The `keycloak` fixture is imported by name (tests/integration/console/conftest.py does the same
# for its folder); each test's parameter of that name is the fixture, not a redefinition.
# ruff: noqa: F811

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import pytest_asyncio
import sqlalchemy as sa

from hub.api.app import create_app
from hub.domain.audit.entries import AuditEntry
from hub.infra import tables
from hub.settings import Settings
from tests.conftest import Database
from tests.integration.api_helpers import RunningHub, bearer
from tests.integration.console.hub_browser import CONSOLE_URL, ConsoleBrowser
from tests.integration.feed_helpers import about_new_person, push, routed, rows
from tests.keycloak import (
    KeycloakUnderTest,
    keycloak,  # noqa: F401 - a fixture, used by name
    provider_browser,
    sign_in_at_keycloak,
)

pytestmark = [pytest.mark.asyncio, pytest.mark.keycloak]

GLASGOW_SW = "sw-glasgow-city"
GLASGOW_NAME = "Glasgow City Council Justice Social Work"
PURPOSE = "subject access request SAR-2026-0042"


@dataclass
class Console:
    browser: ConsoleBrowser
    hub: RunningHub
    issuer: str


@pytest_asyncio.fixture
async def console(database: Database, keycloak: KeycloakUnderTest) -> AsyncIterator[Console]:
    settings: Settings = database.settings.model_copy(
        update={
            "router_poll_interval": 0.05,
            "delivery_enabled": False,
            **keycloak.hub_settings,
        }
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with (
            httpx.AsyncClient(transport=transport, base_url=CONSOLE_URL) as http,
            provider_browser() as provider,
        ):
            yield Console(
                ConsoleBrowser(http, provider),
                RunningHub(http, app.state.container),
                keycloak.issuer,
            )


async def signed_in(console: Console, keycloak: KeycloakUnderTest, username: str) -> str:
    """Signs `username` in (at Keycloak with a fresh jar: no one else's session there); the
    CSRF token of their home page."""
    begun = await console.browser.get("/console/login")
    async with provider_browser() as provider:
        callback = await sign_in_at_keycloak(
            provider, begun.headers["location"], keycloak.users[username]
        )
    landed = await console.browser.get(callback)
    assert landed.status_code == 303, landed.text
    home = await console.browser.get("/")
    token = re.search(r'name="csrf_token" value="([^"]+)"', home.text)
    assert token is not None
    return token.group(1)


async def a_person_told_to_glasgow(hub: RunningHub) -> dict[str, str]:
    """One person admitted and their release notified (Glasgow social work is told), routed;
    their identifiers."""
    notifications = about_new_person(("custody.admission", "release.schedule1-notification"))
    await push(hub, await hub.token("sps"), notifications)
    await routed(hub)
    identifiers: dict[str, str] = notifications[0]["identifiers"]
    return identifiers


async def consultations(hub: RunningHub) -> list[AuditEntry]:
    found = await rows(
        hub,
        sa.select(tables.audit_entries.c.entry).order_by(tables.audit_entries.c.position),
    )
    entries = [AuditEntry.from_canonical(r["entry"].encode()) for r in found]
    return [e for e in entries if e.kind.value == "consultation"]


async def test_a_dpo_finds_a_person_sees_their_history_and_is_in_the_audit_trail(
    console: Console, keycloak: KeycloakUnderTest
) -> None:
    identifiers = await a_person_told_to_glasgow(console.hub)
    csrf = await signed_in(console, keycloak, "dpo")
    form = await console.browser.get("/console/dpo")
    assert form.status_code == 200
    assert '<label class="ds_label" for="value">Identifier</label>' in form.text

    found = await console.browser.post(
        "/console/dpo/person",
        data={
            "scheme": "pnc_id",
            "value": identifiers["pnc_id"],
            "purpose": PURPOSE,
            "csrf_token": csrf,
        },
    )
    assert found.status_code == 200, found.text
    page = found.text
    assert identifiers["sps_number"] in page  # every identifier of the person
    assert f"release.schedule1-notification disclosed to {GLASGOW_NAME}" in page
    assert "<dt>Legal basis</dt>" in page
    assert "<dt>Rule</dt>" in page
    assert "Collected" in page
    # Actors by name: the publishing client's registered name and agency, no client id.
    assert "test sps (" in page
    client_ids = {c.client_id for c in await console.hub.container.clients.list_all()}
    assert client_ids
    assert not any(client_id in page for client_id in client_ids)
    assert "<caption>" in page

    [read] = [c for c in await consultations(console.hub) if c.actor.startswith("console:")]
    person_id = re.search(r'<span id="person-id">([^<]+)</span>', page)
    assert person_id is not None
    assert read.person_id == person_id.group(1)
    assert read.purpose == PURPOSE
    assert read.actor.endswith("(Dana Ogilvie)")
    assert read.agency == "sps"  # the agency claim of the ID token
    assert read.details["what"] == "audit.history"

    # The next look shows the first in the history, by the officer's name.
    again = await console.browser.post(
        "/console/dpo/person",
        data={
            "scheme": "person_id",
            "value": person_id.group(1),
            "purpose": PURPOSE,
            "csrf_token": csrf,
        },
    )
    assert again.status_code == 200
    assert "Dana Ogilvie (console)" in again.text
    assert len([c for c in await consultations(console.hub) if c.actor == read.actor]) == 2


async def test_the_subject_access_report_is_the_api_s_with_restrictions_honoured(
    console: Console, keycloak: KeycloakUnderTest
) -> None:
    identifiers = await a_person_told_to_glasgow(console.hub)
    dpo = await console.hub.token("hub-dpo", "audit:read audit:restrict")
    person_id = await console.hub.container.audit_queries.resolve_person(
        f"sps_number:{identifiers['sps_number']}"
    )
    placed = await console.hub.http.post(
        f"/v1/audit/persons/{person_id}/restrictions",
        json={"ground": "crime", "recipients": [GLASGOW_SW]},
        headers=bearer(dpo),
    )
    assert placed.status_code == 201, placed.text
    # Every entry so far given its place in the log, so the two reports are taken of the same
    # log (else the background sequencer numbers the restriction's entry between them).
    await console.hub.container.audit_sequencer().run_until_idle()
    csrf = await signed_in(console, keycloak, "dpo")

    download = await console.browser.post(
        "/console/dpo/subject-access-report",
        data={"person_id": person_id, "purpose": PURPOSE, "csrf_token": csrf},
    )
    assert download.status_code == 200, download.text
    assert download.headers["content-type"] == "text/csv; charset=utf-8"
    assert download.headers["content-disposition"] == (
        f'attachment; filename="subject-access-report-{person_id}.csv"'
    )
    assert GLASGOW_SW not in download.text
    assert "section 45(4)" in download.text

    api = await console.hub.http.get(
        f"/v1/audit/persons/{person_id}/history",
        params={"subject_access": "true", "format": "csv"},
        headers=bearer(dpo) | {"X-Purpose": PURPOSE},
    )
    from_console = list(csv.reader(io.StringIO(download.text)))
    from_api = list(csv.reader(io.StringIO(api.text)))
    # The same report: the API's has one row more, the console's download (logged as read).
    extra = [row for row in from_api if row not in from_console]
    assert len(extra) == 1
    assert extra[0][2] == "consultation"
    assert extra[0][4].endswith("(Dana Ogilvie)")
    assert [row for row in from_api if row in from_console] == from_console


#: Bad searches, the status each gets and the words of its message on the page.
BAD_SEARCHES = [
    ({"scheme": "pnc_id", "value": "", "purpose": PURPOSE}, 400, "Enter the identifier"),
    ({"scheme": "shoe_size", "value": "9", "purpose": PURPOSE}, 400, "Choose the kind"),
    ({"scheme": "pnc_id", "value": "99/9999999Z", "purpose": PURPOSE}, 404, "No person is"),
    ({"scheme": "person_id", "value": "x:y", "purpose": PURPOSE}, 400, "not an identifier"),
    ({"scheme": "pnc_id", "value": "21/1K", "purpose": ""}, 400, "Say why you are"),
    ({"scheme": "pnc_id", "value": "21/1K", "purpose": "a\u202eb c"}, 400, "The purpose must"),
    ({"scheme": "pnc_id", "value": "x" * 300, "purpose": PURPOSE}, 400, "at most 200"),
]


async def test_bad_searches_say_what_is_wrong_on_the_page_and_read_nothing(
    console: Console, keycloak: KeycloakUnderTest
) -> None:
    # One sign-in for all the cases: each sign-in at Keycloak costs a second or two in CI.
    csrf = await signed_in(console, keycloak, "dpo")
    for form, status, message in BAD_SEARCHES:
        answer = await console.browser.post("/console/dpo/person", data=form | {"csrf_token": csrf})
        assert answer.status_code == status, (form, answer.text)
        assert 'id="error-summary"' in answer.text
        assert message in answer.text, form
    assert await consultations(console.hub) == []


async def test_only_a_signed_in_dpo_with_the_page_s_csrf_token_gets_in(
    console: Console, keycloak: KeycloakUnderTest
) -> None:
    identifiers = await a_person_told_to_glasgow(console.hub)
    search = {"scheme": "pnc_id", "value": identifiers["pnc_id"], "purpose": PURPOSE}

    nobody = await console.browser.post("/console/dpo/person", data=search)
    assert nobody.status_code == 303
    assert nobody.headers["location"] == f"{CONSOLE_URL}/"
    assert (await console.browser.get("/console/dpo")).status_code == 303

    csrf = await signed_in(console, keycloak, "operator")
    assert "dpo-search" not in (await console.browser.get("/")).text
    for refused in (
        await console.browser.get("/console/dpo"),
        await console.browser.post("/console/dpo/person", data=search | {"csrf_token": csrf}),
        await console.browser.post(
            "/console/dpo/subject-access-report",
            data={"person_id": "p_x", "purpose": PURPOSE, "csrf_token": csrf},
        ),
    ):
        assert refused.status_code == 403
        assert "You cannot see this page" in refused.text
        assert "Data protection officer" in refused.text

    csrf = await signed_in(console, keycloak, "dpo")
    forged = await console.browser.post("/console/dpo/person", data=search)
    assert forged.status_code == 403
    assert "CSRF token is missing or wrong" in forged.text
    assert await consultations(console.hub) == []
