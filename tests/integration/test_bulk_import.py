"""`hub import FILE|DIR --as CLIENT_ID` on both backends, run as an operator runs it: an agency's
history goes into the store in order, people linked by their identifiers, audited as collection
(the audit log and the rows still verify); a second run stores nothing twice; a bad line refuses
its chunk with the file, line and field named, and nothing of it is stored; the router folds the
history into profiles and discloses none of it, unless `--route`."""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
from collections.abc import AsyncIterator
from itertools import count
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa

from hub import bootstrap
from hub.bootstrap import Container
from hub.domain.audit import builders
from hub.domain.audit.entries import parse_timestamp
from hub.domain.notifications import Publisher
from hub.infra import bulk_import as infra_bulk_import
from hub.infra.tables import audit_entries, disclosure_denials, disclosures, events, person_profiles
from hub.services import bulk_import
from tests.conftest import Database
from tests.integration.cli_helpers import run_cli

pytestmark = pytest.mark.asyncio

EXAMPLES = Path(__file__).resolve().parents[2] / "events" / "examples"
_people = count(1)


def example(event_type: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EXAMPLES / f"{event_type}.json").read_text("utf-8"))
    return loaded


class Person:
    """A made-up prisoner: admitted to HMP Barlinnie, later released on licence to Glasgow."""

    def __init__(self) -> None:
        n = next(_people)
        self.sps = str(6_100_000 + n)
        self.pnc = f"23/{n:07d}K"

    def history(self) -> list[dict[str, Any]]:
        admission = copy.deepcopy(example("custody.admission"))
        admission["identifiers"] = {"sps_number": self.sps, "pnc_id": self.pnc}
        liberation = copy.deepcopy(example("custody.liberation"))
        liberation["identifiers"] = {"sps_number": self.sps}
        for notification in (admission, liberation):
            notification["id"] = str(uuid.uuid4())
        return [admission, liberation]


def history_file(path: Path, people: int) -> tuple[Path, list[dict[str, Any]]]:
    notifications = [n for _ in range(people) for n in Person().history()]
    write_lines(path, [json.dumps(n) for n in notifications])
    return path, notifications


def write_lines(path: Path, lines: list[str]) -> None:
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


@pytest_asyncio.fixture
async def container(database: Database) -> AsyncIterator[Container]:
    async with bootstrap.running(database.settings) as running:
        yield running


@pytest_asyncio.fixture
async def pr2_client(
    database: Database, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> str:
    """A registered client of the SPS that may publish (registered with `hub clients add`)."""
    code = await run_cli(
        database,
        monkeypatch,
        *("clients", "add", "--name", "PR2 history", "--agency", "sps"),
        *("--scope", "events:publish", "--json"),
    )
    assert code == 0
    client_id: str = json.loads(capsys.readouterr().out)["client_id"]
    return client_id


async def hub_import(
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *args: str | Path,
) -> tuple[int, dict[str, Any], str]:
    """`hub import ARGS --json`: exit status, summary, stderr."""
    capsys.readouterr()
    code = await run_cli(database, monkeypatch, "import", *map(str, args), "--json")
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, (json.loads(out) if out else {}), err


async def stored(container: Container) -> list[sa.RowMapping]:
    query = sa.select(
        events.c.position,
        events.c.event_id,
        events.c.person_id,
        events.c.stream_version,
        events.c.history,
        events.c.publisher_client_id,
    ).order_by(events.c.position)
    async with container.engine.connect() as connection:
        return list((await connection.execute(query)).mappings())


async def counted(container: Container, table: sa.Table) -> int:
    async with container.engine.connect() as connection:
        query = sa.select(sa.func.count()).select_from(table)
        return int((await connection.execute(query)).scalar_one())


async def test_history_is_stored_in_order_linked_audited_and_a_second_run_stores_nothing(
    database: Database,
    container: Container,
    pr2_client: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, notifications = history_file(tmp_path / "history.ndjson", people=60)
    code, summary, _ = await hub_import(
        database, monkeypatch, capsys, path, "--as", pr2_client, "--chunk-size", "50"
    )
    assert code == 0, summary
    assert (summary["stored"], summary["already_there"], summary["refused"]) == (120, 0, 0)
    rows = await stored(container)
    # Every line, in file order, at consecutive positions (nothing else was writing).
    assert [r["event_id"] for r in rows] == [n["id"] for n in notifications]
    positions = [r["position"] for r in rows]
    assert positions == list(range(positions[0], positions[0] + 120))
    assert (summary["first_position"], summary["last_position"]) == (positions[0], positions[-1])
    assert all(r["history"] and r["publisher_client_id"] == pr2_client for r in rows)
    # Each admission and its liberation (which names the person by SPS number only) are one
    # person's stream, versions 1 and 2: the subject index linked them as intake does.
    for admission, liberation in zip(rows[::2], rows[1::2], strict=True):
        assert admission["person_id"] == liberation["person_id"]
        assert (admission["stream_version"], liberation["stream_version"]) == (1, 2)
    assert len({r["person_id"] for r in rows}) == 60

    # Audited as collection, one entry per event (and the linking of each new person), in the
    # same transactions: the log verifies, and so does every row against its entry.
    async with container.engine.connect() as connection:
        logged = [
            json.loads(entry)
            for entry in (await connection.execute(sa.select(audit_entries.c.entry))).scalars()
        ]
    collections = [e for e in logged if e["kind"] == "collection"]
    assert sorted(e["event_id"] for e in collections) == sorted(n["id"] for n in notifications)
    assert {e["details"]["import"] for e in collections} == {"history"}
    assert len([e for e in logged if e["kind"] == "combination"]) == 60
    assert await run_cli(database, monkeypatch, "audit", "verify") == 0

    again, summary, _ = await hub_import(database, monkeypatch, capsys, path, "--as", pr2_client)
    assert again == 0
    assert (summary["stored"], summary["already_there"], summary["refused"]) == (0, 120, 0)
    assert await stored(container) == rows
    assert await counted(container, audit_entries) == len(logged)


async def test_an_imported_chunks_collection_entries_are_the_bytes_the_single_builder_writes(
    database: Database,
    container: Container,
    pr2_client: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Chunks built in bulk (`hub.domain.audit.collected`) log what `builders.collection` (the
    # entry a push gets) makes of each event and its row as stored: sealed fields as sealed,
    # read back from the database.
    path, notifications = history_file(tmp_path / "history.ndjson", people=15)
    code, summary, _ = await hub_import(
        database, monkeypatch, capsys, path, "--as", pr2_client, "--chunk-size", "12"
    )
    assert code == 0, summary
    async with container.engine.connect() as connection:
        rows = {
            (row["source"], row["event_id"]): dict(row)
            for row in (await connection.execute(sa.select(events))).mappings()
        }
        logged = (await connection.execute(sa.select(audit_entries.c.entry))).scalars().all()
    collections = [text for text in logged if json.loads(text)["kind"] == "collection"]
    assert len(collections) == len(notifications) == len(rows)
    by_id = {n["id"]: n for n in notifications}
    publisher = Publisher(pr2_client, "sps")
    for text in collections:
        entry = json.loads(text)
        row = rows[(entry["source"], entry["event_id"])]
        single = builders.collection(
            container.schemas.validate(by_id[entry["event_id"]]),
            person_id=row["person_id"],
            position=row["position"],
            publisher=publisher,
            at=parse_timestamp(entry["occurred_at"]),
            stored=row,
            imported="history",
        )
        assert single.canonical_bytes() == text.encode("utf-8")


async def test_a_bad_line_refuses_its_chunk_naming_file_line_and_field_and_stores_nothing_of_it(
    database: Database,
    container: Container,
    pr2_client: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    _, first = history_file(folder / "2021.ndjson", people=2)  # 4 lines: chunks 1 and 2
    second = [n for _ in range(2) for n in Person().history()]
    del second[2]["data"]["establishment"]  # line 3 of the second file
    write_lines(folder / "2022.ndjson", [json.dumps(n) for n in second])
    write_lines(folder / "notes.txt", ["not read: not an NDJSON file"])
    entries_before = await counted(container, audit_entries)

    code, summary, _ = await hub_import(
        database, monkeypatch, capsys, folder, "--as", pr2_client, "--chunk-size", "2"
    )
    assert code == 1
    # The second file's lines 3-4 were the fourth chunk: refused whole; the chunks before it
    # stay stored, none after it is read.
    assert (summary["stored"], summary["refused"]) == (6, 2)
    [problem] = summary["problems"]
    assert problem["file"] == str(folder / "2022.ndjson")
    assert problem["line"] == 3
    assert problem["field"] == "/data/establishment"
    assert problem["message"]
    stored_ids = [r["event_id"] for r in await stored(container)]
    assert stored_ids == [n["id"] for n in [*first, *second[:2]]]
    assert await counted(container, audit_entries) == entries_before + 6 + 3  # 3 new people

    # The text form names it too, as an operator reads it.
    capsys.readouterr()
    args = ("import", str(folder), "--as", pr2_client, "--chunk-size", "2")
    assert await run_cli(database, monkeypatch, *args) == 1
    out, err = capsys.readouterr()
    assert f"{folder / '2022.ndjson'}:3: /data/establishment: " in out
    assert "6 already there, 2 refused" in out
    assert "Traceback" not in err

    # Corrected, the file goes in; what was there is not stored twice.
    second[2]["data"]["establishment"] = "hmp-barlinnie"
    write_lines(folder / "2022.ndjson", [json.dumps(n) for n in second])
    code, summary, _ = await hub_import(database, monkeypatch, capsys, folder, "--as", pr2_client)
    assert code == 0
    assert (summary["stored"], summary["already_there"]) == (2, 6)
    assert len(await stored(container)) == 8


async def test_lines_that_are_not_json_or_not_the_agencys_are_refused_and_a_dry_run_stores_nothing(
    database: Database,
    container: Container,
    pr2_client: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    history = Person().history()
    foreign = Person().history()[0]
    foreign["source"] = "urn:pph:police-scotland:visor"
    path = tmp_path / "mixed.ndjson"
    write_lines(path, [json.dumps(history[0]), "{not json", "", json.dumps(foreign)])

    code, summary, _ = await hub_import(
        database, monkeypatch, capsys, path, "--as", pr2_client, "--dry-run"
    )
    assert code == 1
    assert summary["dry_run"]
    assert (summary["stored"], summary["refused"]) == (1, 2)
    assert [(p["line"], p["field"]) for p in summary["problems"]] == [(2, ""), (4, "/source")]
    assert "not JSON" in summary["problems"][0]["message"]
    assert "agency sps may not publish" in summary["problems"][1]["message"]

    code, summary, _ = await hub_import(database, monkeypatch, capsys, path, "--as", pr2_client)
    assert code == 1
    assert (summary["stored"], summary["refused"]) == (0, 3)
    assert await stored(container) == []

    # An unknown client, or one that may not publish: refused before anything is read.
    code, _, err = await hub_import(database, monkeypatch, capsys, path, "--as", "no-such-client")
    assert code == 4
    assert "no-such-client" in err
    missing = tmp_path / "nowhere.ndjson"
    code, _, err = await hub_import(database, monkeypatch, capsys, missing, "--as", pr2_client)
    assert code == 2
    assert f"{missing} is not a file" in err


async def test_history_builds_profiles_and_is_disclosed_to_no_one_unless_routed(
    database: Database,
    container: Container,
    pr2_client: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    history_path, history = history_file(tmp_path / "history.ndjson", people=3)
    code, _, _ = await hub_import(database, monkeypatch, capsys, history_path, "--as", pr2_client)
    assert code == 0
    router = container.router()
    assert await router.run_until_idle() == 6
    assert await counted(container, disclosures) == 0
    assert await counted(container, disclosure_denials) == 0
    # Yet each person's profile is folded from their history: released on licence.
    rows = await stored(container)
    async with container.engine.connect() as connection:
        profiles = {
            person: position
            for person, position in await connection.execute(
                sa.select(person_profiles.c.person_id, person_profiles.c.position)
            )
        }
    assert profiles == {r["person_id"]: r["position"] for r in rows[1::2]}
    async with container.engine.connect() as connection:
        [profile] = (
            await connection.execute(
                sa.select(person_profiles.c.profile).where(
                    person_profiles.c.person_id == rows[0]["person_id"]
                )
            )
        ).scalars()
    statuses = {s["kind"] for s in profile["statuses"]}
    assert "licence" in statuses, profile

    # The person's history (the DPO's report) shows what was collected of them.
    capsys.readouterr()
    person = f"sps_number:{history[0]['identifiers']['sps_number']}"
    args = ("audit", "history", person, "--purpose", "onboarding check", "--json")
    assert await run_cli(database, monkeypatch, *args) == 0
    report = json.loads(capsys.readouterr().out)
    assert [c["event_id"] for c in report["collected"]] == [history[0]["id"], history[1]["id"]]
    assert report["disclosed"] == []

    routed_path, routed = history_file(tmp_path / "routed.ndjson", people=3)
    code, summary, _ = await hub_import(
        database, monkeypatch, capsys, routed_path, "--as", pr2_client, "--route"
    )
    assert code == 0
    assert summary["history"] is False
    assert await router.run_until_idle() == 6
    async with container.engine.connect() as connection:
        disclosed = set(
            (await connection.execute(sa.select(disclosures.c.event_id).distinct())).scalars()
        )
    assert disclosed
    assert disclosed <= {n["id"] for n in routed}
    assert not disclosed & {n["id"] for n in history}
    assert await run_cli(database, monkeypatch, "audit", "verify") == 0


async def test_a_follower_never_skips_an_imported_event_when_a_push_commits_inside_a_chunk(
    database: Database,
    container: Container,
    pr2_client: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # On PostgreSQL a chunk's positions are drawn before its rows are sent. A push that draws
    # a later position and commits in between must not let a follower (the router) read past
    # the chunk's positions, never to come back for them.
    path, _ = history_file(tmp_path / "history.ndjson", people=100)
    lines = [
        bulk_import.ImportLine(str(path), number, text)
        for number, text in enumerate(path.read_text("utf-8").splitlines(), start=1)
    ]
    seen: list[int] = []

    async def follow() -> None:
        for event in await container.store.read_all(after=seen[-1] if seen else 0):
            seen.append(event.position)

    send_rows = infra_bulk_import._copy
    pushed: list[str] = []

    async def push_then_send(connection: Any, table: str, *args: Any) -> None:
        if table == "events" and not pushed:
            notification = container.schemas.validate(Person().history()[0])
            await container.store.append([notification], publisher=Publisher("pr2", "sps"))
            pushed.append(notification.id)
            await follow()
        await send_rows(connection, table, *args)

    monkeypatch.setattr(infra_bulk_import, "_copy", push_then_send)
    # The follower, run inside the chunk's transaction, waits for that transaction (as it
    # must) until its horizon's timeout, then reads nothing new: shorten the wait.
    container.store._horizon.timeout = 0.5  # type: ignore[attr-defined]
    service = container.bulk_import()
    summary = await service.run(lines, await service.publisher(pr2_client), chunk_size=50)
    assert summary.stored == 200
    await follow()
    assert seen == [r["position"] for r in await stored(container)]
    assert len(seen) == 200 + len(pushed)


async def test_two_imports_of_one_file_at_once_store_each_notification_once(
    database: Database,
    container: Container,
    pr2_client: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path, notifications = history_file(tmp_path / "history.ndjson", people=300)
    lines = [
        bulk_import.ImportLine(str(path), number, text)
        for number, text in enumerate(path.read_text("utf-8").splitlines(), start=1)
    ]
    service = container.bulk_import()
    publisher = await service.publisher(pr2_client)
    first, second = await asyncio.gather(
        service.run(lines, publisher, chunk_size=50), service.run(lines, publisher, chunk_size=50)
    )
    assert first.stored + second.stored == 600
    assert first.already_there + second.already_there == 600
    rows = await stored(container)
    assert sorted(r["event_id"] for r in rows) == sorted(n["id"] for n in notifications)
    assert len({r["person_id"] for r in rows}) == 300
    assert await run_cli(database, monkeypatch, "audit", "verify") == 0
