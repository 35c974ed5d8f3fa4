"""What every adapter shares: record outcomes, hostile-text checks, ids, the registry."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import hub.adapters
from hub.adapters import ADAPTERS, adapter
from hub.adapters.base import (
    AdapterRecord,
    RecordProblem,
    decode_utf8,
    event_id,
    text_problem,
)
from hub.errors import InvalidInput

FORBIDDEN = {"fastapi", "starlette", "sqlalchemy", "asyncpg", "aiosqlite", "uvicorn", "authlib"}


def test_adapters_import_no_web_framework_or_database_driver() -> None:
    """The rule pyproject's import-linter contract holds for hub.domain and hub.services."""
    folder = Path(hub.adapters.__file__).parent
    for path in folder.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN, (path.name, name)
                assert not name.startswith(("hub.infra", "hub.api", "hub.cli")), (path.name, name)


def test_every_adapter_is_registered_by_its_name() -> None:
    assert sorted(ADAPTERS) == ["pr2", "socialwork", "visor"]
    for name, registered in ADAPTERS.items():
        assert registered.name == name
        assert adapter(name) is registered
        assert registered.renderable_types


def test_an_unknown_adapter_is_named_with_the_known_ones() -> None:
    with pytest.raises(InvalidInput, match="pr2, socialwork, visor"):
        adapter("nope")


def test_a_record_is_parsed_or_rejected_never_both() -> None:
    with pytest.raises(ValueError):
        AdapterRecord("line 1", b"x")
    with pytest.raises(ValueError):
        AdapterRecord("line 1", b"x", {"id": "1"}, (RecordProblem("a", "b"),))


def test_event_ids_are_stable_and_distinct() -> None:
    one = event_id("pr2", "urn:pph:sps:pr2:hmp-barlinnie", "MV-1")
    assert one == event_id("pr2", "urn:pph:sps:pr2:hmp-barlinnie", "MV-1")
    assert len(one) == 36  # a UUID: what events/README recommends
    assert one != event_id("pr2", "urn:pph:sps:pr2:hmp-barlinnie", "MV-2")
    assert one != event_id("pr2", "urn:pph:sps:pr2:hmp-perth", "MV-1")


@pytest.mark.parametrize(
    ("text", "free", "problem"),
    [
        ("Glasgow Sheriff Court", True, None),
        ("line one\nline two\tand a tab", True, None),
        ("O'Brien'); DROP TABLE events;--", True, None),
        ("=cmd|' /C calc'!A0", True, "formula"),
        ("+44 141", True, "formula"),
        ("-2+3+cmd", True, "formula"),
        ("@SUM(1)", True, "formula"),
        ("\tleading tab", True, "formula"),
        ("=S12000049", False, None),
        ("bell\x07", True, "control character U+0007"),
        ("nul\x00", False, "control character U+0000"),
        ("c1\x85", True, "control character U+0085"),
        ("abc\u202edef", True, "bidirectional"),
    ],
)
def test_text_problems(text: str, free: bool, problem: str | None) -> None:
    found = text_problem(text, free_text=free)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found
        assert text not in found


def test_encodings() -> None:
    assert decode_utf8("é".encode(), "file") == ("é", None)
    assert decode_utf8(b"\xef\xbb\xbfabc", "file") == ("abc", None)
    text, problem = decode_utf8("ok\ncaf\u00e9".encode("cp1252"), "file")
    assert text is None
    assert problem is not None
    assert "line 2, column 4" in problem.reason
    assert "Windows-1252" in problem.reason
    text, problem = decode_utf8("abc".encode("utf-16"), "file")
    assert text is None
    assert problem is not None
    assert "UTF-16" in problem.reason
