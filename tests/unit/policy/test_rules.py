"""Reading `rules/*.yaml`: every problem is reported, each as `file:line: message`, with paths,
fields and values checked against the real event schemas."""

from __future__ import annotations

import textwrap

import pytest

from hub.domain.policy import PolicyBundle
from hub.domain.policy.conditions import AnyOf, Compare, Not, ValuePath
from hub.domain.policy.rules import Problems, format_duration, load_yaml, parse_duration
from hub.errors import InvalidInput, PolicyBundleInvalid

from .support import bundle_files, schemas

#: A legal basis on one line, so that VALID's line numbers stay those of a short rule.
BASIS = (
    "legal_basis: {controller: social-work, gateway: [mosa-2005-s1], regime: dpa2018-part3, "
    "lawful_basis: s35(2)(b), agreement: dsa-test, dpia: dpia-test}"
)
VALID = f"""\
rules:
  - id: extra
    title: Extra
    on: [mappa.referral]
    when:
      - event.data.level: 2
    share_with:
      - role: social-work
        area: event.data.mappa_area
    fields: [data.level]
    purpose: P
    {BASIS}
"""
FILE = "b/rules/extra.yaml"


def load(text: str, name: str = "rules/extra.yaml") -> PolicyBundle:
    files = {**bundle_files(), name: textwrap.dedent(text).encode()}
    return PolicyBundle.from_files(files, schemas(), origin="b")


def problems(text: str, name: str = "rules/extra.yaml") -> list[str]:
    with pytest.raises(PolicyBundleInvalid) as raised:
        load(text, name)
    return raised.value.problems


def variant(line: int, replacement: str) -> str:
    """VALID with line `line` (1-based) replaced; several lines if `replacement` has them."""
    lines = VALID.splitlines()
    lines[line - 1 : line] = replacement.splitlines()
    return "\n".join(lines) + "\n"


def test_the_valid_rule_loads_with_its_conditions_and_selectors() -> None:
    rule = next(r for r in load(VALID).rules if r.id == "extra")
    assert rule.on == ("mappa.referral",)
    assert rule.when == (Compare(ValuePath.parse("event.data.level"), "equals", 2, 6),)
    assert rule.share_with[0].area == ValuePath.parse("event.data.mappa_area")
    assert (rule.file, rule.line, rule.effect) == (FILE, 2, "permit")


def test_the_error_is_an_invalid_input_with_every_problem_in_its_message() -> None:
    with pytest.raises(InvalidInput) as raised:
        load(variant(4, "    on: [no.such-type]"))
    assert isinstance(raised.value, PolicyBundleInvalid)
    assert f"{FILE}:4: unknown event type `no.such-type`" in raised.value.message


@pytest.mark.parametrize(
    ("line", "replacement", "expected"),
    [
        (4, "    on: [mappa.referal]", "4: unknown event type `mappa.referal`; known: "),
        (4, "    on: mappa.referral", "4: `on` must be a non-empty list of event types"),
        (
            6,
            "      - event.data.levle: 2",
            "6: `event.data.levle` is not in the schema of mappa.referral: no field `levle` in "
            "data; known here: category, category_group, level,",
        ),
        (
            6,
            "      - data.level: 2",
            "6: unknown path or keyword: `data.level` is not a path: paths start with `event.` "
            "or `profile.`",
        ),
        (
            6,
            "      - profile.mappa_levels: 2",
            "6: unknown profile attribute `profile.mappa_levels`; known: custody_status,",
        ),
        (
            6,
            "      - event.data.level: {more_than: 2}",
            "6: unknown operator `more_than`; operators: in, not, not_in, at_least, at_most, "
            "contains, present",
        ),
        (
            6,
            "      - event.data.level: 2\n        event.data.category: x",
            "6: a condition is one `PATH: VALUE`,",
        ),
        (6, "      - event.data.level: [2, 3]", "6: to match one of several values write"),
        (6, "      - event.data.level: {at_least: 2, at_most: 3}", "6: an operator condition"),
        (6, "      - event.data.level: {in: []}", "6: `in` takes a non-empty list of values"),
        (6, "      - event.data.level: 2.5", "6: 2.5 is not a whole number"),
        (6, "      - event.data.level: ~", "6: no value for event.data.level: to require"),
        (6, "      - event.data.level: {present: yes}", "6: `present` takes true or false"),
        (6, "      - any: []", "6: `any` takes a non-empty list of conditions"),
        (
            6,
            "      - event.data.reason: {at_least: 2}",
            "6: `at_least` needs a whole number, but event.data.reason is not one",
        ),
        (
            6,
            "      - event.data.level: {contains: 2}",
            "6: `contains` needs a list, but event.data.level is not one",
        ),
        (
            6,
            "      - event.data.reason: pending_release",
            '6: event.data.reason is one of "conviction-or-order", "pending-release",',
        ),
        (
            6,
            '      - event.data.level: "2"',
            '6: event.data.level is an integer, so "2" never matches',
        ),
        (
            6,
            "      - profile.custody_status: in_custody",
            '6: profile.custody_status is one of "in-custody", "in-community", '
            '"unlawfully-at-large", "unknown"; "in_custody" never matches (misspelt?)',
        ),
        (6, "      - profile.schedule1: yes", '6: profile.schedule1 is a boolean, so "yes"'),
        (6, "      - event.identifiers.nhs: x", "6: `event.identifiers.nhs` is not in the schema"),
        (6, "      - event.time.zone: x", "6: `event.time.zone` is not in the schema of"),
        (9, "        area: event.data.mappa_areas", "9: `event.data.mappa_areas` is not in"),
        (
            9,
            "        area: event.data.level",
            "9: event.data.level is not text, so it cannot name an area or recipient",
        ),
        (
            9,
            "        area: event.data.mappa_area\n        recipient: event.data.mappa_area",
            "8: a `share_with` item has `area` or `recipient`, not both",
        ),
        (8, "      - role: social-worker", "8: unknown role `social-worker`; roles: social-work,"),
        (
            10,
            "    fields: [data.levels]",
            "10: `data.levels` is not in the schema of mappa.referral: no field `levels`",
        ),
        (10, "    fields: [event.data.level]", "10: `event.data.level`: fields are envelope"),
        (10, "    fields: [identifiers.nhs]", "10: `identifiers.nhs` is not a field of the env"),
        (10, "    fields: [data.level, data.level]", "10: `data.level` is listed twice"),
        (11, "    purpose: ''", "11: `purpose` of rule extra must be non-empty text"),
        (11, "    acknowledge_within: 2 days", "11: `acknowledge_within` must be a duration"),
        (11, "    acknowledge_within: 0d", "11: `acknowledge_within` must be a duration"),
        (11, "    acknowledge_within: 90s", "11: `acknowledge_within` must be a duration"),
        (11, "    purpose: P\n    purpose: Q", "12: `purpose` appears twice (first on line 11)"),
        (11, "    purpos: P", "11: unknown key `purpos` in rule extra; known: id, title,"),
        (11, "    follows_person: yes", "11: `follows_person` must be true or false"),
        (2, "  - id: Extra Rule", "2: a rule needs an `id` of lower-case letters"),
        (3, "    effect: allow", "3: `effect` must be `permit` or `forbid`"),
        (6, "      - event.data.level: [2", "7: not valid YAML: expected ',' or ']'"),
    ],
)
def test_each_problem_is_reported_at_its_line(line: int, replacement: str, expected: str) -> None:
    found = problems(variant(line, replacement))
    assert any(p.startswith(f"{FILE}:{expected}") for p in found), found


def test_missing_purpose_and_legal_basis_on_a_permit_rule() -> None:
    text = variant(11, "    title: again")
    text = "\n".join(line for line in text.splitlines() if "legal_basis" not in line)
    found = problems(text + "\n")
    assert f"{FILE}:2: permit rule extra has no `purpose`" in found
    assert f"{FILE}:2: permit rule extra has no `legal_basis`" in found
    assert f"{FILE}:11: `title` appears twice (first on line 3)" in found


def test_a_permit_rule_needs_share_with_and_fields_a_forbid_rule_grants_nothing() -> None:
    permit = f"rules:\n  - id: p\n    on: [mappa.referral]\n    purpose: P\n    {BASIS}\n"
    assert problems(permit) == [
        f"{FILE}:2: permit rule p has no `fields`",
        f"{FILE}:2: permit rule p has no `share_with`",
    ]
    forbid = (
        "rules:\n  - id: f\n    effect: forbid\n    on: [mappa.referral]\n"
        "    fields: [data]\n    acknowledge_within: 2d\n    follows_person: true\n"
        f"    purpose: P\n    {BASIS}\n"
    )
    assert problems(forbid) == [
        f"{FILE}:5: a forbid rule withholds the whole notification; it has no `fields`",
        f"{FILE}:6: a forbid rule discloses nothing",
        f"{FILE}:7: a forbid rule applies in every mode; `follows_person` is for permit rules",
    ]


def test_a_path_must_exist_for_every_event_type_in_on() -> None:
    found = problems(variant(4, "    on: [mappa.referral, licence.recall]"))
    assert any(
        p.startswith(f"{FILE}:6: `event.data.level` is not in the schema of licence.recall")
        for p in found
    )
    assert any(
        p.startswith(f"{FILE}:10: `data.level` is not in the schema of licence") for p in found
    )


def test_conditions_cannot_look_inside_lists_but_fields_can() -> None:
    text = VALID.replace("mappa.referral", "release.schedule1-notification")
    text = text.replace("event.data.mappa_area", "event.data.release.address.council_area")
    text = text.replace(
        "      - event.data.level: 2",
        "      - event.data.schedule1_offences.victim_age_category: under-13",
    )
    text = text.replace("[data.level]", "[data.schedule1_offences.victim_age_category]")
    assert problems(text) == [
        f"{FILE}:6: `event.data.schedule1_offences.victim_age_category` is not in the schema of "
        "release.schedule1-notification: data.schedule1_offences is a list: a condition cannot "
        "look inside it (use `contains`)"
    ]
    listed = text.replace(
        "      - event.data.schedule1_offences.victim_age_category: under-13",
        "      - event.data.release.address.lines: {contains: x}",
    )
    assert load(listed).rules


def test_every_problem_of_every_file_is_reported_together_in_file_and_line_order() -> None:
    text = variant(4, "    on: [nope]")
    text = text.replace("role: social-work", "role: nobody").replace("[data.level]", "[x]")
    found = problems(text)
    assert found == sorted(found, key=lambda p: (p.split(":")[0], int(p.split(":")[1])))
    assert [p.split(": ")[0] for p in found] == [f"{FILE}:4", f"{FILE}:8", f"{FILE}:10"]


def test_nested_conditions_and_yaml_1_2_scalars() -> None:
    text = variant(
        6,
        "      - any:\n"
        "          - event.data.reason_detail: no\n"
        "          - not:\n"
        "              event.data.referral_date: 2023-09-18",
    )
    rule = next(r for r in load(text).rules if r.id == "extra")
    (condition,) = rule.when
    assert isinstance(condition, AnyOf)
    first, second = condition.conditions
    assert first == Compare(ValuePath.parse("event.data.reason_detail"), "equals", "no", 7)
    assert isinstance(second, Not)
    assert second.condition == Compare(
        ValuePath.parse("event.data.referral_date"), "equals", "2023-09-18", 9
    )


def test_yaml_keys_stay_text_and_duplicates_are_refused() -> None:
    found = Problems()
    document = load_yaml("on: [a]\nyes: 1\non: [b]\n", "f.yaml", found)
    assert dict(document) == {"on": ["a"], "yes": 1}
    assert found.lines() == ["f.yaml:3: `on` appears twice (first on line 1)"]


def test_durations_read_and_write_back() -> None:
    assert parse_duration("30m") is not None
    for text in ("30m", "4h", "2d", "90m", "36h"):
        duration = parse_duration(text)
        assert duration is not None
        assert format_duration(duration) == text
    for text in ("0m", "2", "2w", "1.5h", " 2d", "2D"):
        assert parse_duration(text) is None
