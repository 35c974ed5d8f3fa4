"""The audit status page over real HTTP, on both backends, signed in through the real Keycloak:
the latest signed checkpoint (size, time, signing key, where it was published) and a
verification of the log run for the page, with when it ran; a row an attacker with the owner's
rights changed is shown as a failure, plainly; a verification that cannot finish within the
page's budget says so and never "verified"; only the dpo and operator roles see it."""

# The fixtures are imported by name from the DPO pages' tests; each test's parameter of that
# name is the fixture, not a redefinition.
# ruff: noqa: F811

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from hub.api.console import audit_pages
from hub.infra import tables
from tests.conftest import Database
from tests.integration.feed_helpers import rows
from tests.integration.test_console_dpo import (
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


async def checkpointed(console: Console) -> int:
    """Every entry sequenced and a checkpoint signed and published; its tree size."""
    container = console.hub.container
    await container.audit_sequencer().run_until_idle()
    await container.audit_checkpointer().run_once()
    latest = await container.audit_trail.latest_checkpoint()
    assert latest is not None
    return latest.tree_size


def result_of(page: str) -> str:
    found = re.search(r'id="verification-result" data-result="([a-z]+)"', page)
    assert found is not None, page
    return found.group(1)


async def change_an_entry(database: Database, position: int) -> None:
    """What an attacker with the owner's rights does: lift the append-only protection and
    rewrite one entry's purpose."""
    async with database.owner.connect() as connection:
        if database.backend == "postgres":
            await connection.execute(sa.text("ALTER TABLE audit_entries DISABLE TRIGGER ALL"))
            await connection.execute(sa.text("GRANT UPDATE ON audit_entries TO CURRENT_USER"))
        else:
            await connection.execute(sa.text("DROP TRIGGER audit_entries_no_update"))
        entry = (
            await connection.execute(
                sa.text("SELECT entry FROM audit_entries WHERE position = :p"), {"p": position}
            )
        ).scalar_one()
        forged = re.sub(r'"purpose":"[^"]*"', '"purpose":"curiosity"', entry, count=1)
        assert forged != entry
        await connection.execute(
            sa.text("UPDATE audit_entries SET entry = :e WHERE position = :p"),
            {"e": forged, "p": position},
        )
        await connection.commit()


async def test_the_page_shows_the_checkpoint_verifies_the_log_and_shows_tampering(
    console: Console, keycloak: KeycloakUnderTest, database: Database
) -> None:
    await a_person_told_to_glasgow(console.hub)
    tree_size = await checkpointed(console)
    signer = console.hub.container.audit_signer
    key_id = "+".join(signer.verifier_key.split("+")[:2])

    await signed_in(console, keycloak, "operator")
    assert 'id="audit-status"' in (await console.browser.get("/")).text
    status = await console.browser.get("/console/audit")
    assert status.status_code == 200, status.text
    page = status.text
    assert result_of(page) == "verified"
    assert f'<dd id="checkpoint-size">{tree_size}</dd>' in page
    assert f'<code class="checkpoint-signer">{key_id}</code>' in page
    published = str(console.hub.container.audit_checkpoints.path)
    assert f'<code id="published-to">{published}</code>' in page
    # Checked against the checkpoint published outside the database, and when it ran.
    assert f"against the checkpoint of tree size {tree_size} published outside" in page
    assert re.search(r"Verified \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d UTC, in", page)

    [disclosure] = await rows(
        console.hub,
        sa.select(tables.audit_index.c.position)
        .where(tables.audit_index.c.kind == "disclosure")
        .order_by(tables.audit_index.c.position)
        .limit(1),
    )
    await change_an_entry(database, disclosure["position"])
    tampered = await console.browser.get("/console/audit")
    assert tampered.status_code == 200
    assert result_of(tampered.text) == "failed"
    assert "FAILED verification" in tampered.text
    assert '<code id="failed-check">leaf_hash</code>' in tampered.text
    assert f'<dd id="failed-position">{disclosure["position"]}</dd>' in tampered.text
    assert "curiosity" not in tampered.text  # the entry itself is left to the CLI


async def test_a_verification_that_does_not_finish_in_time_is_not_called_verified(
    console: Console, keycloak: KeycloakUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    await a_person_told_to_glasgow(console.hub)
    await checkpointed(console)
    monkeypatch.setattr(audit_pages, "VERIFY_BUDGET_SECONDS", 0.0)
    await signed_in(console, keycloak, "dpo")
    status = await console.browser.get("/console/audit")
    assert status.status_code == 200
    assert result_of(status.text) == "unfinished"
    assert "Not verified" in status.text
    assert "Verified" not in status.text


async def test_only_the_dpo_and_operator_roles_see_the_audit_status(
    console: Console, keycloak: KeycloakUnderTest
) -> None:
    nobody = await console.browser.get("/console/audit")
    assert nobody.status_code == 303

    await signed_in(console, keycloak, "coordinator-lanarkshire")
    assert 'id="audit-status"' not in (await console.browser.get("/")).text
    refused = await console.browser.get("/console/audit")
    assert refused.status_code == 403
    assert "You cannot see this page" in refused.text
    assert "Data protection officer or Operator" in refused.text

    await signed_in(console, keycloak, "dpo")
    assert 'id="audit-status"' in (await console.browser.get("/")).text
    shown = await console.browser.get("/console/audit")
    assert shown.status_code == 200
    # Nothing is signed yet: the page says so, and an empty log verifies.
    assert "No checkpoint of the audit log has been signed yet" in shown.text
