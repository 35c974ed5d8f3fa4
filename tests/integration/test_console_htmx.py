"""Partial updates (htmx) over real HTTP, on both backends, signed in through the real Keycloak:
a request htmx sends (`HX-Request: true`) to the disclosure queries' next page or the operator's
replay is answered with just the part of the page that changes, with the same status code, the
same CSRF check and the same audit as the whole page; a refusal is the whole page (htmx's
script then sends the form the ordinary way)."""

# The fixtures are imported by name; each test's parameter of that name is the fixture.
# ruff: noqa: F811

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from hub.api.console import query_pages
from hub.domain.audit.entries import AuditEntry
from hub.infra import tables
from tests.integration.feed_helpers import rows
from tests.integration.test_console_disclosure_queries import QUERY_PURPOSE, result_rows
from tests.integration.test_console_dpo import (
    GLASGOW_SW,
    Console,
    a_person_told_to_glasgow,
    console,  # noqa: F401 - a fixture, used by name
    consultations,
    signed_in,
)
from tests.integration.test_console_operator import (
    HOOK_PATH,
    Operated,
    a_dead_delivery,
    operated,  # noqa: F401 - a fixture, used by name
    status_of,
)
from tests.keycloak import (
    KeycloakUnderTest,
    keycloak,  # noqa: F401 - a fixture, used by name
)

pytestmark = [pytest.mark.asyncio, pytest.mark.keycloak]

HTMX = {"HX-Request": "true"}


async def queries_logged(console: Console) -> int:
    found = await consultations(console.hub)
    return len([c for c in found if c.details.get("what") == "audit.query"])


async def all_entries(console: Console) -> list[AuditEntry]:
    found = await rows(
        console.hub,
        sa.select(tables.audit_entries.c.entry).order_by(tables.audit_entries.c.position),
    )
    return [AuditEntry.from_canonical(r["entry"].encode()) for r in found]


async def test_the_next_page_of_disclosures_to_htmx_is_the_results_alone_and_as_audited(
    console: Console, keycloak: KeycloakUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(3):
        await a_person_told_to_glasgow(console.hub)
    monkeypatch.setattr(query_pages, "PAGE_SIZE", 1)
    csrf = await signed_in(console, keycloak, "dpo")
    criteria = {"recipient": GLASGOW_SW, "purpose": QUERY_PURPOSE, "csrf_token": csrf}
    first = await console.browser.post("/console/dpo/disclosures", data=criteria)
    assert first.status_code == 200, first.text
    # The whole page loads htmx, configured for the strict policy, and marks the next page.
    assert "htmx/htmx.min.js" in first.text
    assert '"allowEval":false' in first.text
    assert "script-src 'self'; connect-src 'self';" in first.headers["content-security-policy"]
    assert "unsafe" not in first.headers["content-security-policy"]
    assert re.search(r'hx-post="[^"]*/console/dpo/disclosures"', first.text)
    after = re.search(r'name="after" value="(\d+)"', first.text)
    assert after is not None

    # The second page the ordinary way, then the same page as htmx asks for it.
    before = await queries_logged(console)
    whole = await console.browser.post(
        "/console/dpo/disclosures", data=criteria | {"after": after.group(1)}
    )
    by_whole_page = await queries_logged(console) - before
    before = await queries_logged(console)
    part = await console.browser.post(
        "/console/dpo/disclosures", data=criteria | {"after": after.group(1)}, headers=HTMX
    )
    by_fragment = await queries_logged(console) - before
    assert whole.status_code == part.status_code == 200, part.text
    assert "X-Console-Fragment" not in whole.headers
    assert part.headers["X-Console-Fragment"] == "1"
    assert part.headers["Vary"] == "HX-Request"
    assert part.headers["content-security-policy"] == whole.headers["content-security-policy"]
    assert part.text.lstrip().startswith('<div id="disclosure-results">')
    assert "<html" not in part.text
    assert 'id="run-query"' not in part.text  # the query form stays on the page
    assert result_rows(part.text) == result_rows(whole.text)
    assert len(result_rows(part.text)) == 1
    assert 'id="next-page"' in part.text
    # The same consultations, for the same purpose, by the same officer.
    assert by_fragment == by_whole_page > 0
    latest = [c for c in await consultations(console.hub) if c.details.get("what") == "audit.query"]
    assert {c.purpose for c in latest[-by_fragment:]} == {QUERY_PURPOSE}
    assert all(c.actor.endswith("(Dana Ogilvie)") for c in latest[-by_fragment:])

    # Bad input: the same 400, the message in the fragment, nothing read or recorded.
    before = await queries_logged(console)
    bad = await console.browser.post(
        "/console/dpo/disclosures", data=criteria | {"after": "-5"}, headers=HTMX
    )
    assert bad.status_code == 400
    assert bad.headers["X-Console-Fragment"] == "1"
    assert 'role="alert"' in bad.text
    assert "The page to show is not one this form offered" in bad.text
    assert await queries_logged(console) == before

    # A forged form: the whole refusal page, not a fragment, and nothing read.
    forged = await console.browser.post(
        "/console/dpo/disclosures", data=criteria | {"csrf_token": "forged"}, headers=HTMX
    )
    assert forged.status_code == 403
    assert "X-Console-Fragment" not in forged.headers
    assert "<html" in forged.text
    assert await queries_logged(console) == before


async def test_a_replay_to_htmx_is_the_dead_list_alone_and_as_audited(
    operated: Operated, keycloak: KeycloakUnderTest
) -> None:
    console = operated.console
    delivery_id, _ = await a_dead_delivery(operated)
    csrf = await signed_in(console, keycloak, "operator")
    listed = await console.browser.get("/console/operator/deliveries")
    assert 'hx-target="#dead-deliveries"' in listed.text
    assert "htmx/htmx.min.js" in listed.text

    forged = await console.browser.post(
        "/console/operator/deliveries/replay",
        data={"delivery_id": delivery_id, "csrf_token": "forged"},
        headers=HTMX,
    )
    assert forged.status_code == 403
    assert "X-Console-Fragment" not in forged.headers
    unknown = await console.browser.post(
        "/console/operator/deliveries/replay",
        data={"delivery_id": "no-such-delivery", "csrf_token": csrf},
        headers=HTMX,
    )
    assert unknown.status_code == 404
    assert unknown.headers["X-Console-Fragment"] == "1"
    assert "there is no delivery no-such-delivery" in unknown.text
    assert await status_of(operated, delivery_id) == "dead"

    operated.receiver.answer(HOOK_PATH, 200)
    replayed = await console.browser.post(
        "/console/operator/deliveries/replay",
        data={"delivery_id": delivery_id, "csrf_token": csrf},
        headers=HTMX,
    )
    assert replayed.status_code == 200, replayed.text
    assert replayed.headers["X-Console-Fragment"] == "1"
    assert replayed.text.lstrip().startswith('<div id="dead-deliveries">')
    assert "<html" not in replayed.text
    assert f'<code id="replayed-id">{delivery_id}</code>' in replayed.text
    assert 'id="no-dead"' in replayed.text
    assert await status_of(operated, delivery_id) == "pending"
    # Audited as the whole page's replay is: under the operator's name.
    delivery_entries = [
        e
        for e in await all_entries(console)
        if e.kind.value == "delivery" and e.state == "replayed"
    ]
    (asked,) = delivery_entries
    assert "(Omar Reid)" in asked.actor
    assert asked.details["delivery_id"] == delivery_id


async def test_signed_out_htmx_requests_get_the_same_redirect(
    console: Console,
) -> None:
    answer = await console.browser.post(
        "/console/dpo/disclosures", data={"purpose": QUERY_PURPOSE}, headers=HTMX
    )
    assert answer.status_code == 303
    assert "X-Console-Fragment" not in answer.headers
