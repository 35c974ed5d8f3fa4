"""The bounded JSON parser every body, token and assertion goes through (issue 13, finding 9)."""

from __future__ import annotations

import pytest

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
