"""Many rows into one table with one statement on asyncpg's own connection (PostgreSQL): each
column sent as one array and the rows unnested from them, as the audit append already does.

SQLAlchemy's executemany processes every bound value of every row in Python (its compiled
parameters, a `json.dumps` for each JSON value) before asyncpg encodes them again: for a router
batch of ~300 disclosures of 17 columns that was more of the router's time than its decisions'
rows themselves. Here asyncpg encodes each column's array in one go, and each distinct JSON value
is serialised once (the lists of fields, rules, purposes and bases repeat across a batch).

JSON columns travel as text and are cast to `jsonb`: the stored values are those SQLAlchemy's
`JSON` type stores (Python `None` included, which it writes as JSON `null`, not SQL NULL).
SQLite keeps SQLAlchemy's executemany, which costs it one call already.

The rows go as one `jsonb` array of rows (each a JSON array of its values) when every value is
plain JSON or an aware datetime (as ISO 8601 text, which PostgreSQL reads back to the same
microsecond): asyncpg checks each element of an array parameter against three abstract base
classes before encoding it, which cost a router batch more than the rows' own encoding. Anything
else goes as one array per column, as before.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.infra.store_driver import driver_connection
from hub.infra.visibility import hold_xid

__all__ = ["UnnestInsert", "unnest_insert"]

_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]


class UnnestInsert:
    """`INSERT INTO table (columns) SELECT … FROM unnest(one array per column)`, built once."""

    __slots__ = ("_columns", "_json", "_moments", "rows_sql", "sql")

    def __init__(self, table: sa.Table, columns: Sequence[str]) -> None:
        names = list(columns)
        arrays, selected, picked = [], [], []
        self._json: list[bool] = []
        #: The positions of the timestamp columns, sent as ISO 8601 text in the rows' JSON.
        self._moments: list[int] = []
        for n, name in enumerate(names, start=1):
            sql_type = table.c[name].type.compile(dialect=_DIALECT)
            is_json = sql_type == "JSONB"
            self._json.append(is_json)
            if sql_type.startswith("TIMESTAMP"):
                self._moments.append(n - 1)
            arrays.append(f"${n}::{'text' if is_json else sql_type.lower()}[]")
            selected.append(f'"{name}"::jsonb' if is_json else f'"{name}"')
            picked.append(
                f"r.value -> {n - 1}" if is_json else f"(r.value ->> {n - 1})::{sql_type.lower()}"
            )
        self._columns = names
        quoted = ", ".join(f'"{name}"' for name in names)
        self.sql = (
            f'INSERT INTO "{table.name}" ({quoted}) '  # noqa: S608 (names from the table)
            f"SELECT {', '.join(selected)} FROM unnest({', '.join(arrays)}) AS r({quoted})"
        )
        self.rows_sql = (
            f'INSERT INTO "{table.name}" ({quoted}) '  # noqa: S608 (names from the table)
            f"SELECT {', '.join(picked)} FROM jsonb_array_elements($1::jsonb) AS r(value)"
        )

    async def execute(self, connection: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert `rows` (each holding these columns) in the transaction of `connection`, a
        PostgreSQL connection."""
        if not rows:
            return
        # The driver's transaction begins with SQLAlchemy's first statement in it; this one is
        # the audit append's own and costs no round trip twice (`hold_xid`).
        await hold_xid(connection)
        driver = await driver_connection(connection)
        document = self._rows_json(rows)
        if document is not None:
            await driver.execute(self.rows_sql, document)
            return
        arrays = []
        for name, is_json in zip(self._columns, self._json, strict=True):
            values = [row[name] for row in rows]
            arrays.append(_json_texts(values) if is_json else values)
        await driver.execute(self.sql, *arrays)

    def _rows_json(self, rows: Sequence[Mapping[str, Any]]) -> str | None:
        """The rows as one JSON array of arrays of their values (timestamps as ISO 8601 text);
        None if a value is not plain JSON, or a timestamp not an aware datetime."""
        names, moments = self._columns, self._moments
        table: list[list[Any]] = []
        for row in rows:
            values = [row[name] for name in names]
            for index in moments:
                moment = values[index]
                if moment is None:
                    continue
                if type(moment) is not datetime or moment.utcoffset() is None:
                    return None
                values[index] = moment.isoformat()
            table.append(values)
        try:
            return _ROWS_ENCODER.encode(table)
        except (TypeError, ValueError):
            return None


@functools.lru_cache(maxsize=64)
def unnest_insert(table: sa.Table, columns: tuple[str, ...]) -> UnnestInsert:
    """The `UnnestInsert` of `columns` into `table`, built once."""
    return UnnestInsert(table, columns)


#: Plain JSON only: any other value (a datetime in a JSON column, a float that is not finite)
#: sends the rows the other way, where it is refused or stored as before.
_ROWS_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _json_texts(values: Sequence[Any]) -> list[str]:
    """Each value as JSON text, each distinct list of strings serialised once."""
    known: dict[tuple[str, ...], str] = {}
    texts = []
    for value in values:
        if type(value) is list and all(type(item) is str for item in value):
            key = tuple(value)
            text = known.get(key)
            if text is None:
                text = known[key] = json.dumps(value)
            texts.append(text)
        else:
            texts.append(json.dumps(value))
    return texts
