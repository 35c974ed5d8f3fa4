"""The audit status page over real HTTP, on both backends, signed in through the real Keycloak:
the latest signed checkpoint (size, time, signing key, where it was published) and the latest
recorded run of `hub audit verify` (run here as the scheduled job runs it), with when and where
it ran; before any run, and for a run older than a day, the page says so; a row an attacker with
the owner's rights changed is shown as a failure, plainly, once a run has found it: the page
never verifies the log itself; only the dpo and operator roles see it."""

# The fixtures are imported by name from the DPO pages' tests; each test's parameter of that
# name is the fixture, not a redefinition.
# ruff: noqa: F811

from __future__ import annotations

import re
import socket
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from hub.domain.audit.verification_runs import run_of
from hub.infra import tables
from tests.conftest import Database
from tests.integration.audit_tampering import change_an_entry
from tests.integration.cli_helpers import run_cli
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


async def test_the_page_shows_the_latest_recorded_run_and_a_failed_one(
    console: Console,
    keycloak: KeycloakUnderTest,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await a_person_told_to_glasgow(console.hub)
    tree_size = await checkpointed(console)
    signer = console.hub.container.audit_signer
    key_id = "+".join(signer.verifier_key.split("+")[:2])

    await signed_in(console, keycloak, "operator")
    assert 'id="audit-status"' in (await console.browser.get("/")).text
    never = await console.browser.get("/console/audit")
    assert never.status_code == 200, never.text
    assert result_of(never.text) == "none"
    assert "no verification has been recorded" in never.text
    assert f'<dd id="checkpoint-size">{tree_size}</dd>' in never.text

    assert await run_cli(database, monkeypatch, "audit", "verify") == 0  # the scheduled job
    assert capsys.readouterr().out.startswith("OK:")
    page = (await console.browser.get("/console/audit")).text
    assert result_of(page) == "verified"
    assert f'<dd id="checkpoint-size">{tree_size}</dd>' in page
    assert f'<code class="checkpoint-signer">{key_id}</code>' in page
    published = str(console.hub.container.audit_checkpoints.path)
    assert f'<code id="published-to">{published}</code>' in page
    assert f"against the checkpoint of tree size {tree_size} published outside" in page
    assert f'<span id="run-checkpoint">{tree_size}</span>' in page
    assert re.search(r'id="run-finished">\d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d UTC<', page)
    assert f'<code id="run-by">{socket.gethostname()}:' in page
    latest = await console.hub.container.audit_verification_runs().latest()
    assert latest is not None
    assert (latest.result, latest.entries, latest.latest_checkpoint) == ("ok", tree_size, tree_size)
    assert latest.evidence_checked
    assert f'<span id="run-last-position">{latest.last_position}</span>' in page

    [disclosure] = await rows(
        console.hub,
        sa.select(tables.audit_index.c.position)
        .where(tables.audit_index.c.kind == "disclosure")
        .order_by(tables.audit_index.c.position)
        .limit(1),
    )
    await change_an_entry(database, disclosure["position"])
    # The page verifies nothing itself: it shows the latest run until the next one.
    assert result_of((await console.browser.get("/console/audit")).text) == "verified"

    assert await run_cli(database, monkeypatch, "audit", "verify") == 1
    assert "FAILED (leaf_hash)" in capsys.readouterr().err
    tampered = await console.browser.get("/console/audit")
    assert tampered.status_code == 200
    assert result_of(tampered.text) == "failed"
    assert "FAILED verification" in tampered.text
    assert '<code id="failed-check">leaf_hash</code>' in tampered.text
    assert f'<dd id="failed-position">{disclosure["position"]}</dd>' in tampered.text
    assert "curiosity" not in tampered.text  # the entry itself is left to the CLI
    failed = await console.hub.container.audit_verification_runs().latest()
    assert failed is not None
    assert (failed.result, failed.failed_check, failed.failed_position) == (
        "failed",
        "leaf_hash",
        disclosure["position"],
    )
    assert not failed.evidence_checked


async def test_a_run_older_than_a_day_is_shown_as_out_of_date(
    console: Console, keycloak: KeycloakUnderTest
) -> None:
    await a_person_told_to_glasgow(console.hub)
    await checkpointed(console)
    container = console.hub.container
    two_days_ago = datetime.now(UTC) - timedelta(days=2)
    report = await container.audit_verifier().verify()
    assert report.ok
    await container.audit_verification_runs().record(
        run_of(
            "vr_the_last_run_before_the_schedule_stopped",
            two_days_ago - timedelta(seconds=3),
            two_days_ago,
            report,
            evidence_checked=True,
            evidence_failure=None,
            ran_by="audit-verify-28880000-abcde:1",
        )
    )
    await signed_in(console, keycloak, "dpo")
    old = (await console.browser.get("/console/audit")).text
    assert result_of(old) == "stale"
    assert "more than 24 hours old" in old
    assert 'id="stale-warning"' in old

    await container.recorded_audit_verification().run()  # the schedule runs again
    fresh = (await console.browser.get("/console/audit")).text
    assert result_of(fresh) == "verified"
    assert 'id="stale-warning"' not in fresh


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
    # Nothing is signed yet, and no verification has run: the page says both.
    assert "No checkpoint of the audit log has been signed yet" in shown.text
    assert result_of(shown.text) == "none"
    assert "Verified" not in shown.text
