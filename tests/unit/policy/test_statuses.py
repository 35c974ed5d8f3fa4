"""`statuses.yaml`: the authorities of each status kind, loaded with the bundle and checked,
every problem reported as file:line."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from hub.domain.person import STATUS_KINDS, Authorities
from hub.domain.policy import PolicyBundle
from hub.errors import PolicyBundleInvalid
from tests.unit.policy.support import ROOT, bundle, bundle_files, schemas

GOOD = (ROOT / "policies" / "scotland" / "statuses.yaml").read_text("utf-8")


def problems(statuses: str) -> list[str]:
    files: Mapping[str, bytes] = {**bundle_files(), "statuses.yaml": statuses.encode()}
    with pytest.raises(PolicyBundleInvalid) as raised:
        PolicyBundle.from_files(files, schemas(), origin="b")
    return raised.value.problems


def test_the_bundle_carries_the_authorities_of_every_status_kind() -> None:
    statuses = bundle().statuses
    assert set(statuses.by_kind) == set(STATUS_KINDS)
    assert statuses.ranks("notification_requirements") == (
        "police-scotland",
        "scts",
        "mappa",
        "socialwork",
        "sps",
    )
    assert statuses.ranks("custody") is None  # any: the most recent wins


def test_an_unknown_kind_an_unknown_key_and_an_unknown_namespace_are_named_by_line() -> None:
    text = GOOD.replace(
        "  custody:\n    title: In custody",
        "  violent_offender:\n    title: x\n    authorities: any\n  custody:\n"
        "    colour: red\n    title: In custody",
    ).replace("authorities: [police-scotland, nhs, sps]", "authorities: [police-scotland, pr2]")
    found = problems(text)
    lines = text.splitlines()
    kind_line = lines.index("  violent_offender:") + 1
    colour_line = lines.index("    colour: red") + 1
    pr2_line = lines.index("    authorities: [police-scotland, pr2]") + 1
    assert (
        f"b/statuses.yaml:{kind_line}: unknown status kind `violent_offender`; kinds: "
        + (", ".join(STATUS_KINDS))
        in found
    )
    assert any(
        p.startswith(f"b/statuses.yaml:{colour_line}: unknown key `colour` in status `custody`")
        for p in found
    )
    assert any(
        p.startswith(
            f"b/statuses.yaml:{pr2_line}: `authorities` of status `deceased`: unknown "
            "source namespace 'pr2'"
        )
        for p in found
    )


def test_a_missing_kind_and_a_missing_authorities_are_reported() -> None:
    text = GOOD.replace("  recalled:\n    title: Recalled to custody (licence revoked)\n", "")
    text = text.replace(
        "or unlawfully at large\n    authorities: any\n", "or unlawfully at large\n"
    )
    found = problems(text)
    statuses_line = text.splitlines().index("statuses:") + 1
    assert (
        f"b/statuses.yaml:{statuses_line}: status `recalled` is not declared (every status "
        "kind needs its authorities)"
    ) in found
    assert any("status `custody` has no `authorities`" in p for p in found)


@pytest.mark.parametrize("value", ["[]", "everyone", "[sps, sps]", "{sps: 1}"])
def test_authorities_are_a_list_of_distinct_namespaces_or_any(value: str) -> None:
    text = GOOD.replace("authorities: [police-scotland, nhs, sps]", f"authorities: {value}")
    found = problems(text)
    assert len(found) == 1
    assert "`authorities` of status `deceased`" in found[0]


def test_a_stronger_source_may_lower_a_weaker_one_may_only_begin() -> None:
    authorities = Authorities({"nr": ("police-scotland", "sps"), "custody": None})
    assert authorities.may_begin("nr", "sps")
    assert not authorities.may_begin("nr", "nhs")
    assert authorities.may_lower("nr", "police-scotland", "sps")
    assert authorities.may_lower("nr", "sps", "sps")
    assert not authorities.may_lower("nr", "sps", "police-scotland")
    # A record restored by the hub (a namespace not listed) may be lowered by any listed one.
    assert authorities.may_lower("nr", "sps", "hub")
    assert authorities.may_lower("custody", "nhs", "sps")
    with pytest.raises(KeyError, match="no authorities are declared for the status `x`"):
        authorities.may_begin("x", "sps")
