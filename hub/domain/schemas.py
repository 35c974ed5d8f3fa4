"""The published contract of canonical notifications: the JSON Schemas in `events/`, a validator
that names every wrong field by JSON Pointer, and the upcasting of old body versions on read.

Two validators hold each schema. `jsonschema` is the authority: it decides every refusal and
names every wrong field. In front of it, `jsonschema_rs` (compiled, about 70 times faster: 11
instead of 820 µs for a custody admission) answers the common question "is this valid?"; only
when it says no (or cannot tell) does `jsonschema` look, so bad input gets exactly the problems
it always got. The fast one must never be laxer than the authority, so it checks `pattern` and
the formats with the same Python functions as the authority (its own regex engine reads `\\s`
differently); tests/unit/test_schema_fast_path.py holds the two to the same answers.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import jsonschema_rs
from jsonschema import Draft202012Validator, FormatChecker, validators
from jsonschema.exceptions import SchemaError, ValidationError
from jsonschema.protocols import Validator

from hub.domain.notifications import JsonObject, Notification, PersonIdentifier
from hub.errors import FieldProblem, InvalidNotification, UnknownEventType

#: Turns the body of one version into the body of the next: `fn(data of vN) -> data of vN+1`.
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

DRAFT_2020_12: Final = "https://json-schema.org/draft/2020-12/schema"
ENVELOPE_FILE: Final = "envelope.v1.schema.json"

_EVENT_TYPE = r"[a-z][a-z0-9-]*(?:\.[a-z][a-z0-9-]*)+"
_SCHEMA_FILE = re.compile(rf"(?P<type>{_EVENT_TYPE})\.v(?P<version>[1-9][0-9]*)\.schema\.json")
_DATASCHEMA = re.compile(rf"urn:pph:events:(?P<type>{_EVENT_TYPE}):v(?P<version>[1-9][0-9]*)")

# RFC 3339 `date-time`: the offset is mandatory. Leap seconds (:60) are refused because a Python
# datetime cannot hold them and the hub must be able to store what it accepted.
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:Z|[+-][0-9]{2}:[0-9]{2})"
)
_FULL_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

#: Enumerations longer than this are not spelt out in problem messages.
_MAX_LISTED = 40


def dataschema_urn(event_type: str, version: int) -> str:
    """The `dataschema` value that names version `version` of `event_type`'s body schema."""
    return f"urn:pph:events:{event_type}:v{version}"


def parse_rfc3339(text: str) -> datetime:
    """An RFC 3339 date-time with offset, as an aware datetime; ValueError if it is not one, or
    if it has no UTC equivalent (0001-01-01T00:00:00+14:00 is before year 1 in UTC)."""
    upper = text.upper()
    if not _RFC3339.fullmatch(upper):
        raise ValueError(f"not an RFC 3339 date-time with offset: {text!r}")
    moment = datetime.fromisoformat(upper)
    if not representable_in_utc(moment):
        raise ValueError(f"outside the years 1-9999 in UTC: {text!r}")
    return moment


def representable_in_utc(moment: datetime) -> bool:
    """Whether `moment` can be moved to UTC: the hub stores and compares every time in UTC, and
    a time at the edge of the calendar with an offset overflows there (an OverflowError)."""
    try:
        moment.astimezone(UTC)
    except OverflowError:
        return False
    return True


def _parse_full_date(text: str) -> date:
    if not _FULL_DATE.fullmatch(text):
        raise ValueError(f"not a full date: {text!r}")
    return date.fromisoformat(text)


def _is_date_time(instance: object) -> bool:
    try:
        return not isinstance(instance, str) or bool(parse_rfc3339(instance))
    except ValueError:
        return False


def _is_full_date(instance: object) -> bool:
    try:
        return not isinstance(instance, str) or bool(_parse_full_date(instance))
    except ValueError:
        return False


#: The formats the contract uses, as predicates shared by both validators.
_FORMATS: Final[Mapping[str, Callable[[object], bool]]] = {
    "date-time": _is_date_time,
    "date": _is_full_date,
}


def _format_checker() -> FormatChecker:
    """Only the formats the contract uses, checked with the standard library.

    jsonschema's own `date-time` check silently passes everything unless the optional
    `rfc3339-validator` package is installed, so the hub registers its own."""
    checker = FormatChecker(formats=())
    for name, predicate in _FORMATS.items():
        checker.checks(name)(predicate)
    return checker


FORMAT_MESSAGES: Final[Mapping[str, str]] = {
    "date": "is not a valid date in the form YYYY-MM-DD",
    "date-time": (
        "is not a valid RFC 3339 date-time with a UTC offset, e.g. 2024-05-01T09:30:00+01:00"
    ),
}


@lru_cache(maxsize=256)
def _ecma_regex(pattern: str) -> re.Pattern[str]:
    """Compile a schema `pattern` so that `$` means end of string, as in ECMA-262.

    Python's `$` also matches before a final newline, which would let "24/123456X\\n" through as
    a PNC ID and split one person's identifiers in the subject index."""
    out: list[str] = []
    escaped = in_class = False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "$":
            out.append(r"\Z")
            continue
        out.append(char)
    return re.compile("".join(out))


def _pattern_keyword(
    validator: Validator, pattern: str, instance: object, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    if isinstance(instance, str) and not _ecma_regex(pattern).search(instance):
        yield ValidationError(f"does not match {pattern!r}")


# jsonschema's `extend` is untyped; subclassing a validator class is deprecated, so this is the
# supported way to swap one keyword.
_ContractValidator: type[Validator] = validators.extend(  # type: ignore[no-untyped-call]
    Draft202012Validator, {"pattern": _pattern_keyword}
)


class _FastPattern:
    """`pattern` for the fast validator, matched by Python's `re` exactly as `_pattern_keyword`
    matches it: the Rust engine's `\\s` leaves out \\x1c-\\x1f, which Python's includes, so
    its own `pattern` would let through what the authority refuses."""

    def __init__(self, parent_schema: object, value: str, schema_path: object) -> None:
        self._pattern = _ecma_regex(value)

    def validate(self, instance: object) -> None:
        if isinstance(instance, str) and not self._pattern.search(instance):
            raise ValueError("does not match")


def _fast_validator(schema: Mapping[str, Any]) -> jsonschema_rs.Draft202012Validator:
    return jsonschema_rs.Draft202012Validator(
        dict(schema),
        formats=dict(_FORMATS),
        validate_formats=True,
        # A format the contract does not check (jsonschema's checker knows only these two)
        # neither fails the load nor refuses anything.
        ignore_unknown_formats=True,
        keywords={"pattern": _FastPattern},
    )


def _fast_valid(validator: jsonschema_rs.Draft202012Validator, instance: object) -> bool:
    """True only if the fast validator is sure `instance` is valid; anything it cannot take
    (a number beyond 64 bits, NaN) goes to the authority."""
    try:
        return validator.is_valid(instance)
    except Exception:  # any doubt is answered by jsonschema, never by accepting
        return False


def _pointer(path: Iterable[str | int]) -> str:
    """An RFC 6901 JSON Pointer: each token prefixed by '/', with '~' as '~0' and '/' as '~1'."""
    return "".join("/" + str(token).replace("~", "~0").replace("/", "~1") for token in path)


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def _listed(values: Sequence[object]) -> str:
    if len(values) > _MAX_LISTED:
        return f"one of the {len(values)} values listed in the schema"
    return "one of: " + ", ".join(json.dumps(v, ensure_ascii=False) for v in values)


def _describe(error: ValidationError) -> str:
    """A readable message that never repeats the submitted value: problems are logged and
    returned to callers, and the value may be personal data."""
    keyword, expected = error.validator, error.validator_value
    if keyword == "type":
        kinds = expected if isinstance(expected, list) else [expected]
        return f"must be of type {' or '.join(str(k) for k in kinds)}"
    if keyword == "enum" and isinstance(expected, list):
        return "must be " + _listed(expected)
    if keyword == "const":
        return f"must be {json.dumps(expected, ensure_ascii=False)}"
    if keyword == "pattern":
        return f"does not match the pattern {expected}"
    if keyword == "format":
        return FORMAT_MESSAGES.get(str(expected), f"is not a valid {expected}")
    simple = {
        "minLength": "must be at least {} characters long",
        "maxLength": "must be at most {} characters long",
        "minimum": "must be at least {}",
        "maximum": "must be at most {}",
        "exclusiveMinimum": "must be greater than {}",
        "exclusiveMaximum": "must be less than {}",
        "minItems": "must have at least {} item(s)",
        "maxItems": "must have at most {} item(s)",
        "minProperties": "must have at least {} propert(ies)",
        "maxProperties": "must have at most {} propert(ies)",
    }
    if keyword in simple:
        return simple[str(keyword)].format(expected)
    if keyword == "uniqueItems":
        return "must not contain the same item twice"
    return f"fails the schema's {keyword!r} rule"


def _rule(root: object, schema_path: Sequence[str | int]) -> str | None:
    """The description of the conditional rule (`if`/`then`) an error came from, if any, so that
    "must be 2 or 3" can say why."""
    if "then" not in schema_path:
        return None
    last_then = len(schema_path) - 1 - list(reversed(schema_path)).index("then")
    node = root
    try:
        for token in schema_path[:last_then]:
            node = node[token]  # type: ignore[index]
    except (KeyError, IndexError, TypeError):
        return None
    description = node.get("description") if isinstance(node, Mapping) else None
    return description if isinstance(description, str) else None


def _problems(
    validator: Validator, instance: Any, prefix: tuple[str | int, ...] = ()
) -> set[FieldProblem]:
    """Every schema violation as FieldProblems, with the pointer naming the offending field."""
    found: set[FieldProblem] = set()
    for error in validator.iter_errors(instance):
        path = (*prefix, *error.absolute_path)
        target = error.instance
        expected = error.validator_value
        if error.validator == "required" and isinstance(target, Mapping):
            # One error per missing property, but the error does not say which: name them all
            # and let the set drop the repeats.
            rule = _rule(validator.schema, list(error.absolute_schema_path))
            message = "is required but missing" + (f" ({rule})" if rule else "")
            for name in expected if isinstance(expected, list) else []:
                if name not in target:
                    found.add(FieldProblem(_pointer((*path, name)), message))
            continue
        if error.validator == "additionalProperties" and isinstance(target, Mapping):
            schema = error.schema if isinstance(error.schema, Mapping) else {}
            allowed = schema.get("properties", {})
            patterns = schema.get("patternProperties", {})
            for name in target:
                if name in allowed:
                    continue
                if isinstance(name, str) and any(_ecma_regex(p).search(name) for p in patterns):
                    continue
                message = "is not allowed here"
                if allowed:
                    message += "; allowed: " + ", ".join(sorted(allowed))
                found.add(FieldProblem(_pointer((*path, name)), message))
            continue
        message = _describe(error)
        rule = _rule(validator.schema, list(error.absolute_schema_path))
        if rule:
            message += f" ({rule})"
        found.add(FieldProblem(_pointer(path), message))
    return found


def _sorted(problems: Iterable[FieldProblem]) -> list[FieldProblem]:
    return sorted(set(problems), key=lambda p: (p.pointer, p.message))


def _summary(problems: Sequence[FieldProblem]) -> str:
    first = problems[0]
    where = first.pointer or "the notification"
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"the notification is not valid: {where} {first.message}{more}"


class SchemaRegistry:
    """The envelope schema and every body schema of `events/`, ready to validate notifications.

    Build it with `SchemaRegistry.load(events_dir)`; nothing is read at import time."""

    def __init__(
        self,
        envelope: Mapping[str, Any],
        bodies: Mapping[tuple[str, int], Mapping[str, Any]],
    ) -> None:
        checker = _format_checker()
        self._envelope: Validator = _ContractValidator(envelope, format_checker=checker)
        self._bodies: dict[tuple[str, int], Validator] = {
            key: _ContractValidator(schema, format_checker=checker)
            for key, schema in bodies.items()
        }
        self._fast_envelope = _fast_validator(envelope)
        self._fast_bodies = {key: _fast_validator(schema) for key, schema in bodies.items()}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}

    @classmethod
    def load(cls, events_dir: Path) -> SchemaRegistry:
        """Read `envelope.v1.schema.json` and every `<type>.v<N>.schema.json` in `events_dir`.

        Raises ValueError naming the file if a schema is unreadable, not a valid draft 2020-12
        schema, or inconsistent with its file name or with the envelope's list of types."""
        envelope = _read_schema(events_dir / ENVELOPE_FILE)
        bodies: dict[tuple[str, int], Mapping[str, Any]] = {}
        for path in sorted(events_dir.glob("*.schema.json")):
            if path.name == ENVELOPE_FILE:
                continue
            match = _SCHEMA_FILE.fullmatch(path.name)
            if match is None:
                raise ValueError(f"{path}: expected a name like <type>.v<N>.schema.json")
            event_type, version = match["type"], int(match["version"])
            schema = _read_schema(path)
            if schema.get("$id") != dataschema_urn(event_type, version):
                raise ValueError(
                    f"{path}: $id must be {dataschema_urn(event_type, version)!r}, "
                    f"not {schema.get('$id')!r}"
                )
            bodies[(event_type, version)] = schema
        declared = envelope.get("properties", {}).get("type", {}).get("enum", [])
        found = sorted({event_type for event_type, _ in bodies})
        if sorted(declared) != found:
            raise ValueError(
                f"{events_dir / ENVELOPE_FILE}: the `type` enum {sorted(declared)} does not match "
                f"the body schemas found {found}"
            )
        return cls(envelope, bodies)

    def event_types(self) -> list[str]:
        """Every event type with at least one body schema, sorted."""
        return sorted({event_type for event_type, _ in self._bodies})

    def versions(self, event_type: str) -> list[int]:
        """The body schema versions of `event_type`, oldest first; empty if the type is unknown."""
        return sorted(v for t, v in self._bodies if t == event_type)

    def validate(self, raw: object) -> Notification:
        """Check `raw` (parsed JSON) against the envelope and the body schema its `dataschema`
        names, and return it as a Notification.

        Raises UnknownEventType if there is no schema for its type or version, and otherwise
        InvalidNotification listing every problem of envelope and body, sorted by pointer."""
        if not isinstance(raw, dict):
            problem = FieldProblem("", f"must be a JSON object, not {_json_type(raw)}")
            raise InvalidNotification(_summary([problem]), [problem])
        named = _named_schema(raw)
        if named is not None and named[0] == raw.get("type"):
            fast_body = self._fast_bodies.get(named)
            data = raw.get("data")
            if (
                fast_body is not None
                and isinstance(data, dict)
                and _fast_valid(self._fast_envelope, raw)
                and _fast_valid(fast_body, data)
            ):
                return _notification(raw, *named)
        return self._validate_slowly(raw)

    def _validate_slowly(self, raw: dict[str, Any]) -> Notification:
        """`validate` by `jsonschema` alone, naming every problem."""
        problems = _problems(self._envelope, raw)
        unknown = self._unknown_type_or_version(raw)
        if unknown is not None:
            # The envelope's enum error on /type says the same thing less helpfully.
            problems = {p for p in problems if p.pointer != "/type"} | {unknown}
            ordered = _sorted(problems)
            raise UnknownEventType(f"{unknown.pointer} {unknown.message}", ordered)

        named = _named_schema(raw)
        body = self._bodies.get(named) if named and named[0] == raw.get("type") else None
        data = raw.get("data")
        if body is not None and isinstance(data, dict):
            problems |= _problems(body, data, ("data",))
        if problems or named is None or body is None:
            if not problems:  # a gap between the envelope schema and this code; never silent
                problems.add(FieldProblem("/dataschema", "does not name a body schema for `type`"))
            ordered = _sorted(problems)
            raise InvalidNotification(_summary(ordered), ordered)
        return _notification(raw, *named)

    def register_upcaster(self, event_type: str, from_version: int, upcaster: Upcaster) -> None:
        """Register `upcaster`, which turns a `from_version` body into a `from_version + 1` body.

        Both versions must have schemas, and each step may be registered once."""
        known = self.versions(event_type)
        if from_version not in known or from_version + 1 not in known:
            raise ValueError(
                f"cannot upcast {event_type} v{from_version}: versions with schemas are {known}"
            )
        if (event_type, from_version) in self._upcasters:
            raise ValueError(f"an upcaster for {event_type} v{from_version} is already registered")
        self._upcasters[(event_type, from_version)] = upcaster

    def upcast(self, event_type: str, version: int, data: JsonObject) -> tuple[int, JsonObject]:
        """Bring a stored body up to the latest version of its type, one step at a time.

        Returns `(latest_version, data)`; `data` itself is never modified. Raises UnknownEventType
        for a type or version without a schema, and LookupError if a step has no upcaster (a
        deployment fault, not bad input)."""
        known = self.versions(event_type)
        if version not in known:
            problem = FieldProblem(
                "/dataschema", f"has no schema for {event_type} v{version} (known: {known})"
            )
            raise UnknownEventType(f"/dataschema {problem.message}", [problem])
        latest = known[-1]
        if version == latest:
            return version, data
        current: dict[str, Any] = copy.deepcopy(dict(data))
        for step in range(version, latest):
            upcaster = self._upcasters.get((event_type, step))
            if upcaster is None:
                raise LookupError(f"no upcaster registered for {event_type} v{step} -> v{step + 1}")
            current = upcaster(current)
        return latest, current

    def _unknown_type_or_version(self, raw: Mapping[str, Any]) -> FieldProblem | None:
        event_type = raw.get("type")
        if isinstance(event_type, str) and not self.versions(event_type):
            return FieldProblem(
                "/type",
                f"is not a known event type; known types: {', '.join(self.event_types())}",
            )
        named = _named_schema(raw)
        if named is not None and named[0] == event_type and named not in self._bodies:
            return FieldProblem(
                "/dataschema",
                f"names version {named[1]} of {named[0]}, which has no schema; "
                f"known versions: {', '.join(str(v) for v in self.versions(named[0]))}",
            )
        return None


def _named_schema(raw: Mapping[str, Any]) -> tuple[str, int] | None:
    dataschema = raw.get("dataschema")
    if not isinstance(dataschema, str):
        return None
    match = _DATASCHEMA.fullmatch(dataschema)
    if match is None:
        return None
    return match["type"], int(match["version"])


def _notification(raw: dict[str, Any], event_type: str, version: int) -> Notification:
    """Build the Notification from a notification that has passed validation."""
    return Notification(
        id=raw["id"],
        source=raw["source"],
        type=event_type,
        version=version,
        time=parse_rfc3339(raw["time"]),
        identifiers=tuple(
            sorted(PersonIdentifier(scheme, value) for scheme, value in raw["identifiers"].items())
        ),
        data=raw["data"],
        subject=raw.get("subject"),
        specversion=raw["specversion"],
        datacontenttype=raw["datacontenttype"],
        raw=raw,
    )


def _read_schema(path: Path) -> dict[str, Any]:
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: cannot read schema: {error}") from error
    if not isinstance(schema, dict):
        raise ValueError(f"{path}: a schema must be a JSON object")
    if schema.get("$schema") != DRAFT_2020_12:
        raise ValueError(f"{path}: $schema must be {DRAFT_2020_12!r}")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as error:
        raise ValueError(f"{path}: not a valid JSON Schema: {error.message}") from error
    return schema
