"""The DPO restricts a person's subject access report from the console, and lifts the
restriction, over real HTTP on both backends, signed in through the real Keycloak: the change is
the API's own (stored with its audit entry, under the officer's name), a subject access report
honours it at once, bad input changes nothing and says why, and only the dpo role may do it."""

# The fixtures are imported by name from the DPO pages' tests; each test's parameter of that
# name is the fixture, not a redefinition.
# ruff: noqa: F811

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from hub.domain.audit.entries import AuditEntry, AuditKind
from hub.infra import tables
from tests.integration.api_helpers import RunningHub, bearer
from tests.integration.feed_helpers import rows
from tests.integration.test_console_dpo import (
    GLASGOW_NAME,
    GLASGOW_SW,
    PURPOSE,
    Console,
    a_person_told_to_glasgow,
    console,  # noqa: F401 - a fixture, used by name
    signed_in,
)
from tests.keycloak import (
    KeycloakUnderTest,
    keycloak,  # noqa: F401 - a fixture, used by name
)

pytestmark = [pytest.mark.asyncio, pytest.mark.keycloak]


async def alterations(hub: RunningHub) -> list[AuditEntry]:
    found = await rows(
        hub,
        sa.select(tables.audit_entries.c.entry).order_by(tables.audit_entries.c.position),
    )
    entries = [AuditEntry.from_canonical(r["entry"].encode()) for r in found]
    return [
        e
        for e in entries
        if e.kind is AuditKind.ALTERATION and (e.outcome or "").startswith("restriction-")
    ]


async def sar_mentions_glasgow(hub: RunningHub, person_id: str) -> bool:
    dpo = await hub.token("hub-dpo", "audit:read")
    report = await hub.http.get(
        f"/v1/audit/persons/{person_id}/history",
        params={"subject_access": "true", "format": "csv"},
        headers=bearer(dpo) | {"X-Purpose": PURPOSE},
    )
    assert report.status_code == 200, report.text
    return GLASGOW_SW in report.text


async def open_person(console: Console, csrf: str, person_id: str) -> str:
    page = await console.browser.post(
        "/console/dpo/person",
        data={"scheme": "person_id", "value": person_id, "purpose": PURPOSE, "csrf_token": csrf},
    )
    assert page.status_code == 200, page.text
    return page.text


async def test_a_dpo_places_and_lifts_a_restriction_and_the_report_follows(
    console: Console, keycloak: KeycloakUnderTest
) -> None:
    identifiers = await a_person_told_to_glasgow(console.hub)
    person_id = await console.hub.container.audit_queries.resolve_person(
        f"pnc_id:{identifiers['pnc_id']}"
    )
    assert await sar_mentions_glasgow(console.hub, person_id)
    csrf = await signed_in(console, keycloak, "dpo")
    page = await open_person(console, csrf, person_id)
    # The form offers the recipients the person's record names, by name, and their types.
    assert f'value="{GLASGOW_SW}"' in page
    assert GLASGOW_NAME in page
    assert 'value="release.schedule1-notification"' in page
    assert 'id="no-restrictions"' in page

    placed = await console.browser.post(
        "/console/dpo/restrictions",
        data={
            "person_id": person_id,
            "purpose": PURPOSE,
            "ground": "crime",
            "recipients": [GLASGOW_SW],
            "reference": "SAR-2026-0042",
            "csrf_token": csrf,
        },
    )
    assert placed.status_code == 200, placed.text
    restriction_id = re.search(r'<code id="restriction-id">(rs_[0-9a-f]{16})</code>', placed.text)
    assert restriction_id is not None
    assert 'id="back-to-person"' in placed.text
    assert not await sar_mentions_glasgow(console.hub, person_id)
    [stored] = await rows(console.hub, sa.select(tables.person_restrictions))
    assert stored["restriction_id"] == restriction_id.group(1)
    assert stored["placed_by"].endswith("(Dana Ogilvie)")

    page = await open_person(console, csrf, person_id)
    assert f'id="lift-{restriction_id.group(1)}"' in page
    lifted = await console.browser.post(
        f"/console/dpo/restrictions/{restriction_id.group(1)}/lift",
        data={"person_id": person_id, "purpose": PURPOSE, "csrf_token": csrf},
    )
    assert lifted.status_code == 200, lifted.text
    assert "Restriction lifted" in lifted.text
    assert await sar_mentions_glasgow(console.hub, person_id)
    page = await open_person(console, csrf, person_id)
    assert f'id="lift-{restriction_id.group(1)}"' not in page  # on record, no longer liftable

    again = await console.browser.post(
        f"/console/dpo/restrictions/{restriction_id.group(1)}/lift",
        data={"person_id": person_id, "purpose": PURPOSE, "csrf_token": csrf},
    )
    assert again.status_code == 409
    assert "already lifted" in again.text

    changes = await alterations(console.hub)
    assert [c.outcome for c in changes] == ["restriction-placed", "restriction-lifted"]
    for change in changes:
        assert change.actor.endswith("(Dana Ogilvie)")
        assert change.agency == "sps"
        assert change.person_id == person_id


#: Bad restrictions and the words of the message each gets.
BAD_RESTRICTIONS = [
    ({"ground": "because"}, 400, "Choose the ground"),
    ({"ground": "crime", "recipients": ["sw-atlantis"]}, 400, "sw-atlantis"),
    ({"ground": "crime", "event_types": ["<script>"]}, 400, "Not a notification type"),
    ({"ground": "crime", "reference": "SAR 0042; DROP"}, 400, "A case reference"),
    ({"ground": "crime", "person_id": "p_nobody"}, 404, "there is no person"),
]


async def test_a_bad_restriction_says_what_is_wrong_and_nothing_is_placed(
    console: Console, keycloak: KeycloakUnderTest
) -> None:
    identifiers = await a_person_told_to_glasgow(console.hub)
    person_id = await console.hub.container.audit_queries.resolve_person(
        f"pnc_id:{identifiers['pnc_id']}"
    )
    csrf = await signed_in(console, keycloak, "dpo")
    for form, status, message in BAD_RESTRICTIONS:
        answer = await console.browser.post(
            "/console/dpo/restrictions",
            data={"person_id": person_id, "purpose": PURPOSE, "csrf_token": csrf} | form,
        )
        assert answer.status_code == status, (form, answer.text)
        assert 'id="error-summary"' in answer.text
        assert message in answer.text, form
    unknown = await console.browser.post(
        "/console/dpo/restrictions/rs_0000000000000000/lift",
        data={"person_id": person_id, "purpose": PURPOSE, "csrf_token": csrf},
    )
    assert unknown.status_code == 404
    assert "no restriction" in unknown.text
    assert await rows(console.hub, sa.select(tables.person_restrictions)) == []
    assert await alterations(console.hub) == []


async def test_only_a_dpo_with_the_page_s_csrf_token_restricts(
    console: Console, keycloak: KeycloakUnderTest
) -> None:
    identifiers = await a_person_told_to_glasgow(console.hub)
    person_id = await console.hub.container.audit_queries.resolve_person(
        f"pnc_id:{identifiers['pnc_id']}"
    )
    form = {"person_id": person_id, "purpose": PURPOSE, "ground": "crime"}
    nobody = await console.browser.post("/console/dpo/restrictions", data=form)
    assert nobody.status_code == 303

    csrf = await signed_in(console, keycloak, "operator")
    for refused in (
        await console.browser.post("/console/dpo/restrictions", data=form | {"csrf_token": csrf}),
        await console.browser.post(
            "/console/dpo/restrictions/rs_0000000000000000/lift",
            data=form | {"csrf_token": csrf},
        ),
    ):
        assert refused.status_code == 403
        assert "You cannot see this page" in refused.text

    await signed_in(console, keycloak, "dpo")
    forged = await console.browser.post("/console/dpo/restrictions", data=form)
    assert forged.status_code == 403
    assert "CSRF token is missing or wrong" in forged.text
    assert await rows(console.hub, sa.select(tables.person_restrictions)) == []
    assert await alterations(console.hub) == []
