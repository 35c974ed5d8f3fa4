"""Whether code at one schema revision can run against the database's: the rule a rolling
upgrade rests on (docs/migrations.md).

Code at revision R runs against a database at R, or at a later revision D whose migration
declared that code from revision M on still runs against it (expand-only migrations), with M at
or before R. The code cannot know D's migration (it is newer than the code), so D's declaration
is read from the database (`schema_compatibility`, written as each migration is applied).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

#: current: at the code's head. compatible: later, and declared to run with this code.
#: behind: an earlier revision (or no schema): `hub db upgrade`. incompatible: later, and not
#: declared to run with this code (or a revision this code does not know with no declaration).
SchemaState = Literal["current", "compatible", "behind", "incompatible"]


@dataclass(frozen=True, slots=True)
class SchemaVerdict:
    """The database's revision against the code's, and whether the code may run on it."""

    state: SchemaState
    #: The database's revision (None: no schema yet).
    database: str | None
    #: The code's head revision.
    code: str
    #: The oldest code revision the database's revision declares it runs with (None: unknown).
    compatible_from: str | None
    #: One sentence for a person: the revisions, and what to do.
    reason: str

    @property
    def runnable(self) -> bool:
        """The code may serve on this database (at its head, or a compatible later revision)."""
        return self.state in ("current", "compatible")

    def as_json(self) -> dict[str, str | bool | None]:
        return {
            "state": self.state,
            "database_revision": self.database,
            "code_revision": self.code,
            "compatible_from": self.compatible_from,
            "runnable": self.runnable,
            "reason": self.reason,
        }


def judge(
    *, database: str | None, compatible_from: str | None, code_lineage: Sequence[str]
) -> SchemaVerdict:
    """The verdict for a database at `database` (declaring `compatible_from`, when it records
    it) and code whose migrations are `code_lineage`, oldest first (its head last)."""
    if not code_lineage:
        raise ValueError("the code knows no migrations")
    head = code_lineage[-1]
    if database is None:
        return SchemaVerdict(
            "behind", None, head, None, f"no schema yet; run `hub db upgrade` to {head}"
        )
    if database == head:
        return SchemaVerdict(
            "current", database, head, compatible_from, f"the database is at {head}, as the code"
        )
    if database in code_lineage:
        return SchemaVerdict(
            "behind",
            database,
            head,
            compatible_from,
            f"the database is at {database}, behind the code's {head}; run `hub db upgrade`",
        )
    if compatible_from is None:
        return SchemaVerdict(
            "incompatible",
            database,
            head,
            None,
            f"the database is at {database}, which this code ({head}) does not know and which "
            "declares no code it runs with; deploy the code of revision "
            f"{database} or later",
        )
    if compatible_from in code_lineage:
        return SchemaVerdict(
            "compatible",
            database,
            head,
            compatible_from,
            f"the database is at {database}, which runs with code from {compatible_from} on; "
            f"this code is at {head}",
        )
    return SchemaVerdict(
        "incompatible",
        database,
        head,
        compatible_from,
        f"the database is at {database}, which needs code from {compatible_from} on; this code "
        f"is at {head}: deploy newer code",
    )
