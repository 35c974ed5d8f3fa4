"""The category vocabulary and what it answers about fields and notifications."""

from __future__ import annotations

from functools import cache

import pytest

from hub.domain.policy.categories import (
    CategoryAnnotationError,
    CategoryIndex,
    annotations_of,
    justifies_special,
    sensitive_fields,
    special_values,
    without,
)
from hub.domain.policy.rules import SchemaIndex, SchemaNode
from tests.unit.policy.support import example, schemas


@cache
def index() -> CategoryIndex:
    return CategoryIndex(SchemaIndex(schemas()))


def test_sensitive_fields_are_the_granted_paths_that_may_carry_special_data() -> None:
    found = sensitive_fields(
        SchemaIndex(schemas()),
        "custody.liberation",
        [
            "data.licence",
            "data.licence.conditions.detail",
            "data.licence.expiry_date",
            "data.release_address",
            "identifiers.pnc_id",
        ],
    )
    assert found == {"data.licence", "data.licence.conditions.detail"}


def test_free_text_is_health_when_a_health_board_wrote_it() -> None:
    assert sensitive_fields(index(), "risk.assessment-recorded", ["data.summary"]) == {
        "data.summary"
    }
    police = example("risk.assessment-recorded")
    nhs = example("risk.assessment-recorded", source="urn:pph:nhs:nhs-lothian:forensic")
    assert "data.summary" not in special_values(index(), "risk.assessment-recorded", police)
    assert special_values(index(), "risk.assessment-recorded", nhs)["data.summary"] == {"health"}


def test_a_psychiatric_licence_condition_makes_that_condition_health() -> None:
    curfew_only = example(
        "licence.varied", data__conditions_added=[{"type": "curfew", "detail": "7pm-7am"}]
    )
    psychiatric = example(
        "licence.varied",
        data__conditions_added=[
            {"type": "curfew"},
            {"type": "psychiatric-assessment-or-treatment", "detail": "attend the CMHT"},
        ],
    )
    assert special_values(index(), "licence.varied", curfew_only) == {}
    found = special_values(index(), "licence.varied", psychiatric)
    assert found == {
        "data.conditions_added.detail": {"health"},
        "data.conditions_added.type": {"health"},
    }


def test_without_replaces_a_whole_object_by_its_other_fields() -> None:
    kept = without(
        index(),
        "custody.liberation",
        ["data.licence", "type", "identifiers.pnc_id"],
        ["data.licence.conditions.type", "data.licence.conditions.detail"],
    )
    assert kept == ("data.licence.expiry_date", "identifiers.pnc_id", "type")


def test_an_unknown_category_is_refused_naming_where() -> None:
    node = SchemaNode({}, ({"type": "string", "x-pph-category": "helth"},))
    with pytest.raises(CategoryAnnotationError, match=r"data\.summary x-pph-category.*'helth'"):
        annotations_of(node, "data.summary")


def test_a_scope_without_values_is_refused() -> None:
    node = SchemaNode({}, ({"x-pph-category-values-scope": "object"},))
    with pytest.raises(CategoryAnnotationError, match="beside x-pph-category-values"):
        annotations_of(node, "data.conditions.type")


@pytest.mark.parametrize(
    ("basis", "justifies"),
    [
        ("DPA 2018 s35 with Schedule 8 para 1", False),
        (None, False),
        ({"regime": "dpa2018-part3"}, False),
        ({"sensitive": {"condition": "s35(5)"}}, True),
        ({"special": {"art9": "9(2)(g)"}}, True),
    ],
)
def test_a_justification_is_a_sensitive_or_special_condition_in_the_basis(
    basis: object, justifies: bool
) -> None:
    assert justifies_special(basis) is justifies
