"""Properties that must hold for any notification and profile:

1. no permitted recipient receives a field that no matching permit rule granted;
2. where no permit rule applies, nothing is disclosed;
3. the Python condition evaluator (which explains denials) and Cedar (which decides) agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hypothesis import event, given, settings
from hypothesis import strategies as st

from hub.domain.notifications import Notification
from hub.domain.policy.conditions import (
    AllOf,
    AnyOf,
    Compare,
    Condition,
    Not,
    ValuePath,
    holds,
    lookup,
)
from hub.domain.policy.engine import PolicyBundle
from hub.domain.policy.redaction import ALWAYS_KEPT, covers, envelope, leaf_paths
from hub.domain.policy.rules import SharingRule

from .support import bundle, example, python_and_cedar, unchecked

# --- 3. the two evaluators agree --------------------------------------------------------------

TEXT = st.one_of(
    st.sampled_from(["x", "y", "", 'quo"te', "back\\slash", "line\nbreak", "é"]),
    st.text(st.characters(codec="utf-8"), max_size=4),
)
LITERALS = st.one_of(TEXT, st.integers(-3, 3), st.booleans())
RAW_VALUES = st.recursive(
    st.one_of(
        LITERALS,
        st.none(),
        st.floats(allow_nan=False),
        st.just(2**70),
        st.just("\ud800"),  # a lone surrogate: not text Cedar can hold
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.sampled_from(["c", "x", "__entity"]), children, max_size=2),
    ),
    max_leaves=6,
)
PATHS = [
    ValuePath.parse(p)
    for p in (
        "event.data.a",
        "event.data.b.c",
        "event.data.n",
        "event.data.tags",
        "profile.schedule1",
        "profile.mappa_level",
    )
]


def compares() -> st.SearchStrategy[Condition]:
    path = st.sampled_from(PATHS)
    return st.one_of(
        st.builds(Compare, path, st.sampled_from(["equals", "not", "contains"]), LITERALS),
        st.builds(
            Compare,
            path,
            st.sampled_from(["in", "not_in"]),
            st.lists(LITERALS, min_size=1, max_size=3).map(tuple),
        ),
        st.builds(Compare, path, st.sampled_from(["at_least", "at_most"]), st.integers(-3, 3)),
        st.builds(Compare, path, st.just("present"), st.booleans()),
    )


CONDITIONS: st.SearchStrategy[Condition] = st.recursive(
    compares(),
    lambda inner: st.one_of(
        st.builds(AnyOf, st.lists(inner, min_size=1, max_size=3).map(tuple)),
        st.builds(AllOf, st.lists(inner, min_size=1, max_size=3).map(tuple)),
        st.builds(Not, inner),
    ),
    max_leaves=5,
)
DATA = st.fixed_dictionaries(
    {},
    optional={
        "a": RAW_VALUES,
        "b": st.one_of(st.fixed_dictionaries({}, optional={"c": RAW_VALUES}), RAW_VALUES),
        "n": RAW_VALUES,
        "tags": RAW_VALUES,
    },
)
PROFILES = st.fixed_dictionaries(
    {}, optional={"schedule1": RAW_VALUES, "mappa_level": RAW_VALUES, "other": RAW_VALUES}
)


@settings(max_examples=300, deadline=None, database=None)
@given(st.lists(CONDITIONS, min_size=0, max_size=3).map(tuple), DATA, PROFILES)
def test_python_evaluator_and_cedar_agree(
    conditions: tuple[Condition, ...], data: dict[str, Any], profile: dict[str, Any]
) -> None:
    python, cedar = python_and_cedar(conditions, data, profile)
    assert python == cedar
    event(f"conditions hold: {python}")


# --- 1 and 2, on the fixture bundle -----------------------------------------------------------

SKIP = object()  # remove the field
AREAS = [
    "S12000049",
    "S12000046",  # a former code of Glasgow City
    "S12000047",
    "S12000015",  # a former code of Fife
    "S12000036",
    "S12000050",
    "S12000044",  # a former code of North Lanarkshire
    "S12000005",  # in no recipient's areas
]
CHANGES: Mapping[str, Mapping[str, list[Any]]] = {
    "release.schedule1-notification": {
        "release.type": ["possible", "planned", SKIP],
        "release.address.council_area": [*AREAS, SKIP],
        "release.address.children_resident": ["yes", "no", "unknown", SKIP],
        "release.address.accommodation_type": [
            "local-authority-temporary",
            "no-fixed-abode",
            "family-or-friends",
            SKIP,
        ],
    },
    "custody.admission": {
        "establishment": ["hmp-barlinnie", "hmp-edinburgh", "hmp-perth", 7],
        "offence_categories": [["violent"], ["sexual", "violent"], [], "violent", SKIP],
        "sex_offender_notification": [True, False, "true", SKIP],
    },
    "mappa.referral": {
        "level": [1, 2, 3, "2", None, 2.0, SKIP],
        "mappa_area": [*AREAS, SKIP],
        "referring_agency": ["health-board", "police-scotland"],
        "risk_of_serious_harm": ["low", "high", SKIP],
        "reason_detail": ["x", SKIP],
        "category": ["s10(1)(a)", "s10(1)(c)", "s10(1)(e)"],
    },
    "licence.recall": {
        "custody_status": ["at-large", "in-custody", SKIP],
        "recall_reasons": [["increased-risk-of-serious-harm"], ["curfew-breach"], [], SKIP],
        "supervising_council_area": [*AREAS, SKIP],
    },
}
PROFILE_VALUES: Mapping[str, list[Any]] = {
    "schedule1": [True, False, "yes", None],
    "custody_status": ["in-custody", "in-community", "unknown"],
    "home_area": AREAS,
    "release_area": AREAS,
    "mappa_level": [1, 2, 3, "3"],
    "on_licence": [True, False],
    "recalled": [True],
}


@st.composite
def notifications(draw: st.DrawFn) -> Notification:
    event_type = draw(st.sampled_from(sorted(CHANGES)))
    raw = example(event_type)
    for path, values in CHANGES[event_type].items():
        value = draw(st.sampled_from(values))
        *parents, last = path.split(".")
        node = raw["data"]
        for key in parents:
            node = node[key]
        if value is SKIP:
            node.pop(last, None)
        else:
            node[last] = value
    return unchecked(raw)


PROFILES_OF_PEOPLE = st.fixed_dictionaries(
    {}, optional={k: st.sampled_from(v) for k, v in PROFILE_VALUES.items()}
)


def _view(policy: PolicyBundle, notification: Notification, profile: Any) -> dict[str, Any]:
    return policy.decision_view(notification, profile)


def _names(policy: PolicyBundle, rule: SharingRule, recipient_id: str, view: Any) -> bool:
    """Whether `rule`'s share_with names the recipient (no share_with: everyone)."""
    recipient = policy.directory.recipients[recipient_id]
    if not rule.share_with:
        return True
    for selector in rule.share_with:
        if selector.role != recipient.role:
            continue
        if selector.area is not None:
            area = lookup(view, selector.area)
            if isinstance(area, str) and policy.directory.canonical_area(area) in recipient.areas:
                return True
        elif selector.recipient is not None:
            if lookup(view, selector.recipient) == recipient.id:
                return True
        else:
            return True
    return False


def _applies(policy: PolicyBundle, rule: SharingRule, recipient_id: str, view: Any) -> bool:
    return all(holds(c, view) for c in rule.when) and _names(policy, rule, recipient_id, view)


@settings(max_examples=400, deadline=None, database=None)
@given(notifications(), PROFILES_OF_PEOPLE)
def test_no_recipient_receives_a_field_no_matching_permit_rule_granted(
    notification: Notification, profile: dict[str, Any]
) -> None:
    policy = bundle()
    view = _view(policy, notification, profile)
    on_type = [r for r in policy.rules if notification.type in r.on]
    evaluation = policy.evaluate(notification, profile)
    for decision in evaluation.decisions:
        permits = [
            r
            for r in on_type
            if r.effect == "permit" and _applies(policy, r, decision.recipient_id, view)
        ]
        forbids = [
            r
            for r in on_type
            if r.effect == "forbid" and _applies(policy, r, decision.recipient_id, view)
        ]
        assert len(set(decision.rules)) == len(decision.rules)
        # What Cedar decided is what the rules say, read by the Python evaluator.
        # The special-category guard may deny what the rules permit, and then names why.
        guarded = bool(decision.special_withheld)
        assert decision.permitted == (bool(permits) and not forbids) or (
            guarded and not decision.permitted
        )
        if not decision.permitted:
            # 2. Where no permit rule applies (or a forbid does), nothing is disclosed.
            assert decision.fields == ()
            assert set(policy.redact(notification, decision.fields)) == set(ALWAYS_KEPT)
            assert decision.reasons
            continue
        assert decision.rules == tuple(r.id for r in permits)
        granted = {f for r in permits for f in r.fields}
        if guarded:
            assert all(any(covers(g, f) for g in granted) for f in decision.fields)
        else:
            assert set(decision.fields) == granted
        received = policy.redact(notification, decision.fields)
        original = envelope(notification)
        for path in leaf_paths(received):
            if path in ALWAYS_KEPT:
                continue
            assert any(covers(field, path) for field in granted), path
            # and what it receives is what the notification says there
            assert all(v in _values(original, path) for v in _values(received, path)), path
        event(f"{notification.type}: {decision.recipient_id} permitted")


def _values(document: Any, path: str) -> list[Any]:
    """Every value at `path`, lists flattened (a path through a list reaches each item)."""
    if isinstance(document, list):
        return [v for item in document for v in _values(item, path)]
    if not path:
        return [document]
    key, _, rest = path.partition(".")
    if not isinstance(document, Mapping) or key not in document:
        return []
    return _values(document[key], rest)


@settings(max_examples=200, deadline=None, database=None)
@given(notifications(), PROFILES_OF_PEOPLE, st.sampled_from(["hmp-barlinnie", "hmp-edinburgh"]))
def test_records_follow_the_person_only_by_follow_rules_that_hold(
    notification: Notification, profile: dict[str, Any], establishment: str
) -> None:
    policy = bundle()
    view = _view(policy, notification, profile)
    followers = [r for r in policy.rules if notification.type in r.on and r.follows_person]
    evaluation = policy.evaluate(notification, profile, follows_person_to=establishment)
    if not followers:
        assert evaluation.decisions == ()
        return
    (decision,) = evaluation.decisions
    assert decision.recipient_id == establishment
    matching = [r for r in followers if all(holds(c, view) for c in r.when)]
    forbids = [
        r
        for r in policy.rules
        if notification.type in r.on
        and r.effect == "forbid"
        and _applies(policy, r, establishment, view)
    ]
    # The special-category guard may withhold what the rules grant (p15-categories), and then
    # names what it withheld.
    guarded = bool(decision.special_withheld)
    assert decision.permitted == (bool(matching) and not forbids) or (
        guarded and not decision.permitted
    )
    granted = {f for r in matching for f in r.fields} if decision.permitted else set()
    if guarded:
        assert all(any(covers(g, f) for g in granted) for f in decision.fields)
    else:
        assert set(decision.fields) == granted


@settings(max_examples=100, deadline=None, database=None)
@given(notifications())
def test_with_no_profile_and_nothing_matching_nothing_is_disclosed(
    notification: Notification,
) -> None:
    policy = bundle()
    view = _view(policy, notification, {})
    on_type = [r for r in policy.rules if notification.type in r.on and r.effect == "permit"]
    evaluation = policy.evaluate(notification, {})
    if not any(all(holds(c, view) for c in r.when) for r in on_type):
        assert evaluation.permitted == ()
