"""The agency directory: recipients by id, role and area, former GSS codes included."""

from __future__ import annotations

from hub.domain.policy import Directory, Recipient
from hub.domain.policy.directory import Area

from .support import bundle


def directory() -> Directory:
    return bundle().directory


def test_get_returns_the_recipient_or_none() -> None:
    recipient = directory().get("sw-glasgow-city")
    assert recipient == Recipient(
        "sw-glasgow-city",
        "Glasgow City Council Justice Social Work",
        "social-work",
        frozenset({"S12000049"}),
    )
    assert directory().get("sw-nowhere") is None


def test_by_role_lists_every_recipient_of_the_role_sorted() -> None:
    assert [r.id for r in directory().by_role("social-work")] == [
        "sw-edinburgh",
        "sw-fife",
        "sw-glasgow-city",
    ]
    assert [r.id for r in directory().by_role("parole-board")] == ["parole-board"]
    assert directory().by_role("no-such-role") == []


def test_serving_finds_recipients_of_a_role_by_current_area() -> None:
    assert [r.id for r in directory().serving("social-work", "S12000049")] == ["sw-glasgow-city"]
    assert [r.id for r in directory().serving("police-division", "S12000047")] == [
        "police-p-division"
    ]
    assert [r.id for r in directory().serving("health-board", "S12000050")] == ["nhs-ggc"]


def test_former_gss_codes_resolve_to_the_current_area() -> None:
    assert directory().canonical_area("S12000046") == "S12000049"
    assert directory().canonical_area("S12000043") == "S12000049"
    assert directory().canonical_area("S12000049") == "S12000049"
    assert [r.id for r in directory().serving("social-work", "S12000046")] == ["sw-glasgow-city"]
    assert [r.id for r in directory().serving("health-board", "S12000044")] == ["nhs-ggc"]


def test_unknown_areas_serve_nobody() -> None:
    assert directory().canonical_area("S12000005") is None
    assert directory().serving("social-work", "S12000005") == []
    assert directory().serving("social-work", "not a code") == []


def test_areas_and_recipients_are_mappings() -> None:
    assert directory().areas["S12000049"] == Area(
        "S12000049", "Glasgow City", frozenset({"S12000046", "S12000043"})
    )
    assert len(directory().recipients) == 14
    assert directory().codes_of(directory().recipients["nhs-ggc"]) == {
        "S12000049",
        "S12000046",
        "S12000043",
        "S12000050",
        "S12000044",
    }


# --- reading directory.yaml -------------------------------------------------------------------

DIRECTORY = """\
areas:
  - gss: S12000049
    name: Glasgow City
    former_gss: [S12000046]
  - gss: S12000047
    name: Fife
recipients:
  - id: sw-glasgow-city
    name: Glasgow social work
    role: social-work
    areas: [S12000049]
  - id: parole-board
    name: Parole Board
    role: parole-board
"""


def directory_problems(text: str) -> list[str]:
    import pytest

    from hub.domain.policy import PolicyBundle
    from hub.errors import PolicyBundleInvalid

    from .support import bundle_files, schemas

    files = {
        **{k: v for k, v in bundle_files().items() if not k.startswith("tests/")},
        "directory.yaml": text.encode(),
    }
    with pytest.raises(PolicyBundleInvalid) as raised:
        PolicyBundle.from_files(files, schemas(), origin="b")
    return [p for p in raised.value.problems if p.startswith("b/directory.yaml")]


def test_directory_problems_are_reported_at_their_lines() -> None:
    text = DIRECTORY + (
        "  - id: sw-glasgow-city\n"  # 15
        "    name: Again\n"
        "    role: social-worker\n"  # 17
        "    areas: [S12000046, S12000099, S12000049]\n"  # 18
        "    channel: webhook\n"  # 19
        "  - id: Housing Glasgow\n"  # 20
        "    name: ''\n"  # 21
        "    role: housing\n"
        "    areas: S12000049\n"  # 23
    )
    text = text.replace(
        "  - gss: S12000047\n    name: Fife\n", "  - gss: S12000046\n    name: Fife\n"
    )
    assert directory_problems(text) == [
        "b/directory.yaml:5: S12000046 appears twice (first on line 4)",
        "b/directory.yaml:15: recipient id `sw-glasgow-city` appears twice (first on line 8)",
        "b/directory.yaml:17: unknown role `social-worker`; roles: social-work, child-protection, "
        "housing, police-division, police-national, establishment, prison-service, "
        "health-board, mappa-coordinator, parole-board, licensing-authority, court-service, "
        "special-health-board, risk-management-authority, registered-social-landlord, "
        "electronic-monitoring, children-reporter, social-security",
        "b/directory.yaml:18: S12000046 is a former code of Glasgow City: use S12000049",
        "b/directory.yaml:18: unknown GSS code `S12000099`: not an area above",
        "b/directory.yaml:19: unknown key `channel` in a recipient; known: id, name, role, areas, "
        "valid_from, valid_to",
        "b/directory.yaml:20: `id` must be lower-case letters, digits, hyphens",
        "b/directory.yaml:21: `name` must be non-empty text",
        "b/directory.yaml:23: `areas` must be a list of GSS codes",
    ]


def test_area_codes_must_be_gss_codes_of_current_council_areas() -> None:
    text = DIRECTORY.replace("gss: S12000047", "gss: S12000099").replace(
        "[S12000046]", "[S12000046, X1]"
    )
    assert directory_problems(text) == [
        "b/directory.yaml:4: `X1` is not a council area GSS code (S12…)",
        "b/directory.yaml:5: S12000099 (Fife) is not a current council area code in the event "
        "schemas",
    ]


def test_directory_needs_areas_and_recipients() -> None:
    assert directory_problems("areas: []\n") == [
        "b/directory.yaml:1: the directory has no `recipients`"
    ]
    assert directory_problems("") == [
        "b/directory.yaml:1: expected a mapping with `areas:` and `recipients:`"
    ]
