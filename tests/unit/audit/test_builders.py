"""The audit entries the router's decisions become: a denial by a forbid rule records the rule's
purpose and legal basis, and legal-basis citations are kept whole."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from hub.domain.audit.builders import _citations, denial
from hub.domain.disclosures import DisclosureDenial


def refused(purposes: tuple[str, ...], legal_bases: tuple[str, ...]) -> DisclosureDenial:
    return DisclosureDenial(
        denial_id="dd_1",
        event_position=3,
        event_id="e-1",
        source="urn:pph:nhs:ggc:prison-healthcare",
        event_type="health.information-shared",
        person_id="p-1",
        recipient_id="police-division-g",
        rules=("health-forbidden",),
        reasons=("forbidden by health-forbidden: Health information without consent",),
        purposes=purposes,
        legal_bases=legal_bases,
        policy_version="v1",
        profile_position=3,
        trigger_position=3,
        decided_at=datetime(2026, 12, 6, tzinfo=UTC),
    )


def test_a_denial_by_a_forbid_rule_records_its_purpose_and_basis() -> None:
    citation = (
        "health-forbidden: health-board under dpa-2018-s35, common-law-confidence; dpa2018-part3"
    )
    entry = denial(refused(("Protecting medical confidentiality",), (citation,)))
    assert (entry.purpose, entry.legal_basis) == ("Protecting medical confidentiality", citation)


def test_a_denial_no_rule_decided_records_no_basis() -> None:
    entry = denial(refused((), ()))
    assert (entry.purpose, entry.legal_basis) == (None, None)


@given(st.lists(st.text("abcdefgh ;:", min_size=1, max_size=300), min_size=1, max_size=8))
def test_citations_are_kept_whole_within_an_entry(citations: list[str]) -> None:
    text = _citations(citations)
    assert text is not None
    assert len(text) <= 512
    distinct = sorted(set(citations))
    if len(distinct[0]) + len(" | and 99 more") > 512:
        return  # one citation longer than an entry holds: cut, as any text is
    kept = text.split(" | and ")[0].split(" | ")
    assert kept == distinct[: len(kept)]
    if len(kept) < len(distinct):
        assert text.endswith(f" | and {len(distinct) - len(kept)} more")
