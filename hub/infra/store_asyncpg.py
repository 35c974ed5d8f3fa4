"""The event store's append on PostgreSQL as a few plain SQL statements run on asyncpg's own
connection, inside the transaction the SQLAlchemy connection has begun.

Why not SQLAlchemy Core here: its execution path costs ~170 Python calls a statement (compiled
cache lookup, expanding `IN` parameters rendered per call, parameter and result processing), on
the hottest path of the hub. These statements take arrays (`unnest`, `= ANY`), so each has one
text for any number of notifications, and asyncpg prepares it once per connection (its
statement cache) and encodes the parameters in C.

The append's first statement still goes through SQLAlchemy (`exec_driver_sql`, no compiling):
it begins SQLAlchemy's transaction on the driver, and a pooled connection the server has closed
is reported there as SQLAlchemy reports it (`connection_invalidated`), which the store's one
reconnect relies on. Everything after runs in that same transaction, which SQLAlchemy commits
or rolls back. A driver error raised here is asyncpg's own (with its `sqlstate`):
`hub.infra.dberrors.translated` turns it into the hub's.

The never-skip protocol (`hub.infra.visibility`) holds: the opening read draws the xid first;
the positions are drawn by `nextval` inside the statements that INSERT INTO the table, which
take its RowExclusiveLock before they run.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

__all__ = [
    "OPENING_READ",
    "insert_events",
    "lock_people",
    "people_read",
]

#: Columns: part (0 xid, 1 the publisher's client row, 2 an event stored under one of the keys,
#: 3 a person an identifier already names), then up to six values of fixed types.
OPENING_READ = """
SELECT 0 AS part, pg_current_xact_id()::text AS a, NULL::text AS b, NULL::text AS c,
       NULL::bigint AS d, NULL::text AS e, NULL::integer AS f
UNION ALL
SELECT 1, disabled_at::text, agency, scopes, NULL, NULL, NULL
FROM clients WHERE client_id = $1
UNION ALL
SELECT 2, e.source, e.event_id, e.content_hash, e.position, e.person_id, e.stream_version
FROM events AS e
JOIN unnest($2::text[], $3::text[]) AS k(source, event_id)
  ON e.source = k.source AND e.event_id = k.event_id
UNION ALL
SELECT 3, i.scheme, i.value, NULL, NULL, i.person_id, NULL
FROM person_identifiers AS i
JOIN unnest($4::text[], $5::text[]) AS w(scheme, value)
  ON i.scheme = w.scheme AND i.value = w.value
"""

#: Appends to the same existing people queue here, in one order (no deadlocks).
_LOCK_PEOPLE = """
SELECT person_id FROM persons WHERE person_id = ANY($1::text[]) ORDER BY person_id FOR UPDATE
"""

#: Once the people are locked (a statement of its own, so that this one's snapshot sees what
#: an append that held the lock before committed): every identifier they hold (part 0) and
#: their streams' last versions (part 1).
_PEOPLE_READ = """
SELECT 0 AS part, scheme, value, person_id, NULL::integer AS version
FROM person_identifiers WHERE person_id = ANY($1::text[])
UNION ALL
SELECT 1, NULL, NULL, person_id, max(stream_version)
FROM events WHERE person_id = ANY($1::text[]) GROUP BY person_id
"""

#: New people, their identifier links and the events, in one statement; the events' positions
#: drawn in the rows' order and given back in it.
_INSERT_EVENTS = """
WITH new_people AS (
    INSERT INTO persons (person_id, created_at)
    SELECT person_id, $1::timestamptz FROM unnest($2::text[]) AS p(person_id)
), new_links AS (
    INSERT INTO person_identifiers (scheme, value, person_id, linked_at)
    SELECT scheme, value, person_id, $1::timestamptz
    FROM unnest($3::text[], $4::text[], $5::text[])
        WITH ORDINALITY AS l(scheme, value, person_id, n)
    ORDER BY n
), numbered AS (
    SELECT nextval('events_position_seq') AS position, r.*
    FROM unnest(
        $6::text[], $7::text[], $8::text[], $9::integer[], $10::timestamptz[], $11::text[],
        $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[],
        $18::integer[]
    ) WITH ORDINALITY AS r(
        source, event_id, type, version, time, subject, specversion, datacontenttype,
        identifiers, data, content_hash, person_id, stream_version, n
    )
    ORDER BY n
), stored AS (
    INSERT INTO events (
        position, source, event_id, type, version, time, subject, specversion,
        datacontenttype, identifiers, data, content_hash, person_id, stream_version,
        publisher_client_id, publisher_agency, recorded_at, trace_context
    )
    SELECT position, source, event_id, type, version, time, subject, specversion,
           datacontenttype, identifiers::jsonb, data::jsonb, content_hash, person_id,
           stream_version, $19, $20, $1::timestamptz, $21
    FROM numbered
)
SELECT position FROM numbered ORDER BY n
"""

#: The events' columns the statement takes as arrays, in its parameters' order.
_EVENT_COLUMNS = (
    "source",
    "event_id",
    "type",
    "version",
    "time",
    "subject",
    "specversion",
    "datacontenttype",
)


async def lock_people(driver: Any, person_ids: Sequence[str]) -> None:
    await driver.execute(_LOCK_PEOPLE, list(person_ids))


async def people_read(driver: Any, person_ids: Sequence[str]) -> list[Any]:
    """Rows of (part, scheme, value, person id, version): see `_PEOPLE_READ`."""
    return list(await driver.fetch(_PEOPLE_READ, list(person_ids)))


async def insert_events(
    driver: Any,
    *,
    now: datetime,
    new_people: Sequence[str],
    new_links: Sequence[tuple[str, str, str]],
    rows: Sequence[dict[str, Any]],
    publisher_client_id: str,
    publisher_agency: str,
    trace_context: str | None,
) -> list[int]:
    """Insert the people, links (scheme, value, person id: in this order) and events rows (as
    `hub.infra.store` builds them); the events' positions, in the rows' order."""
    arguments: list[Any] = [
        now,
        list(new_people),
        [scheme for scheme, _, _ in new_links],
        [value for _, value, _ in new_links],
        [person for _, _, person in new_links],
    ]
    arguments += [[row[column] for row in rows] for column in _EVENT_COLUMNS]
    arguments += [
        [json.dumps(row["identifiers"]) for row in rows],
        [json.dumps(row["data"]) for row in rows],
        [row["content_hash"] for row in rows],
        [row["person_id"] for row in rows],
        [row["stream_version"] for row in rows],
        publisher_client_id,
        publisher_agency,
        trace_context,
    ]
    return [record[0] for record in await driver.fetch(_INSERT_EVENTS, *arguments)]
