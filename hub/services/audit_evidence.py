"""Checking the rows the audit log is about against the log: `hub audit verify`'s second half.

The Merkle tree proves the entries unchanged; this proves the tables agree with them. Inside one
consistent read, page by page (memory stays flat however long the log), in this order:

1. the query index: every entry has its `audit_index` row and rules, each column what the entry
   says, and no index row lacks its entry (the DPO queries and person reports read the index,
   so this is what makes them read verified data);
2. events: every row has a collection entry whose digests match it (`hub.domain.audit.evidence`),
   an emptied `data` only under a recorded erasure; every collection entry's row exists;
3. disclosures and denials, proposed disclosures and reviewers' decisions (case-by-case
   review): the same, against their disclosure entries;
4. erasures: every `event_erasures` row has an erasure entry that matches it;
5. feeds: each recipient's numbers run 1..N without a gap, each to a disclosure to it.

The first mismatch stops the check and is named exactly: the table, the row's key, the column,
what the log recorded and what the row holds (digests for columns that may hold personal data;
values for ids and names). A row whose entry was written before entries carried digests is
counted as "unbound", not failed: it is logged but its content cannot be checked.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from hub.domain.audit.entries import AuditEntryInvalid, AuditKind, format_timestamp
from hub.domain.audit.evidence import (
    LoggedFacts,
    RowEvidence,
    column_digest,
    compare_row,
    facts_of,
    index_facts,
    logged_facts,
)
from hub.domain.audit.json_text import decode
from hub.services.read_ahead import PagesAhead

__all__ = [
    "INDEX_COLUMNS",
    "EvidenceChecker",
    "EvidenceMismatch",
    "EvidenceReport",
    "EvidenceSnapshot",
    "EvidenceSource",
    "FeedNumbers",
    "IndexedEntry",
    "LoggedEntry",
]


@dataclass(frozen=True, slots=True)
class LoggedEntry:
    position: int
    entry: str  # canonical JSON, as stored


#: The columns of an `audit_index` row the check compares with its entry
#: (`hub.domain.audit.evidence.index_facts`), in the order `IndexedEntry.index` holds them.
INDEX_COLUMNS = ("kind", "occurred_at", "actor", "person_id", "recipient_id", "event_id", "purpose")


@dataclass(frozen=True, slots=True)
class IndexedEntry:
    position: int
    entry: str
    #: Its `audit_index` row's `INDEX_COLUMNS`, None when there is none.
    index: tuple[Any, ...] | None


@dataclass(frozen=True, slots=True)
class FeedNumbers:
    """One recipient's feed: how many items, its lowest and highest number, its counter."""

    recipient_id: str
    count: int
    first: int | None
    last: int | None
    counter: int | None


class EvidenceSnapshot(Protocol):
    async def indexed_entries(self, after: int, limit: int) -> list[IndexedEntry]: ...
    async def index_rules(self, first: int, last: int) -> dict[int, set[str]]: ...
    async def first_orphan_index_row(self) -> tuple[str, int] | None: ...
    async def entries_about(self, kind: str, event_ids: Collection[str]) -> list[LoggedEntry]: ...
    async def rows(self, table: str, after: Any, limit: int) -> list[dict[str, Any]]: ...
    async def rows_with_keys(
        self, table: str, keys: Sequence[Any]
    ) -> dict[Any, dict[str, Any]]: ...
    async def feed_numbers(self) -> list[FeedNumbers]: ...
    async def first_misfiled_feed_item(self) -> tuple[str, int, str] | None: ...


class EvidenceSource(Protocol):
    def snapshot(self) -> AbstractAsyncContextManager[EvidenceSnapshot]: ...


@dataclass(frozen=True, slots=True)
class EvidenceMismatch:
    """The first row that does not agree with the log."""

    table: str
    key: str  # e.g. "position 12", "disclosure_id d_…"
    message: str
    column: str | None = None
    expected: str | None = None
    found: str | None = None
    entry_position: int | None = None  # the audit entry it was checked against

    def describe(self) -> str:
        where = f"{self.table} {self.key}"
        if self.column is not None:
            where += f", column {self.column}"
        text = f"{where}: {self.message}"
        if self.expected is not None or self.found is not None:
            text += f" (expected {self.expected}, found {self.found})"
        if self.entry_position is not None:
            text += f"; audit entry at position {self.entry_position}"
        return text

    def as_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "key": self.key,
            "column": self.column,
            "expected": self.expected,
            "found": self.found,
            "entry_position": self.entry_position,
            "message": self.describe(),
        }


@dataclass
class EvidenceReport:
    index_entries: int = 0
    events: int = 0
    disclosures: int = 0
    denials: int = 0
    erasures: int = 0
    recipients: int = 0
    #: Proposed disclosures and reviewers' decisions (case-by-case review).
    proposals: int = 0
    review_decisions: int = 0
    #: Rows, by table, whose entry was written before entries carried digests.
    unbound: dict[str, int] = field(default_factory=dict)
    failure: EvidenceMismatch | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None

    def summary(self) -> str:
        def n(count: int, noun: str) -> str:
            return f"{count} {noun}{'' if count == 1 else 's'}"

        text = (
            f"{n(self.events, 'event')}, {n(self.disclosures, 'disclosure')}, "
            f"{n(self.denials, 'denial')}, {n(self.erasures, 'erasure')}, "
            f"{n(self.proposals, 'proposal')}, {n(self.review_decisions, 'review decision')}, "
            f"{n(self.recipients, 'recipient feed')} and {n(self.index_entries, 'index row')} "
            "checked against the log"
        )
        unbound = sum(self.unbound.values())
        if unbound:
            tables = ", ".join(f"{t} {c}" for t, c in sorted(self.unbound.items()))
            text += (
                f"; {n(unbound, 'row')} logged before entries carried row digests, "
                f"unbound ({tables})"
            )
        return text

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "index_entries": self.index_entries,
            "events": self.events,
            "disclosures": self.disclosures,
            "denials": self.denials,
            "erasures": self.erasures,
            "proposals": self.proposals,
            "review_decisions": self.review_decisions,
            "recipient_feeds": self.recipients,
            "unbound": dict(sorted(self.unbound.items())),
            "failure": None if self.failure is None else self.failure.as_json(),
        }


class _Stop(Exception):
    def __init__(self, mismatch: EvidenceMismatch) -> None:
        self.mismatch = mismatch


#: Columns whose values may be shown in a mismatch (ids and names the entries hold in clear);
#: any other column is shown by digest only, as it may hold personal data.
_SHOWN = frozenset(
    {
        "position",
        "event_position",
        "trigger_position",
        "profile_position",
        "event_id",
        "source",
        "type",
        "event_type",
        "person_id",
        "recipient_id",
        "policy_version",
        "disclosure_id",
        "denial_id",
        "proposal_id",
        "outcome",
        "decided_by",
        "stream_version",
        "publisher_client_id",
        "publisher_agency",
        "erased_by",
        "reason",
        "kind",
        "actor",
    }
)


@dataclass(frozen=True, slots=True)
class _Bound:
    """How a table's rows are bound to entries."""

    table: str
    kind: AuditKind
    key: str  # the row's key column
    #: Does this entry log this row? (`row` as `EvidenceSnapshot.rows` gives it.)
    logs: Callable[[LoggedFacts, Mapping[str, Any]], bool]
    #: For a row the log has no bound entry for: does an entry from before binding log it?
    logs_unbound: Callable[[LoggedFacts, Mapping[str, Any]], bool]
    event_id: str = "event_id"  # the row's column holding the event id


def _detail(entry: LoggedFacts, name: str) -> Any:
    return entry.details.get(name)


_EVENTS = _Bound(
    "events",
    AuditKind.COLLECTION,
    "position",
    logs=lambda e, r: (
        e.outcome == "stored"
        and _detail(e, "position") == r["position"]
        and e.source == r["source"]
    ),
    logs_unbound=lambda e, r: False,
)
_DISCLOSURES = _Bound(
    "disclosures",
    AuditKind.DISCLOSURE,
    "disclosure_id",
    logs=lambda e, r: (
        e.outcome == "disclosed" and _detail(e, "disclosure_id") == r["disclosure_id"]
    ),
    logs_unbound=lambda e, r: False,
)
_DENIALS = _Bound(
    "disclosure_denials",
    AuditKind.DISCLOSURE,
    "denial_id",
    logs=lambda e, r: e.outcome == "denied" and _detail(e, "denial_id") == r["denial_id"],
    logs_unbound=lambda e, r: False,
)
_PROPOSALS = _Bound(
    "disclosure_proposals",
    AuditKind.DISCLOSURE,
    "proposal_id",
    logs=lambda e, r: e.outcome == "proposed" and _detail(e, "proposal_id") == r["proposal_id"],
    logs_unbound=lambda e, r: False,
)
#: The outcomes of a reviewer's decision's entry (`hub.domain.audit.reviews`).
_REVIEWED = frozenset({"review-approved", "review-declined"})
_REVIEW_DECISIONS = _Bound(
    "review_decisions",
    AuditKind.DISCLOSURE,
    "proposal_id",
    logs=lambda e, r: e.outcome in _REVIEWED and _detail(e, "proposal_id") == r["proposal_id"],
    logs_unbound=lambda e, r: False,
)
_ERASURES = _Bound(
    "event_erasures",
    AuditKind.ERASURE,
    "position",
    logs=lambda e, r: _detail(e, "position") == r["position"],
    # Before binding an erasure entry named the event, not its position.
    logs_unbound=lambda e, r: (
        _detail(e, "position") is None and e.event_id == r["_event_id"] and e.source == r["_source"]
    ),
    event_id="_event_id",
)


class EvidenceChecker:
    """Checks every bound row and the query index against the audit log (see the module)."""

    def __init__(self, source: EvidenceSource, *, page_size: int = 1000) -> None:
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, not {page_size}")
        self._source = source
        self._page = page_size

    async def check(self) -> EvidenceReport:
        report = EvidenceReport()
        async with self._source.snapshot() as snapshot:
            try:
                # The index pass reads every entry once; it also looks up the rows the entries
                # say were written, and keeps the first one missing of each kind for the stage
                # that reports it (after that kind's rows were checked, as the module says).
                missing = _MissingRows(self._page)
                await self._index(snapshot, report, missing)
                report.events = await self._rows(snapshot, _EVENTS, report)
                missing.stop_at_first(AuditKind.COLLECTION)
                report.disclosures = await self._rows(snapshot, _DISCLOSURES, report)
                report.denials = await self._rows(snapshot, _DENIALS, report)
                report.proposals = await self._rows(snapshot, _PROPOSALS, report)
                report.review_decisions = await self._rows(snapshot, _REVIEW_DECISIONS, report)
                missing.stop_at_first(AuditKind.DISCLOSURE)
                report.erasures = await self._rows(snapshot, _ERASURES, report)
                report.recipients = await self._feeds(snapshot)
            except _Stop as stop:
                report.failure = stop.mismatch
        return report

    # -- 1. the query index ----------------------------------------------------------------------

    async def _index(
        self, snapshot: EvidenceSnapshot, report: EvidenceReport, missing: _MissingRows
    ) -> None:
        pages = PagesAhead(snapshot.indexed_entries, _position, after=0, limit=self._page)
        try:
            await self._index_pages(snapshot, pages, report, missing)
        finally:
            await pages.close()
        orphan = await snapshot.first_orphan_index_row()
        if orphan is not None:
            table, position = orphan
            raise _Stop(
                EvidenceMismatch(
                    table, f"position {position}", "an index row with no audit entry behind it"
                )
            )

    async def _index_pages(
        self,
        snapshot: EvidenceSnapshot,
        pages: PagesAhead[IndexedEntry],
        report: EvidenceReport,
        missing: _MissingRows,
    ) -> None:
        """Each page is read while the one before is checked; the other statements of a page
        wait for it (`PagesAhead.settle`)."""
        agreeing = _Agreeing()
        while page := await pages.next():
            rules = await snapshot.index_rules(page[0].position, page[-1].position)
            await pages.read_ahead()
            for item in page:
                if agreeing.agrees(item, rules.get(item.position)):
                    # The common case, decided on the decoded entry alone (`_Agreeing`).
                    rules.pop(item.position, None)
                    if agreeing.binds_rows:
                        missing.note(item.position, agreeing.facts())
                    else:
                        missing.count(agreeing.kind)
                    continue
                self._check_indexed(item, rules.pop(item.position, set()), missing)
            report.index_entries += len(page)
            await pages.settle()
            await missing.look_up(snapshot)

    def _check_indexed(
        self, item: IndexedEntry, indexed_rules: set[str], missing: _MissingRows
    ) -> None:
        """The entry and its index row (and rules) checked field by field, naming the first
        that differs."""
        entry = _parse(item.position, item.entry)
        missing.note(item.position, entry)
        key = f"position {item.position}"
        if item.index is None:
            raise _Stop(
                EvidenceMismatch("audit_index", key, "the entry has no index row: queries miss it")
            )
        index = dict(zip(INDEX_COLUMNS, item.index, strict=True))
        for column, expected in index_facts(entry).items():
            found = index[column]
            if column == "occurred_at":
                expected, found = _moment(expected), _moment(found)
            if expected != found:
                raise _Stop(
                    EvidenceMismatch(
                        "audit_index",
                        key,
                        "the index says other than the entry",
                        column=column,
                        expected=repr(expected),
                        found=repr(found),
                        entry_position=item.position,
                    )
                )
        if indexed_rules != set(entry.rules):
            raise _Stop(
                EvidenceMismatch(
                    "audit_index_rules",
                    key,
                    "the rules indexed are not the entry's",
                    column="rule",
                    expected=repr(sorted(entry.rules)),
                    found=repr(sorted(indexed_rules)),
                    entry_position=item.position,
                )
            )

    # -- 2-4. rows against their entries ---------------------------------------------------------

    async def _rows(self, snapshot: EvidenceSnapshot, bound: _Bound, report: EvidenceReport) -> int:
        checked = 0
        after: Any = None
        while page := await snapshot.rows(bound.table, after, self._page):
            event_ids = {row[bound.event_id] for row in page if row[bound.event_id] is not None}
            candidates = [
                (logged.position, _parse(logged.position, logged.entry))
                for logged in await snapshot.entries_about(bound.kind.value, event_ids)
            ]
            by_event: dict[str | None, list[tuple[int, LoggedFacts]]] = {}
            for position, entry in candidates:
                by_event.setdefault(entry.event_id, []).append((position, entry))
            erasures: dict[Any, dict[str, Any]] = {}
            if bound is _EVENTS:
                erased = [r["position"] for r in page if r["data"] == {}]
                erasures = await snapshot.rows_with_keys("event_erasures", erased)
            for row in page:
                self._check_row(bound, row, by_event.get(row[bound.event_id], []), erasures, report)
            checked += len(page)
            after = page[-1][bound.key]
        return checked

    def _check_row(
        self,
        bound: _Bound,
        row: Mapping[str, Any],
        candidates: Sequence[tuple[int, LoggedFacts]],
        erasures: Mapping[Any, Any],
        report: EvidenceReport,
    ) -> None:
        key = f"{bound.key} {row[bound.key]}"
        logged = [(p, e) for p, e in candidates if bound.logs(e, row)]
        bound_entries = [(p, e, ev) for p, e in logged if (ev := RowEvidence.from_entry(e))]
        if not bound_entries:
            if logged or any(bound.logs_unbound(e, row) for _, e in candidates):
                report.unbound[bound.table] = report.unbound.get(bound.table, 0) + 1
                return
            raise _Stop(
                EvidenceMismatch(
                    bound.table,
                    key,
                    f"the row has no {bound.kind.value} entry in the log: inserted behind the "
                    "hub's back",
                )
            )
        position, entry, evidence = bound_entries[0]
        replaced: dict[str, str] = {}
        if bound is _EVENTS:
            data_hash = _detail(entry, "data_hash")
            if (
                row["data"] == {}
                and row["position"] in erasures
                and isinstance(data_hash, str)
                and column_digest(row["data"]) != data_hash
            ):
                # Emptied by a recorded erasure (itself checked against its entry below): the
                # rest of the row must still be what was collected.
                replaced["data"] = data_hash
        mismatch = compare_row(evidence, row, replaced=replaced)
        if mismatch is None:
            return
        column = mismatch.column
        expected, found = mismatch.expected, mismatch.found
        # A reviewer's reason is free text that may name the person: digests only.
        if column in _SHOWN and not (bound is _REVIEW_DECISIONS and column == "reason"):
            shown = _shown_value(entry, column)
            if shown is not None:
                expected = f"{shown!r} (digest {mismatch.expected})"
            found = f"{row[column]!r} (digest {mismatch.found})"
        raise _Stop(
            EvidenceMismatch(
                bound.table,
                key,
                f"the row differs from what its {bound.kind.value} entry recorded",
                column=column,
                expected=expected,
                found=found,
                entry_position=position,
            )
        )

    # -- 5. feeds ----------------------------------------------------------------------------------

    async def _feeds(self, snapshot: EvidenceSnapshot) -> int:
        feeds = sorted(await snapshot.feed_numbers(), key=lambda f: f.recipient_id)
        for feed in feeds:
            expected = feed.counter or 0
            if feed.count != expected or (feed.count and (feed.first, feed.last) != (1, expected)):
                raise _Stop(
                    EvidenceMismatch(
                        "recipient_feed",
                        f"recipient_id {feed.recipient_id!r}",
                        "the feed's numbers are not 1..N without a gap",
                        column="seq",
                        expected=f"1..{expected}",
                        found=f"{feed.count} items numbered {feed.first}..{feed.last}",
                    )
                )
        misfiled = await snapshot.first_misfiled_feed_item()
        if misfiled is not None:
            recipient, seq, disclosure_id = misfiled
            raise _Stop(
                EvidenceMismatch(
                    "recipient_feed",
                    f"recipient_id {recipient!r} seq {seq}",
                    f"the item's disclosure {disclosure_id} does not exist or is to another "
                    "recipient",
                    column="disclosure_id",
                )
            )
        return len(feeds)


#: The kinds of entry, as their text.
_KINDS = frozenset(kind.value for kind in AuditKind)


class _Agreeing:
    """Whether an entry agrees with its index row and rules, decided on the decoded entry
    alone: `logged_facts` would read it, `index_facts` would equal the row and the rules would
    be the indexed ones. Building `LoggedFacts` (parsing its time, copying its details) for
    each of a million entries cost more than the check: it is built only for an entry that
    binds rows (`_MissingRows.note` looks them up); an entry this does not pass gets the full
    check, which names what differs (bench/RESULTS.md, 2026-12-07 session 15)."""

    def __init__(self) -> None:
        # Entries logged together share their time: format it once for them.
        self._moment: Any = None
        self._text = ""
        #: The kind of the entry `agrees` passed last, and its decoded text.
        self.kind = ""
        self._document: dict[str, Any] = {}

    def agrees(self, item: IndexedEntry, indexed_rules: set[str] | None) -> bool:
        index = item.index
        if index is None:
            return False
        try:
            document = decode(item.entry)
            kind, moment, actor, person_id, recipient_id, event_id, purpose = index
            rules, details = document["rules"], document["details"]
            if not (
                type(document) is dict
                and document["kind"] == kind
                and kind in _KINDS
                and document["actor"] == actor
                and document["person_id"] == person_id
                and document["recipient_id"] == recipient_id
                and document["event_id"] == event_id
                and document["purpose"] == purpose
                and type(rules) is list
                and type(details) is dict
                # The keys `logged_facts` reads besides those compared with the index.
                and "source" in document
                and "policy_version" in document
                and "outcome" in document
                and set(rules) == (indexed_rules or set())
                and type(moment) is datetime
                and document["occurred_at"] == self._timestamp(moment)
            ):
                return False
        except (ValueError, TypeError, KeyError):
            return False
        self.kind, self._document = kind, document
        return True

    @property
    def binds_rows(self) -> bool:
        """Does the entry `agrees` passed last carry the digests of rows it wrote?"""
        details = self._document["details"]
        return "row_hash" in details or "columns" in details

    def facts(self) -> LoggedFacts:
        """`logged_facts` of the entry `agrees` passed last (its time is its index row's)."""
        return facts_of(self._document, _moment(self._moment))

    def _timestamp(self, moment: datetime) -> str:
        if moment != self._moment or moment.tzinfo is not self._moment.tzinfo:
            self._moment, self._text = moment, _timestamp(moment)
        return self._text


#: The tables whose rows each kind of entry says were written, in the order their missing rows
#: are looked for.
_WRITTEN_BY: dict[AuditKind, tuple[_Bound, ...]] = {
    AuditKind.COLLECTION: (_EVENTS,),
    AuditKind.DISCLOSURE: (_DISCLOSURES, _DENIALS, _PROPOSALS, _REVIEW_DECISIONS),
}


#: The kinds of entry that bind rows, by their text.
_WRITES_ROWS = {kind.value: kind for kind in _WRITTEN_BY}


class _MissingRows:
    """Every row a bound entry says was written is still there (a deleted row is found here),
    looked up while the index pass reads the entries, a page at a time.

    The first row missing of each kind of entry is kept, in the order a scan of that kind's
    entries alone, `page_size` at a time, would meet it: by that page, then by table (as
    `_WRITTEN_BY` lists them), then by position. `stop_at_first` reports it at its stage."""

    def __init__(self, page_size: int) -> None:
        self._page = page_size
        #: Entries of each kind seen so far (an entry's ordinal fixes its page of that kind).
        self._seen = dict.fromkeys(_WRITTEN_BY, 0)
        #: (position, page of its kind, key) of the rows the current page's entries wrote.
        self._wanted: dict[str, list[tuple[int, int, Any]]] = {}
        self._first: dict[AuditKind, tuple[tuple[int, int, int], EvidenceMismatch]] = {}

    def count(self, kind: str) -> None:
        """An entry of `kind` that binds no row (it counts for the pages of its kind)."""
        written = _WRITES_ROWS.get(kind)
        if written is not None:
            self._seen[written] += 1

    def note(self, position: int, entry: LoggedFacts) -> None:
        tables = _WRITTEN_BY.get(entry.kind)
        if tables is None:
            return
        page = self._seen[entry.kind] // self._page
        self._seen[entry.kind] += 1
        first = self._first.get(entry.kind)
        if (first is not None and page > first[0][0]) or RowEvidence.from_entry(entry) is None:
            return  # one already missing comes first; or from before binding: nothing to look for
        for bound in tables:
            row_key = _logged_key(bound, entry)
            if row_key is not None:
                self._wanted.setdefault(bound.table, []).append((position, page, row_key))

    async def look_up(self, snapshot: EvidenceSnapshot) -> None:
        """Look up the rows the entries noted since the last call wrote."""
        wanted, self._wanted = self._wanted, {}
        for kind, tables in _WRITTEN_BY.items():
            for order, bound in enumerate(tables):
                keys = wanted.get(bound.table, [])
                if not keys:
                    continue
                present = await snapshot.rows_with_keys(bound.table, [k for _, _, k in keys])
                for position, page, row_key in keys:
                    if row_key in present:
                        continue
                    rank = (page, order, position)
                    if kind not in self._first or rank < self._first[kind][0]:
                        self._first[kind] = (
                            rank,
                            EvidenceMismatch(
                                bound.table,
                                f"{bound.key} {row_key}",
                                f"the row is missing: its {kind.value} entry says it was written",
                                entry_position=position,
                            ),
                        )
                    break

    def stop_at_first(self, kind: AuditKind) -> None:
        """Raise the first row missing that `kind`'s entries say was written, if any."""
        first = self._first.get(kind)
        if first is not None:
            raise _Stop(first[1])


def _position(item: IndexedEntry) -> int:
    return item.position


def _logged_key(bound: _Bound, entry: LoggedFacts) -> Any:
    """The key of the row `entry` (an entry that binds rows) says was written to
    `bound.table`, if any."""
    if bound is _EVENTS:
        return _detail(entry, "position") if entry.outcome == "stored" else None
    if bound is _DISCLOSURES:
        return _detail(entry, "disclosure_id") if entry.outcome == "disclosed" else None
    if bound is _DENIALS:
        return _detail(entry, "denial_id") if entry.outcome == "denied" else None
    if bound is _PROPOSALS:
        return _detail(entry, "proposal_id") if entry.outcome == "proposed" else None
    if bound is _REVIEW_DECISIONS:
        return _detail(entry, "proposal_id") if entry.outcome in _REVIEWED else None
    return None


def _shown_value(entry: LoggedFacts, column: str) -> Any:
    """What the entry itself says of `column`, when it says it in clear."""
    attribute = {"type": "event_type"}.get(column, column)
    if attribute in ("event_id", "source", "person_id", "recipient_id", "policy_version"):
        return getattr(entry, attribute)
    return _detail(entry, attribute)


def _parse(position: int, text: str) -> LoggedFacts:
    try:
        return logged_facts(text)
    except AuditEntryInvalid as error:
        raise _Stop(
            EvidenceMismatch("audit_entries", f"position {position}", f"not an entry: {error}")
        ) from None


def _moment(value: Any) -> Any:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    return value


def _timestamp(moment: datetime) -> str:
    """`format_timestamp(_moment(moment))`, in C for a time in UTC (as PostgreSQL's are read):
    ISO 8601 with microseconds, the offset `+00:00` written `Z`."""
    if moment.tzinfo is UTC:
        return moment.isoformat(timespec="microseconds")[:-6] + "Z"
    return format_timestamp(_moment(moment))
