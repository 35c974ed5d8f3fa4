"""The event store's append on SQLite as plain SQL run on aiosqlite's own connection, inside
the transaction SQLAlchemy has begun (`BEGIN IMMEDIATE`: `hub.infra.db`): the same shape as
`hub.infra.store_asyncpg`, for the same reason (SQLAlchemy Core's execution path costs more than
the statement on this hot path).

Values are written exactly as SQLAlchemy writes them for the same columns, so that every reader
(all of them through SQLAlchemy) reads them back unchanged: timestamps in SQLAlchemy's SQLite
storage format (`timestamp`), JSON as `json.dumps` gives it. Lists of keys go in as one JSON
array each (`json_each`), so each statement has one text for any number of notifications.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

__all__ = [
    "EVENT_COLUMNS",
    "OPENING_READ",
    "event_values",
    "insert_events",
    "opening_read",
    "people_read",
    "timestamp",
]

#: Columns as `hub.infra.store_asyncpg.OPENING_READ`, without the xid (SQLite has one writer).
OPENING_READ = """
SELECT 1 AS part, disabled_at AS a, agency AS b, scopes AS c, NULL AS d, NULL AS e, NULL AS f
FROM clients WHERE client_id = ?
UNION ALL
SELECT 2, source, event_id, content_hash, position, person_id, stream_version
FROM events
WHERE (source, event_id) IN (
    SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?)
)
UNION ALL
SELECT 3, scheme, value, NULL, NULL, person_id, NULL
FROM person_identifiers
WHERE (scheme, value) IN (
    SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?)
)
"""

#: Every identifier the people hold (part 0) and their streams' last versions (part 1).
_PEOPLE_READ = """
SELECT 0 AS part, scheme, value, person_id, NULL AS version
FROM person_identifiers WHERE person_id IN (SELECT value FROM json_each(?1))
UNION ALL
SELECT 1, NULL, NULL, person_id, max(stream_version)
FROM events WHERE person_id IN (SELECT value FROM json_each(?1)) GROUP BY person_id
"""

_INSERT_PERSON = "INSERT INTO persons (person_id, created_at) VALUES (?, ?)"
_INSERT_LINK = (
    "INSERT INTO person_identifiers (scheme, value, person_id, linked_at) VALUES (?, ?, ?, ?)"
)
#: The events columns an append writes (`position` numbered by the database, `history` left to
#: its default); `hub.infra.bulk_import` writes these and those two.
EVENT_COLUMNS = (
    "source",
    "event_id",
    "type",
    "version",
    "time",
    "subject",
    "specversion",
    "datacontenttype",
    "identifiers",
    "data",
    "content_hash",
    "person_id",
    "stream_version",
    "publisher_client_id",
    "publisher_agency",
    "recorded_at",
    "trace_context",
)
_COLUMN_LIST = ", ".join(EVENT_COLUMNS)
_MARKS = ", ".join("?" * len(EVENT_COLUMNS))
#: The first row numbered by AUTOINCREMENT; the others at the positions that follow, which it
#: would have given them one by one (no other writer can insert before this transaction ends).
_INSERT_FIRST_EVENT = f"INSERT INTO events ({_COLUMN_LIST}) VALUES ({_MARKS}) RETURNING position"  # noqa: S608
_INSERT_MORE_EVENTS = f"INSERT INTO events (position, {_COLUMN_LIST}) VALUES (?, {_MARKS})"  # noqa: S608


def timestamp(value: datetime) -> str:
    """A (UTC) datetime as SQLAlchemy stores it in SQLite."""
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d} "
        f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}"
    )


async def opening_read(
    driver: Any, client_id: str, keys: Sequence[tuple[str, str]], identifiers: Sequence[Any]
) -> list[Any]:
    """Rows as `hub.infra.store_asyncpg.OPENING_READ`'s (`PersonIdentifier`s in
    `identifiers`)."""
    return list(
        await driver.execute_fetchall(
            OPENING_READ,
            (
                client_id,
                json.dumps([list(key) for key in keys]),
                json.dumps([[i.scheme, i.value] for i in identifiers]),
            ),
        )
    )


async def people_read(driver: Any, person_ids: Sequence[str]) -> list[Any]:
    """Rows of (part, scheme, value, person id, version): see `_PEOPLE_READ`."""
    return list(await driver.execute_fetchall(_PEOPLE_READ, (json.dumps(list(person_ids)),)))


async def insert_events(
    driver: Any,
    *,
    now: datetime,
    new_people: Sequence[str],
    new_links: Sequence[tuple[str, str, str]],
    rows: Sequence[dict[str, Any]],
) -> list[int]:
    """Insert the people, links (scheme, value, person id) and events rows (as
    `hub.infra.store` builds them); the events' positions, in the rows' order."""
    at = timestamp(now)
    if new_people:
        await driver.executemany(_INSERT_PERSON, [(p, at) for p in new_people])
    if new_links:
        await driver.executemany(
            _INSERT_LINK, [(scheme, value, person, at) for scheme, value, person in new_links]
        )
    values = [event_values(row) for row in rows]
    [(first,)] = await driver.execute_fetchall(_INSERT_FIRST_EVENT, values[0])
    if len(values) > 1:
        await driver.executemany(
            _INSERT_MORE_EVENTS,
            [(first + n, *value) for n, value in enumerate(values[1:], start=1)],
        )
    return [first + n for n in range(len(values))]


def event_values(row: dict[str, Any]) -> tuple[Any, ...]:
    """An events row (as `hub.infra.store` builds it) as the values `EVENT_COLUMNS` name, as
    SQLAlchemy would write them (times as text, JSON columns as text)."""
    return (
        row["source"],
        row["event_id"],
        row["type"],
        row["version"],
        timestamp(row["time"]),
        row["subject"],
        row["specversion"],
        row["datacontenttype"],
        json.dumps(row["identifiers"]),
        json.dumps(row["data"]),
        row["content_hash"],
        row["person_id"],
        row["stream_version"],
        row["publisher_client_id"],
        row["publisher_agency"],
        timestamp(row["recorded_at"]),
        row["trace_context"],
    )
