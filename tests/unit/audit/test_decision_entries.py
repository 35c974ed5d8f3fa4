"""The router's entries built in bulk (`builders.DecisionEntries`, `evidence.RememberedDigests`)
are the entries `builders.disclosure` and `builders.denial` make, byte for byte: the log's bytes
and the rows' evidence do not depend on which builder wrote them."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.domain.audit import builders
from hub.domain.audit.entries import AuditEntry
from hub.domain.audit.evidence import RememberedDigests, compare_row, row_evidence
from hub.domain.disclosures import Disclosure, DisclosureDenial
from hub.infra.routing import _denial_row, _disclosure_row

DECIDED_AT = datetime(2026, 12, 7, 10, 30, 0, 123456, tzinfo=UTC)
POLICY = "53b3401fb2291bbb8e25f20d87c45bf8ec5b3d86849b06c9623f8a98715f5520"
EVENT_ID = "8d3c1f0e-6a53-4b5e-9d0a-2f4c3b1a0e77"
SOURCE = "urn:pph:sps:establishment:hmp-barlinnie"

DISCLOSED = Disclosure(
    disclosure_id="d_0123456789abcdef0123456789abcdef",
    event_position=41,
    event_id=EVENT_ID,
    source=SOURCE,
    event_type="custody.liberation",
    person_id="p_5b1e0c2a",
    recipient_id="police-division-g",
    fields=("type", "time", "data.liberation.date", "identifiers.pnc_id"),
    rules=("liberation-to-police", "liberation-to-police"),
    purposes=("Police managing the risk of a person released (inspection 4.2)",),
    legal_bases=("liberation-to-police: sps under prisons-scotland-act-1989; dpa-2018-s35",),
    policy_version=POLICY,
    profile_position=41,
    trigger_position=57,
    acknowledge_within=timedelta(hours=48),
    decided_at=DECIDED_AT,
    supplied_identifiers={"sps_number": "SPS-ÉÈ-7"},
)
DENIED = DisclosureDenial(
    denial_id="dd_fedcba9876543210fedcba9876543210",
    event_position=41,
    event_id=EVENT_ID,
    source=SOURCE,
    event_type="custody.liberation",
    person_id="p_5b1e0c2a",
    recipient_id="housing-glasgow",
    rules=("liberation-to-housing",),
    reasons=("liberation-to-housing does not apply: data.release.address is missing", "x" * 250),
    purposes=(),
    legal_bases=(),
    policy_version=POLICY,
    profile_position=41,
    trigger_position=41,
    decided_at=DECIDED_AT,
)


def digest(entry: AuditEntry) -> str:
    return hashlib.sha256(entry.canonical_bytes()).hexdigest()


def test_the_bulk_builder_writes_the_bytes_main_wrote() -> None:
    # Pinned from the builders as they were before the bulk builder (main at 2458a2f).
    entries = builders.DecisionEntries()
    disclosed = entries.disclosure(DISCLOSED, _disclosure_row(DISCLOSED))
    denied = entries.denial(DENIED, _denial_row(DENIED))
    assert digest(disclosed) == "2fcee16b1addedee436062f0eec8bb30b24053833b8143e066c33846dbd7f533"
    assert digest(denied) == "6710563420dcbf978eee2daab90f1ac203a3db22bc395e4dbb2a3fe1f1d461e4"
    assert disclosed == builders.disclosure(DISCLOSED, _disclosure_row(DISCLOSED))
    assert denied == builders.denial(DENIED, _denial_row(DENIED))


# Small pools, so that decisions of one batch repeat values as the router's do.
names = st.sampled_from(["type", "time", "data.a", "data.b[]", "identifiers.pnc_id", "data.*"])
rules = st.sampled_from(["r-1", "r-2", "mappa-referral-to-housing"])
texts = st.sampled_from(["Police managing risk", "Housing (4.45)", "é; ü", "a | b"])
moments = st.sampled_from(
    [
        DECIDED_AT,
        DECIDED_AT.astimezone(timezone(timedelta(hours=1))),  # the same instant
        DECIDED_AT + timedelta(microseconds=1),
    ]
)


@st.composite
def decisions(draw: st.DrawFn) -> Disclosure | DisclosureDenial:
    n = draw(st.integers(1, 4))
    common: dict[str, Any] = {
        "event_position": n,
        "event_id": f"e-{n}",
        "source": draw(st.sampled_from([SOURCE, "urn:pph:mappa:S12000014"])),
        "event_type": draw(st.sampled_from(["custody.admission", "mappa.referral"])),
        "person_id": f"p-{draw(st.integers(1, 3))}",
        "recipient_id": draw(st.sampled_from(["police-division-g", "housing-falkirk", "sps"])),
        "rules": tuple(draw(st.lists(rules, max_size=3))),
        "purposes": tuple(draw(st.lists(texts, max_size=2))),
        "legal_bases": tuple(draw(st.lists(texts, max_size=2))),
        "policy_version": POLICY,
        "profile_position": draw(st.integers(1, 3)),
        "trigger_position": draw(st.sampled_from([1, n, True])),  # True: equal to 1, not 1
        "decided_at": draw(moments),
    }
    if draw(st.booleans()):
        return DisclosureDenial(
            denial_id=f"dd_{draw(st.integers(0, 9))}",
            reasons=tuple(draw(st.lists(st.text(min_size=1, max_size=60), max_size=12))),
            **common,
        )
    hours = draw(st.sampled_from([None, 0, 48]))
    return Disclosure(
        disclosure_id=f"d_{draw(st.integers(0, 9))}",
        fields=tuple(draw(st.lists(names, max_size=5))),
        acknowledge_within=None if hours is None else timedelta(hours=hours),
        supplied_identifiers=draw(
            st.sampled_from([{}, {"sps_number": "S-1"}, {"pnc_id": "2001/1234567A"}])
        ),
        **common,
    )


@settings(max_examples=200, deadline=None)  # a shared CI machine: no timing asserted
@given(st.lists(decisions(), min_size=1, max_size=20))
def test_a_batch_of_decisions_gets_the_entries_one_by_one_would(
    batch: list[Disclosure | DisclosureDenial],
) -> None:
    entries = builders.DecisionEntries()
    for decision in batch:
        if isinstance(decision, Disclosure):
            row = _disclosure_row(decision)
            bulk, single = entries.disclosure(decision, row), builders.disclosure(decision, row)
        else:
            row = _denial_row(decision)
            bulk, single = entries.denial(decision, row), builders.denial(decision, row)
        assert bulk.canonical_bytes() == single.canonical_bytes()


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from([0, 1, -1, 2**40]),
    st.sampled_from(["", "1", "true", "é", "a\nb"]),
    st.sampled_from([0.0, -0.0, 1.0]),
)
values = st.one_of(
    scalars,
    moments,
    st.just(datetime(2026, 12, 7, 10, 30, 0, 123456)),  # naive: read as UTC
    st.lists(st.sampled_from(["a", "b", "é"]), max_size=3),
    st.lists(scalars, max_size=3),  # [1] and [True] are equal lists but not the same JSON
    st.tuples(st.sampled_from(["a", "b"])),
    st.dictionaries(st.sampled_from(["x", "y"]), scalars, max_size=2),
    st.binary(max_size=3),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), values), max_size=12))
def test_remembered_digests_are_the_digests_of_each_row(rows: list[dict[str, Any]]) -> None:
    remembered = RememberedDigests()
    for row in rows:
        evidence = remembered.row_evidence(row)
        assert evidence == row_evidence(row)
        assert compare_row(evidence, row) is None
