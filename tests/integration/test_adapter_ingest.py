"""The ingest service on both backends: every native record ends accepted (event id and
position), duplicate or rejected; a store refusal rejects only its record, with the hub's
reason; a database failure midway is reported record by record; a dry run stores nothing; and
records are published as the agency their source belongs to."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa

from hub import bootstrap
from hub.adapters import adapter
from hub.bootstrap import Container
from hub.domain.notifications import AppendResult, Notification, PersonIdentifier, Publisher
from hub.errors import StoreUnavailable
from hub.services.ingest import IngestService, publishing_agency
from hub.services.intake import IntakeService
from tests.conftest import Database

pytestmark = pytest.mark.asyncio

SAMPLES = Path(__file__).resolve().parents[2] / "adapters"
PR2_SAMPLE = (SAMPLES / "pr2" / "samples" / "movements-2024-05-01.psv").read_bytes()
ADM = PR2_SAMPLE.decode().splitlines()[2]  # a remand admission at HMP Low Moss


def sample(name: str, file: str) -> bytes:
    return (SAMPLES / name / "samples" / file).read_bytes()


def admission(movement_id: str, sps: str, pnc: str = "") -> str:
    cells = ADM.split("|")
    cells[2], cells[5], cells[6] = movement_id, sps, pnc
    return "|".join(cells)


def extract(*lines: str) -> bytes:
    body = [
        "HDR|PR2-MOVEMENTS|1|EXT-TEST|2024-05-01T06:00:00+01:00",
        *lines,
        f"TRL|{len(lines)}",
    ]
    return ("\n".join(body) + "\n").encode()


@pytest_asyncio.fixture
async def container(database: Database) -> AsyncIterator[Container]:
    async with bootstrap.running(database.settings) as running:
        yield running


def service(container: Container, batch_size: int = 200) -> IngestService:
    return IngestService(
        container.intake,
        container.store,
        container.schemas,
        container.policy.directory,
        batch_size=batch_size,
    )


async def stored_events(container: Container) -> list[Any]:
    async with container.engine.connect() as connection:
        query = sa.text(
            "SELECT position, source, event_id, publisher_client_id, publisher_agency "
            "FROM events ORDER BY position"
        )
        return list((await connection.execute(query)).mappings())


@pytest.mark.parametrize(
    ("name", "files", "agencies"),
    [
        ("pr2", ["movements-2024-05-01.psv", "movements-2024-09-15.psv"], {"sps"}),
        (
            "visor",
            [
                "nominal-registration.xml",
                "notification-change-address.xml",
                "notification-change-travel.xml",
                "requirements-ended.xml",
                "mappa-level-change.xml",
                "risk-assessment.xml",
            ],
            {"police-scotland"},
        ),
        (
            "socialwork",
            ["export-2024-01.csv", "export-2026-09.csv"],
            {"sw-glasgow-city", "sw-city-of-edinburgh", "sw-dundee-city", "sw-renfrewshire"},
        ),
    ],
)
async def test_samples_are_accepted_then_duplicates_published_as_their_sources_agency(
    container: Container, name: str, files: list[str], agencies: set[str]
) -> None:
    ingest = service(container)
    first = [await ingest.ingest(adapter(name), sample(name, f)) for f in files]
    for report in first:
        assert report.complete
        assert report.counts()["rejected"] == 0, report.as_dict()
        assert report.counts()["accepted"] >= 1
        for record in report.records:
            assert record.event is not None
            if record.outcome == "accepted":
                assert record.position is not None
    stored = await stored_events(container)
    accepted = [r for report in first for r in report.records if r.outcome == "accepted"]
    assert len(stored) == len(accepted)
    assert {(r.event["source"], r.event["id"], r.position) for r in accepted if r.event} == {
        (s["source"], s["event_id"], s["position"]) for s in stored
    }
    assert {s["publisher_agency"] for s in stored} == agencies
    assert {s["publisher_client_id"] for s in stored} == {f"adapter:{name}"}

    again = [await ingest.ingest(adapter(name), sample(name, f)) for f in files]
    for before, report in zip(first, again, strict=True):
        assert [r.outcome for r in report.records] == ["duplicate"] * len(report.records)
        assert [r.position for r in report.records] == [r.position for r in before.records]
    assert await stored_events(container) == stored


async def test_a_rejected_only_file_changes_nothing(container: Container) -> None:
    ingest = service(container)
    for name, file in [
        ("pr2", "bad-truncated.psv"),
        ("pr2", "bad-date.psv"),
        ("visor", "bad-billion-laughs.xml"),
        ("socialwork", "bad-formula.csv"),
    ]:
        report = await ingest.ingest(adapter(name), sample(name, file))
        assert report.records
        assert {r.outcome for r in report.records} == {"rejected"}
        assert all(r.problems and r.problems[0].reason for r in report.records)
    assert await stored_events(container) == []


async def test_a_store_refusal_rejects_only_its_record_with_the_hubs_reason(
    container: Container,
) -> None:
    ingest = service(container)
    first = await ingest.ingest(
        adapter("pr2"),
        extract(admission("MV-T-1", "7000001", "90/000001A"), admission("MV-T-2", "7000002")),
    )
    assert [r.outcome for r in first.records] == ["accepted", "accepted"]

    # Line 3: the PNC ID of person 1 with the SPS number of person 2. Line 4: an id reused with
    # other content. The others are fine, before and after them in the same batch.
    report = await ingest.ingest(
        adapter("pr2"),
        extract(
            admission("MV-T-3", "7000003"),
            admission("MV-T-4", "7000002", "90/000001A"),
            admission("MV-T-1", "7000009", "90/000001A"),
            admission("MV-T-2", "7000002"),
            admission("MV-T-5", "7000005"),
        ),
    )
    outcomes = [(r.location, r.outcome) for r in report.records]
    assert outcomes == [
        ("line 2", "accepted"),
        ("line 3", "rejected"),
        ("line 4", "rejected"),
        ("line 5", "duplicate"),
        ("line 6", "accepted"),
    ]
    conflict, reused = report.records[1], report.records[2]
    assert conflict.problems[0].field == "identifiers"
    assert "different people" in conflict.problems[0].reason
    assert "held for review" in conflict.problems[0].reason
    assert reused.problems[0].field == "id"
    assert "different content" in reused.problems[0].reason
    stored = await stored_events(container)
    assert len(stored) == 4
    assert {r.position for r in report.records if r.outcome != "rejected"} <= {
        s["position"] for s in stored
    }


async def test_a_second_sps_number_is_rejected_parked_and_not_stored(
    container: Container,
) -> None:
    ingest = service(container)
    first = await ingest.ingest(adapter("pr2"), extract(admission("MV-S-1", "7100001", "91/1A")))
    assert [r.outcome for r in first.records] == ["accepted"]
    before = await stored_events(container)
    second = extract(
        admission("MV-S-2", "7100002", "91/1A"),  # person 1's PNC ID, a second SPS number
        admission("MV-S-3", "7100003"),
    )

    # A dry run foresees it, reading only.
    dry = await ingest.ingest(adapter("pr2"), second, dry_run=True)
    assert [r.outcome for r in dry.records] == ["rejected", "accepted"]
    assert "sps_number" in dry.records[0].problems[0].reason
    assert await container.conflicts.list_cases() == []

    report = await ingest.ingest(adapter("pr2"), second)
    assert [r.outcome for r in report.records] == ["rejected", "accepted"]
    refused = report.records[0].problems[0]
    assert refused.field == "identifiers"
    assert "second value of a single-valued identifier scheme: sps_number" in refused.reason
    assert "held for review" in refused.reason
    assert "7100001" not in refused.reason
    stored = await stored_events(container)
    assert len(stored) == len(before) + 1
    assert "MV-S-2" not in {s["event_id"] for s in stored}
    [case] = await container.conflicts.list_cases()
    assert case.kind == "second-value"
    assert case.second_values == ["sps_number:7100002"]
    person = await container.store.resolve_person([PersonIdentifier("pnc_id", "91/1A")])
    assert person is not None
    assert [str(i) for i in await container.store.identifiers_of(person)] == [
        "pnc_id:91/1A",
        "sps_number:7100001",
    ]


async def test_a_dry_run_stores_nothing_and_foresees_duplicates(container: Container) -> None:
    ingest = service(container)
    dry = await ingest.ingest(adapter("pr2"), PR2_SAMPLE, dry_run=True)
    assert dry.dry_run
    # The liberation and the recall of the sample are one person: six movements, all new.
    assert [r.outcome for r in dry.records] == ["accepted"] * 6
    assert all(r.position is None for r in dry.records)
    assert await stored_events(container) == []

    await ingest.ingest(adapter("pr2"), PR2_SAMPLE)
    before = await stored_events(container)
    dry = await ingest.ingest(adapter("pr2"), PR2_SAMPLE, dry_run=True)
    assert [r.outcome for r in dry.records] == ["duplicate"] * 6
    reused = await ingest.ingest(
        adapter("pr2"), extract(admission("MV-2024-0004410", "7000099")), dry_run=True
    )
    assert reused.records[0].outcome == "rejected"
    assert reused.records[0].problems[0].field == "id"
    assert await stored_events(container) == before


class FailingStore:
    """The real store, whose `append` fails with the database gone from the `fail_at`th call."""

    def __init__(self, store: Any, fail_at: int) -> None:
        self._store = store
        self._fail_at = fail_at
        self.calls = 0

    async def append(
        self, notifications: Sequence[Notification], *, publisher: Publisher, **kwargs: Any
    ) -> list[AppendResult]:
        self.calls += 1
        if self.calls >= self._fail_at:
            raise StoreUnavailable("the database connection was lost")
        result: list[AppendResult] = await self._store.append(
            notifications, publisher=publisher, **kwargs
        )
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


async def test_a_database_failure_midway_reports_exactly_what_was_stored(
    container: Container,
) -> None:
    failing = FailingStore(container.store, fail_at=3)
    intake = IntakeService(container.schemas, failing, 500)  # type: ignore[arg-type]
    ingest = IngestService(
        intake,
        container.store,
        container.schemas,
        container.policy.directory,
        batch_size=2,
    )
    lines = [admission(f"MV-F-{i}", str(7100000 + i)) for i in range(7)]
    report = await ingest.ingest(adapter("pr2"), extract(*lines))
    assert not report.complete
    assert report.error is not None
    assert "connection was lost" in report.error
    assert [r.outcome for r in report.records] == ["accepted"] * 4 + ["rejected"] * 3
    for record in report.rejected:
        assert record.problems[0].reason.startswith("not stored: the database failed")
    stored = await stored_events(container)
    assert [(s["event_id"], s["position"]) for s in stored] == [
        (r.event["id"], r.position) for r in report.stored if r.event
    ]
    assert "INCOMPLETE" in report.summary()

    # Ingesting the file again completes it: the stored ones are duplicates.
    again = await service(container).ingest(adapter("pr2"), extract(*lines))
    assert again.complete
    assert [r.outcome for r in again.records] == ["duplicate"] * 4 + ["accepted"] * 3


async def test_social_work_records_are_published_by_their_councils_service(
    container: Container,
) -> None:
    directory = container.policy.directory
    assert publishing_agency("socialwork", "urn:pph:socialwork:S12000049", directory) == (
        "sw-glasgow-city",
        None,
    )
    # A former code of the same council.
    assert publishing_agency("socialwork", "urn:pph:socialwork:S12000046", directory)[0] == (
        "sw-glasgow-city"
    )
    agency, why = publishing_agency("socialwork", "urn:pph:socialwork:S12999999", directory)
    assert agency is None
    assert why is not None
    assert "S12999999" in why
    assert publishing_agency("pr2", "urn:pph:sps:pr2:hmp-barlinnie", directory)[0] == "sps"
    assert publishing_agency("visor", "urn:pph:police-scotland:visor", directory)[0] == (
        "police-scotland"
    )
