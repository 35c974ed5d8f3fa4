"""The evidence the audit log is about, tampered with as an insider holding the hub's own database
role would (issue 13, findings 2 and 3), on both backends: the derived query index, an event's
data, an event row deleted or forged, a disclosure redirected, an erasure with no erasure entry.

The insider works with raw SQL. Where a table is append-only they first switch its protection
off as the table's owner can (PostgreSQL: `ALTER TABLE … DISABLE TRIGGER ALL` and granting
itself back UPDATE and DELETE; SQLite: dropping the triggers). `hub audit verify` must exit 1
and name the first mismatch: the table, the row's key, the column, what the log says and what
the row holds. And the database itself refuses an erasure that has no erasure entry."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa

from hub.domain.audit.entries import AuditEntry, AuditKind
from hub.infra import tables
from hub.infra.audit_evidence import SqlEvidence
from hub.services.audit_evidence import EvidenceChecker
from tests.conftest import Database
from tests.integration.api_helpers import RunningHub, bearer, running_hub
from tests.integration.cli_helpers import run_cli
from tests.integration.feed_helpers import (
    about_new_person,
    assessment_then_admission,
    push,
    routed,
    rows,
)

pytestmark = pytest.mark.asyncio

GLASGOW_SW = "sw-glasgow-city"
DPO_SCOPES = "audit:read audit:verify audit:restrict"
SAR = {"X-Purpose": "subject access request SAR-2026-0117"}
#: The append-only triggers of each table, by backend.
_SQLITE_TRIGGERS = ("no_update", "no_delete")


@pytest_asyncio.fixture
async def hub(database: Database) -> AsyncIterator[RunningHub]:
    settings = database.settings.model_copy(
        update={"router_poll_interval": 0.05, "audit_checkpoint_interval": 0.1}
    )
    async with running_hub(settings) as running:
        yield running


async def story(hub: RunningHub) -> list[dict[str, Any]]:
    """A person admitted and their release notified (disclosed to Glasgow), then health
    information shared without consent (refused to the police): routed."""
    notifications = about_new_person(
        ["custody.admission", "release.schedule1-notification", "health.information-shared"]
    )
    await push(hub, await hub.token("sps"), notifications[:2])
    health = notifications[2]
    health["data"]["consent"]["given"] = False
    board = health["source"].split(":")[3]  # urn:pph:nhs:<health board>:<service>
    await push(hub, await hub.token(board), [health])
    await routed(hub)
    return notifications


class Verified:
    """What `hub audit verify` said."""

    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err


async def verify(
    hub: RunningHub,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Verified:
    # Everything written is in the tree first, as a running hub would have it.
    await hub.container.audit_sequencer().run_until_idle()
    await hub.container.audit_checkpointer().run_once()
    capsys.readouterr()
    code = await run_cli(database, monkeypatch, "audit", "verify")
    captured = capsys.readouterr()
    return Verified(code, captured.out, captured.err)


async def tamper(hub: RunningHub, database: Database, table: str, *statements: str) -> None:
    """Raw SQL as the insider, with `table`'s append-only protection switched off first."""
    async with database.owner.connect() as connection:
        if database.backend == "postgres":
            await connection.execute(sa.text(f"ALTER TABLE {table} DISABLE TRIGGER ALL"))
            await connection.execute(sa.text(f"GRANT UPDATE, DELETE ON {table} TO CURRENT_USER"))
        else:
            for trigger in _SQLITE_TRIGGERS:
                await connection.execute(sa.text(f"DROP TRIGGER IF EXISTS {table}_{trigger}"))
        for statement in statements:
            await connection.execute(sa.text(statement))
        await connection.commit()


async def untouched_verifies(
    hub: RunningHub,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = await verify(hub, database, monkeypatch, capsys)
    assert before.code == 0, before.err
    assert "OK" in before.out


def failed(result: Verified, *expected: str) -> None:
    assert result.code == 1, f"the tampering went unnoticed: {result.out}"
    for text in expected:
        assert text in result.err, result.err


# -- finding 2: the query index ------------------------------------------------------------------


async def test_an_edited_index_row_hides_a_disclosure_and_verify_names_it(
    hub: RunningHub,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await story(hub)
    await untouched_verifies(hub, database, monkeypatch, capsys)
    [disclosed] = await rows(
        hub,
        sa.select(tables.audit_index).where(
            tables.audit_index.c.kind == "disclosure",
            tables.audit_index.c.recipient_id == GLASGOW_SW,
        ),
    )
    person_id, position = disclosed["person_id"], disclosed["position"]
    dpo = await hub.token("hub-dpo", DPO_SCOPES)

    async def disclosures_found() -> set[int]:
        answer = await hub.http.get(
            "/v1/audit/disclosures", params={"person": person_id}, headers=bearer(dpo) | SAR
        )
        assert answer.status_code == 200, answer.text
        return {e["position"] for e in answer.json()["entries"]}

    assert position in await disclosures_found()
    await tamper(
        hub,
        database,
        "audit_index",
        f"UPDATE audit_index SET person_id = 'p_somebody_else' WHERE position = {position}",
    )
    assert position not in await disclosures_found()  # the report no longer shows it

    result = await verify(hub, database, monkeypatch, capsys)
    failed(result, "audit_index", f"position {position}", "person_id", "p_somebody_else")


#: Each way an insider could make the query index say other than an entry, and what the checker
#: must name: (table, column) of the first mismatch. The checker decides the common case on the
#: decoded entry alone (`hub.services.audit_evidence._Agreeing`); each of these must still fail.
_INDEX_TAMPERING = {
    "kind": ("audit_index", "kind", {"kind": "collection"}),
    "occurred_at": ("audit_index", "occurred_at", {"occurred_at": "+1us"}),
    "actor": ("audit_index", "actor", {"actor": "someone-else"}),
    "person_id": ("audit_index", "person_id", {"person_id": None}),
    "recipient_id": ("audit_index", "recipient_id", {"recipient_id": "police-scotland"}),
    "event_id": ("audit_index", "event_id", {"event_id": "e-forged"}),
    "purpose": ("audit_index", "purpose", {"purpose": "a purpose never logged"}),
    "row deleted": ("audit_index", None, None),
    "rule deleted": ("audit_index_rules", "rule", None),
    "rule added": ("audit_index_rules", "rule", None),
}


@pytest.mark.parametrize("tampering", list(_INDEX_TAMPERING))
async def test_every_index_column_and_rule_is_checked_against_its_entry(
    hub: RunningHub, database: Database, tampering: str
) -> None:
    await story(hub)
    await hub.container.audit_sequencer().run_until_idle()
    checker = EvidenceChecker(SqlEvidence(hub.container.engine), page_size=2)
    assert (await checker.check()).ok
    [disclosed] = await rows(
        hub,
        sa.select(tables.audit_index).where(
            tables.audit_index.c.kind == "disclosure",
            tables.audit_index.c.recipient_id == GLASGOW_SW,
        ),
    )
    position = disclosed["position"]
    table, column, values = _INDEX_TAMPERING[tampering]
    await tamper(hub, database, table)
    index, rules = tables.audit_index, tables.audit_index_rules
    if values is not None:
        if values.get("occurred_at") == "+1us":
            values = {"occurred_at": disclosed["occurred_at"] + timedelta(microseconds=1)}
        statement: Any = sa.update(index).where(index.c.position == position).values(**values)
    elif tampering == "row deleted":
        statement = sa.delete(index).where(index.c.position == position)
    elif tampering == "rule deleted":
        statement = sa.delete(rules).where(rules.c.position == position)
    else:  # a rule no entry of the log names
        statement = sa.insert(rules).values(rule="a-rule-nobody-wrote", position=position)
    async with database.owner.begin() as connection:
        await connection.execute(statement)

    failure = (await checker.check()).failure
    assert failure is not None, f"{tampering}: unnoticed"
    assert (failure.table, failure.key, failure.column) == (table, f"position {position}", column)


# -- finding 3: events, disclosures, erasures ----------------------------------------------------


async def test_an_events_data_changed(
    hub: RunningHub,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await story(hub)
    await untouched_verifies(hub, database, monkeypatch, capsys)
    [first] = await rows(
        hub, sa.select(tables.events.c.position).order_by(tables.events.c.position).limit(1)
    )
    position = first["position"]
    await tamper(
        hub,
        database,
        "events",
        f"""UPDATE events SET data = '{{"establishment": "forged"}}' WHERE position = {position}""",
    )
    result = await verify(hub, database, monkeypatch, capsys)
    failed(result, "events", f"position {position}", "column data", "expected", "found")


async def test_an_event_row_deleted(
    hub: RunningHub,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await story(hub)
    await untouched_verifies(hub, database, monkeypatch, capsys)
    [second] = await rows(
        hub,
        sa.select(tables.events.c.position).order_by(tables.events.c.position).offset(1).limit(1),
    )
    position = second["position"]
    await tamper(hub, database, "events", f"DELETE FROM events WHERE position = {position}")
    result = await verify(hub, database, monkeypatch, capsys)
    failed(result, "events", f"position {position}", "missing")


async def test_a_disclosure_redirected_to_another_recipient(
    hub: RunningHub,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await story(hub)
    await untouched_verifies(hub, database, monkeypatch, capsys)
    [disclosed] = await rows(
        hub,
        sa.select(tables.disclosures.c.disclosure_id).where(
            tables.disclosures.c.recipient_id == GLASGOW_SW
        ),
    )
    disclosure_id = disclosed["disclosure_id"]
    await tamper(
        hub,
        database,
        "disclosures",
        "UPDATE disclosures SET recipient_id = 'police-scotland' "
        f"WHERE disclosure_id = '{disclosure_id}'",
    )
    result = await verify(hub, database, monkeypatch, capsys)
    failed(result, "disclosures", disclosure_id, "recipient_id", GLASGOW_SW, "police-scotland")


async def test_the_identifiers_supplied_to_a_record_that_follows_the_person_are_bound(
    hub: RunningHub,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The hub added the person's SPS number to a social work assessment disclosed to the prison
    # (issue 14): what it added is part of what was disclosed, so the log binds it.
    assessment, sps = await assessment_then_admission(hub)
    await untouched_verifies(hub, database, monkeypatch, capsys)
    [supplied] = await rows(
        hub,
        sa.select(tables.disclosures.c.disclosure_id).where(
            tables.disclosures.c.event_id == assessment["id"],
            tables.disclosures.c.supplied_identifiers.is_not(None),
        ),
    )
    disclosure_id = supplied["disclosure_id"]
    await tamper(
        hub,
        database,
        "disclosures",
        'UPDATE disclosures SET supplied_identifiers = \'{"sps_number": "9999999"}\' '
        f"WHERE disclosure_id = '{disclosure_id}'",
    )
    result = await verify(hub, database, monkeypatch, capsys)
    failed(result, "disclosures", disclosure_id, "supplied_identifiers")
    assert sps not in result.err  # digests, never values


async def test_a_forged_event_inserted(
    hub: RunningHub,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await story(hub)
    await untouched_verifies(hub, database, monkeypatch, capsys)
    # INSERT needs no protection switched off: the hub's role may insert events.
    forged_id = str(uuid.uuid4())
    columns = ", ".join(
        c.name
        for c in tables.events.columns
        if c.name not in ("position", "event_id", "stream_version")
    )
    async with hub.container.engine.connect() as connection:
        await connection.execute(
            sa.text(
                f"INSERT INTO events (event_id, stream_version, {columns}) "
                f"SELECT '{forged_id}', stream_version + 10, {columns} FROM events "
                "WHERE position = (SELECT MAX(position) FROM events)"
            )
        )
        await connection.commit()
    [forged] = await rows(
        hub, sa.select(tables.events.c.position).where(tables.events.c.event_id == forged_id)
    )
    result = await verify(hub, database, monkeypatch, capsys)
    failed(result, "events", f"position {forged['position']}", "no collection entry")


def _aged(notifications: list[dict[str, Any]], years: int) -> list[dict[str, Any]]:
    when = datetime.now(UTC) - timedelta(days=365 * years)
    for n in notifications:
        n["time"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    return notifications


_ERASE = (
    "INSERT INTO event_erasures (position, erased_at, erased_by, reason, fields) "
    "VALUES ({position}, CURRENT_TIMESTAMP, 'insider', 'retention:custody.admission:3650d', '[]')",
    "UPDATE events SET data = '{{}}' WHERE position = {position}",
)


async def test_the_database_refuses_an_erasure_without_its_entry(
    hub: RunningHub, database: Database
) -> None:
    await story(hub)
    [first] = await rows(
        hub, sa.select(tables.events.c.position).order_by(tables.events.c.position).limit(1)
    )
    before = await rows(hub, sa.select(tables.events.c.data))
    # Nothing switched off: exactly what the hub's role may do.
    async with hub.container.engine.connect() as connection:
        transaction = await connection.begin()
        # The erasure is refused where it is recorded, so the data cannot be emptied after it.
        insert, _ = _ERASE
        with pytest.raises(sa.exc.DBAPIError, match="erasure audit entry"):
            await connection.execute(sa.text(insert.format(position=first["position"])))
        await transaction.rollback()
    assert await rows(hub, sa.select(tables.events.c.data)) == before
    assert await rows(hub, sa.select(tables.event_erasures)) == []


async def test_an_erasure_without_its_entry_forced_past_the_database(
    hub: RunningHub,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await story(hub)
    await untouched_verifies(hub, database, monkeypatch, capsys)
    [first] = await rows(
        hub, sa.select(tables.events.c.position).order_by(tables.events.c.position).limit(1)
    )
    position = first["position"]
    async with database.owner.connect() as connection:
        if database.backend == "postgres":
            await connection.execute(sa.text("ALTER TABLE event_erasures DISABLE TRIGGER ALL"))
        else:
            # Whatever guards event_erasures' inserts (none before migration 0011).
            found = await connection.execute(
                sa.text(
                    "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                    "AND tbl_name = 'event_erasures'"
                )
            )
            for (name,) in found.all():
                await connection.execute(sa.text(f"DROP TRIGGER {name}"))
        for statement in _ERASE:
            await connection.execute(sa.text(statement.format(position=position)))
        await connection.commit()
    result = await verify(hub, database, monkeypatch, capsys)
    failed(result, "event_erasures", f"position {position}", "no erasure entry")


# -- what must still verify ----------------------------------------------------------------------


async def test_retention_and_crypto_shredding_still_verify(
    hub: RunningHub,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await story(hub)
    old = _aged(about_new_person(["custody.admission", "release.schedule1-notification"]), 11)
    await push(hub, await hub.token("sps"), old)
    await routed(hub)
    report = await hub.container.retention.apply(actor="cli:dpo")
    assert report.erased == 2
    [erased] = await rows(
        hub, sa.select(tables.events).where(tables.events.c.event_id == old[0]["id"])
    )
    assert erased["data"] == {}
    person_id = erased["person_id"]
    code = await run_cli(
        database, monkeypatch, "persons", "erase", person_id, "--reason", "court order CO-1"
    )
    assert code == 0
    result = await verify(hub, database, monkeypatch, capsys)
    assert result.code == 0, result.err
    assert re.search(r"\d+ events?, \d+ disclosures?", result.out), result.out
    await asyncio.sleep(0)


async def test_a_feed_number_removed(
    hub: RunningHub,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await story(hub)
    await story(hub)  # Glasgow's feed holds two numbers
    await untouched_verifies(hub, database, monkeypatch, capsys)
    await tamper(
        hub,
        database,
        "recipient_feed",
        f"DELETE FROM recipient_feed WHERE recipient_id = '{GLASGOW_SW}' AND seq = 1",
    )
    result = await verify(hub, database, monkeypatch, capsys)
    failed(result, "recipient_feed", GLASGOW_SW, "column seq", "1..2")


async def test_the_checker_pages_and_reports_as_json(
    hub: RunningHub,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Pages of two rows: every row and entry is still checked, across page boundaries.
    for _ in range(3):
        await story(hub)
    checker = EvidenceChecker(SqlEvidence(hub.container.engine), page_size=2)
    report = await checker.check()
    assert report.ok, report.failure
    assert (report.events, report.disclosures, report.denials) == (
        len(await rows(hub, sa.select(tables.events.c.position))),
        len(await rows(hub, sa.select(tables.disclosures.c.disclosure_id))),
        len(await rows(hub, sa.select(tables.disclosure_denials.c.denial_id))),
    )
    assert report.events == 9
    assert report.disclosures >= 3
    assert report.denials >= 3
    assert report.index_entries == len(await rows(hub, sa.select(tables.audit_entries.c.position)))
    assert report.unbound == {}
    # The last event (on the last page) changed: found, with pages of two.
    [last] = await rows(hub, sa.select(sa.func.max(tables.events.c.position).label("p")))
    await tamper(
        hub,
        database,
        "events",
        f"UPDATE events SET subject = 'forged' WHERE position = {last['p']}",
    )
    failure = (await checker.check()).failure
    assert failure is not None
    assert (failure.table, failure.key, failure.column) == (
        "events",
        f"position {last['p']}",
        "subject",
    )
    await hub.container.audit_sequencer().run_until_idle()
    capsys.readouterr()
    code = await run_cli(database, monkeypatch, "audit", "verify", "--json")
    document = json.loads(capsys.readouterr().out)
    assert code == 1
    assert document["ok"] is False
    assert document["evidence"]["failure"]["column"] == "subject"


async def test_rows_logged_before_binding_are_unbound_not_failed(
    hub: RunningHub,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A database written before entries carried row digests: its collection and disclosure
    entries name the row (position, disclosure id) but hold no digest. Verify passes and says
    how many rows it could not check."""
    await story(hub)
    columns = [c.name for c in tables.events.columns if c.name not in ("position", "event_id")]
    selected = ", ".join("stream_version + 10" if c == "stream_version" else c for c in columns)
    old_id = str(uuid.uuid4())
    async with hub.container.engine.begin() as connection:
        # An event stored as an older hub stored it, with the collection entry it wrote.
        await connection.execute(
            sa.text(
                f"INSERT INTO events (event_id, {', '.join(columns)}) "
                f"SELECT '{old_id}', {selected} "
                "FROM events WHERE position = (SELECT MIN(position) FROM events)"
            )
        )
        row = (
            (
                await connection.execute(
                    sa.select(tables.events).where(tables.events.c.event_id == old_id)
                )
            )
            .mappings()
            .one()
        )
        await hub.container.audit_log.append(
            connection,
            [
                AuditEntry(
                    kind=AuditKind.COLLECTION,
                    occurred_at=datetime.now(UTC),
                    actor="client-sps",
                    agency="sps",
                    person_id=row["person_id"],
                    event_id=old_id,
                    source=row["source"],
                    outcome="stored",
                    details={"event_type": row["type"], "position": row["position"]},
                )
            ],
        )
    result = await verify(hub, database, monkeypatch, capsys)
    assert result.code == 0, result.err
    assert "1 row logged before entries carried row digests, unbound (events 1)" in result.out


async def test_deleted_disclosure_rows_are_found_in_the_index_pass_at_any_page(
    hub: RunningHub,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The rows a disclosure entry says were written are looked up while the index pass reads
    # the entries (pages of two here): the first missing one is named, as a scan of the
    # disclosure entries alone would meet it, after the disclosure tables' own rows checked.
    for _ in range(3):
        await story(hub)
    checker = EvidenceChecker(SqlEvidence(hub.container.engine), page_size=2)
    assert (await checker.check()).ok
    [last] = await rows(
        hub,
        sa.select(tables.disclosures.c.disclosure_id, tables.disclosures.c.recipient_id)
        .order_by(tables.disclosures.c.event_position.desc(), tables.disclosures.c.disclosure_id)
        .limit(1),
    )
    await tamper(
        hub,
        database,
        "disclosures",
        f"DELETE FROM disclosures WHERE disclosure_id = '{last['disclosure_id']}'",
    )
    failure = (await checker.check()).failure
    assert failure is not None
    assert (failure.table, failure.key) == ("disclosures", f"disclosure_id {last['disclosure_id']}")
    assert "the row is missing" in failure.message
    assert failure.entry_position is not None
    # A denial deleted earlier in the log, on an earlier page of disclosure entries, comes
    # first.
    [first] = await rows(
        hub,
        sa.select(tables.disclosure_denials.c.denial_id)
        .order_by(tables.disclosure_denials.c.event_position, tables.disclosure_denials.c.denial_id)
        .limit(1),
    )
    await tamper(
        hub,
        database,
        "disclosure_denials",
        f"DELETE FROM disclosure_denials WHERE denial_id = '{first['denial_id']}'",
    )
    failure = (await checker.check()).failure
    assert failure is not None
    assert (failure.table, failure.key) == (
        "disclosure_denials",
        f"denial_id {first['denial_id']}",
    )
    # `hub audit verify` reads pages of 1,000: both rows are in the first page of disclosure
    # entries, where the disclosures table is looked at first (as a scan of those entries
    # alone would).
    result = await verify(hub, database, monkeypatch, capsys)
    failed(result, "disclosures", f"disclosure_id {last['disclosure_id']}", "missing")
