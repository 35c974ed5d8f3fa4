"""The Scottish Prison Service PR2 adapter: PR2's movement extract (pipe-delimited batch file) and
per-movement JSON messages in, custody notifications out; disclosures of custody notifications
rendered back as PR2 JSON movement messages. The format is documented in `adapters/pr2/README.md`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
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
    split_escaped,
    validation_problems,
    write_cell,
)
from hub.adapters.pr2_movements import MESSAGES
from hub.domain.schemas import SchemaRegistry

NAME: Final = "pr2"
SOURCE_PREFIX: Final = "urn:pph:sps:pr2:"
SUBJECT_PREFIX: Final = "PR2-MOVEMENT-"
MEDIA_TYPE: Final = "application/vnd.sps.pr2.movement+json"

HEADER_TAG: Final = "HDR"
RECORD_TAG: Final = "MOV"
TRAILER_TAG: Final = "TRL"
FILE_KIND: Final = "PR2-MOVEMENTS"
#: The extract version `build_extract` writes; version 1 (without the escape columns) is still read.
FILE_VERSION: Final = "2"
#: Where the hub's own attributes travel in a rendered PR2 JSON message.
HUB_BLOCK: Final = "HUB"

_BY_CODE: Final = {spec.native_type: spec for spec in MESSAGES}


def _columns() -> tuple[str, ...]:
    seen: dict[str, None] = {"MOVEMENT_CODE": None}
    for spec in MESSAGES:
        for fmap in spec.fields:
            seen.setdefault(fmap.native, None)
    return tuple(seen)


#: The data columns of a `MOV` record of the current extract version, in order (after the `MOV`
#: tag). Each version only appends columns: version 1's are the first 38, before the escape's.
COLUMNS: Final = _columns()
COLUMNS_BY_VERSION: Final = {"1": COLUMNS[: COLUMNS.index("MISSING_SINCE")], FILE_VERSION: COLUMNS}
_KINDS: Final = {f.native: f.codec for spec in MESSAGES for f in spec.fields}
RENDERABLE_TYPES: Final = frozenset(spec.event_type for spec in MESSAGES if spec.outbound)


# -- one movement, whatever its syntax ---------------------------------------------------------


def _movement(
    record: NativeRecord,
    location: str,
    original: bytes,
    schemas: SchemaRegistry,
    name: Callable[[str], str],
) -> AdapterRecord:
    code = record.get("MOVEMENT_CODE")
    native_id = record.get("MOVEMENT_ID")
    native_id = native_id if isinstance(native_id, str) and len(native_id) <= 30 else None
    spec = _BY_CODE.get(code) if isinstance(code, str) else None
    if spec is None:
        why = (
            "is missing"
            if code in (None, "")
            else "is not a known PR2 movement code; expected one of: " + ", ".join(_BY_CODE)
        )
        return rejected(
            location, original, [RecordProblem(name("MOVEMENT_CODE"), why)], native_id=native_id
        )
    values, problems = parse_fields(
        spec, {k: v for k, v in record.items() if k != "MOVEMENT_CODE"}, False, name
    )
    if problems:
        return rejected(
            location, original, problems, native_type=spec.native_type, native_id=native_id
        )
    establishment = (
        values.get("data.establishment")
        or values.get("data.from_establishment")
        or values["meta.establishment"]
    )
    movement_id = values["meta.movement_id"]
    envelope = new_envelope(
        adapter=NAME,
        source=SOURCE_PREFIX + establishment,
        native_id=movement_id,
        event_type=spec.event_type,
        time=values["time"],
        subject=SUBJECT_PREFIX + movement_id,
        identifiers=nest(values, "identifiers"),
        data=nest(values, "data"),
    )
    problems = validation_problems(schemas, envelope, spec, name, name("MOVEMENT_CODE"))
    if problems:
        return rejected(
            location, original, problems, native_type=spec.native_type, native_id=movement_id
        )
    return AdapterRecord(
        location, original, envelope, native_type=spec.native_type, native_id=movement_id
    )


# -- the pipe-delimited extract ----------------------------------------------------------------


def extract_line(record: Mapping[str, NativeValue]) -> str:
    """One `MOV` line of a version 1 extract (no newline)."""
    return "|".join([RECORD_TAG, *(write_cell(_KINDS.get(c), record.get(c)) for c in COLUMNS)])


def build_extract(
    records: Iterable[Mapping[str, NativeValue]], extract_id: str, extracted_at: str
) -> bytes:
    """A complete version 1 extract of `records` (header, one line each, trailer)."""
    lines = [f"{HEADER_TAG}|{FILE_KIND}|{FILE_VERSION}|{extract_id}|{extracted_at}"]
    lines += [extract_line(record) for record in records]
    lines.append(f"{TRAILER_TAG}|{len(lines) - 1}")
    return ("\n".join(lines) + "\n").encode("utf-8")


def _extract_record(
    line_number: int, raw: bytes, schemas: SchemaRegistry, version: str
) -> AdapterRecord:
    location = f"line {line_number}"
    problem = too_large(len(raw), MAX_RECORD_BYTES, "record")
    if problem:
        return rejected(location, raw, [problem])
    text, problem = decode_utf8(raw, "record")
    if text is None:
        assert problem is not None
        return rejected(
            location, raw, [RecordProblem("", problem.reason.replace(" at line 1", ""))]
        )
    text = text.removesuffix("\r")
    try:
        cells = split_escaped(text, "|")
    except ValueError as error:
        return rejected(location, raw, [RecordProblem("", str(error))])
    columns = COLUMNS_BY_VERSION[version]
    if len(cells) != len(columns) + 1:
        return rejected(
            location,
            raw,
            [
                RecordProblem(
                    "",
                    f"has {len(cells) - 1} fields after {RECORD_TAG}; a version {version} "
                    f"movement record has {len(columns)} (is a | inside a field not escaped?)",
                )
            ],
        )
    record: NativeRecord = {}
    for column, cell in zip(columns, cells[1:], strict=True):
        try:
            record[column] = read_cell(_KINDS.get(column), cell)
        except ValueError as error:
            return rejected(location, raw, [RecordProblem(column, str(error))])
    return _movement(record, location, raw, schemas, lambda native: native)


def parse_extract(data: bytes, schemas: SchemaRegistry) -> list[AdapterRecord]:
    """Every `MOV` record of a PR2 movement extract, parsed or rejected.

    A file with a structural fault (not UTF-8 as a whole, no header, a second header, no
    trailer, a trailer count that disagrees, a last line cut short) is refused as a whole: each
    of its records is rejected, saying so, and nothing in it counts as parsed."""
    problem = too_large(len(data), MAX_FILE_BYTES, "extract")
    if problem or data.startswith((b"\xff\xfe", b"\xfe\xff")):
        if problem is None:
            _, problem = decode_utf8(data, "extract")
        assert problem is not None
        return [rejected("file", data, [problem])]
    body = data.removeprefix(b"\xef\xbb\xbf")
    lines = body.split(b"\n")
    file_problems: list[RecordProblem] = []
    if lines[-1] == b"":
        lines.pop()
    elif lines:
        file_problems.append(
            RecordProblem(
                "", f"the extract is truncated: line {len(lines)} does not end with a newline"
            )
        )
    records: list[AdapterRecord] = []
    version = _declared_version(lines[0] if lines else b"")
    header_seen = False
    trailer: tuple[int, bytes] | None = None
    for index, raw in enumerate(lines):
        number = index + 1
        tag = raw[:4]
        if raw.strip() == b"":
            continue
        if trailer is not None:
            file_problems.append(
                RecordProblem("", f"line {number} follows the trailer at line {trailer[0]}")
            )
            trailer = None
        if tag == HEADER_TAG.encode() + b"|":
            if header_seen:
                file_problems.append(
                    RecordProblem(
                        HEADER_TAG,
                        f"line {number} is a second header: two extracts appear to be joined; "
                        "send each extract as its own file",
                    )
                )
            elif index != 0:
                file_problems.append(RecordProblem(HEADER_TAG, "the header is not the first line"))
            header_seen = True
            file_problems += _header_problems(raw)
        elif tag == TRAILER_TAG.encode() + b"|":
            trailer = (number, raw)
        elif tag == RECORD_TAG.encode() + b"|":
            records.append(_extract_record(number, raw, schemas, version))
        else:
            records.append(
                rejected(
                    f"line {number}",
                    raw,
                    [
                        RecordProblem(
                            "",
                            f"is not a PR2 extract line: lines start with {HEADER_TAG}|, "
                            f"{RECORD_TAG}| or {TRAILER_TAG}|",
                        )
                    ],
                )
            )
    if not header_seen:
        file_problems.append(
            RecordProblem(HEADER_TAG, f"the extract does not start with a {HEADER_TAG} header line")
        )
    if trailer is None:
        if not any("follows the trailer" in p.reason for p in file_problems):
            file_problems.append(
                RecordProblem(
                    TRAILER_TAG,
                    f"the extract is truncated: it has no {TRAILER_TAG} trailer line; "
                    "send the complete extract again",
                )
            )
    else:
        count = trailer[1].decode("utf-8", "replace").removesuffix("\r").split("|")[1:]
        if count != [str(len(records))]:
            file_problems.append(
                RecordProblem(
                    TRAILER_TAG,
                    f"the trailer at line {trailer[0]} does not give the record count "
                    f"{len(records)}: the extract is truncated or damaged; send it again",
                )
            )
    if not file_problems:
        return records
    return refuse_file(records, data, file_problems)


def _declared_version(first_line: bytes) -> str:
    """The version the header declares, if this adapter reads it; else the current one (a file
    with a bad header is refused as a whole anyway)."""
    parts = first_line.removeprefix(b"\xef\xbb\xbf").split(b"|")
    declared = parts[2].decode("ascii", "replace") if len(parts) > 2 else ""
    return declared if declared in COLUMNS_BY_VERSION else FILE_VERSION


def _header_problems(raw: bytes) -> list[RecordProblem]:
    text = raw.decode("utf-8", "replace").removesuffix("\r")
    parts = text.split("|")
    if len(parts) != 5 or parts[1] != FILE_KIND:
        return [
            RecordProblem(
                HEADER_TAG, f"the header must be {HEADER_TAG}|{FILE_KIND}|<version>|<id>|<time>"
            )
        ]
    if parts[2] not in COLUMNS_BY_VERSION:
        return [
            RecordProblem(
                HEADER_TAG,
                f"extract version {parts[2][:10]!r} is not supported; this adapter reads "
                f"versions {', '.join(COLUMNS_BY_VERSION)}",
            )
        ]
    return []


# -- the JSON movement message -----------------------------------------------------------------


def _native_json(document: Mapping[str, Any]) -> tuple[NativeRecord, list[RecordProblem]]:
    """The message's fields as a NativeRecord; PR2 messages carry every value as text."""
    record: NativeRecord = {}
    problems: list[RecordProblem] = []
    for key, value in document.items():
        if isinstance(value, str):
            record[key] = value
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            record[key] = list(value)
        elif isinstance(value, list) and all(
            isinstance(v, dict) and all(isinstance(x, str) for x in v.values()) for v in value
        ):
            record[key] = [dict(v) for v in value]
        else:
            problems.append(
                RecordProblem(
                    f"/{key}", "must be text, a list of texts or a list of objects of texts"
                )
            )
    return record, problems


def parse_message(data: bytes, schemas: SchemaRegistry) -> list[AdapterRecord]:
    """One PR2 JSON movement message: one record, parsed or rejected."""
    document, problem = load_json_object(data, "message")
    if document is None:
        assert problem is not None
        return [rejected("", data, [problem])]
    record, problems = _native_json(document)
    if problems:
        return [rejected("", data, problems)]
    return [_movement(record, "", data, schemas, lambda native: "/" + native)]


def parse(data: bytes, schemas: SchemaRegistry) -> list[AdapterRecord]:
    """A PR2 extract or a PR2 JSON message, recognised by its first byte."""
    if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return parse_message(data, schemas)
    return parse_extract(data, schemas)


# -- outbound ----------------------------------------------------------------------------------


def render(notification: Mapping[str, Any]) -> bytes:
    """A disclosure of a custody notification as a PR2 JSON movement message: the granted fields
    under their PR2 names, the hub's id, source and subject under `HUB`. Fields not granted are
    left out, never sent empty."""
    check_dataschema(notification)
    spec = choose_outbound(MESSAGES, notification)
    hub: dict[str, Any] = {"EVENT_ID": notification["id"], "EVENT_TYPE": notification["type"]}
    for key, attribute in (("SOURCE", "source"), ("SUBJECT", "subject")):
        if attribute in notification:
            hub[key] = notification[attribute]
    message: dict[str, Any] = {HUB_BLOCK: hub, "MOVEMENT_CODE": spec.native_type}
    message.update(render_fields(spec, notification, typed=False))
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def read_rendered(data: bytes) -> dict[str, Any]:
    """A rendered PR2 JSON movement message back to the (redacted) envelope it was made from."""
    document = json.loads(data)
    hub = document.pop(HUB_BLOCK)
    spec = _BY_CODE[document.pop("MOVEMENT_CODE")]
    if spec.event_type != hub["EVENT_TYPE"]:
        raise ValueError("the movement code does not match the event type")
    record, problems = _native_json(document)
    values, more = parse_fields(lenient(spec), record, False, lambda n: n)
    if problems or more:
        raise ValueError(f"not a rendered PR2 message: {[*problems, *more]}")
    return rendered_envelope(
        values, hub["EVENT_ID"], spec.event_type, hub.get("SOURCE"), hub.get("SUBJECT")
    )


ADAPTER: Final = Adapter(
    name=NAME,
    description="Scottish Prison Service PR2: movement extracts and JSON movement messages",
    parse=parse,
    render=render,
    read_rendered=read_rendered,
    media_type=MEDIA_TYPE,
    renderable_types=RENDERABLE_TYPES,
    formats={"extract": parse_extract, "message": parse_message},
)

__all__ = [
    "ADAPTER",
    "COLUMNS",
    "COLUMNS_BY_VERSION",
    "MESSAGES",
    "build_extract",
    "extract_line",
    "parse",
    "parse_extract",
    "parse_message",
    "read_rendered",
    "render",
]
