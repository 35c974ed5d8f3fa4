"""The rule a rolling upgrade rests on: which database revisions code at a revision runs on."""

from __future__ import annotations

import pytest

from hub.domain.schema_revisions import judge

LINEAGE = ("0001", "0002", "0003")


def test_at_the_code_head_is_current() -> None:
    verdict = judge(database="0003", compatible_from="0002", code_lineage=LINEAGE)
    assert (verdict.state, verdict.runnable) == ("current", True)


def test_an_earlier_revision_is_behind_and_says_to_upgrade() -> None:
    verdict = judge(database="0002", compatible_from=None, code_lineage=LINEAGE)
    assert (verdict.state, verdict.runnable) == ("behind", False)
    assert "0002" in verdict.reason
    assert "0003" in verdict.reason
    assert "hub db upgrade" in verdict.reason


def test_no_schema_is_behind() -> None:
    verdict = judge(database=None, compatible_from=None, code_lineage=LINEAGE)
    assert (verdict.state, verdict.runnable) == ("behind", False)


@pytest.mark.parametrize("compatible_from", ["0001", "0002", "0003"])
def test_a_later_revision_that_runs_with_this_code_is_compatible(compatible_from: str) -> None:
    verdict = judge(database="0004", compatible_from=compatible_from, code_lineage=LINEAGE)
    assert (verdict.state, verdict.runnable) == ("compatible", True)
    assert "0004" in verdict.reason
    assert compatible_from in verdict.reason


def test_a_later_revision_that_needs_newer_code_is_incompatible() -> None:
    verdict = judge(database="0005", compatible_from="0004", code_lineage=LINEAGE)
    assert (verdict.state, verdict.runnable) == ("incompatible", False)
    assert all(r in verdict.reason for r in ("0005", "0004", "0003"))


def test_an_unknown_revision_that_declares_nothing_is_incompatible() -> None:
    verdict = judge(database="0004", compatible_from=None, code_lineage=LINEAGE)
    assert (verdict.state, verdict.runnable) == ("incompatible", False)
    assert "0004" in verdict.reason
    assert "0003" in verdict.reason


def test_the_verdict_as_json_names_both_revisions() -> None:
    document = judge(database="0004", compatible_from="0003", code_lineage=LINEAGE).as_json()
    assert document == {
        "state": "compatible",
        "database_revision": "0004",
        "code_revision": "0003",
        "compatible_from": "0003",
        "runnable": True,
        "reason": document["reason"],
    }


def test_code_with_no_migrations_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="no migrations"):
        judge(database=None, compatible_from=None, code_lineage=())
