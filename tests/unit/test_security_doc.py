"""docs/security.md names, for every claim, the test that proves it: each of those tests exists.

A reference is a backticked `path/test_file.py::test_name`, a bare `test_file.py::test_name`
(found anywhere under tests/), or `::test_name`, meaning the last file named before it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "security.md"
_REFERENCE = re.compile(
    r"`(?P<file>(?:[\w]+/)*test_\w+\.py)?(?:::(?P<test>test_\w+))?(?:\[[^`]*\])?`"
)


def _test_file(name: str) -> Path:
    if "/" in name:
        return ROOT / "tests" / name
    found = sorted((ROOT / "tests").rglob(name))
    assert len(found) == 1, f"{name} names {len(found)} files under tests/: {found}"
    return found[0]


def references() -> list[tuple[str, str | None]]:
    """(test file, test name or None) for every reference, in order."""
    found: list[tuple[str, str | None]] = []
    current: str | None = None
    for match in _REFERENCE.finditer(DOC.read_text(encoding="utf-8")):
        file, test = match.group("file"), match.group("test")
        if file is None and test is None:
            continue
        if file is not None:
            current = file
        assert current is not None, f"`::{test}` comes before any file is named"
        found.append((current, test))
    return found


def test_every_test_the_security_section_names_exists() -> None:
    named = references()
    assert len(named) > 50  # the parser finds the references (there are many)
    missing = []
    for file, test in named:
        path = _test_file(file)
        if not path.is_file():
            missing.append(file)
        elif test is not None and not re.search(
            rf"^(?:async )?def {test}\(", path.read_text(encoding="utf-8"), re.MULTILINE
        ):
            missing.append(f"{file}::{test}")
    assert missing == []
