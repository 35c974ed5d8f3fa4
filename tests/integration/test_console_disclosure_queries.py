"""The DPO's disclosure queries over real HTTP, on both backends, signed in through the real
Keycloak: by recipient, rule, recorded purpose and period, a page at a time, each row with its
rule, legal basis, delivery and acknowledgement; every query in the audit trail as a consultation
under the officer's name, with the purpose they stated and the criteria. Bad input says what is
wrong and reads and records nothing; only the dpo role with the page's CSRF token gets in."""

# The fixtures are imported by name from the DPO pages' tests; each test's parameter of that
# name is the fixture, not a redefinition.
# ruff: noqa: F811

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest

from hub.api.console import query_pages
from tests.integration.api_helpers import bearer
from tests.integration.feed_helpers import disclosures_to
from tests.integration.test_console_dpo import (
    GLASGOW_NAME,
    GLASGOW_SW,
    Console,
    a_person_told_to_glasgow,
    console,  # noqa: F401 - a fixture, used by name
    consultations,
    signed_in,
)
from tests.keycloak import (
    KeycloakUnderTest,
    keycloak,  # noqa: F401 - a fixture, used by name
)

pytestmark = [pytest.mark.asyncio, pytest.mark.keycloak]

QUERY_PURPOSE = "audit of disclosures to Glasgow, Q4 2026"


def result_rows(page: str) -> list[list[str]]:
    body = re.search(r'<table class="ds_table" id="results">.*?<tbody>(.*?)</tbody>', page, re.S)
    if body is None:
        return []
    return [
        [re.sub(r"\s+", " ", cell).strip() for cell in re.findall(r"<td>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S)
    ]


async def test_a_dpo_queries_disclosures_by_recipient_and_period_and_is_in_the_trail(
    console: Console, keycloak: KeycloakUnderTest
) -> None:
    hub = console.hub
    await a_person_told_to_glasgow(hub)
    [told] = await disclosures_to(hub, GLASGOW_SW)
    glasgow = await hub.token(GLASGOW_SW, "feed:read")
    acked = await hub.http.post(
        f"/v1/disclosures/{told['disclosure_id']}/ack", headers=bearer(glasgow)
    )
    assert acked.status_code == 201, acked.text

    csrf = await signed_in(console, keycloak, "dpo")
    assert 'id="dpo-disclosures"' in (await console.browser.get("/")).text
    form = await console.browser.get("/console/dpo/disclosures")
    assert form.status_code == 200
    assert f'<option value="{GLASGOW_SW}">{GLASGOW_NAME}</option>' in form.text

    today = datetime.now(UTC).date()
    criteria = {
        "recipient": GLASGOW_SW,
        "start": today.isoformat(),
        "end": today.isoformat(),
        "purpose": QUERY_PURPOSE,
        "csrf_token": csrf,
    }
    found = await console.browser.post("/console/dpo/disclosures", data=criteria)
    assert found.status_code == 200, found.text
    [row] = result_rows(found.text)
    _at, recipient, event_type, outcome, rules, legal_basis, delivered, acknowledged = row
    assert recipient == GLASGOW_NAME
    assert event_type == "release.schedule1-notification"
    assert outcome == "Disclosed"
    assert rules
    assert legal_basis
    assert delivered == "Not yet"  # delivery is off in this hub
    assert acknowledged.endswith("UTC")
    assert "?" not in str(found.url)  # nothing of the query in the URL

    # The rule, and words of the recorded purpose, narrow it; another period finds nothing.
    rule = rules.split(", ")[0]
    by_rule = await console.browser.post("/console/dpo/disclosures", data=criteria | {"rule": rule})
    assert len(result_rows(by_rule.text)) == 1
    other_rule = await console.browser.post(
        "/console/dpo/disclosures", data=criteria | {"rule": "r-no-such-rule"}
    )
    assert 'id="no-results"' in other_rule.text
    yesterday = (today - timedelta(days=1)).isoformat()
    earlier = await console.browser.post(
        "/console/dpo/disclosures", data=criteria | {"start": yesterday, "end": yesterday}
    )
    assert 'id="no-results"' in earlier.text

    # Every query is a consultation by the officer, for the stated purpose, with its criteria.
    queries = [c for c in await consultations(hub) if c.details.get("what") == "audit.query"]
    mine = [c for c in queries if c.actor.endswith("(Dana Ogilvie)")]
    assert mine
    assert len(mine) == len(queries)
    assert {c.purpose for c in mine} == {QUERY_PURPOSE}
    assert {c.agency for c in mine} == {"sps"}  # the DPO's agency claim
    criteria_logged = [c.details["query"] for c in mine]
    assert any(
        isinstance(q, Mapping) and q.get("recipient_id") == GLASGOW_SW and q.get("rule") == rule
        for q in criteria_logged
    )
    assert any(
        isinstance(q, Mapping) and str(q.get("since", "")).startswith(yesterday)
        for q in criteria_logged
    )


async def test_results_come_a_page_at_a_time(
    console: Console, keycloak: KeycloakUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    await a_person_told_to_glasgow(console.hub)
    await a_person_told_to_glasgow(console.hub)
    monkeypatch.setattr(query_pages, "PAGE_SIZE", 1)
    csrf = await signed_in(console, keycloak, "dpo")
    criteria = {"recipient": GLASGOW_SW, "purpose": QUERY_PURPOSE, "csrf_token": csrf}
    first = await console.browser.post("/console/dpo/disclosures", data=criteria)
    assert first.status_code == 200, first.text
    after = re.search(r'name="after" value="(\d+)"', first.text)
    assert after is not None
    assert 'id="next-page"' in first.text
    second = await console.browser.post(
        "/console/dpo/disclosures", data=criteria | {"after": after.group(1)}
    )
    assert second.status_code == 200, second.text
    assert len(result_rows(first.text)) == len(result_rows(second.text)) == 1
    last = re.search(r'name="after" value="(\d+)"', second.text)
    assert last is not None
    assert int(last.group(1)) > int(after.group(1))
    third = await console.browser.post(
        "/console/dpo/disclosures", data=criteria | {"after": last.group(1)}
    )
    assert 'id="no-results"' in third.text
    assert "after those already shown" in third.text


async def test_a_page_of_results_is_two_consultations_however_many_rows(
    console: Console, keycloak: KeycloakUnderTest
) -> None:
    """The query, and one look-up of the page's deliveries and acknowledgements: not one
    consultation per disclosed row (which filled the trail with near-identical entries)."""
    for _ in range(3):
        await a_person_told_to_glasgow(console.hub)
    # The middle one acknowledged: each row gets its own disclosure's follow-ups.
    told = await disclosures_to(console.hub, GLASGOW_SW)
    glasgow = await console.hub.token(GLASGOW_SW, "feed:read")
    acked = await console.hub.http.post(
        f"/v1/disclosures/{told[1]['disclosure_id']}/ack", headers=bearer(glasgow)
    )
    assert acked.status_code == 201, acked.text
    csrf = await signed_in(console, keycloak, "dpo")
    criteria = {"recipient": GLASGOW_SW, "purpose": QUERY_PURPOSE, "csrf_token": csrf}
    found = await console.browser.post("/console/dpo/disclosures", data=criteria)
    assert found.status_code == 200, found.text
    rows = result_rows(found.text)
    assert len(rows) == 3
    assert {row[3] for row in rows} == {"Disclosed"}
    assert [row[7].endswith("UTC") for row in rows] == [False, True, False]
    assert rows[0][7] == rows[2][7] == "Not yet"
    queries = [
        c for c in await consultations(console.hub) if c.details.get("what") == "audit.query"
    ]
    # A look-up records one entry per person it read (or one, reading nobody's): count the
    # look-ups by their criteria.
    looked_up = {repr(sorted(c.details["query"].items())) for c in queries}
    assert len(looked_up) == 2, looked_up
    follow_ups = [c.details["query"] for c in queries if "event_ids" in c.details["query"]]
    assert follow_ups
    assert {len(q["event_ids"]) for q in follow_ups} == {3}


#: Bad queries and the words of the message each gets.
BAD_QUERIES = [
    ({"recipient": "sw-atlantis"}, "Not a recipient in the directory: sw-atlantis"),
    ({"start": "2026-03-31", "end": "2026-03-01"}, "The end date is before the start date"),
    ({"start": "31/03/2026"}, "Enter the start date as year-month-day"),
    ({"end": "2026-02-30"}, "Enter the end date as year-month-day"),
    ({"rule": "r; DROP TABLE"}, "A rule id is up to 100"),
    ({"purpose": ""}, "Say why you are looking at these disclosures"),
    ({"purpose": "x"}, "The purpose must be 3 to 200"),
    ({"after": "-5"}, "The page to show is not one this form offered"),
    ({"after": "\u00b2"}, "The page to show is not one this form offered"),
]


async def test_bad_queries_say_what_is_wrong_and_read_and_record_nothing(
    console: Console, keycloak: KeycloakUnderTest
) -> None:
    await a_person_told_to_glasgow(console.hub)
    csrf = await signed_in(console, keycloak, "dpo")
    for form, message in BAD_QUERIES:
        answer = await console.browser.post(
            "/console/dpo/disclosures",
            data={"purpose": QUERY_PURPOSE, "csrf_token": csrf} | form,
        )
        assert answer.status_code == 400, (form, answer.text)
        assert 'id="error-summary"' in answer.text
        assert message in answer.text, (form, answer.text)
        assert 'id="results"' not in answer.text
    assert await consultations(console.hub) == []


async def test_only_a_dpo_with_the_page_s_csrf_token_queries(
    console: Console, keycloak: KeycloakUnderTest
) -> None:
    await a_person_told_to_glasgow(console.hub)
    query = {"recipient": GLASGOW_SW, "purpose": QUERY_PURPOSE}
    nobody = await console.browser.post("/console/dpo/disclosures", data=query)
    assert nobody.status_code == 303
    assert (await console.browser.get("/console/dpo/disclosures")).status_code == 303

    csrf = await signed_in(console, keycloak, "operator")
    assert 'id="dpo-disclosures"' not in (await console.browser.get("/")).text
    for refused in (
        await console.browser.get("/console/dpo/disclosures"),
        await console.browser.post("/console/dpo/disclosures", data=query | {"csrf_token": csrf}),
    ):
        assert refused.status_code == 403
        assert "You cannot see this page" in refused.text

    await signed_in(console, keycloak, "dpo")
    forged = await console.browser.post("/console/dpo/disclosures", data=query)
    assert forged.status_code == 403
    assert "CSRF token is missing or wrong" in forged.text
    assert await consultations(console.hub) == []
