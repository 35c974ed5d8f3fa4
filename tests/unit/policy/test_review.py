"""A rule's `review` (case-by-case review): read and checked at `file:line`, compiled into the
rule's Cedar annotations, and carried by every permitted decision under it with the reviewers
the directory gives for the notification."""

from __future__ import annotations

import textwrap
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.policy import PolicyBundle
from hub.domain.policy.cedar import compile_rule
from hub.domain.policy.conditions import ValuePath
from hub.domain.policy.review import Review, ReviewRequest
from hub.domain.reviews import MAX_REASON_LENGTH, review_reason
from hub.errors import InvalidInput, PolicyBundleInvalid

from .support import bundle_files, notification, schemas

FILE = "b/rules/extra.yaml"
REVIEWED = """\
rules:
  - id: extra
    title: Extra
    on: [mappa.referral]
    share_with:
      - role: housing
        area: event.data.mappa_area
    fields: [data.level]
    purpose: P
    legal_basis:
      controller: mappa-coordinator
      gateway: [mosa-2005-s1]
      regime: uk-gdpr
      lawful_basis: art6(1)(e)
      criminal: {art10: official-authority}
      s36_4: [mosa-2005-s1]
      agreement: dsa-test
      dpia: dpia-test
    review:
      by: mappa-coordinator
      area: event.data.mappa_area
      escalate_after: 2d
"""


def load(text: str) -> PolicyBundle:
    files = {**bundle_files(), "rules/extra.yaml": textwrap.dedent(text).encode()}
    return PolicyBundle.from_files(files, schemas(), origin="b")


def problems(text: str) -> list[str]:
    with pytest.raises(PolicyBundleInvalid) as raised:
        load(text)
    return raised.value.problems


def with_review(review: str) -> str:
    return REVIEWED[: REVIEWED.index("    review:")] + review


def test_a_review_loads_with_its_reviewer_area_and_escalation() -> None:
    rule = next(r for r in load(REVIEWED).rules if r.id == "extra")
    assert rule.review == Review(
        "mappa-coordinator", ValuePath.parse("event.data.mappa_area"), timedelta(days=2), 19
    )


@pytest.mark.parametrize(
    ("review", "expected"),
    [
        ("    review: mappa-coordinator\n", "19: `review` must be a mapping with `by`"),
        ("    review:\n      area: event.data.mappa_area\n", "19: `review` needs `by`"),
        ("    review:\n      by: mappa-cordinator\n", "20: unknown role `mappa-cordinator`"),
        (
            "    review:\n      by: mappa-coordinator\n      escalate_after: two days\n",
            "21: `escalate_after` must be a duration such as 30m, 4h or 2d",
        ),
        (
            "    review:\n      by: mappa-coordinator\n      area: event.data.nowhere\n",
            "21: ",
        ),
        (
            "    review:\n      by: mappa-coordinator\n      when: later\n",
            "21: unknown key `when` in `review`",
        ),
    ],
)
def test_each_review_problem_is_reported_at_its_line(review: str, expected: str) -> None:
    found = problems(with_review(review))
    assert any(p.startswith(f"{FILE}:{expected}") for p in found), found


def test_a_forbid_rule_has_nothing_to_review() -> None:
    forbid = (
        "rules:\n  - id: f\n    effect: forbid\n    on: [mappa.referral]\n"
        "    review:\n      by: mappa-coordinator\n"
    )
    assert f"{FILE}:5: a forbid rule discloses nothing, so it has nothing to review" in problems(
        forbid
    )


def test_the_review_is_a_cedar_annotation() -> None:
    rule = next(r for r in load(REVIEWED).rules if r.id == "extra")
    compiled = compile_rule(rule)
    assert (
        '@review("mappa-coordinator area=event.data.mappa_area escalate_after=2880m")' in compiled
    )


def test_a_decision_under_a_reviewed_rule_names_the_area_reviewers() -> None:
    bundle = load(REVIEWED)
    referral = notification("mappa.referral")
    decisions = bundle.evaluate(referral, {}).decisions
    reviewed = [d for d in decisions if "extra" in d.rules]
    assert reviewed, decisions
    for decision in reviewed:
        assert decision.permitted
        assert decision.review == ReviewRequest(("extra",), ("mappa-glasgow",), timedelta(days=2))
    # Decisions under rules without `review` carry none.
    assert all(d.review is None for d in decisions if d.permitted and "extra" not in d.rules)


def test_explain_says_which_decisions_would_be_held_for_review_and_by_whom() -> None:
    bundle = load(REVIEWED)
    answer = bundle.explain(notification("mappa.referral"), {})
    [rule] = [r for r in answer["rules"] if r["id"] == "extra"]
    assert rule["review"] == "mappa-coordinator area=event.data.mappa_area escalate_after=2880m"
    held = [c for c in answer["candidates"] if c["held_for_review"] is not None]
    assert held
    for candidate in held:
        assert candidate["role"] == "housing"
        assert candidate["held_for_review"] == {
            "rules": ["extra"],
            "reviewers": ["mappa-glasgow"],
            "escalate_after": "2d",
        }
    assert all(c["held_for_review"] is None for c in answer["candidates"] if c["role"] != "housing")


def test_without_an_area_every_reviewer_of_the_role_may_decide() -> None:
    bundle = load(with_review("    review:\n      by: mappa-coordinator\n"))
    [decision] = [
        d
        for d in bundle.evaluate(notification("mappa.referral"), {}).decisions
        if "extra" in d.rules
    ]
    assert decision.review is not None
    assert decision.review.escalate_after is None
    coordinators = {r.id for r in bundle.directory.by_role("mappa-coordinator")}
    assert set(decision.review.reviewers) == coordinators


@given(st.text(max_size=MAX_REASON_LENGTH + 10))
def test_a_reason_is_kept_only_when_printable_bounded_and_not_blank(reason: str) -> None:
    text = reason.strip()
    acceptable = (
        bool(text)
        and len(text) <= MAX_REASON_LENGTH
        and all(c.isprintable() or c in "\n\t" for c in text)
    )
    if acceptable:
        assert review_reason(reason) == text
    else:
        with pytest.raises(InvalidInput):
            review_reason(reason)
