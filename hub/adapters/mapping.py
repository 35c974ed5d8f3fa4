"""Declarative field-by-field mappings between a native record and a canonical envelope.

A native record, whatever its syntax (pipe-delimited line, CSV row, XML message, JSON message),
is first read into a flat `NativeRecord`: native field name -> text, a list of texts, or a list
of small objects. A `MessageMap` then says, field by field, which canonical path each native
field fills and how its value is converted (`Codec`). Both directions use the same table, so a
record that maps in maps back out to the same native fields: that is what the round-trip
properties in the tests check, and what the adapters' READMEs print as their mapping tables.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final, Literal, Protocol

from hub.adapters.base import CannotRender, RecordProblem, text_problem
from hub.domain.schemas import SchemaRegistry, parse_rfc3339
from hub.errors import InvalidNotification

NativeScalar = str | int | bool
NativeObject = dict[str, NativeScalar]
NativeValue = NativeScalar | list[str] | list[NativeObject]
NativeRecord = dict[str, NativeValue]
CodecKind = Literal["scalar", "list", "objects"]


class FieldError(ValueError):
    """A native value that cannot be converted; the message says why, never what it was."""


class Codec(Protocol):
    @property
    def kind(self) -> CodecKind: ...

    def parse(self, value: NativeValue, typed: bool) -> Any: ...

    def render(self, value: Any, typed: bool) -> NativeValue: ...

    def describe(self) -> str: ...


def _text(value: NativeValue, *, free_text: bool, max_length: int) -> str:
    if not isinstance(value, str):
        raise FieldError("must be text")
    problem = text_problem(value, free_text=free_text)
    if problem:
        raise FieldError(problem)
    if len(value) > max_length:
        raise FieldError(f"must be at most {max_length} characters long")
    return value


@dataclass(frozen=True, slots=True)
class Text:
    """Free text (names of courts, details, circumstances), refused if a spreadsheet would run it
    as a formula; or a code the hub's schema checks (`free_text=False`: GSS codes, postcodes)."""

    max_length: int = 1000
    free_text: bool = True
    kind: CodecKind = "scalar"

    def parse(self, value: NativeValue, typed: bool) -> Any:
        return _text(value, free_text=self.free_text, max_length=self.max_length)

    def render(self, value: Any, typed: bool) -> NativeValue:
        return _rendered_text(value)

    def describe(self) -> str:
        return f"text, up to {self.max_length} characters" if self.free_text else "as is"


def _rendered_text(value: Any) -> str:
    if not isinstance(value, str):
        raise CannotRender("a text field holds a non-text value")
    return value


@dataclass(frozen=True, slots=True)
class Pattern:
    """A native reference (movement id, message id) of a fixed shape."""

    regex: str
    example: str
    kind: CodecKind = "scalar"

    def parse(self, value: NativeValue, typed: bool) -> Any:
        text = _text(value, free_text=False, max_length=200)
        if not re.fullmatch(self.regex, text):
            raise FieldError(f"must look like {self.example} (pattern {self.regex})")
        return text

    def render(self, value: Any, typed: bool) -> NativeValue:
        return _rendered_text(value)

    def describe(self) -> str:
        return f"e.g. `{self.example}`"


@dataclass(frozen=True)
class Code:
    """A native code and the canonical value it stands for, one to one."""

    table: Mapping[str, Any]
    kind: CodecKind = "scalar"
    reverse: Mapping[Any, str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        reverse = {canonical: native for native, canonical in self.table.items()}
        if len(reverse) != len(self.table):
            raise ValueError("a code table must be one to one")
        object.__setattr__(self, "reverse", reverse)

    def parse(self, value: NativeValue, typed: bool) -> Any:
        text = _text(value, free_text=False, max_length=100)
        if text not in self.table:
            raise FieldError(f"is not a known code; expected one of: {', '.join(self.table)}")
        return self.table[text]

    def render(self, value: Any, typed: bool) -> NativeValue:
        if value not in self.reverse:
            raise CannotRender("a coded field holds a value the native code list lacks")
        return self.reverse[value]

    def describe(self) -> str:
        return "code: " + ", ".join(f"`{n}`={c}" for n, c in self.table.items())


_DMY = re.compile(r"([0-9]{2})/([0-9]{2})/([0-9]{4})")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True, slots=True)
class Date:
    """A calendar date: `DD/MM/YYYY` in the legacy extracts, `YYYY-MM-DD` elsewhere."""

    style: Literal["dmy", "iso"] = "iso"
    kind: CodecKind = "scalar"

    def parse(self, value: NativeValue, typed: bool) -> Any:
        text = _text(value, free_text=False, max_length=10)
        if self.style == "dmy":
            match = _DMY.fullmatch(text)
            if not match:
                raise FieldError("must be a date in the form DD/MM/YYYY")
            day, month, year = (int(part) for part in match.groups())
        else:
            if not _ISO_DATE.fullmatch(text):
                raise FieldError("must be a date in the form YYYY-MM-DD")
            year, month, day = (int(part) for part in text.split("-"))
        try:
            return date(year, month, day).isoformat()
        except ValueError:
            raise FieldError("is not a real calendar date") from None

    def render(self, value: Any, typed: bool) -> NativeValue:
        iso = _rendered_text(value)
        if self.style == "iso":
            return iso
        year, month, day = iso.split("-")
        return f"{day}/{month}/{year}"

    def describe(self) -> str:
        return "date `DD/MM/YYYY`" if self.style == "dmy" else "date `YYYY-MM-DD`"


@dataclass(frozen=True, slots=True)
class DateTime:
    """An RFC 3339 date-time with its UTC offset, kept exactly as sent."""

    kind: CodecKind = "scalar"

    def parse(self, value: NativeValue, typed: bool) -> Any:
        text = _text(value, free_text=False, max_length=40)
        try:
            parse_rfc3339(text)
        except ValueError:
            raise FieldError(
                "must be a date and time with its UTC offset, e.g. 2024-05-01T09:30:00+01:00"
            ) from None
        return text

    def render(self, value: Any, typed: bool) -> NativeValue:
        return _rendered_text(value)

    def describe(self) -> str:
        return "date-time with offset"


@dataclass(frozen=True, slots=True)
class Flag:
    """A yes/no: JSON `true`/`false` in typed formats, `yes`/`no` letters in text formats."""

    yes: str = "Y"
    no: str = "N"
    kind: CodecKind = "scalar"

    def parse(self, value: NativeValue, typed: bool) -> Any:
        if typed:
            if not isinstance(value, bool):
                raise FieldError("must be true or false")
            return value
        text = _text(value, free_text=False, max_length=5)
        if text not in (self.yes, self.no):
            raise FieldError(f"must be {self.yes} or {self.no}")
        return text == self.yes

    def render(self, value: Any, typed: bool) -> NativeValue:
        if not isinstance(value, bool):
            raise CannotRender("a flag holds a non-boolean value")
        return value if typed else (self.yes if value else self.no)

    def describe(self) -> str:
        return f"`{self.yes}`/`{self.no}` (JSON: true/false)"


@dataclass(frozen=True, slots=True)
class Integer:
    """A small whole number (a MAPPA level): a JSON number in typed formats, digits in text."""

    kind: CodecKind = "scalar"

    def parse(self, value: NativeValue, typed: bool) -> Any:
        if typed:
            if isinstance(value, bool) or not isinstance(value, int):
                raise FieldError("must be a whole number")
            return value
        text = _text(value, free_text=False, max_length=3)
        if not re.fullmatch(r"[0-9]{1,3}", text):
            raise FieldError("must be a whole number")
        return int(text)

    def render(self, value: Any, typed: bool) -> NativeValue:
        if isinstance(value, bool) or not isinstance(value, int):
            raise CannotRender("a number field holds a non-integer value")
        return value if typed else str(value)

    def describe(self) -> str:
        return "whole number"


_DURATION = re.compile(r"(?:([0-9]{1,3})Y)?(?:([0-9]{1,3})M)?(?:([0-9]{1,3})D)?")


@dataclass(frozen=True, slots=True)
class Duration:
    """A period as the court pronounced it, PR2 style: `5Y6M`, `18M`, `90D`."""

    kind: CodecKind = "scalar"

    def parse(self, value: NativeValue, typed: bool) -> Any:
        text = _text(value, free_text=False, max_length=12)
        match = _DURATION.fullmatch(text)
        if not text or not match:
            raise FieldError("must be a period like 5Y6M, 18M or 90D")
        parts = zip(("years", "months", "days"), match.groups(), strict=True)
        return {name: int(number) for name, number in parts if number is not None}

    def render(self, value: Any, typed: bool) -> NativeValue:
        if not isinstance(value, Mapping) or not value:
            raise CannotRender("a period is not an object of years, months and days")
        letters = (("years", "Y"), ("months", "M"), ("days", "D"))
        return "".join(f"{value[name]}{letter}" for name, letter in letters if name in value)

    def describe(self) -> str:
        return "period `5Y6M`"


@dataclass(frozen=True, slots=True)
class ListOf:
    """A list of scalars: repeated XML elements, a JSON array, or `;`-separated in a cell."""

    item: Codec
    max_items: int = 50
    unique: bool = False
    kind: CodecKind = "list"

    def parse(self, value: NativeValue, typed: bool) -> Any:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise FieldError("must be a list of values")
        if len(value) > self.max_items:
            raise FieldError(f"must have at most {self.max_items} items")
        items = []
        for index, item in enumerate(value):
            try:
                items.append(self.item.parse(str(item), False))
            except FieldError as error:
                raise FieldError(f"item {index + 1} {error}") from None
        if self.unique and len(set(items)) != len(items):
            raise FieldError("lists the same value twice")
        return items

    def render(self, value: Any, typed: bool) -> NativeValue:
        if not isinstance(value, list):
            raise CannotRender("a list field holds a non-list value")
        return [str(self.item.render(item, False)) for item in value]

    def describe(self) -> str:
        return f"list of: {self.item.describe()}"


@dataclass(frozen=True, slots=True)
class Part:
    """One field of the small objects in an `Objects` list."""

    native: str
    canonical: str
    codec: Codec
    required: bool = False


@dataclass(frozen=True, slots=True)
class Objects:
    """A list of small objects (licence conditions, Schedule 1 offences): JSON objects, XML
    elements, or in a delimited cell items separated by `;` and parts by `~`, in `parts` order."""

    parts: tuple[Part, ...]
    max_items: int = 50
    kind: CodecKind = "objects"

    def parse(self, value: NativeValue, typed: bool) -> Any:
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise FieldError("must be a list of objects")
        if len(value) > self.max_items:
            raise FieldError(f"must have at most {self.max_items} items")
        known = {part.native for part in self.parts}
        items: list[dict[str, Any]] = []
        for index, raw in enumerate(value):
            assert isinstance(raw, dict)
            unknown = sorted(set(raw) - known)
            if unknown:
                raise FieldError(f"item {index + 1} has unknown part(s): {', '.join(unknown)}")
            item: dict[str, Any] = {}
            for part in self.parts:
                got = raw.get(part.native)
                if got is None or got == "":
                    if part.required:
                        raise FieldError(f"item {index + 1} lacks its {part.native}")
                    continue
                try:
                    item[part.canonical] = part.codec.parse(got, typed)
                except FieldError as error:
                    raise FieldError(f"item {index + 1}: {part.native} {error}") from None
            items.append(item)
        return items

    def render(self, value: Any, typed: bool) -> NativeValue:
        if not isinstance(value, list):
            raise CannotRender("a list field holds a non-list value")
        rendered: list[NativeObject] = []
        for item in value:
            if not isinstance(item, Mapping):
                raise CannotRender("a list of objects holds a non-object")
            out: NativeObject = {}
            for part in self.parts:
                if part.canonical in item:
                    rendered_part = part.codec.render(item[part.canonical], typed)
                    assert isinstance(rendered_part, str | int | bool)
                    out[part.native] = rendered_part
            rendered.append(out)
        return rendered

    def describe(self) -> str:
        inner = "; ".join(f"{p.native}→{p.canonical} ({p.codec.describe()})" for p in self.parts)
        return f"list of objects: {inner}"


# -- field and message maps --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldMap:
    """Native field `native` fills canonical `path` (dotted, in the envelope: `time`,
    `identifiers.pnc_id`, `data.release.address.postcode`; `meta.*` paths are for the adapter
    itself: the native id, the sending council). `required`: the record is refused without it."""

    native: str
    path: str
    codec: Codec
    required: bool = False


@dataclass(frozen=True, slots=True)
class MessageMap:
    """How one kind of native record maps to one canonical event type.

    `constants` are canonical values the native record kind implies (a PR2 `RCL` movement is an
    admission with reason `recall`). `inbound=False`: a message the hub sends but never accepts;
    `outbound=False`: accepted, but a disclosure of its type is rendered with another kind."""

    native_type: str
    event_type: str
    fields: tuple[FieldMap, ...]
    constants: Mapping[str, Any] = field(default_factory=dict)
    inbound: bool = True
    outbound: bool = True
    note: str = ""

    def native_names(self) -> set[str]:
        return {f.native for f in self.fields}


def parse_fields(
    spec: MessageMap, record: Mapping[str, NativeValue], typed: bool, name: Callable[[str], str]
) -> tuple[dict[str, Any], list[RecordProblem]]:
    """The canonical values of `record` by path, and every problem (naming each native field
    with `name`). Empty values count as absent."""
    values: dict[str, Any] = dict(spec.constants)
    problems: list[RecordProblem] = []
    known = spec.native_names()
    for native in record:
        if native not in known and not _empty(record[native]):
            problems.append(
                RecordProblem(
                    name(native),
                    f"is not part of a {spec.native_type} record; leave it empty or remove it",
                )
            )
    for fmap in spec.fields:
        raw = record.get(fmap.native)
        if raw is None or _empty(raw):
            if fmap.required:
                problems.append(
                    RecordProblem(
                        name(fmap.native),
                        f"is required in a {spec.native_type} record but is missing or empty",
                    )
                )
            continue
        try:
            values[fmap.path] = fmap.codec.parse(raw, typed)
        except FieldError as error:
            problems.append(RecordProblem(name(fmap.native), str(error)))
    return values, problems


def _empty(value: NativeValue) -> bool:
    return value == "" or value == []


def nest(values: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """The values under `prefix.` as a nested object: {"a.b": 1} -> {"a": {"b": 1}}."""
    root: dict[str, Any] = {}
    for path, value in values.items():
        if not path.startswith(prefix + "."):
            continue
        node = root
        *parents, last = path[len(prefix) + 1 :].split(".")
        for parent in parents:
            node = node.setdefault(parent, {})
        node[last] = value
    return root


def get_path(document: Mapping[str, Any], path: str) -> Any:
    """The value at dotted `path`, or None if any step is missing."""
    node: Any = document
    for step in path.split("."):
        if not isinstance(node, Mapping) or step not in node:
            return None
        node = node[step]
    return node


def validation_problems(
    schemas: SchemaRegistry,
    envelope: Mapping[str, Any],
    spec: MessageMap,
    name: Callable[[str], str],
    fallback: str,
) -> list[RecordProblem]:
    """The hub's own schema check of `envelope`, each problem put back on the native field that
    filled the path (`fallback` when no native field did)."""
    try:
        schemas.validate(dict(envelope))
    except InvalidNotification as error:
        by_path = {f.path: f.native for f in spec.fields}
        identifiers = [f.native for f in spec.fields if f.path.startswith("identifiers.")]
        problems = []
        for problem in error.problems:
            if problem.pointer == "/identifiers" and identifiers:
                problems.append(
                    RecordProblem(
                        name(identifiers[0]),
                        "no identifier of the person is given: at least one of "
                        + ", ".join(name(native) for native in identifiers)
                        + " is required",
                    )
                )
                continue
            native = _native_for(problem.pointer, by_path)
            where = name(native) if native else fallback
            problems.append(RecordProblem(where, _reworded(problem.pointer, problem.message)))
        return problems
    return []


def _native_for(pointer: str, by_path: Mapping[str, str]) -> str | None:
    tokens = [t for t in pointer.split("/")[1:] if not t.isdigit()]
    while tokens:
        native = by_path.get(".".join(tokens))
        if native is not None:
            return native
        tokens.pop()
    return None


def _reworded(pointer: str, message: str) -> str:
    """A schema message, saying which canonical field it is about (the native field is named
    separately)."""
    return f"{message} (canonical field {pointer or '/'})"


def render_fields(
    spec: MessageMap, envelope: Mapping[str, Any], typed: bool
) -> dict[str, NativeValue]:
    """The native fields of a (redacted) envelope: only the paths present, in `spec` order."""
    out: dict[str, NativeValue] = {}
    for fmap in spec.fields:
        if fmap.path.startswith("meta.") or fmap.native in out:
            continue
        value = get_path(envelope, fmap.path)
        if value is not None:
            out[fmap.native] = fmap.codec.render(value, typed)
    return out


def choose_outbound(specs: Iterable[MessageMap], envelope: Mapping[str, Any]) -> MessageMap:
    """The native message kind that renders `envelope`: the first outbound one of its type
    whose implied constants all hold."""
    event_type = envelope.get("type")
    # The most specific kind first: an admission on recall is an `RCL`, not an `ADM`.
    for spec in sorted(specs, key=lambda s: -len(s.constants)):
        if spec.event_type != event_type or not spec.outbound:
            continue
        if all(get_path(envelope, path) == value for path, value in spec.constants.items()):
            return spec
    raise CannotRender(f"this native format cannot carry {event_type} notifications")


def check_dataschema(envelope: Mapping[str, Any]) -> None:
    """The native formats carry version 1 of each body; refuse to render any other."""
    dataschema = envelope.get("dataschema")
    if dataschema is not None and not str(dataschema).endswith(":v1"):
        raise CannotRender("this native format carries version 1 bodies only")


def mapping_table(specs: Sequence[MessageMap]) -> str:
    """The field-by-field mapping of `specs` as Markdown, for the adapters' READMEs: one table
    per native record kind, then each code list once."""
    lines: list[str] = []
    code_lists: dict[int, tuple[str, Code]] = {}

    def describe(native: str, codec: Codec) -> str:
        inner = codec.item if isinstance(codec, ListOf) else codec
        if isinstance(inner, Code):
            name, _ = code_lists.setdefault(id(inner), (native.rsplit("/", 1)[-1], inner))
            text = f"code, list `{name}`"
            return f"list of {text}" if inner is not codec else text
        if isinstance(codec, Objects):
            parts = "; ".join(
                f"`{p.native}`→`{p.canonical}`{' (req.)' if p.required else ''}: "
                f"{describe(f'{native}.{p.native}', p.codec)}"
                for p in codec.parts
            )
            return f"list of objects: {parts}"
        return codec.describe()

    for spec in specs:
        direction = (
            "in and out"
            if spec.inbound and spec.outbound
            else "in only"
            if spec.inbound
            else "out only"
        )
        lines += [f"#### `{spec.native_type}` → `{spec.event_type}` ({direction})", ""]
        if spec.note:
            lines += [spec.note, ""]
        for path, value in spec.constants.items():
            lines.append(f"- implies `{path}` = `{value}`")
        if spec.constants:
            lines.append("")
        lines += ["| native field | canonical | req. | format |", "|---|---|---|---|"]
        for fmap in spec.fields:
            required = "yes" if fmap.required else ""
            row = f"| `{fmap.native}` | `{fmap.path}` | {required} | "
            lines.append(row + describe(fmap.native, fmap.codec) + " |")
        lines.append("")
    lines += ["#### Code lists", "", "| list | native code → canonical value |", "|---|---|"]
    for name, code in sorted(code_lists.values(), key=lambda item: item[0]):
        pairs = ", ".join(f"`{n}`→`{c}`" for n, c in code.table.items())
        lines.append(f"| `{name}` | {pairs} |")
    lines.append("")
    return "\n".join(lines)


def lenient(spec: MessageMap) -> MessageMap:
    """`spec` with no field required: for reading back a disclosure, which holds only what the
    recipient was granted."""
    return MessageMap(
        spec.native_type,
        spec.event_type,
        tuple(FieldMap(f.native, f.path, _optional(f.codec)) for f in spec.fields),
        spec.constants,
    )


def _optional(codec: Codec) -> Codec:
    if not isinstance(codec, Objects):
        return codec
    parts = tuple(Part(p.native, p.canonical, p.codec) for p in codec.parts)
    return Objects(parts, codec.max_items)


def rendered_envelope(
    values: Mapping[str, Any],
    event_id: str,
    event_type: str,
    source: str | None,
    subject: str | None,
) -> dict[str, Any]:
    """The (redacted) envelope a rendered disclosure was made from, from its native values."""
    envelope: dict[str, Any] = {"specversion": "1.0", "id": event_id, "type": event_type}
    if source is not None:
        envelope["source"] = source
    if "time" in values:
        envelope["time"] = values["time"]
    if subject is not None:
        envelope["subject"] = subject
    for part in ("identifiers", "data"):
        nested = nest(values, part)
        if nested:
            envelope[part] = nested
    return envelope


# -- cells of delimited files ------------------------------------------------------------------

_ESCAPABLE: Final = "\\|;~"


def split_escaped(text: str, separator: str) -> list[str]:
    """Split on unescaped `separator`, keeping escapes for the next level."""
    if "\\" not in text:
        return text.split(separator)
    parts: list[str] = []
    current: list[str] = []
    chars = iter(text)
    for char in chars:
        if char == "\\":
            following = next(chars, "")
            if following not in _ESCAPABLE or following == "":
                raise ValueError("a backslash must be followed by one of \\ | ; ~")
            current += (char, following)
        elif char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def unescape(text: str) -> str:
    if "\\" not in text:
        return text
    out: list[str] = []
    chars = iter(text)
    for char in chars:
        out.append(next(chars, "") if char == "\\" else char)
    return "".join(out)


def escape(text: str) -> str:
    for char in _ESCAPABLE:  # the backslash first
        text = text.replace(char, "\\" + char)
    return text


def read_cell(codec: Codec | None, raw: str) -> NativeValue:
    """A delimited file's cell as a native value: lists split on `;`, object parts on `~`
    (a backslash escapes either, and `|` and itself)."""
    if codec is None or codec.kind == "scalar" or raw == "":
        return unescape(raw) if codec is None or codec.kind == "scalar" else []
    items = split_escaped(raw, ";")
    if codec.kind == "list":
        return [unescape(item) for item in items]
    assert isinstance(codec, Objects)
    objects: list[NativeObject] = []
    for item in items:
        pieces = split_escaped(item, "~")
        if len(pieces) > len(codec.parts):
            raise ValueError(
                f"an item has {len(pieces)} parts separated by ~; at most {len(codec.parts)}"
            )
        objects.append(
            {
                part.native: unescape(piece)
                for part, piece in zip(codec.parts, pieces, strict=False)
                if piece != ""
            }
        )
    return objects


def write_cell(codec: Codec | None, value: NativeValue | None) -> str:
    """The inverse of `read_cell`."""
    if value is None:
        return ""
    if isinstance(value, list):
        if isinstance(codec, Objects):
            items = []
            for item in value:
                assert isinstance(item, dict)
                pieces = [escape(str(item.get(part.native, ""))) for part in codec.parts]
                while pieces and pieces[-1] == "":
                    pieces.pop()
                items.append("~".join(pieces))
            return ";".join(items)
        return ";".join(escape(str(item)) for item in value)
    return escape(str(value))
