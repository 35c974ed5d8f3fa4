"""The behaviour every `EventStore` must have, as one test class that each backend subclasses
(`tests/integration/test_store.py`), in the way of pyeventsourcing's `tests/persistence.py`.

The tests talk to the store through the `EventStore` interface only; raw SQL appears where the
point is what the database itself does (append-only enforcement, the schema, the subject index's
rows) or to play a writer the store would never be (one that holds a position open).
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import uuid4

import pytest
import pytest_asyncio
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.domain.notifications import (
    AppendResult,
    Notification,
    PersonIdentifier,
    Publisher,
    StoredEvent,
)
from hub.errors import (
    EventIdReused,
    IdentifierConflict,
    InvalidInput,
    StoreUnavailable,
    StreamVersionConflict,
)
from hub.infra.tables import metadata
from hub.services.ports import EventStore
from tests.conftest import Database
from tests.integration.worker_threads import aiosqlite_workers_end

PR2 = Publisher(client_id="pr2-hmp-barlinnie", agency="sps")
VISOR = Publisher(client_id="visor-police-scotland", agency="police-scotland")
BST = timezone(timedelta(hours=1))


def sps(value: str) -> PersonIdentifier:
    return PersonIdentifier("sps_number", value)


def pnc(value: str) -> PersonIdentifier:
    return PersonIdentifier("pnc_id", value)


def notification(
    *identifiers: PersonIdentifier,
    id: str | None = None,
    source: str = "urn:pph:pr2:hmp-barlinnie",
    type: str = "custody.admission",
    data: dict[str, Any] | None = None,
    time: datetime | None = None,
) -> Notification:
    return Notification(
        id=id or f"evt-{uuid4().hex[:12]}",
        source=source,
        type=type,
        version=1,
        time=time or datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
        identifiers=identifiers,
        data=data if data is not None else {"establishment": "HMP Barlinnie", "reason": "remand"},
    )


def canonical(value: object) -> str:
    """JSON text that tells 1 from 1.0 and True from 1, where == would not."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


@dataclass(frozen=True)
class StoreRows:
    """Everything the store has written, as raw rows: to show that a failed append changed
    nothing."""

    events: list[tuple[Any, ...]]
    persons: list[tuple[Any, ...]]
    identifiers: list[tuple[Any, ...]]


async def store_rows(engine: AsyncEngine) -> StoreRows:
    async with engine.connect() as connection:

        async def rows(sql: str) -> list[tuple[Any, ...]]:
            return [tuple(row) for row in await connection.execute(sa.text(sql))]

        return StoreRows(
            events=await rows("SELECT position, source, event_id, content_hash FROM events"),
            persons=await rows("SELECT person_id FROM persons ORDER BY person_id"),
            identifiers=await rows(
                "SELECT scheme, value, person_id FROM person_identifiers ORDER BY scheme, value"
            ),
        )


async def read_everything(store: EventStore, page: int = 500) -> list[StoredEvent]:
    found: list[StoredEvent] = []
    while batch := await store.read_all(after=found[-1].position if found else 0, limit=page):
        found.extend(batch)
    return found


@dataclass
class FollowerLog:
    """What a follower saw, and how many times it read."""

    positions: list[int] = field(default_factory=list)
    reads: int = 0


class EventStoreContract:
    """Subclasses say how to build the store and what their backend's database does on a
    forbidden change; every test here must pass on every backend."""

    # -- what a backend supplies -------------------------------------------------------------

    def create_store(self, database: Database) -> EventStore:
        raise NotImplementedError

    def create_unreachable_store(self, database: Database) -> tuple[EventStore, AsyncEngine]:
        """A store whose database cannot be reached (and its engine, to dispose of)."""
        raise NotImplementedError

    #: How the database words its refusal of an UPDATE or DELETE on events.
    refusal: re.Pattern[str] = re.compile("append-only")

    async def concurrent_extra_writers(self, database: Database) -> list[int]:
        """Writers beyond the store's own, run beside them in the concurrency test; returns the
        positions they committed. None by default."""
        return []

    async def concurrent_observer(self, database: Database, writing_done: asyncio.Event) -> None:
        """Anything else to run beside the writers and the follower of the concurrency test
        until `writing_done` is set. Nothing by default."""

    @pytest_asyncio.fixture
    async def store(self, database: Database) -> EventStore:
        return self.create_store(database)

    # -- appending and reading back ----------------------------------------------------------

    @pytest.mark.asyncio
    async def test_appended_notification_reads_back_exactly(
        self, store: EventStore, database: Database
    ) -> None:
        data = {
            "establishment": {"code": "BLI", "name": "HMP Barlinnie"},
            "sentence": {"months": 18, "fraction": 0.5, "indeterminate": False, "expiry": None},
            "offences": ["assault", "breach of the peace"],
            "big": 2**62,
            "whole_float": 3.0,
            "note": 'Ceòl agus «quotes» \U0001f600 and \\ slashes ""',
            "empty": {},
            "nothing": [],
        }
        sent = Notification(
            id="adm-0001",
            source="urn:pph:pr2:hmp-barlinnie",
            type="custody.admission",
            version=2,
            time=datetime(2026, 6, 15, 8, 5, 7, 123456, tzinfo=BST),
            identifiers=(sps("1234567"), pnc("19/123456A")),
            data=data,
            subject="sps:1234567",
            specversion="1.0",
            datacontenttype="application/cloudevents+json",
        )
        before = datetime.now(UTC)
        [result] = await store.append([sent], publisher=PR2)
        after = datetime.now(UTC)

        assert result.duplicate is False
        assert (result.source, result.id, result.stream_version) == (sent.source, sent.id, 1)
        assert result.person_id.startswith("p_")
        assert result.position >= 1

        stored = await store.get(sent.source, sent.id)
        assert stored is not None
        assert stored.notification == sent
        assert stored.notification.identifiers == sent.identifiers  # order kept
        assert canonical(stored.notification.data) == canonical(data)
        assert stored.notification.time == sent.time
        assert stored.notification.time.utcoffset() == timedelta(0)
        assert stored.recorded_at.utcoffset() == timedelta(0)
        assert before - timedelta(seconds=1) <= stored.recorded_at <= after + timedelta(seconds=1)
        assert stored.publisher == PR2
        assert (stored.position, stored.person_id, stored.stream_version) == (
            result.position,
            result.person_id,
            1,
        )
        assert await store.read_all() == [stored]
        assert await store.read_stream(result.person_id) == [stored]
        assert await store.find_published(sent.id, "sps") == [stored]

    @pytest.mark.asyncio
    async def test_a_utc_notification_keeps_its_content_hash(self, store: EventStore) -> None:
        sent = notification(sps("1"), time=datetime(2026, 1, 1, 0, 0, 0, 1, tzinfo=UTC))
        await store.append([sent], publisher=PR2)
        stored = await store.get(sent.source, sent.id)
        assert stored is not None
        assert stored.notification.content_hash() == sent.content_hash()

    @pytest.mark.asyncio
    async def test_positions_increase_in_append_order(self, store: EventStore) -> None:
        results: list[AppendResult] = []
        for value in ("1", "2", "1"):
            results += await store.append([notification(sps(value))], publisher=PR2)
        results += await store.append(
            [notification(sps("3")), notification(sps("1")), notification(sps("4"))],
            publisher=PR2,
        )
        positions = [r.position for r in results]
        assert positions == sorted(set(positions))
        assert [e.position for e in await store.read_all()] == positions
        assert await store.last_position() == positions[-1]
        assert await store.count() == 6

    @pytest.mark.asyncio
    async def test_a_batch_of_new_and_known_people_keeps_streams_in_position_order(
        self, store: EventStore
    ) -> None:
        """The batch's positions follow its items, and each person's stream versions follow
        the positions, whether the person is new, known, or new earlier in the same batch."""
        await store.append([notification(sps(str(n))) for n in range(3)], publisher=PR2)
        batch = [notification(sps(str(n % 7))) for n in range(40)]
        results = await store.append(batch, publisher=PR2)
        positions = [r.position for r in results]
        assert positions == sorted(set(positions))
        streams: dict[str, list[tuple[int, int]]] = {}
        for event in await store.read_all(limit=1000):
            streams.setdefault(event.person_id, []).append((event.position, event.stream_version))
        assert len(streams) == 7
        for stream in streams.values():
            assert [version for _, version in stream] == list(range(1, len(stream) + 1))
        by_key = {(e.notification.source, e.notification.id): e for e in await store.read_all()}
        for sent, result in zip(batch, results, strict=True):
            stored = by_key[sent.key]
            assert (stored.position, stored.person_id, stored.stream_version) == (
                result.position,
                result.person_id,
                result.stream_version,
            )
            assert stored.notification == sent

    @pytest.mark.asyncio
    async def test_read_all_pages_by_after_and_limit(self, store: EventStore) -> None:
        for index in range(7):
            await store.append([notification(sps(str(index % 3)))], publisher=PR2)
        everything = await store.read_all()
        assert len(everything) == 7
        pages: list[list[StoredEvent]] = []
        cursor = 0
        while page := await store.read_all(after=cursor, limit=3):
            pages.append(page)
            cursor = page[-1].position
        assert [len(p) for p in pages] == [3, 3, 1]
        assert [e for p in pages for e in p] == everything
        assert await store.read_all(after=everything[2].position, limit=2) == everything[3:5]
        assert await store.read_all(after=everything[-1].position) == []
        with pytest.raises(InvalidInput):
            await store.read_all(limit=0)

    @pytest.mark.asyncio
    async def test_an_empty_store(self, store: EventStore) -> None:
        assert await store.read_all() == []
        assert await store.last_position() == 0
        assert await store.count() == 0
        assert await store.append([], publisher=PR2) == []
        assert await store.get("urn:pph:pr2", "nope") is None
        assert await store.resolve_person([sps("1")]) is None
        assert await store.resolve_person([]) is None
        assert await store.identifiers_of("p_unknown") == []
        assert await store.read_stream("p_unknown") == []

    # -- people and their streams ------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_each_person_has_their_own_stream(self, store: EventStore) -> None:
        a = [notification(sps("A"), id=f"a{i}") for i in range(3)]
        b = [notification(sps("B"), id=f"b{i}") for i in range(2)]
        results = await store.append([a[0], b[0], a[1]], publisher=PR2)
        results += await store.append([b[1]], publisher=PR2)
        results += await store.append([a[2]], publisher=PR2)
        person_a, person_b = results[0].person_id, results[1].person_id
        assert person_a != person_b
        assert [(r.person_id, r.stream_version) for r in results] == [
            (person_a, 1),
            (person_b, 1),
            (person_a, 2),
            (person_b, 2),
            (person_a, 3),
        ]
        stream_a = await store.read_stream(person_a)
        assert [e.notification.id for e in stream_a] == ["a0", "a1", "a2"]
        assert [e.stream_version for e in stream_a] == [1, 2, 3]
        assert [e.notification.id for e in await store.read_stream(person_a, 1)] == ["a1", "a2"]
        assert await store.read_stream(person_a, 3) == []
        assert [e.notification.id for e in await store.read_stream(person_b)] == ["b0", "b1"]
        streams = await store.read_streams({person_a, person_b, "p_unknown"})
        assert streams == {person_a: stream_a, person_b: await store.read_stream(person_b)}
        assert await store.read_streams(set()) == {}

    @pytest.mark.asyncio
    async def test_a_notification_with_two_identifiers_links_them(self, store: EventStore) -> None:
        [admission] = await store.append([notification(sps("1234567"))], publisher=PR2)
        person = admission.person_id
        [linked] = await store.append(
            [notification(sps("1234567"), pnc("19/123456A"))], publisher=VISOR
        )
        assert linked.person_id == person
        # A recall pushed with the PNC ID alone finds the history recorded under the SPS number.
        [recall] = await store.append(
            [notification(pnc("19/123456A"), type="licence.recall")], publisher=VISOR
        )
        assert (recall.person_id, recall.stream_version) == (person, 3)
        assert await store.identifiers_of(person) == [pnc("19/123456A"), sps("1234567")]
        assert await store.resolve_person([pnc("19/123456A")]) == person
        # An identifier of a scheme the person has no value of yet resolves with the others...
        cro = PersonIdentifier("cro_number", "nobody")
        assert await store.resolve_person([cro, sps("1234567")]) == person
        # ... a second value of a single-valued scheme is refused, as an append would be.
        with pytest.raises(IdentifierConflict):
            await store.resolve_person([pnc("nobody"), sps("1234567")])
        assert [e.notification.type for e in await store.read_stream(person)] == [
            "custody.admission",
            "custody.admission",
            "licence.recall",
        ]

    @pytest.mark.asyncio
    async def test_identifiers_of_two_people_conflict_and_change_nothing(
        self, store: EventStore, database: Database
    ) -> None:
        [first] = await store.append([notification(sps("1"))], publisher=PR2)
        [second] = await store.append([notification(pnc("2"))], publisher=VISOR)
        before = await store_rows(database.engine)

        with pytest.raises(IdentifierConflict) as raised:
            await store.append(
                [notification(sps("1"), pnc("2"), PersonIdentifier("chi_number", "3"))],
                publisher=VISOR,
            )
        message = str(raised.value)
        assert raised.value.schemes == ("pnc_id", "sps_number")
        for named in ("sps_number", "pnc_id"):
            assert named in message
        # Which values the index holds for whom (hub ids, other records' identifiers) is the
        # review list's to know, never the publisher's: the problem names the schemes only.
        for hidden in (first.person_id, second.person_id, "sps_number:1", "pnc_id:2"):
            assert hidden not in message
        assert raised.value.kind == IdentifierConflict.TWO_PEOPLE
        assert raised.value.claims == {
            "sps_number:1": first.person_id,
            "pnc_id:2": second.person_id,
        }
        assert await store_rows(database.engine) == before
        assert await store.count() == 2
        assert await store.resolve_person([PersonIdentifier("chi_number", "3")]) is None
        with pytest.raises(IdentifierConflict):
            await store.resolve_person([sps("1"), pnc("2")])

    @pytest.mark.asyncio
    async def test_a_second_sps_number_is_refused_and_changes_nothing(
        self, store: EventStore, database: Database
    ) -> None:
        # Person A: SPS number 1000001 and PNC ID 19/123456A.
        [a] = await store.append([notification(sps("1000001"), pnc("19/123456A"))], publisher=PR2)
        before = await store_rows(database.engine)

        # The PNC ID is A's; the SPS number is new: linking it would give A two.
        with pytest.raises(IdentifierConflict) as raised:
            await store.append([notification(pnc("19/123456A"), sps("1000002"))], publisher=PR2)

        conflict = raised.value
        assert conflict.kind == IdentifierConflict.SECOND_VALUE
        assert conflict.schemes == ("sps_number",)
        assert "sps_number" in conflict.message
        # Neither A's SPS number nor A's hub id reaches the publisher.
        assert "1000001" not in conflict.message
        assert a.person_id not in conflict.message
        assert conflict.claims == {
            "pnc_id:19/123456A": a.person_id,
            "sps_number:1000001": a.person_id,
        }
        assert await store_rows(database.engine) == before
        assert await store.resolve_person([sps("1000002")]) is None
        assert await store.identifiers_of(a.person_id) == [pnc("19/123456A"), sps("1000001")]
        # Asking (reading only) gives the same answer.
        with pytest.raises(IdentifierConflict) as asked:
            await store.resolve_person([pnc("19/123456A"), sps("1000002")])
        assert asked.value.kind == IdentifierConflict.SECOND_VALUE

    @pytest.mark.asyncio
    async def test_a_second_value_within_one_batch_is_refused(
        self, store: EventStore, database: Database
    ) -> None:
        before = await store_rows(database.engine)
        batch = [
            notification(pnc("19/1A"), sps("1")),
            notification(pnc("19/1A"), sps("2")),
        ]
        with pytest.raises(IdentifierConflict) as raised:
            await store.append(batch, publisher=PR2)
        assert raised.value.kind == IdentifierConflict.SECOND_VALUE
        assert raised.value.event_key == batch[1].key
        assert await store_rows(database.engine) == before

    @pytest.mark.asyncio
    async def test_social_work_client_ids_are_one_per_council(self, store: EventStore) -> None:
        glasgow = PersonIdentifier("sw_client_id", "S12000049:SW1")
        edinburgh = PersonIdentifier("sw_client_id", "S12000036:E77")
        [first] = await store.append([notification(pnc("19/2B"), glasgow)], publisher=VISOR)
        # A second council's id links: a person may be known to several councils.
        [second] = await store.append([notification(pnc("19/2B"), edinburgh)], publisher=VISOR)
        assert second.person_id == first.person_id
        # A second id from the same council does not.
        with pytest.raises(IdentifierConflict) as raised:
            await store.append(
                [notification(pnc("19/2B"), PersonIdentifier("sw_client_id", "S12000049:SW2"))],
                publisher=VISOR,
            )
        assert raised.value.schemes == ("sw_client_id",)
        assert "SW1" not in raised.value.message

    @pytest.mark.asyncio
    async def test_two_appends_racing_to_give_one_person_two_sps_numbers(
        self, store: EventStore
    ) -> None:
        [a] = await store.append([notification(pnc("19/3C"))], publisher=VISOR)
        outcomes = await asyncio.gather(
            *(
                store.append([notification(pnc("19/3C"), sps(str(n)))], publisher=PR2)
                for n in (71, 72, 73, 74)
            ),
            return_exceptions=True,
        )
        linked = [o for o in outcomes if not isinstance(o, BaseException)]
        refused = [o for o in outcomes if isinstance(o, IdentifierConflict)]
        assert len(linked) == 1, outcomes
        assert len(refused) == 3, outcomes
        assert [i.scheme for i in await store.identifiers_of(a.person_id)] == [
            "pnc_id",
            "sps_number",
        ]

    @pytest.mark.asyncio
    @settings(
        max_examples=20,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2)), min_size=1, max_size=6))
    async def test_property_a_second_sps_number_never_links(
        self, store: EventStore, pushes: list[tuple[int, int]]
    ) -> None:
        # Notifications pairing PNC IDs and SPS numbers in any order: whatever is accepted, no
        # person ends with two SPS numbers or two PNC IDs. (Each example has its own values.)
        run = uuid4().hex[:8]
        for p, s in pushes:
            try:
                await store.append(
                    [notification(pnc(f"{run}/{p}"), sps(f"{run}{s}"))], publisher=PR2
                )
            except IdentifierConflict:
                continue
        people = {await store.resolve_person([pnc(f"{run}/{p}")]) for p, _ in pushes} - {None}
        for person in people:
            assert person is not None
            schemes = [i.scheme for i in await store.identifiers_of(person)]
            assert schemes.count("sps_number") == 1, schemes
            assert schemes.count("pnc_id") == 1, schemes

    # -- idempotency -------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_appending_the_same_notification_again_is_a_duplicate(
        self, store: EventStore
    ) -> None:
        sent = notification(sps("1"))
        [first] = await store.append([sent], publisher=PR2)
        await store.append([notification(sps("1"))], publisher=PR2)
        [again] = await store.append([sent], publisher=PR2)
        assert again.duplicate is True
        assert (again.position, again.person_id, again.stream_version) == (
            first.position,
            first.person_id,
            1,
        )
        assert await store.count() == 2

        # The same within one batch: the repeat answers with the first's place.
        other = notification(sps("9"))
        results = await store.append([other, notification(sps("9")), other], publisher=PR2)
        assert [r.duplicate for r in results] == [False, False, True]
        assert (results[2].position, results[2].stream_version) == (
            results[0].position,
            results[0].stream_version,
        )
        assert await store.count() == 4

    @pytest.mark.asyncio
    async def test_a_reused_event_id_is_refused_and_changes_nothing(
        self, store: EventStore, database: Database
    ) -> None:
        await store.append([notification(sps("1"), id="adm-1")], publisher=PR2)
        before = await store_rows(database.engine)
        reused = notification(sps("1"), id="adm-1", data={"establishment": "HMP Perth"})
        with pytest.raises(EventIdReused, match="adm-1"):
            await store.append([notification(sps("5")), reused], publisher=PR2)
        with pytest.raises(EventIdReused, match="adm-2"):
            await store.append(
                [
                    notification(sps("5"), id="adm-2"),
                    notification(sps("5"), id="adm-2", data={"establishment": "HMP Perth"}),
                ],
                publisher=PR2,
            )
        assert await store_rows(database.engine) == before

    # -- all or nothing ----------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_a_batch_whose_third_item_conflicts_stores_nothing(
        self, store: EventStore, database: Database
    ) -> None:
        await store.append([notification(sps("1"))], publisher=PR2)
        await store.append([notification(pnc("2"))], publisher=VISOR)
        before = await store_rows(database.engine)
        batch = [
            notification(sps("1"), PersonIdentifier("cro_number", "new-link")),
            notification(sps("brand-new")),
            notification(sps("1"), pnc("2")),
            notification(sps("1")),
        ]
        with pytest.raises(IdentifierConflict):
            await store.append(batch, publisher=PR2)
        assert await store_rows(database.engine) == before
        assert await store.resolve_person([sps("brand-new")]) is None
        assert await store.resolve_person([PersonIdentifier("cro_number", "new-link")]) is None

    @pytest.mark.asyncio
    async def test_notifications_the_store_cannot_file_are_refused(self, store: EventStore) -> None:
        with pytest.raises(InvalidInput, match="identifier"):
            await store.append([notification()], publisher=PR2)
        with pytest.raises(InvalidInput, match="offset"):
            await store.append(
                [notification(sps("1"), time=datetime(2026, 1, 1))],
                publisher=PR2,
            )
        assert await store.count() == 0

    # -- expected version --------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_expected_version_guards_a_stream(
        self, store: EventStore, database: Database
    ) -> None:
        [first] = await store.append([notification(sps("1"))], publisher=PR2, expected_version=0)
        assert first.stream_version == 1
        results = await store.append(
            [notification(sps("1")), notification(sps("1"), pnc("7"))],
            publisher=PR2,
            expected_version=1,
        )
        assert [r.stream_version for r in results] == [2, 3]
        assert {r.person_id for r in results} == {first.person_id}

        before = await store_rows(database.engine)
        with pytest.raises(StreamVersionConflict) as raised:
            await store.append([notification(pnc("7"))], publisher=VISOR, expected_version=1)
        assert (raised.value.stream_id, raised.value.expected, raised.value.actual) == (
            first.person_id,
            1,
            3,
        )
        with pytest.raises(StreamVersionConflict, match=r"new person \(sps_number:new\)"):
            await store.append([notification(sps("new"))], publisher=PR2, expected_version=2)
        with pytest.raises(InvalidInput, match="different people"):
            await store.append(
                [notification(sps("1")), notification(sps("2"))],
                publisher=PR2,
                expected_version=3,
            )
        with pytest.raises(InvalidInput):
            await store.append([notification(sps("1"))], publisher=PR2, expected_version=-1)
        assert await store_rows(database.engine) == before

        [fourth] = await store.append([notification(pnc("7"))], publisher=VISOR, expected_version=3)
        assert fourth.stream_version == 4

    @pytest.mark.asyncio
    async def test_only_one_of_racing_appends_at_the_same_expected_version_wins(
        self, store: EventStore
    ) -> None:
        [first] = await store.append([notification(sps("1"))], publisher=PR2)
        outcomes = await asyncio.gather(
            *(
                store.append([notification(sps("1"))], publisher=PR2, expected_version=1)
                for _ in range(6)
            ),
            return_exceptions=True,
        )
        won = [o for o in outcomes if isinstance(o, list)]
        lost = [o for o in outcomes if isinstance(o, StreamVersionConflict)]
        assert len(won) == 1, outcomes
        assert len(lost) == 5, outcomes
        assert all(o.actual == 2 for o in lost)
        assert len(await store.read_stream(first.person_id)) == 2

    @pytest.mark.asyncio
    async def test_racing_appends_for_a_new_identifier_find_one_person(
        self, store: EventStore, database: Database
    ) -> None:
        # Each brings a client id of another council: a person holds one per council.
        councils = ("05", "06", "08", "10", "11", "13", "14", "17")
        results = await asyncio.gather(
            *(
                store.append(
                    [
                        notification(
                            pnc("new"), PersonIdentifier("sw_client_id", f"S120000{c}:c{c}")
                        )
                    ],
                    publisher=VISOR,
                )
                for c in councils
            )
        )
        people = {r.person_id for [r] in results}
        assert len(people) == 1
        assert sorted(r.stream_version for [r] in results) == list(range(1, 9))
        rows = await store_rows(database.engine)
        assert len(rows.persons) == 1
        assert len(rows.identifiers) == 9

    # -- publishers --------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_find_published_by_agency(self, store: EventStore) -> None:
        await store.append([notification(sps("1"), id="n-1", source="urn:pph:pr2")], publisher=PR2)
        await store.append(
            [notification(sps("1"), id="n-1", source="urn:pph:visor")], publisher=VISOR
        )
        await store.append([notification(sps("1"), id="n-2", source="urn:pph:pr2")], publisher=PR2)
        [mine] = await store.find_published("n-1", "sps")
        assert (mine.notification.source, mine.publisher) == ("urn:pph:pr2", PR2)
        [theirs] = await store.find_published("n-1", "police-scotland")
        assert theirs.notification.source == "urn:pph:visor"
        assert await store.find_published("n-1", "nhs-lothian") == []

    # -- the database enforces append-only ---------------------------------------------------

    @pytest.mark.asyncio
    async def test_the_database_refuses_to_change_or_remove_events(
        self, store: EventStore, database: Database
    ) -> None:
        await store.append([notification(sps("1")), notification(sps("2"))], publisher=PR2)
        before = await store_rows(database.engine)
        for statement in (
            "UPDATE events SET data = '{}' WHERE stream_version = 1",
            "UPDATE events SET type = 'custody.liberation' WHERE stream_version = 1",
            "UPDATE events SET data = '{\"x\": 1}' WHERE stream_version = 1",
            "DELETE FROM events",
        ):
            with pytest.raises(sa.exc.DBAPIError, match=self.refusal):
                async with database.engine.begin() as connection:
                    await connection.execute(sa.text(statement))
        assert await store_rows(database.engine) == before

    # -- failures are translated -------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_an_unreachable_database_is_store_unavailable(self, database: Database) -> None:
        async with aiosqlite_workers_end():
            store, engine = self.create_unreachable_store(database)
            try:
                with pytest.raises(StoreUnavailable) as raised:
                    await store.append([notification(sps("1"))], publisher=PR2)
                assert raised.value.__cause__ is not None
                with pytest.raises(StoreUnavailable):
                    await store.read_all()
            finally:
                await engine.dispose()

    # -- the schema --------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_the_migrated_schema_matches_the_table_metadata(self, database: Database) -> None:
        def reflect(connection: sa.Connection) -> dict[str, Any]:
            inspector = sa.inspect(connection)
            return {
                table: {
                    "columns": {c["name"]: c["nullable"] for c in inspector.get_columns(table)},
                    "primary_key": inspector.get_pk_constraint(table)["constrained_columns"],
                    "unique": sorted(
                        (u["name"], tuple(u["column_names"]))
                        for u in inspector.get_unique_constraints(table)
                    ),
                    "indexes": sorted(
                        (i["name"], tuple(i["column_names"]))
                        for i in inspector.get_indexes(table)
                        if not i.get("duplicates_constraint")
                    ),
                }
                for table in inspector.get_table_names()
                if table != "alembic_version"
            }

        async with database.engine.connect() as connection:
            migrated = await connection.run_sync(reflect)

        declared = {
            table.name: {
                "columns": {c.name: c.nullable for c in table.columns},
                "primary_key": [c.name for c in table.primary_key.columns],
                "unique": sorted(
                    (str(u.name), tuple(c.name for c in u.columns))
                    for u in table.constraints
                    if isinstance(u, sa.UniqueConstraint)
                ),
                "indexes": sorted(
                    (str(i.name), tuple(c.name for c in i.columns)) for i in table.indexes
                ),
            }
            for table in metadata.sorted_tables
        }
        assert set(migrated) >= set(declared)
        for name, expected in declared.items():
            assert migrated[name] == expected, name

    # -- concurrency: followers never skip ---------------------------------------------------

    @pytest.mark.asyncio
    @pytest.mark.slow
    async def test_a_follower_sees_every_event_once_in_order_under_concurrent_writers(
        self, store: EventStore, database: Database
    ) -> None:
        writers, per_writer = 8, 150
        writing_done = asyncio.Event()
        stored_by_store: list[int] = []

        async def writer(number: int) -> None:
            rng = random.Random(number)
            sent: list[Notification] = []
            while len(sent) < per_writer:
                size = min(rng.choice([1, 1, 1, 2, 3, 4]), per_writer - len(sent))
                batch: list[Notification] = []
                for _ in range(size):
                    if rng.random() < 0.4:  # people every writer appends to
                        shared = rng.randrange(4)
                        who = [pnc(f"shared-{shared}")]
                        if rng.random() < 0.2:  # racing to link a second identifier
                            who.append(sps(f"shared-{shared}"))
                    else:
                        who = [sps(f"w{number}-{rng.randrange(10)}")]
                    batch.append(notification(*who, id=f"w{number}-{len(sent) + len(batch)}"))
                if sent and rng.random() < 0.1:
                    batch.append(rng.choice(sent))  # a re-push: must come back as a duplicate
                results = await store.append(batch, publisher=PR2)
                stored_by_store.extend(r.position for r in results if not r.duplicate)
                sent.extend(n for n, r in zip(batch, results, strict=True) if not r.duplicate)

        async def follower() -> FollowerLog:
            log = FollowerLog()
            cursor = 0
            async with asyncio.timeout(120):
                while True:
                    # Once every writer has finished, an empty page means the follower is done.
                    last_lap = writing_done.is_set()
                    page = await store.read_all(after=cursor, limit=100)
                    log.reads += 1
                    if page:
                        positions = [e.position for e in page]
                        assert positions == sorted(set(positions))
                        assert positions[0] > cursor
                        log.positions.extend(positions)
                        cursor = positions[-1]
                    elif last_lap:
                        return log
                    else:
                        await asyncio.sleep(0.002)

        async def writing(extra: asyncio.Task[list[int]]) -> None:
            try:
                await asyncio.gather(extra, *(writer(n) for n in range(writers)))
            finally:
                writing_done.set()

        async with asyncio.TaskGroup() as group:  # one failure cancels the rest
            following = group.create_task(follower())
            group.create_task(self.concurrent_observer(database, writing_done))
            extra = group.create_task(self.concurrent_extra_writers(database))
            group.create_task(writing(extra))
        log, extra_positions = following.result(), extra.result()

        everything = await read_everything(store)
        final = [e.position for e in everything]
        assert len(stored_by_store) == writers * per_writer
        assert sorted(stored_by_store + extra_positions) == final
        assert log.positions == final  # every event exactly once, in position order
        assert await store.count() == len(final)
        print(f"\n{type(store).__name__}: follower read {len(final)} events in {log.reads} reads")

        # Streams stayed gapless per person despite the races.
        by_person: dict[str, list[int]] = {}
        for event in everything:
            by_person.setdefault(event.person_id, []).append(event.stream_version)
        for versions in by_person.values():
            assert versions == list(range(1, len(versions) + 1))
