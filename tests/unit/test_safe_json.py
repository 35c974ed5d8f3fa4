"""The bounded JSON parser every body, token and assertion goes through (issue 13, finding 9)."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.domain import safe_json
from hub.errors import MalformedJson


def refusal(text: str) -> MalformedJson:
    with pytest.raises(MalformedJson) as caught:
        safe_json.loads(text)
    return caught.value


def test_ordinary_json_is_parsed() -> None:
    text = '{"a": [1, -2.5, "x\\ty\\nz", true, null, {"b": "[{"}]}'
    assert safe_json.loads(text) == {"a": [1, -2.5, "x\ty\nz", True, None, {"b": "[{"}]}


def test_nesting_is_bounded_before_parsing_and_brackets_in_strings_do_not_count() -> None:
    at_limit = "[" * safe_json.MAX_DEPTH + "]" * safe_json.MAX_DEPTH
    assert safe_json.loads(at_limit) is not None
    assert "nested deeper" in refusal("[" + at_limit + "]").message
    assert "nested deeper" in refusal("[" * 1_000_000).message
    assert safe_json.loads('["' + "[" * 5_000 + '"]') == ["[" * 5_000]
    assert safe_json.loads('["\\"' + "{" * 5_000 + '"]') == ['"' + "{" * 5_000]


@pytest.mark.parametrize(
    ("text", "pointer"),
    [
        ('{"a": [0, ' + "9" * 5_000 + "]}", "/a/1"),
        ('{"n": -' + "1" * 41 + "}", "/n"),
        ('{"n": 1e99999}', "/n"),
        ('{"n": ' + "1" * 400 + ".5}", "/n"),
        ('{"x~/y": 1e400}', "/x~0~1y"),
    ],
)
def test_numbers_are_bounded_and_named(text: str, pointer: str) -> None:
    assert [p.pointer for p in refusal(text).problems] == [pointer]


@pytest.mark.parametrize(
    ("text", "pointer"),
    [
        ('{"id": "a\\u0000b"}', "/id"),
        ('{"a": ["ok", "\\ud800"]}', "/a/1"),
        ('{"a": "\\udfff\\ud800"}', "/a"),
        ('{"a": "\\u001b[31m"}', "/a"),
        ('{"a": "\\u0085"}', "/a"),
        ('{"a": "\\u007f"}', "/a"),
        ('{"k\\u0000": 1}', "/k\\u0000"),
    ],
)
def test_control_characters_and_lone_surrogates_are_refused_by_pointer(
    text: str, pointer: str
) -> None:
    assert [p.pointer for p in refusal(text).problems] == [pointer]


def test_a_surrogate_pair_newlines_and_tabs_are_text() -> None:
    assert safe_json.loads('"\\ud83d\\ude00 a\\tb\\r\\n"') == "\U0001f600 a\tb\r\n"


@pytest.mark.parametrize("text", ['{"a": 1, "a": 2}', "[NaN]", "[Infinity]", "[1,", ""])
def test_ambiguous_or_broken_json_is_refused(text: str) -> None:
    assert "not valid JSON" in refusal(text).message


# The fast paths (the text searched for `_FORBIDDEN` and `_FORBIDDEN_ESCAPE` before the walk over
# every string; the nesting counted in C) decide exactly as the walk and the count they skip.

_ANY_CHARACTER = st.characters(min_codepoint=0, max_codepoint=0xFFFF, categories=None)
_DOCUMENTS = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(_ANY_CHARACTER, max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(_ANY_CHARACTER, max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(document=_DOCUMENTS, ascii_only=st.booleans())
@settings(max_examples=400, deadline=None)
def test_a_document_passes_the_character_check_only_if_the_walk_finds_nothing(
    document: object, ascii_only: bool
) -> None:
    text = json.dumps(document, ensure_ascii=ascii_only)
    walked = list(safe_json._string_problems(json.loads(text), ""))
    if walked:
        assert safe_json._FORBIDDEN.search(text) or safe_json._FORBIDDEN_ESCAPE.search(text)
        with pytest.raises(MalformedJson):
            safe_json.loads(text)


def _deeper_than_the_limit(text: str) -> bool:
    """The nesting counted token by token (the check as it was written first)."""
    depth = 0
    for token in re.finditer(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', text, re.DOTALL):
        if token.group() in ("[", "{"):
            depth += 1
            if depth > safe_json.MAX_DEPTH:
                return True
        elif token.group() in ("]", "}"):
            depth -= 1
    return False


@given(
    parts=st.lists(
        st.sampled_from(["[", "]", "{", "}", '"', '\\"', "\\\\", "a", ",", ":", " "]),
        max_size=120,
    ),
    opened=st.integers(min_value=0, max_value=40),
)
@settings(max_examples=400, deadline=None)
def test_nesting_is_counted_as_token_by_token(parts: list[str], opened: int) -> None:
    text = "[{" * (opened // 2) + "".join(parts)
    try:
        safe_json._check_depth(text, "the body")
    except MalformedJson:
        refused = True
    else:
        refused = False
    assert refused == _deeper_than_the_limit(text)


def test_the_walk_still_names_an_escaped_control_character_or_surrogate() -> None:
    for escape in ("\\b", "\\f", "\\u0000", "\\u001F", "\\u007f", "\\u0085", "\\uDC00"):
        assert refusal('{"a": ["x' + escape + '"]}').problems[0].pointer == "/a/0"
