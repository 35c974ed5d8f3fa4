"""What every agency adapter shares: the outcome of one native record (`AdapterRecord`), the
size limits, the checks for hostile text, deterministic event ids, and the `Adapter` shape the
runners (`hub adapter <name> ingest|watch`) and the delivery formats look adapters up by.

Adapters are pure: bytes in, records out; envelope in, bytes out. No file, network or database.
"""

from __future__ import annotations

import json
import re
import unicodedata
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from hub.domain.schemas import SchemaRegistry, dataschema_urn
from hub.errors import HubError

#: The largest native file an adapter reads. A PR2 extract of 100,000 movements is ~35 MiB.
MAX_FILE_BYTES: Final = 64 * 1024 * 1024
#: The largest single record (a line of a delimited file, one JSON or XML message).
MAX_RECORD_BYTES: Final = 32 * 1024

#: Namespace of the adapters' deterministic event ids (UUID version 5). Never change it: ids made
#: from the same native record must stay the same forever, so a re-sent file is a duplicate.
EVENT_ID_NAMESPACE: Final = uuid.UUID("6f1d3c8e-2b7a-5e49-9c0d-4a8b1e7f3d25")

SPECVERSION: Final = "1.0"
DATACONTENTTYPE: Final = "application/json"

Outcome = Literal["parsed", "rejected"]

#: Characters that make a spreadsheet treat a cell as a formula (OWASP "CSV injection").
FORMULA_PREFIXES: Final = ("=", "+", "-", "@", "\t", "\r")
#: Unicode bidirectional overrides and isolates: they make text display differently from what it
#: says ("Trojan Source"), and no agency record needs them.
_BIDI_CONTROLS: Final = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_ALLOWED_CONTROLS: Final = frozenset("\n\t")


class CannotRender(HubError):
    """A disclosure cannot be rendered in a native format (a type or value the format lacks).

    A configuration problem (a subscription chose a format that cannot carry what it is sent),
    not bad input; the delivery should fall back or dead-letter with this message."""

    title = "Cannot render in the native format"


@dataclass(frozen=True, slots=True)
class RecordProblem:
    """One thing wrong with a native record: the native field (column name, XML element path or
    JSON pointer; "" for the record or file as a whole) and what the sender should do about it.
    The reason never repeats the value: it may be personal data."""

    field: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class AdapterRecord:
    """What became of one native record: `parsed` into a canonical envelope (a dict that passes
    `SchemaRegistry.validate`), or `rejected` with the problems found.

    `location` says where the record is in its input: `line 7`, an XML element path
    (`/Message/RiskAssessment`) or a JSON pointer (`""` for a whole JSON document).
    `original` is the record's bytes exactly as received, for the quarantine file."""

    location: str
    original: bytes
    envelope: dict[str, Any] | None = None
    problems: tuple[RecordProblem, ...] = ()
    #: The native record kind (`ADM`, `MappaLevelChange`, …) and id, when they could be read.
    native_type: str | None = None
    native_id: str | None = None

    def __post_init__(self) -> None:
        if (self.envelope is None) == (not self.problems):
            raise ValueError("a record is either parsed (an envelope) or rejected (problems)")

    @property
    def outcome(self) -> Outcome:
        return "parsed" if self.envelope is not None else "rejected"

    @property
    def field(self) -> str:
        """The first problem's field ("" when parsed)."""
        return self.problems[0].field if self.problems else ""

    @property
    def reason(self) -> str:
        """The first problem's reason ("" when parsed)."""
        return self.problems[0].reason if self.problems else ""

    def report(self) -> dict[str, Any]:
        """A machine-readable line for the ingest report: no personal values, no bytes."""
        entry: dict[str, Any] = {"location": self.location, "outcome": self.outcome}
        if self.native_type is not None:
            entry["native_type"] = self.native_type
        if self.native_id is not None:
            entry["native_id"] = self.native_id
        if self.envelope is not None:
            entry["event"] = {
                "source": self.envelope["source"],
                "id": self.envelope["id"],
                "type": self.envelope["type"],
            }
        else:
            entry["problems"] = [p.as_dict() for p in self.problems]
        return entry


def rejected(
    location: str,
    original: bytes,
    problems: Sequence[RecordProblem],
    *,
    native_type: str | None = None,
    native_id: str | None = None,
) -> AdapterRecord:
    return AdapterRecord(
        location,
        original,
        None,
        tuple(problems),
        native_type=native_type,
        native_id=native_id,
    )


#: Native bytes to one outcome per record; the schemas check every envelope before it counts
#: as parsed.
Parser = Callable[[bytes, SchemaRegistry], list[AdapterRecord]]
#: A disclosure (a redacted envelope: `id`, `type`, `specversion` and the granted fields) to the
#: recipient's native format.
Renderer = Callable[[Mapping[str, Any]], bytes]
#: The inverse of a Renderer: native bytes back to the (partial) envelope; for recipients' tests
#: and the round-trip properties. Raises ValueError if the bytes are not a rendered disclosure.
RenderedReader = Callable[[bytes], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Adapter:
    """One agency system's adapter, as the runners and the delivery formats find it."""

    name: str
    description: str
    #: Inbound: any supported native input (the adapter recognises which format it is).
    parse: Parser
    #: Outbound: the delivery format `name`, for subscriptions whose recipient speaks it.
    render: Renderer
    read_rendered: RenderedReader
    media_type: str
    renderable_types: frozenset[str]
    #: The native inbound formats, by name (e.g. `extract`, `message`), for `--format`.
    formats: Mapping[str, Parser] = field(default_factory=dict)


# -- shared checks -----------------------------------------------------------------------------


def event_id(adapter: str, source: str, native_id: str) -> str:
    """The event id of a native record: the same record always yields the same id, so the store
    recognises a re-sent file as duplicates instead of new events."""
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{adapter}\x1f{source}\x1f{native_id}"))


def text_problem(value: str, *, free_text: bool) -> str | None:
    """Why `value` may not enter the hub, or None. Control characters (other than newline and
    tab inside the text) and bidirectional overrides are refused everywhere; free text that a
    spreadsheet would run as a formula is refused rather than neutralised, because the hub stores
    what an agency said or nothing, and the sender can fix it at source."""
    for position, char in enumerate(value):
        if char in _BIDI_CONTROLS:
            return f"contains a bidirectional control character at position {position + 1}"
        if unicodedata.category(char) == "Cc" and char not in _ALLOWED_CONTROLS:
            return (
                f"contains the control character U+{ord(char):04X} at position {position + 1}; "
                "remove it at source"
            )
    if free_text and value.startswith(FORMULA_PREFIXES):
        return (
            "starts with a character (= + - @ tab) that spreadsheets run as a formula; "
            "refused rather than altered: reword it at source"
        )
    return None


_WINDOWS_1252_HINT = re.compile(rb"[\x80-\xff]")


def decode_utf8(data: bytes, what: str) -> tuple[str | None, RecordProblem | None]:
    """`data` as text, or why not. A UTF-8 byte order mark is dropped (spreadsheets write one);
    UTF-16/32 and bytes that are not UTF-8 are refused with where the first bad byte is."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None, RecordProblem(
            "",
            f"the {what} is UTF-16 (it starts with a UTF-16 byte order mark); export it as UTF-8",
        )
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        hint = ""
        if _WINDOWS_1252_HINT.match(data, error.start):
            hint = " (it looks like Windows-1252 or ISO-8859-1)"
        return None, RecordProblem(
            "",
            f"the {what} is not UTF-8{hint}: byte 0x{data[error.start]:02X} at line {line}, "
            f"column {column}; export it as UTF-8",
        )


def refuse_file(
    records: Sequence[AdapterRecord], data: bytes, file_problems: Sequence[RecordProblem]
) -> list[AdapterRecord]:
    """Every record rejected because its file is: a file is never half-applied."""
    summary = RecordProblem(
        "",
        "the whole file was refused, so this record was not accepted: "
        + "; ".join(p.reason for p in file_problems),
    )
    if not records:
        return [rejected("file", data, list(file_problems))]
    return [
        rejected(
            r.location,
            r.original,
            [summary, *r.problems],
            native_type=r.native_type,
            native_id=r.native_id,
        )
        for r in records
    ]


def too_large(size: int, limit: int, what: str) -> RecordProblem | None:
    if size > limit:
        return RecordProblem(
            "",
            f"the {what} is {size} bytes, over the limit of {limit}; "
            "shorten or split it and send again",
        )
    return None


def new_envelope(
    *,
    adapter: str,
    source: str,
    native_id: str,
    event_type: str,
    time: str,
    subject: str | None,
    identifiers: Mapping[str, Any],
    data: Mapping[str, Any],
) -> dict[str, Any]:
    """A canonical envelope in the order the examples in `events/` use."""
    envelope: dict[str, Any] = {
        "specversion": SPECVERSION,
        "id": event_id(adapter, source, native_id),
        "source": source,
        "type": event_type,
        "time": time,
        "datacontenttype": DATACONTENTTYPE,
        "dataschema": dataschema_urn(event_type, 1),
    }
    if subject is not None:
        envelope["subject"] = subject
    envelope["identifiers"] = dict(identifiers)
    envelope["data"] = dict(data)
    return envelope


def load_json_object(data: bytes, what: str) -> tuple[dict[str, Any] | None, RecordProblem | None]:
    """`data` as one JSON object, or why not: too large, not UTF-8, not JSON (saying if it
    looks truncated), a key twice in one object (parsers disagree on which wins)."""
    problem = too_large(len(data), MAX_RECORD_BYTES, what)
    if problem:
        return None, problem
    text, problem = decode_utf8(data, what)
    if text is None:
        return None, problem
    try:
        document = json.loads(text, object_pairs_hook=no_duplicate_keys)
    except DuplicateKey as error:
        return None, RecordProblem(f"/{error.key}", "appears twice in the same object")
    except json.JSONDecodeError as error:
        # An unterminated string runs to the end of the input: JSON strings hold no raw newline.
        ended = error.pos >= len(text.rstrip()) or error.msg.startswith("Unterminated string")
        truncated = f" (the {what} is truncated)" if ended else ""
        return None, RecordProblem(
            "",
            f"is not valid JSON{truncated}: {error.msg} at line {error.lineno}, "
            f"column {error.colno}",
        )
    if not isinstance(document, dict):
        return None, RecordProblem("", f"a {what} must be a JSON object")
    return document, None


class DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise DuplicateKey(key)
        document[key] = value
    return document
