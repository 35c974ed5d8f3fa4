"""The subject access report as PDF from the DPO's console, over real HTTP on both backends,
signed in through the real Keycloak, read back with pypdf: it holds what the CSV holds (every
disclosure, by recipient name), withholds what a restriction covers and says so, names the
person, the generation time, the audit checkpoint and page numbers, and the download is a
consultation under the officer's name with their purpose."""

# ruff: noqa: F811

from __future__ import annotations

import csv
import io

import pytest
from pypdf import PdfReader

from tests.integration.api_helpers import bearer
from tests.integration.test_console_dpo import (
    GLASGOW_NAME,
    GLASGOW_SW,
    PURPOSE,
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


def pdf_text(body: bytes) -> tuple[str, int]:
    """The PDF's text with runs of whitespace as one space (table cells wrap), and its pages."""
    reader = PdfReader(io.BytesIO(body))
    text = " ".join(page.extract_text() for page in reader.pages)
    return " ".join(text.split()), len(reader.pages)


async def download(console: Console, csrf: str, person_id: str, kind: str) -> bytes:
    path = "/console/dpo/subject-access-report" + ("/pdf" if kind == "pdf" else "")
    answer = await console.browser.post(
        path, data={"person_id": person_id, "purpose": PURPOSE, "csrf_token": csrf}
    )
    assert answer.status_code == 200, answer.text
    return answer.content


async def test_the_pdf_holds_what_the_csv_holds_and_withholds_what_a_restriction_covers(
    console: Console, keycloak: KeycloakUnderTest
) -> None:
    identifiers = await a_person_told_to_glasgow(console.hub)
    person_id = await console.hub.container.audit_queries.resolve_person(
        f"pnc_id:{identifiers['pnc_id']}"
    )
    # A signed checkpoint of the audit log, for the report to name.
    container = console.hub.container
    await container.audit_sequencer().run_until_idle()
    await container.audit_checkpointer().run_once()
    csrf = await signed_in(console, keycloak, "dpo")

    answer = await console.browser.post(
        "/console/dpo/subject-access-report/pdf",
        data={"person_id": person_id, "purpose": PURPOSE, "csrf_token": csrf},
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.headers["content-disposition"] == (
        f'attachment; filename="subject-access-report-{person_id}.pdf"'
    )
    assert "default-src 'none'" in answer.headers["content-security-policy"]
    text, pages = pdf_text(answer.content)
    assert pages >= 1
    assert f"Subject access report: person {person_id}" in text  # the running header
    assert f"Page 1 of {pages}" in text
    assert identifiers["pnc_id"] in text
    assert "Prepared by Dana Ogilvie" in text
    # The audit log's latest signed checkpoint (by its root hash, which may wrap).
    signed = await container.audit_trail.checkpoints()
    assert signed
    assert any(c.root_hash.hex() in "".join(text.split()) for c in signed)
    assert "Audit log checkpoint:" in text
    # Every disclosure of the CSV, by the recipient's name.
    rows = list(
        csv.DictReader(io.StringIO((await download(console, csrf, person_id, "csv")).decode()))
    )
    disclosed = [r for r in rows if r["kind"] == "disclosure" and r["outcome"] == "disclosed"]
    assert GLASGOW_SW in {r["recipient_id"] for r in disclosed}
    names = {r.id: r.name for r in container.policy.directory.recipients.values()}
    for row in disclosed:
        assert f"{row['event_type']} disclosed to {names[row['recipient_id']]}" in text, row
    assert "Legal basis:" in text
    assert "section 45(4)" not in text

    # The download is a consultation: the officer by name, their purpose, the SAR's report.
    pdf_read, _csv_read = [
        c for c in await consultations(console.hub) if c.actor.startswith("console:")
    ][-2:]
    assert pdf_read.actor.endswith("(Dana Ogilvie)")
    assert pdf_read.agency == "sps"
    assert pdf_read.purpose == PURPOSE
    assert pdf_read.person_id == person_id
    assert pdf_read.details["what"] == "audit.history"
    assert pdf_read.details["query"]["subject_access"] is True

    dpo = await console.hub.token("hub-dpo", "audit:read audit:restrict")
    placed = await console.hub.http.post(
        f"/v1/audit/persons/{person_id}/restrictions",
        json={"ground": "crime", "recipients": [GLASGOW_SW]},
        headers=bearer(dpo),
    )
    assert placed.status_code == 201, placed.text
    restricted, _ = pdf_text(await download(console, csrf, person_id, "pdf"))
    assert GLASGOW_NAME not in restricted
    for row in disclosed:
        if row["recipient_id"] != GLASGOW_SW:
            assert names[row["recipient_id"]] in restricted  # only Glasgow's part is withheld
    assert "section 45(4)" in restricted
    assert GLASGOW_SW not in (await download(console, csrf, person_id, "csv")).decode()


async def test_only_a_dpo_with_the_csrf_token_and_a_purpose_gets_the_pdf(
    console: Console, keycloak: KeycloakUnderTest
) -> None:
    identifiers = await a_person_told_to_glasgow(console.hub)
    person_id = await console.hub.container.audit_queries.resolve_person(
        f"pnc_id:{identifiers['pnc_id']}"
    )
    form = {"person_id": person_id, "purpose": PURPOSE}
    path = "/console/dpo/subject-access-report/pdf"
    assert (await console.browser.post(path, data=form)).status_code == 303  # nobody signed in
    csrf = await signed_in(console, keycloak, "operator")
    refused = await console.browser.post(path, data=form | {"csrf_token": csrf})
    assert refused.status_code == 403
    assert "You cannot see this page" in refused.text

    csrf = await signed_in(console, keycloak, "dpo")
    forged = await console.browser.post(path, data=form)
    assert forged.status_code == 403
    assert "CSRF token is missing or wrong" in forged.text
    no_purpose = await console.browser.post(path, data=form | {"purpose": "", "csrf_token": csrf})
    assert no_purpose.status_code == 400
    assert "Say why you are" in no_purpose.text
    unknown = await console.browser.post(
        path, data=form | {"person_id": "p_nobody", "csrf_token": csrf}
    )
    assert unknown.status_code == 404
    assert "there is no person" in unknown.text
    assert [c for c in await consultations(console.hub) if c.actor.startswith("console:")] == []
