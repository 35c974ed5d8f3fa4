"""A data protection officer in a real Chromium, signed in through Keycloak's real login page to
a real `hub serve` that has routed a person's notifications: finds the person by their SPS
number, reads their history, downloads the subject access report as CSV and as PDF; each look
is in the audit trail under the officer's name. An operator is refused the DPO's pages."""

from __future__ import annotations

import csv
import io
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect
from pypdf import PdfReader

from tests.e2e.conftest import HubProcess
from tests.e2e.console.browsing import (
    assert_accessible,
    console_url,
    screenshot,
    sign_in_at_keycloak,
)
from tests.integration.api_helpers import example
from tests.keycloak import KeycloakUnderTest

pytestmark = [pytest.mark.keycloak, pytest.mark.browser, pytest.mark.slow]

PURPOSE = "subject access request SAR-2026-0117"
GLASGOW_NAME = "Glasgow City Council Justice Social Work"


def _audit(hub: HubProcess, token: str, path: str, **params: str) -> Any:
    answer = httpx.get(
        f"{hub.url}/v1/audit/{path}",
        params=params,
        headers={"Authorization": f"Bearer {token}", "X-Purpose": "browser test check"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def a_person_told_to_glasgow(hub: HubProcess, auditor: str) -> str:
    """Pushes a person's admission and release (Glasgow social work is told) and waits until
    routed; their SPS number."""
    sps = hub.token(hub.register("sps", "events:publish"))
    sps_number = str(7_000_000 + uuid.uuid4().int % 1_000_000)
    for event_type in ("custody.admission", "release.schedule1-notification"):
        notification = example(event_type)
        notification["id"] = str(uuid.uuid4())
        notification["identifiers"] = {"sps_number": sps_number}
        answer = httpx.post(
            f"{hub.url}/v1/events",
            json=notification,
            headers={"Authorization": f"Bearer {sps}"},
            timeout=10,
        )
        assert answer.status_code == 201, answer.text
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = _audit(hub, auditor, "disclosures", person=f"sps_number:{sps_number}", limit="10")
        if found["entries"]:
            return sps_number
        time.sleep(0.2)
    raise AssertionError("the router never decided the person's disclosures")


def test_a_dpo_finds_a_person_reads_their_history_and_downloads_the_sar(
    chromium: Browser, routing_hub: HubProcess, keycloak: KeycloakUnderTest
) -> None:
    hub = routing_hub
    auditor = hub.token(hub.register("hub-dpo", "audit:read"))
    sps_number = a_person_told_to_glasgow(hub, auditor)
    context = chromium.new_context(accept_downloads=True)
    try:
        page = context.new_page()
        page.goto(console_url(hub))
        page.get_by_role("link", name="Sign in with your agency account").click()
        sign_in_at_keycloak(page, keycloak, "dpo")
        page.get_by_role("link", name="Find a person and see their history").click()

        expect(page.get_by_role("heading", name="Find a person")).to_be_visible()
        assert_accessible(page)
        # A bad search: the message is on the page, next to the field.
        page.get_by_label("Kind of identifier").select_option("sps_number")
        page.get_by_label("Identifier", exact=True).fill(sps_number)
        page.get_by_role("button", name="Find and open the record").click()
        expect(page.get_by_role("alert")).to_contain_text("Say why you are looking")
        assert_accessible(page)
        screenshot(page, "dpo-search-error")

        page.get_by_label("Kind of identifier").select_option("sps_number")
        page.get_by_label("Identifier", exact=True).fill(sps_number)
        page.get_by_label("Why you are looking at this record").fill(PURPOSE)
        screenshot(page, "dpo-search")
        began = time.monotonic()
        page.get_by_role("button", name="Find and open the record").click()

        history = page.get_by_role("table", name="What the hub collected")
        expect(history).to_be_visible()
        # Reported, never asserted (the machine's load decides it).
        print(f"person page: search to history shown in {time.monotonic() - began:.2f} s")
        expect(history).to_contain_text(f"disclosed to {GLASGOW_NAME}")
        expect(history).to_contain_text("Legal basis")
        expect(history).to_contain_text("e2e sps")  # the publisher by name, not client id
        expect(page.locator("#identifiers")).to_contain_text(sps_number)
        assert sps_number not in page.url
        screenshot(page, "dpo-person")
        assert_accessible(page)

        with page.expect_download() as downloading:
            page.get_by_role("button", name="Download the subject access report (CSV)").click()
        download = downloading.value
        assert download.suggested_filename.startswith("subject-access-report-p")
        report = list(csv.DictReader(io.StringIO(Path(download.path()).read_text())))
        kinds = {row["kind"] for row in report}
        assert {"collection", "disclosure"} <= kinds
        assert "sw-glasgow-city" in {row["recipient_id"] for row in report}

        with page.expect_download() as downloading:
            page.get_by_role("button", name="Download the subject access report (PDF)").click()
        pdf = downloading.value
        assert pdf.suggested_filename.endswith(".pdf")
        text = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(pdf.path()).pages)
        assert f"disclosed to {GLASGOW_NAME}" in text
        assert sps_number in text
    finally:
        context.close()

    # The three looks (the page, both downloads) are in the trail, by the officer, for the purpose.
    consulted = _audit(
        hub, auditor, "entries", kind="consultation", person=f"sps_number:{sps_number}"
    )["entries"]
    by_officer = [c for c in consulted if c["actor"].endswith("(Dana Ogilvie)")]
    assert len(by_officer) == 3, consulted
    assert {c["purpose"] for c in by_officer} == {PURPOSE}
    assert {c["agency"] for c in by_officer} == {"sps"}  # the DPO's agency claim


def test_an_operator_is_refused_the_dpo_pages(
    chromium: Browser, routing_hub: HubProcess, keycloak: KeycloakUnderTest
) -> None:
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.goto(console_url(routing_hub))
        page.get_by_role("link", name="Sign in with your agency account").click()
        sign_in_at_keycloak(page, keycloak, "operator")
        expect(page.locator("#person-name")).to_have_text("Omar Reid")
        expect(page.get_by_role("link", name="Find a person and see their history")).to_have_count(
            0
        )
        page.goto(console_url(routing_hub) + "console/dpo")
        expect(page.get_by_role("heading", name="You cannot see this page")).to_be_visible()
        expect(page.locator("main")).to_contain_text("Data protection officer")
        screenshot(page, "dpo-refused")
        assert_accessible(page)
    finally:
        context.close()


def test_a_dpo_restricts_the_report_from_the_person_s_page_and_lifts_it(
    chromium: Browser, routing_hub: HubProcess, keycloak: KeycloakUnderTest
) -> None:
    hub = routing_hub
    auditor = hub.token(hub.register("hub-dpo", "audit:read"))
    sps_number = a_person_told_to_glasgow(hub, auditor)
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.goto(console_url(hub))
        page.get_by_role("link", name="Sign in with your agency account").click()
        sign_in_at_keycloak(page, keycloak, "dpo")
        page.get_by_role("link", name="Find a person and see their history").click()
        page.get_by_label("Kind of identifier").select_option("sps_number")
        page.get_by_label("Identifier", exact=True).fill(sps_number)
        page.get_by_label("Why you are looking at this record").fill(PURPOSE)
        page.get_by_role("button", name="Find and open the record").click()
        expect(page.locator("#no-restrictions")).to_be_visible()

        page.get_by_text("Restrict this person's subject access report").click()
        page.get_by_label("Ground (DPA 2018 s45(4))").select_option("crime")
        # SGDS draws the checkbox on its label, as a person clicks it.
        page.locator('label[for="recipient-sw-glasgow-city"]').click()
        expect(page.get_by_label(GLASGOW_NAME)).to_be_checked()
        page.get_by_label("Case reference (optional)").fill("SAR-2026-0117")
        assert_accessible(page)
        page.get_by_role("button", name="Place the restriction").click()
        expect(page.get_by_role("heading", name="Restriction placed")).to_be_visible()
        expect(page.locator("#restriction-done")).to_contain_text("sw-glasgow-city")
        assert_accessible(page)
        screenshot(page, "dpo-restriction-placed")

        page.get_by_role("button", name="Back to the person's page").click()
        restrictions = page.get_by_role("table", name="Restrictions placed")
        expect(restrictions).to_contain_text(GLASGOW_NAME)
        expect(restrictions).to_contain_text("Active")
        expect(restrictions).to_contain_text("Dana Ogilvie")
        restrictions.get_by_role("button", name="Lift").click()
        expect(page.get_by_role("heading", name="Restriction lifted")).to_be_visible()
        page.get_by_role("button", name="Back to the person's page").click()
        restrictions = page.get_by_role("table", name="Restrictions placed")
        expect(restrictions).not_to_contain_text("Active")
        expect(restrictions.get_by_role("button", name="Lift")).to_have_count(0)
    finally:
        context.close()

    # Both changes are in the trail under the officer's name.
    changes = _audit(hub, auditor, "entries", kind="alteration", person=f"sps_number:{sps_number}")[
        "entries"
    ]
    outcomes = [c["outcome"] for c in changes if c["actor"].endswith("(Dana Ogilvie)")]
    assert outcomes == ["restriction-placed", "restriction-lifted"], changes
