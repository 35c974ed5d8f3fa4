"""Group commit (`hub.services.intake_group`): concurrent single pushes of one publisher share
an append; a lone push waits for nothing; when a joined append fails, each notification is
appended on its own, so every caller gets its own answer; publishers are never mixed."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from hub.domain.notifications import AppendResult, Notification, PersonIdentifier, Publisher
from hub.errors import EventIdReused
from hub.services.intake_group import GroupedAppends

SPS = Publisher("cl_pr2", "sps")
POLICE = Publisher("cl_visor", "police-scotland")


def admission(number: int) -> Notification:
    return Notification(
        id=f"n{number}",
        source="urn:pph:sps:pr2:hmp-barlinnie",
        type="custody.admission",
        version=1,
        time=datetime(2026, 12, 6, tzinfo=UTC),
        identifiers=(PersonIdentifier("sps_number", str(number)),),
        data={},
    )


class Store:
    """Appends in memory; each append is one "transaction", held open until `release`d."""

    def __init__(self, refuse: set[str] | None = None) -> None:
        self.appends: list[tuple[Publisher, list[str]]] = []
        self.refuse = refuse or set()
        self.release = asyncio.Event()
        self.release.set()

    async def append(
        self, notifications: Sequence[Notification], publisher: Publisher
    ) -> list[AppendResult]:
        self.appends.append((publisher, [n.id for n in notifications]))
        await self.release.wait()
        refused = [n.id for n in notifications if n.id in self.refuse]
        if refused:
            raise EventIdReused(f"{refused[0]} is taken")
        return [
            AppendResult(n.source, n.id, len(self.appends) * 1000 + i, "p", 1, duplicate=False)
            for i, n in enumerate(notifications)
        ]


@pytest.mark.asyncio
async def test_a_lone_push_is_appended_at_once() -> None:
    store = Store()
    grouped = GroupedAppends(store.append, max_group=100)
    result = await grouped.append(admission(1), SPS)
    assert result.id == "n1"
    assert store.appends == [(SPS, ["n1"])]


@pytest.mark.asyncio
async def test_pushes_arriving_during_an_append_share_the_next() -> None:
    store = Store()
    store.release.clear()
    grouped = GroupedAppends(store.append, max_group=100)
    first = asyncio.create_task(grouped.append(admission(1), SPS))
    await asyncio.sleep(0)
    others = [asyncio.create_task(grouped.append(admission(n), SPS)) for n in range(2, 6)]
    await asyncio.sleep(0)
    store.release.set()
    results = await asyncio.gather(first, *others)
    assert [r.id for r in results] == ["n1", "n2", "n3", "n4", "n5"]
    assert store.appends == [(SPS, ["n1"]), (SPS, ["n2", "n3", "n4", "n5"])]


@pytest.mark.asyncio
async def test_groups_are_bounded_and_publishers_never_mixed() -> None:
    store = Store()
    store.release.clear()
    grouped = GroupedAppends(store.append, max_group=2)
    tasks = [
        asyncio.create_task(grouped.append(admission(n), SPS if n % 2 else POLICE))
        for n in range(1, 8)
    ]
    await asyncio.sleep(0)
    store.release.set()
    await asyncio.gather(*tasks)
    assert all(len(ids) <= 2 for _, ids in store.appends)
    for publisher, ids in store.appends:
        assert {int(i[1:]) % 2 for i in ids} == ({1} if publisher == SPS else {0})
    assert sorted(i for _, ids in store.appends for i in ids) == [f"n{n}" for n in range(1, 8)]


@pytest.mark.asyncio
async def test_a_failed_group_answers_each_caller_on_its_own() -> None:
    store = Store(refuse={"n3"})
    store.release.clear()
    grouped = GroupedAppends(store.append, max_group=100)
    first = asyncio.create_task(grouped.append(admission(1), SPS))
    await asyncio.sleep(0)
    others = [asyncio.create_task(grouped.append(admission(n), SPS)) for n in (2, 3, 4)]
    await asyncio.sleep(0)
    store.release.set()
    answers = await asyncio.gather(first, *others, return_exceptions=True)
    assert [a.id for a in answers if isinstance(a, AppendResult)] == ["n1", "n2", "n4"]
    assert isinstance(answers[2], EventIdReused)
    assert store.appends[1:] == [
        (SPS, ["n2", "n3", "n4"]),
        (SPS, ["n2"]),
        (SPS, ["n3"]),
        (SPS, ["n4"]),
    ]


@pytest.mark.asyncio
async def test_a_caller_that_goes_away_does_not_stop_the_append() -> None:
    store = Store()
    store.release.clear()
    grouped = GroupedAppends(store.append, max_group=100)
    leaving = asyncio.create_task(grouped.append(admission(1), SPS))
    staying = asyncio.create_task(grouped.append(admission(2), SPS))
    await asyncio.sleep(0)
    leaving.cancel()
    store.release.set()
    assert (await staying).id == "n2"
    assert [i for _, ids in store.appends for i in ids] == ["n1", "n2"]
