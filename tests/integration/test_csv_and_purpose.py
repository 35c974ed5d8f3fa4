"""CSV exports and the declared purpose, through the real app on both backends (issue 13,
finding 12): a purpose that a spreadsheet would run as a formula behind a look-alike character
is neutralised in every CSV export; a non-ASCII `X-Purpose` is recorded as the text that was
sent (UTF-8), not as mojibake, and one that is not UTF-8, or holds invisible or bidirectional
characters, is refused naming the header and records nothing."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import pytest
import pytest_asyncio

from tests.conftest import Database
from tests.integration.api_helpers import RunningHub, bearer, running_hub
from tests.integration.feed_helpers import about_new_person, push

pytestmark = pytest.mark.asyncio

SAR = {"X-Purpose": "subject access request SAR-1"}


@pytest_asyncio.fixture
async def hub(database: Database) -> AsyncIterator[RunningHub]:
    settings = database.settings.model_copy(update={"rate_limit_burst": 100_000})
    async with running_hub(settings) as running:
        yield running


async def read_with_purpose(hub: RunningHub, purpose: bytes) -> tuple[Any, str]:
    """Push a notification as SPS, then read it back declaring `purpose` (raw header bytes)."""
    token = await hub.token("sps")
    [notification] = about_new_person(["custody.admission"])
    await push(hub, token, [notification])
    answer = await hub.http.get(
        f"/v1/events/{quote(notification['id'], safe='')}",
        headers={"Authorization": f"Bearer {token}", "X-Purpose": purpose},  # type: ignore[dict-item]
    )
    return answer, notification["id"]


async def exported_purposes(hub: RunningHub, dpo: str, event_id: str) -> list[str]:
    """The purpose cells of the consultations of `event_id` in the CSV export, once indexed."""
    for _ in range(200):
        answer = await hub.http.get(
            "/v1/audit/entries",
            params={"event_id": event_id, "format": "csv"},
            headers=bearer(dpo) | SAR,
        )
        assert answer.status_code == 200, answer.text
        rows = list(csv.DictReader(io.StringIO(answer.text)))
        found = [r["purpose"] for r in rows if r["kind"] == "consultation"]
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"no consultation of {event_id} was exported")


@pytest.mark.parametrize(
    "purpose",
    [
        '\uff1dHYPERLINK("http://evil.example","SAR")',
        "\uff0bcmd|' /C calc'!A0",
        "\uff0d2+3",
        "\uff20SUM(1+1)",
        "\ufe66 1+1",
    ],
)
async def test_a_formula_behind_a_look_alike_is_neutralised_in_the_csv_export(
    hub: RunningHub, purpose: str
) -> None:
    answer, event_id = await read_with_purpose(hub, purpose.encode())
    assert answer.status_code == 200, answer.text
    dpo = await hub.token("hub-dpo", "audit:read")
    assert await exported_purposes(hub, dpo, event_id) == ["'" + purpose]
    history = await hub.http.get(
        f"/v1/audit/entries?event_id={quote(event_id)}", headers=bearer(dpo) | SAR
    )
    # The JSON keeps exactly what was declared: only the CSV cell is neutralised.
    assert purpose in {e["purpose"] for e in history.json()["entries"]}


async def test_a_non_ascii_purpose_is_recorded_as_sent(hub: RunningHub) -> None:
    purpose = "Sìne Nic a' Phì: SAR réf. 2024/ü — Glaschu"
    answer, event_id = await read_with_purpose(hub, purpose.encode("utf-8"))
    assert answer.status_code == 200, answer.text
    dpo = await hub.token("hub-dpo", "audit:read")
    assert await exported_purposes(hub, dpo, event_id) == [purpose]


@pytest.mark.parametrize(
    "purpose",
    [
        "caf\xe9 check".encode("latin-1"),  # not UTF-8
        "a\u202eRAS tseuqer".encode(),  # right-to-left override
        "\u200b=1+1 zero width".encode(),
        "line\u2028separator".encode(),
        "soft\u00adhyphen".encode(),
    ],
)
async def test_a_purpose_that_is_not_clean_utf8_text_is_refused_naming_the_header(
    hub: RunningHub, purpose: bytes
) -> None:
    token = await hub.token("sps")
    [notification] = about_new_person(["custody.admission"])
    await push(hub, token, [notification])
    before = await hub.snapshot()
    answer = await hub.http.get(
        f"/v1/events/{quote(notification['id'], safe='')}",
        headers={"Authorization": f"Bearer {token}", "X-Purpose": purpose},  # type: ignore[dict-item]
    )
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "X-Purpose" in answer.json()["detail"]
    assert await hub.snapshot() == before
