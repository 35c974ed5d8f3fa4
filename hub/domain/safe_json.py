"""The one JSON parser for input from outside the hub: request bodies, access tokens and client
assertions. Bounded before and while parsing, so no input can exhaust the parser's recursion
(a RecursionError is a 500) or convert a number of thousands of digits (a ValueError, another
500); and every string checked once, so nothing that PostgreSQL cannot store (NUL) or UTF-8
cannot encode (a lone surrogate), and no control character that a log or a reader would
misread, gets past the door."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from itertools import accumulate
from typing import Any, Final

from hub.errors import FieldProblem, MalformedJson

#: Canonical notifications nest five levels deep; policy and subscription bodies fewer.
MAX_DEPTH: Final = 32
#: Longer than any identifier-free count or measurement the hub stores, far under Python's
#: 4,300-digit limit on converting text to an int.
MAX_NUMBER_CHARACTERS: Final = 40

#: Refused in every string: C0 controls except tab, newline and carriage return (free text may
#: hold lines), DEL, the C1 controls, and the surrogates (alone they are not characters at all).
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


#: An escape that stands for a forbidden character (`\b`, `\f`, `\u` of a control character
#: or a surrogate). Where a document's text holds neither a forbidden character as it is nor one
#: of these, no string parsed from it can hold one, so the walk over every string is skipped. It
#: matches more than it must (an escaped backslash before `b`, a valid surrogate pair), never
#: less: then the walk decides.
_FORBIDDEN_ESCAPE = re.compile(
    r"\\(?:[bf]|u(?:00[0189][0-9a-fA-F]|007[fF]|[dD][89a-fA-F][0-9a-fA-F]{2}))"
)
#: A JSON string (with its escapes): the brackets inside strings are not nesting.
_STRINGS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)  # the loop unrolled: fast in `re`
_BRACKETS = re.compile(r"[\[\]{}]")
_NESTING = {"[": 1, "{": 1, "]": -1, "}": -1}


class _NumberTooLong(ValueError):
    pass


class _NumberText(str):
    """A number kept as its text, to find where an oversized one is."""

    __slots__ = ()


def loads(text: str, *, what: str = "the document") -> object:
    """`text` as JSON, or `MalformedJson` naming what is wrong (by JSON Pointer where there is
    one): nested deeper than `MAX_DEPTH`, a number longer than `MAX_NUMBER_CHARACTERS` or not
    finite, NaN/Infinity, a key twice in one object, a forbidden character in a string.
    `what` names the document in messages ("the body")."""
    _check_depth(text, what)
    try:
        parsed = json.loads(
            text,
            object_pairs_hook=_no_duplicate_keys,
            parse_constant=_no_constant,
            parse_int=_bounded_int,
            parse_float=_bounded_float,
        )
    except _NumberTooLong:
        pointer = _pointer_of_long_number(text)
        raise _refused(
            pointer,
            f"is a number longer than {MAX_NUMBER_CHARACTERS} characters or out of range",
            what,
        ) from None
    except _Ambiguous as error:
        raise _refused("", f"is not valid JSON: {error}", what) from None
    except json.JSONDecodeError as error:
        raise _refused(
            "", f"is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}", what
        ) from error
    if _FORBIDDEN.search(text) is None and _FORBIDDEN_ESCAPE.search(text) is None:
        return parsed
    problems = [FieldProblem(pointer, message) for pointer, message in _string_problems(parsed, "")]
    if problems:
        problems.sort(key=lambda p: p.pointer)
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        first = problems[0]
        raise MalformedJson(f"{first.pointer or what} {first.message}{more}", problems)
    return parsed


def forbidden_character(text: str) -> str | None:
    """Why `text` may not enter the hub (a control character or a lone surrogate), or None."""
    found = _FORBIDDEN.search(text)
    if found is None:
        return None
    code = ord(found.group())
    what = "a lone surrogate" if 0xD800 <= code <= 0xDFFF else "the control character"
    return f"contains {what} U+{code:04X} at position {found.start() + 1}"


def _check_depth(text: str, what: str) -> None:
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return  # fewer opening brackets than the limit, in strings or not
    # The strings taken out, the running depth over the brackets left, all in C.
    brackets = _BRACKETS.findall(_STRINGS.sub("", text))
    if brackets and max(accumulate(map(_NESTING.__getitem__, brackets))) > MAX_DEPTH:
        raise _refused("", f"is nested deeper than {MAX_DEPTH} levels", what)


def _string_problems(value: object, pointer: str) -> Iterator[tuple[str, str]]:
    # Recursion is bounded by MAX_DEPTH, checked before parsing.
    if isinstance(value, str):
        problem = forbidden_character(value)
        if problem is not None:
            yield pointer, problem
    elif isinstance(value, dict):
        for key, item in value.items():
            child = pointer + "/" + key.replace("~", "~0").replace("/", "~1")
            problem = forbidden_character(key)
            if problem is not None:
                yield _printable(child), "is a member name that " + problem
            else:
                yield from _string_problems(item, child)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _string_problems(item, f"{pointer}/{index}")


def _printable(pointer: str) -> str:
    """A pointer safe to echo in a problem document: forbidden characters as escapes."""
    return _FORBIDDEN.sub(lambda m: f"\\u{ord(m.group()):04x}", pointer)


def _bounded_int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARACTERS:
        raise _NumberTooLong(text)
    return int(text)


def _bounded_float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARACTERS:
        raise _NumberTooLong(text)
    value = float(text)
    if not math.isfinite(value):  # 1e99999 parses as infinity, which JSON cannot say
        raise _NumberTooLong(text)
    return value


def _pointer_of_long_number(text: str) -> str:
    """The JSON Pointer of the first oversized number in `text` (re-parsed with every number
    kept as text, which cannot fail on size)."""
    try:
        document = json.loads(text, parse_int=_NumberText, parse_float=_NumberText)
    except ValueError:
        return ""
    for pointer, number in _numbers(document, ""):
        if len(number) > MAX_NUMBER_CHARACTERS or not math.isfinite(float(number)):
            return _printable(pointer)
    return ""


def _numbers(value: object, pointer: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, _NumberText):
        yield pointer, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _numbers(item, pointer + "/" + key.replace("~", "~0").replace("/", "~1"))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _numbers(item, f"{pointer}/{index}")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)  # in C; fewer keys than pairs only when a key repeats
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Ambiguous(f"the key {_printable(repr(key))} appears twice")
            seen.add(key)
    return result


def _no_constant(name: str) -> Any:
    raise _Ambiguous(f"{name} is not a JSON number")


class _Ambiguous(ValueError):
    """JSON that parsers read differently: duplicate keys, NaN and Infinity."""


def _refused(pointer: str, message: str, what: str) -> MalformedJson:
    return MalformedJson(f"{pointer or what} {message}", [FieldProblem(pointer, message)])
