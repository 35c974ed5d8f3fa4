"""Every shipped sample of every adapter ends in the outcome its `expected.json` says: parsed
into an envelope the hub's schemas accept, or rejected with a location, a field and a reason a
person can act on, which never repeats the personal values it is about."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.adapters import ADAPTERS

from .support import expected, sample_files, schemas

CASES = [
    pytest.param(name, path, id=f"{name}/{path.name}")
    for name in sorted(ADAPTERS)
    for path in sample_files(name)
    if path.suffix != ".xsd"
]
#: Values of the samples' made-up people that must never appear in a rejection reason.
PERSONAL = ["2000417", "19/402117N", "402117/19N", "VSR-2019-0040211", "SW402117", "G99 9ZZ",
            "Example Street", "DROP TABLE", "cmd|", "calc"]  # fmt: skip


@pytest.mark.parametrize("adapter", sorted(ADAPTERS))
def test_every_sample_has_an_expected_outcome(adapter: str) -> None:
    names = {p.name for p in sample_files(adapter) if p.suffix != ".xsd"}
    assert names == set(expected(adapter))


@pytest.mark.parametrize(("adapter", "path"), CASES)
def test_sample_ends_in_its_expected_outcome(adapter: str, path: Path) -> None:
    data = path.read_bytes()
    records = ADAPTERS[adapter].parse(data, schemas())
    wanted = expected(adapter)[path.name]
    assert [r.outcome for r in records] == [w["outcome"] for w in wanted]
    for record, want in zip(records, wanted, strict=True):
        if record.envelope is not None:
            notification = schemas().validate(record.envelope)
            assert notification.id == record.envelope["id"]
            continue
        assert record.problems
        for problem in want["problems"]:
            assert any(
                p.field == problem["field"] and problem["reason_contains"] in p.reason
                for p in record.problems
            ), (problem, record.problems)
        for problem in record.problems:
            assert problem.reason
            assert not any(value in problem.reason for value in PERSONAL), problem
        assert isinstance(record.location, str)
        assert record.original
        assert record.original in data


@pytest.mark.parametrize(("adapter", "path"), CASES)
def test_parsing_is_deterministic(adapter: str, path: Path) -> None:
    """Re-ingesting the same file yields the same events (so the store sees duplicates)."""
    data = path.read_bytes()
    first = ADAPTERS[adapter].parse(data, schemas())
    again = ADAPTERS[adapter].parse(data, schemas())
    assert [r.envelope for r in first] == [r.envelope for r in again]


@pytest.mark.parametrize(("adapter", "path"), CASES)
def test_report_lines_hold_no_personal_values(adapter: str, path: Path) -> None:
    for record in ADAPTERS[adapter].parse(path.read_bytes(), schemas()):
        report = record.report()
        assert report["outcome"] == record.outcome
        assert not any(value in str(report) for value in PERSONAL)
        if record.location == "file" or record.original == path.read_bytes():
            continue
        assert record.location


GOOD = [
    pytest.param(name, path.read_bytes(), id=f"{name}/{path.name}")
    for name in sorted(ADAPTERS)
    for path in sample_files(name)
    if path.suffix != ".xsd" and not path.name.startswith("bad-")
]


@pytest.mark.parametrize(("adapter", "data"), GOOD)
@settings(max_examples=40, deadline=None)
@given(st.data())
def test_damaged_input_never_raises_and_every_record_is_accounted_for(
    adapter: str, data: bytes, draw: st.DataObject
) -> None:
    """Cut, flipped or spliced bytes: the parser still answers with records, never an error,
    and whatever it parsed is a valid notification."""
    cut = draw.draw(st.integers(0, len(data)))
    flip = draw.draw(st.integers(0, max(len(data) - 1, 0)))
    junk = draw.draw(st.binary(max_size=8))
    damaged = draw.draw(
        st.sampled_from(
            [
                data[:cut],
                data[:flip] + junk + data[flip + 1 :],
                data[:cut] + data,
                junk + data,
            ]
        )
    )
    records = ADAPTERS[adapter].parse(damaged, schemas())
    assert records
    for record in records:
        if record.envelope is not None:
            schemas().validate(record.envelope)
        else:
            assert all(p.reason for p in record.problems)
