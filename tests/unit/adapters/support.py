"""Shared by the adapters' tests: the real event schemas, the shipped samples and their expected
outcomes, and Hypothesis strategies for valid native records built from the adapters' own
mapping tables."""

from __future__ import annotations

import json
import string
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from hub.adapters.base import FORMULA_PREFIXES, AdapterRecord
from hub.adapters.mapping import (
    Code,
    Codec,
    Date,
    DateTime,
    Duration,
    Flag,
    Integer,
    ListOf,
    MessageMap,
    NativeValue,
    Objects,
    Pattern,
    Text,
)
from hub.domain.schemas import SchemaRegistry

ROOT = Path(__file__).resolve().parents[3]
EVENTS = ROOT / "events"
SAMPLES = ROOT / "adapters"


@cache
def schemas() -> SchemaRegistry:
    return SchemaRegistry.load(EVENTS)


def expected(adapter: str) -> dict[str, list[dict[str, Any]]]:
    result: dict[str, list[dict[str, Any]]] = json.loads(
        (SAMPLES / adapter / "samples" / "expected.json").read_text(encoding="utf-8")
    )
    return result


def sample_files(adapter: str) -> list[Path]:
    folder = SAMPLES / adapter / "samples"
    return sorted(p for p in folder.iterdir() if p.name != "expected.json")


def sample(adapter: str, name: str) -> bytes:
    return (SAMPLES / adapter / "samples" / name).read_bytes()


def parsed(records: list[AdapterRecord]) -> list[dict[str, Any]]:
    envelopes = [r.envelope for r in records if r.envelope is not None]
    assert len(envelopes) == len(records), [r.problems for r in records]
    return envelopes


# -- strategies --------------------------------------------------------------------------------

#: Free text an agency might write: letters, digits, punctuation (including the delimiters the
#: native formats escape), accented letters, and never a formula prefix at the start.
_ALPHABET = string.ascii_letters + string.digits + " .,;:'\"()/&~|\\<>!?%*#[]{}_éüñ£€"


def free_text(max_size: int) -> st.SearchStrategy[str]:
    return st.text(_ALPHABET, min_size=1, max_size=min(max_size, 60)).filter(
        lambda s: not s.startswith(FORMULA_PREFIXES)
    )


DATES = st.dates(date(1990, 1, 1), date(2040, 12, 31))
OFFSETS = st.sampled_from([UTC, timezone(timedelta(hours=1)), timezone(timedelta(0))])


@st.composite
def date_times(draw: st.DrawFn) -> str:
    moment = draw(st.datetimes(datetime(2000, 1, 1), datetime(2039, 12, 31)))
    zone = draw(OFFSETS)
    text = moment.replace(microsecond=0, tzinfo=zone).isoformat()
    return text.replace("+00:00", "Z") if zone is UTC else text


def native_values(codec: Codec, typed: bool) -> st.SearchStrategy[Any] | None:
    """Valid native values of `codec`; None when the value must stay as the base record has it
    (codes checked only by the schema, or linked to other fields)."""
    if isinstance(codec, Text):
        return free_text(codec.max_length) if codec.free_text else None
    if isinstance(codec, Pattern):
        return st.from_regex(codec.regex, fullmatch=True).filter(lambda s: len(s) <= 30)
    if isinstance(codec, Date):
        return DATES.map(lambda d: codec.render(d.isoformat(), typed))
    if isinstance(codec, DateTime):
        return date_times()
    if isinstance(codec, Flag):
        return st.booleans().map(lambda b: codec.render(b, typed))
    if isinstance(codec, Duration):
        return (
            st.fixed_dictionaries(
                {},
                optional={
                    "years": st.integers(0, 99),
                    "months": st.integers(0, 11),
                    "days": st.integers(0, 366),
                },
            )
            .filter(bool)
            .map(lambda d: codec.render(d, typed))
        )
    if isinstance(codec, ListOf):
        if isinstance(codec.item, Code):
            return st.lists(
                st.sampled_from(list(codec.item.table)),
                min_size=1,
                max_size=codec.max_items,
                unique=True,
            )
        return st.lists(free_text(100), min_size=1, max_size=min(codec.max_items, 5))
    if isinstance(codec, Objects):
        parts: dict[str, st.SearchStrategy[Any]] = {}
        optional: dict[str, st.SearchStrategy[Any]] = {}
        for part in codec.parts:
            strategy = (
                st.sampled_from(list(part.codec.table))
                if isinstance(part.codec, Code)
                else native_values(part.codec, typed)
            )
            if strategy is None:
                return None
            (parts if part.required else optional)[part.native] = strategy
        return st.lists(st.fixed_dictionaries(parts, optional=optional), min_size=1, max_size=4)
    if isinstance(codec, Code | Integer):
        return None
    raise TypeError(codec)


@st.composite
def native_records(
    draw: st.DrawFn,
    spec: MessageMap,
    base: Mapping[str, NativeValue],
    typed: bool,
    free_codes: frozenset[str] = frozenset(),
) -> dict[str, NativeValue]:
    """`base` (a valid record of `spec`) with every field that can vary freely drawn anew, and
    optional free-text fields sometimes added or dropped (other fields may be tied to each other
    by the schema's rules, so they stay present or absent as in `base`)."""
    record = dict(base)
    for fmap in spec.fields:
        droppable = not fmap.required and isinstance(fmap.codec, Text) and fmap.codec.free_text
        top_level = fmap.path.count(".") == 1  # adding it creates no half-filled object
        if fmap.native not in record and not (droppable and top_level):
            continue
        if isinstance(fmap.codec, Code) and fmap.native in free_codes:
            strategy: st.SearchStrategy[Any] | None = st.sampled_from(list(fmap.codec.table))
        else:
            strategy = native_values(fmap.codec, typed)
        if strategy is None:
            continue
        value = draw(st.none() | strategy) if droppable else draw(strategy)
        if value is None:
            record.pop(fmap.native, None)
        else:
            record[fmap.native] = value
    return record


def without_constants(envelope: Mapping[str, Any]) -> dict[str, Any]:
    """An envelope minus the attributes every native rendering implies."""
    return {k: v for k, v in envelope.items() if k not in ("datacontenttype", "dataschema")}


def _schema_node(event_type: str, path: str) -> dict[str, Any]:
    schema = json.loads((EVENTS / f"{event_type}.v1.schema.json").read_text(encoding="utf-8"))

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        node = node.get("items", node)
        if "$ref" in node:
            node = schema["$defs"][node["$ref"].rsplit("/", 1)[1]]
        return node

    node: dict[str, Any] = schema
    for step in path.split(".")[1:]:
        node = resolve(resolve(node)["properties"][step])
    return node


def _allowed(node: Mapping[str, Any]) -> list[Any] | None:
    """The values a coded field's schema allows: its enum, its const, or both booleans."""
    if "const" in node:
        return [node["const"]]
    if node.get("type") == "boolean":
        return [True, False]
    enum: list[Any] | None = node.get("enum")
    return enum


def assert_codes_cover_schemas(messages: Sequence[MessageMap]) -> None:
    """Each coded field of the outbound messages has a native code for every value the schema
    allows (what one message kind lacks, a constant of another kind of the same type supplies),
    and no code stands for a value the schema refuses."""
    offered: dict[tuple[str, str], set[Any]] = {}
    for spec in messages:
        for path, value in spec.constants.items():
            if spec.outbound and "enum" in _schema_node(spec.event_type, path):
                offered.setdefault((spec.event_type, path), set()).add(value)
        for fmap in spec.fields:
            codecs: list[tuple[str, Any]] = [(fmap.path, fmap.codec)]
            if isinstance(fmap.codec, ListOf):
                codecs = [(fmap.path, fmap.codec.item)]
            if isinstance(fmap.codec, Objects):
                codecs = [(f"{fmap.path}.{p.canonical}", p.codec) for p in fmap.codec.parts]
            for path, codec in codecs:
                if isinstance(codec, Code) and path.startswith("data."):
                    values = set(codec.table.values())
                    enum = _allowed(_schema_node(spec.event_type, path))
                    assert enum is not None, path
                    assert values <= set(enum), (spec.native_type, fmap.native)
                    if spec.outbound:
                        offered.setdefault((spec.event_type, path), set()).update(values)
    for (event_type, path), values in offered.items():
        enum = _allowed(_schema_node(event_type, path)) or []
        if any(spec.outbound and spec.event_type == event_type for spec in messages):
            assert values >= set(enum) or not _coded_outbound(messages, event_type, path), (
                event_type,
                path,
                set(enum) - values,
            )


def _coded_outbound(messages: Sequence[MessageMap], event_type: str, path: str) -> bool:
    for spec in messages:
        if spec.outbound and spec.event_type == event_type:
            for fmap in spec.fields:
                if path == fmap.path or path.startswith(fmap.path + "."):
                    return True
    return False
