"""Imported history and the records that follow the person, on both backends (docs/onboarding.md,
"History is not disclosed"): a social work risk assessment loaded by `hub import` is disclosed
to no one while it is history; when the person is later admitted to a prison by a live push,
the assessment follows them there as the rules grant — with the SPS number the prison matches
on — and nothing else of the history is disclosed."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa

from hub.domain.cloudevents import identifiers_of
from hub.infra import tables
from tests.conftest import Database
from tests.integration.api_helpers import RunningHub, bearer, example, running_hub
from tests.integration.cli_helpers import run_cli
from tests.integration.feed_helpers import glasgow_assessment, push, routed, rows

pytestmark = pytest.mark.asyncio

PRISON = "hmp-barlinnie"
SOCIAL_WORK = "sw-glasgow-city"


@pytest_asyncio.fixture
async def hub(database: Database) -> AsyncIterator[RunningHub]:
    settings = database.settings.model_copy(
        update={"router_poll_interval": 0.05, "overdue_check_interval": 3600.0}
    )
    async with running_hub(settings) as running:
        yield running


async def imported(
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    path: Path,
) -> dict[str, Any]:
    """Register a social work client with `hub clients add` and `hub import` the file as it."""
    capsys.readouterr()
    assert (
        await run_cli(
            database,
            monkeypatch,
            *("clients", "add", "--name", "Glasgow history", "--agency", SOCIAL_WORK),
            *("--scope", "events:publish", "--json"),
        )
        == 0
    )
    client_id = json.loads(capsys.readouterr().out)["client_id"]
    code = await run_cli(database, monkeypatch, "import", str(path), "--as", client_id, "--json")
    out, err = capsys.readouterr()
    assert code == 0, err
    summary: dict[str, Any] = json.loads(out)
    return summary


async def disclosed(hub: RunningHub, event_ids: set[str]) -> list[dict[str, Any]]:
    d = tables.disclosures.c
    return await rows(
        hub, sa.select(d.event_id, d.recipient_id).where(d.event_id.in_(sorted(event_ids)))
    )


async def test_an_imported_assessment_follows_the_person_into_custody_and_only_then(
    database: Database,
    hub: RunningHub,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    followed, unadmitted = (
        glasgow_assessment("22/0900001R", 1),
        glasgow_assessment("22/0900002R", 2),
    )
    history = tmp_path / "glasgow.ndjson"
    history.write_text(f"{json.dumps(followed)}\n{json.dumps(unadmitted)}\n", encoding="utf-8")

    summary = await imported(database, monkeypatch, capsys, history)
    assert (summary["stored"], summary["history"]) == (2, True)
    await routed(hub)
    # History: folded into profiles, disclosed to no one.
    assert await disclosed(hub, {followed["id"], unadmitted["id"]}) == []

    # Later, live: the first person is admitted to HMP Barlinnie, bringing their SPS number.
    sps = "4590001"
    admission = example("custody.admission")
    admission["id"] = str(uuid.uuid4())
    admission["identifiers"] = {"sps_number": sps, "pnc_id": "22/0900001R"}
    await push(hub, await hub.token("sps"), [admission])
    await routed(hub)

    # The imported assessment followed them to the prison, and only theirs.
    found = await disclosed(hub, {followed["id"], unadmitted["id"]})
    assert found, "the imported assessment did not follow the person into custody"
    assert {r["event_id"] for r in found} == {followed["id"]}
    assert PRISON in {r["recipient_id"] for r in found}
    # The prison reads it on its feed with the SPS number it matches on.
    token = await hub.token(PRISON, "feed:read")
    answer = await hub.http.get("/v1/feed", headers=bearer(token))
    assert answer.status_code == 200, answer.text
    items = [i for i in answer.json()["items"] if i["notification"]["id"] == followed["id"]]
    assert len(items) == 1, answer.json()["items"]
    assert identifiers_of(items[0]["notification"]) == {"sps_number": sps}
    assert await run_cli(database, monkeypatch, "audit", "verify") == 0
