"""The council justice social work adapter: a case system's JSON messages and its CSV export in,
canonical notifications out; disclosures rendered as social work JSON messages. The format is
documented in `adapters/socialwork/README.md`.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

from hub.adapters.base import (
    MAX_FILE_BYTES,
    MAX_RECORD_BYTES,
    Adapter,
    AdapterRecord,
    RecordProblem,
    decode_utf8,
    load_json_object,
    new_envelope,
    refuse_file,
    rejected,
    too_large,
)
from hub.adapters.mapping import (
    NativeObject,
    NativeRecord,
    NativeValue,
    check_dataschema,
    choose_outbound,
    lenient,
    nest,
    parse_fields,
    read_cell,
    render_fields,
    rendered_envelope,
    validation_problems,
    write_cell,
)
from hub.adapters.socialwork_messages import (
    BODY_PREFIX,
    CSV_COLUMNS_V1_TYPES,
    MESSAGES,
    UNMAPPED,
)
from hub.domain.schemas import SchemaRegistry

NAME: Final = "socialwork"
SOURCE_PREFIX: Final = "urn:pph:socialwork:"
SUBJECT_PREFIX: Final = "SW-RECORD-"
MEDIA_TYPE: Final = "application/vnd.pph.socialwork+json"
HUB_BLOCK: Final = "hub"
TYPE_FIELD: Final = "messageType"
#: The first cell of the CSV export's last row; the second is the number of data rows.
END_OF_EXPORT: Final = "END_OF_EXPORT"

_BY_TYPE: Final = {spec.native_type: spec for spec in MESSAGES}
RENDERABLE_TYPES: Final = frozenset(spec.event_type for spec in MESSAGES if spec.outbound)


def _name_json(native: str) -> str:
    return "/" + native


# -- one record, whatever its syntax -----------------------------------------------------------


def _record(
    record: NativeRecord,
    location: str,
    original: bytes,
    schemas: SchemaRegistry,
    typed: bool,
    name: Callable[[str], str],
    type_field: str,
) -> AdapterRecord:
    kind = record.pop(TYPE_FIELD, None)
    raw_id = record.get("recordId")
    native_id = raw_id if isinstance(raw_id, str) and len(raw_id) <= 40 else None
    if isinstance(kind, str) and kind in UNMAPPED:
        return rejected(
            location,
            original,
            [RecordProblem(type_field, UNMAPPED[kind])],
            native_type=kind,
            native_id=native_id,
        )
    spec = _BY_TYPE.get(kind) if isinstance(kind, str) else None
    if spec is None:
        known = [*_BY_TYPE, *UNMAPPED]
        why = (
            "is missing"
            if kind in (None, "")
            else "is not a known message type; expected one of: " + ", ".join(known)
        )
        return rejected(location, original, [RecordProblem(type_field, why)], native_id=native_id)
    values, problems = parse_fields(spec, record, typed, name)
    if problems:
        return rejected(
            location, original, problems, native_type=spec.native_type, native_id=native_id
        )
    council = values["meta.council"]
    if "identifiers.sw_client_id" in values:
        values["identifiers.sw_client_id"] = f"{council}:{values['identifiers.sw_client_id']}"
    record_id = values["meta.record_id"]
    envelope = new_envelope(
        adapter=NAME,
        source=SOURCE_PREFIX + council,
        native_id=record_id,
        event_type=spec.event_type,
        time=values["time"],
        subject=SUBJECT_PREFIX + record_id,
        identifiers=nest(values, "identifiers"),
        data=nest(values, "data"),
    )
    invalid = validation_problems(schemas, envelope, spec, name, type_field)
    if invalid:
        return rejected(
            location, original, invalid, native_type=spec.native_type, native_id=record_id
        )
    return AdapterRecord(
        location, original, envelope, native_type=spec.native_type, native_id=record_id
    )


# -- JSON messages -----------------------------------------------------------------------------


def _flatten_json(
    document: Mapping[str, Any], prefix: str = ""
) -> tuple[NativeRecord, list[RecordProblem]]:
    """Nested objects to `a/b` paths; arrays of texts and of flat objects kept as lists."""
    record: NativeRecord = {}
    problems: list[RecordProblem] = []
    for key, value in document.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            inner, more = _flatten_json(value, path + "/")
            record.update(inner)
            problems += more
        elif isinstance(value, str | bool | int):
            record[path] = value
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            record[path] = list(value)
        elif isinstance(value, list) and all(
            isinstance(v, dict) and all(isinstance(x, str | bool | int) for x in v.values())
            for v in value
        ):
            record[path] = [dict(v) for v in value]
        elif value is None:
            continue  # null is absent, as in most JSON serialisers' "omit nothing" mode
        else:
            problems.append(RecordProblem("/" + path, "has a value of an unexpected shape"))
    return record, problems


def parse_message(data: bytes, schemas: SchemaRegistry) -> list[AdapterRecord]:
    """One social work JSON message: one record, parsed or rejected."""
    document, problem = load_json_object(data, "message")
    if document is None:
        assert problem is not None
        return [rejected("", data, [problem])]
    record, problems = _flatten_json(document)
    if problems:
        return [rejected("", data, problems)]
    return [_record(record, "", data, schemas, True, _name_json, "/" + TYPE_FIELD)]


# -- the CSV export ----------------------------------------------------------------------------

_FRAME_COLUMNS: Final = {
    "RECORD_TYPE": TYPE_FIELD,
    "RECORD_ID": "recordId",
    "COUNCIL": "council",
    "RECORDED_AT": "recordedAt",
    "CLIENT_ID": "client/clientId",
    "PNC_ID": "client/pncId",
    "CRO_NUMBER": "client/croNumber",
    "SPS_NUMBER": "client/spsNumber",
    "VISOR_REF": "client/visorRef",
}


def _column(path_in_body: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", path_in_body).replace("/", "_").upper()


def _csv_columns() -> tuple[tuple[str, ...], dict[str, dict[str, str]]]:
    """The export's columns, and for each message type, column -> native (JSON) path."""
    columns: dict[str, None] = dict.fromkeys(_FRAME_COLUMNS)
    by_type: dict[str, dict[str, str]] = {}
    frame = {native: column for column, native in _FRAME_COLUMNS.items()}
    for spec in MESSAGES:
        mapping: dict[str, str] = {}
        for fmap in spec.fields:
            column = frame.get(fmap.native) or _column(
                fmap.native.removeprefix(BODY_PREFIX[spec.native_type])
            )
            mapping[column] = fmap.native
            columns.setdefault(column, None)
        by_type[spec.native_type] = mapping
    return tuple(columns), by_type


CSV_COLUMNS, _CSV_BY_TYPE = _csv_columns()
#: Version 1's header: the columns of its record types only (each version appends columns).
CSV_COLUMNS_V1: Final = tuple(
    c
    for c in CSV_COLUMNS
    if c in _FRAME_COLUMNS or any(c in _CSV_BY_TYPE[t] for t in CSV_COLUMNS_V1_TYPES)
)
_KNOWN_HEADERS: Final = (list(CSV_COLUMNS), list(CSV_COLUMNS_V1))
_CODECS: Final = {f.native: f.codec for spec in MESSAGES for f in spec.fields}


def _csv_record(row: Mapping[str, str]) -> tuple[NativeRecord, list[RecordProblem]]:
    kind = row.get("RECORD_TYPE", "")
    record: NativeRecord = {TYPE_FIELD: kind}
    mapping = _CSV_BY_TYPE.get(kind, {})
    problems: list[RecordProblem] = []
    for column, cell in row.items():
        if column == "RECORD_TYPE" or cell == "":
            continue
        native = mapping.get(column) or _FRAME_COLUMNS.get(column)
        if native is None:
            problems.append(
                RecordProblem(column, f"is not part of a {kind} record; leave it empty")
            )
            continue
        try:
            record[native] = read_cell(_CODECS.get(native), cell)
        except ValueError as error:
            problems.append(RecordProblem(column, str(error)))
    return record, problems


def csv_row(message: Mapping[str, NativeValue]) -> list[str]:
    """A message's flat native fields as a row of the CSV export."""
    kind = str(message[TYPE_FIELD])
    by_native = {native: column for column, native in _CSV_BY_TYPE[kind].items()}
    cells = dict.fromkeys(CSV_COLUMNS, "")
    cells["RECORD_TYPE"] = kind
    for native, value in message.items():
        if native != TYPE_FIELD:
            cells[by_native[native]] = write_cell(_CODECS.get(native), value)
    return list(cells.values())


def build_export(messages: Iterable[Mapping[str, NativeValue]]) -> bytes:
    """A complete CSV export of `messages` (flat native fields, as `flatten_message` gives)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    count = 0
    for message in messages:
        writer.writerow(csv_row(message))
        count += 1
    writer.writerow([END_OF_EXPORT, str(count)])
    return buffer.getvalue().encode("utf-8")


def flatten_message(document: Mapping[str, Any]) -> NativeRecord:
    """A JSON message as flat native fields (for `build_export`)."""
    record, problems = _flatten_json(document)
    if problems:
        raise ValueError(problems[0].reason)
    return record


def parse_export(data: bytes, schemas: SchemaRegistry) -> list[AdapterRecord]:
    """Every row of a social work CSV export, parsed or rejected.

    A file with a structural fault (not UTF-8, no or wrong header row, a second header row, no
    `END_OF_EXPORT` row or a count that disagrees, broken quoting) is refused as a whole: each of
    its rows is rejected, saying so, and nothing in it counts as parsed."""
    problem = too_large(len(data), MAX_FILE_BYTES, "export")
    text: str | None = None
    if problem is None:
        text, problem = decode_utf8(data, "export")
    if text is None:
        assert problem is not None
        return [rejected("file", data, [problem])]
    lines = text.splitlines(keepends=True)
    file_problems: list[RecordProblem] = []
    if lines and not lines[-1].endswith(("\n", "\r")):
        file_problems.append(
            RecordProblem("", f"the export is truncated: line {len(lines)} has no line end")
        )
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[AdapterRecord] = []
    header: list[str] | None = None
    end: tuple[int, list[str]] | None = None
    consumed = 0
    try:
        for row in reader:
            first, consumed = consumed + 1, reader.line_num
            original = "".join(lines[first - 1 : consumed]).encode("utf-8")
            location = f"line {first}"
            if not row or row == [""]:
                continue
            if header is None:
                header = row
                if row not in _KNOWN_HEADERS:
                    file_problems.append(_header_problem(row))
                continue
            if row == header:
                file_problems.append(
                    RecordProblem(
                        "RECORD_TYPE",
                        f"line {first} repeats the header row: two exports appear to be joined; "
                        "send each export as its own file",
                    )
                )
                continue
            if end is not None:
                file_problems.append(RecordProblem("", f"line {first} follows {END_OF_EXPORT}"))
                end = None
            if row[0] == END_OF_EXPORT:
                end = (first, row)
                continue
            records.append(_csv_row_record(row, list(header), location, original, schemas))
    except csv.Error as error:
        file_problems.append(
            RecordProblem("", f"the CSV is malformed at line {reader.line_num}: {error}")
        )
    if header is None:
        file_problems.append(RecordProblem("", "the export is empty: it has no header row"))
    if end is None:
        if not any(END_OF_EXPORT in p.reason for p in file_problems):
            file_problems.append(
                RecordProblem(
                    "",
                    f"the export is truncated: its last row is not {END_OF_EXPORT},<count>; "
                    "send the complete export again",
                )
            )
    elif end[1][1:] != [str(len(records))]:
        file_problems.append(
            RecordProblem(
                "",
                f"the {END_OF_EXPORT} row at line {end[0]} does not give the row count "
                f"{len(records)}: the export is truncated or damaged; send it again",
            )
        )
    if not file_problems:
        return records
    return refuse_file(records, data, file_problems)


def _header_problem(row: Sequence[str]) -> RecordProblem:
    missing = [c for c in CSV_COLUMNS if c not in row]
    unknown = [c for c in row if c not in CSV_COLUMNS]
    detail = []
    if missing:
        detail.append("missing: " + ", ".join(missing[:10]))
    if unknown:
        detail.append("unknown: " + ", ".join(c[:40] for c in unknown[:10]))
    if not detail:
        detail.append("the columns are out of order")
    return RecordProblem(
        "",
        "the header row is not the version 2 export header, nor version 1's (without the "
        "supervision and breach columns): " + "; ".join(detail),
    )


def _csv_row_record(
    row: list[str],
    header: list[str],
    location: str,
    original: bytes,
    schemas: SchemaRegistry,
) -> AdapterRecord:
    problem = too_large(len(original), MAX_RECORD_BYTES, "row")
    if problem:
        return rejected(location, original, [problem])
    if len(row) != len(header):
        return rejected(
            location,
            original,
            [RecordProblem("", f"has {len(row)} cells; the header has {len(header)}")],
        )
    record, problems = _csv_record(dict(zip(header, row, strict=True)))
    if problems:
        kind = record.get(TYPE_FIELD)
        return rejected(
            location, original, problems, native_type=kind if isinstance(kind, str) else None
        )
    names = {native: column for column, native in _FRAME_COLUMNS.items()}
    kind = record.get(TYPE_FIELD)
    if isinstance(kind, str):
        names.update({native: column for column, native in _CSV_BY_TYPE.get(kind, {}).items()})
    return _record(
        record, location, original, schemas, False, lambda n: names.get(n, n), "RECORD_TYPE"
    )


def parse(data: bytes, schemas: SchemaRegistry) -> list[AdapterRecord]:
    """A social work JSON message or CSV export, recognised by its first character."""
    if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return parse_message(data, schemas)
    return parse_export(data, schemas)


# -- outbound ----------------------------------------------------------------------------------


def _unflatten(fields: Mapping[str, NativeValue]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for path, value in fields.items():
        node = document
        *parents, leaf = path.split("/")
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    return document


def render(notification: Mapping[str, Any]) -> bytes:
    """A disclosure as a social work JSON message: the granted fields under the case system's
    names, the hub's id, source and subject under `hub`. Fields not granted are left out."""
    check_dataschema(notification)
    spec = choose_outbound(MESSAGES, notification)
    fields = render_fields(spec, notification, typed=True)
    client_id = fields.get("client/clientId")
    if isinstance(client_id, str):
        council, _, local_id = client_id.partition(":")
        fields = {"council": council, **fields, "client/clientId": local_id}
    hub: dict[str, Any] = {"eventId": notification["id"], "eventType": notification["type"]}
    for key, attribute in (("source", "source"), ("subject", "subject")):
        if attribute in notification:
            hub[key] = notification[attribute]
    message = {HUB_BLOCK: hub, TYPE_FIELD: spec.native_type, **_unflatten(fields)}
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def read_rendered(data: bytes) -> dict[str, Any]:
    """A rendered social work message back to the (redacted) envelope it was made from."""
    document = json.loads(data)
    hub = document.pop(HUB_BLOCK)
    spec = _BY_TYPE[document.pop(TYPE_FIELD)]
    record, problems = _flatten_json(document)
    council = record.pop("council", None)
    values, more = parse_fields(lenient(spec), record, True, _name_json)
    if problems or more:
        raise ValueError(f"not a rendered social work message: {[*problems, *more]}")
    if "identifiers.sw_client_id" in values:
        values["identifiers.sw_client_id"] = f"{council}:{values['identifiers.sw_client_id']}"
    return rendered_envelope(
        values, hub["eventId"], spec.event_type, hub.get("source"), hub.get("subject")
    )


ADAPTER: Final = Adapter(
    name=NAME,
    description="Council justice social work case systems: JSON messages and CSV exports",
    parse=parse,
    render=render,
    read_rendered=read_rendered,
    media_type=MEDIA_TYPE,
    renderable_types=RENDERABLE_TYPES,
    formats={"export": parse_export, "message": parse_message},
)

__all__ = [
    "ADAPTER",
    "CSV_COLUMNS",
    "CSV_COLUMNS_V1",
    "MESSAGES",
    "NativeObject",
    "build_export",
    "csv_row",
    "flatten_message",
    "parse",
    "parse_export",
    "parse_message",
    "read_rendered",
    "render",
]
