"""Loading a bundle as a whole: cross-file checks, test-case checks, the content-hash version."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from pathlib import Path

import pytest

from hub.domain.policy import PolicyBundle, bundle_version
from hub.errors import PolicyBundleInvalid

from .support import BUNDLE, bundle, bundle_files, notification, schemas


def problems(files: Mapping[str, bytes]) -> list[str]:
    with pytest.raises(PolicyBundleInvalid) as raised:
        PolicyBundle.from_files(files, schemas(), origin="b")
    return raised.value.problems


def with_files(changes: Mapping[str, str | None]) -> dict[str, bytes]:
    """The fixture's files with some replaced, added or (None) removed."""
    files = dict(bundle_files())
    for name, text in changes.items():
        if text is None:
            files.pop(name, None)
        else:
            files[name] = text.encode()
    return files


def test_the_fixture_bundle_loads() -> None:
    loaded = bundle()
    assert loaded.name == "fixture"
    assert loaded.description.startswith("A small bundle")
    assert len(loaded.rules) == 14
    assert len(loaded.test_cases) == 3
    assert loaded.origin == str(BUNDLE)


def test_missing_files_are_reported() -> None:
    assert problems({}) == [
        "b/bundle.yaml:1: missing: every bundle has this file",
        "b/directory.yaml:1: missing: every bundle has this file",
        "b/legal.yaml:1: missing: every bundle has this file",
        "b/rules/:1: no rules: the bundle needs rules/*.yaml",
        "b/statuses.yaml:1: missing: every bundle has this file",
    ]


def test_a_missing_folder_is_an_invalid_bundle() -> None:
    with pytest.raises(PolicyBundleInvalid, match="no policy bundle"):
        PolicyBundle.load(Path("/nonexistent/bundle"), schemas())


def test_bundle_yaml_is_checked() -> None:
    found = problems(with_files({"bundle.yaml": "name: ''\nversion: 3\n"}))
    assert found == [
        "b/bundle.yaml:1: `name` of the bundle must be non-empty text",
        "b/bundle.yaml:1: `retention:` is missing: say how long each event type is kept (e.g. "
        "`custody.admission: 100y`); the law sets no default",
        "b/bundle.yaml:2: unknown key `version` in bundle.yaml; known: name, description, "
        "retention",
    ]


def test_retention_is_checked_for_every_event_type() -> None:
    text = bundle_files()["bundle.yaml"].decode()
    text = text.replace("  custody.admission: 10y", "  custody.admission: ten years")
    text = text.replace("  person.missing: 6y", "  person.missing: 0d")
    text = text.replace("  person.located: 6y\n", "  shoe.size-changed: 1y\n")
    found = problems(with_files({"bundle.yaml": text}))
    assert any("retention of `custody.admission`: 'ten years' is not a period" in p for p in found)
    assert any("retention of `person.missing`: '0d' is not a period" in p for p in found)
    assert any("retention: `shoe.size-changed` is not an event type" in p for p in found)
    assert any("retention: `person.located` is not listed" in p for p in found)
    bundle = PolicyBundle.load(BUNDLE, schemas())
    assert set(bundle.retention) == set(schemas().event_types())
    assert bundle.retention["mappa.referral"].days == 20 * 365


def test_duplicate_rule_ids_across_files_name_both_places() -> None:
    copy = bundle_files()["rules/recall.yaml"].decode()
    found = problems(with_files({"rules/recall2.yaml": copy}))
    assert found[0] == (
        "b/rules/recall2.yaml:2: rule id `recall-at-large-to-police` is already used at "
        "b/rules/recall.yaml:2"
    )
    assert len(found) == 3


def test_files_outside_the_format_are_refused_documentation_is_allowed() -> None:
    found = problems(
        with_files(
            {"rules/notes.md": "# notes", "extra.yaml": "a: 1", "rules/more.yml": "rules: []"}
        )
    )
    assert found == [
        "b/extra.yaml:1: not part of the bundle format: bundle.yaml, directory.yaml, "
        "statuses.yaml, legal.yaml, rules/*.yaml, tests/*.yaml",
        "b/rules/more.yml:1: bundle files are YAML files ending in .yaml",
        "b/rules/notes.md:1: bundle files are YAML files ending in .yaml",
    ]
    assert PolicyBundle.from_files(with_files({"README.md": "# About"}), schemas()).rules


def test_test_cases_are_checked_when_the_bundle_loads() -> None:
    cases = """\
cases:
  - name: A case
    given:
      - example: custody.admision
      - example: release.schedule1-notification
        set:
          release.type: planned
    expect:
      disclosed:
        - recipient: sw-glasgow
          fields: [data.release.adress]
          rules: [no-such-rule]
      denied: [housing]
      not_candidates: [sw-fife]
      candidates: []
  - name: A case
    given: []
    expect: {}
"""
    found = [
        re.sub(r"; known: [a-z0-9-]+\.[a-z0-9.-]+, .*", "", p)
        for p in problems(with_files({"tests/bad.yaml": cases}))
    ]
    assert found == [
        "b/tests/bad.yaml:4: unknown event type `custody.admision`",
        "b/tests/bad.yaml:7: `release.type` is not an envelope path (data.…, identifiers.…, "
        "time, …)",
        "b/tests/bad.yaml:10: `sw-glasgow` is not in the directory",
        "b/tests/bad.yaml:11: `data.release.adress` is not in the schema of "
        "release.schedule1-notification: no field `adress` in data.release; known here: "
        "address, basis, expected_date, type",
        "b/tests/bad.yaml:12: no rule has the id `no-such-rule`",
        "b/tests/bad.yaml:13: `housing` is not in the directory",
        "b/tests/bad.yaml:15: unknown key `candidates` in `expect`; known: disclosed, denied, "
        "not_candidates",
        "b/tests/bad.yaml:17: `given` must be a non-empty list of notifications",
    ]


def test_duplicate_case_names_are_refused() -> None:
    copy = bundle_files()["tests/custody.yaml"].decode()
    assert problems(with_files({"tests/again.yaml": copy})) == [
        "b/tests/custody.yaml:2: a case named `An admission reaches the receiving establishment "
        "and SPS headquarters` is already at b/tests/again.yaml:2"
    ]


def test_the_version_is_the_sha256_of_the_files_sorted_by_path() -> None:
    files = bundle_files()
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.encode() + b"\0" + files[path] + b"\0")
    assert bundle().version == digest.hexdigest() == bundle_version(files)
    assert PolicyBundle.from_files(files, schemas(), origin="elsewhere").version == bundle().version


@pytest.mark.parametrize("path", sorted(BUNDLE.rglob("*.yaml")), ids=lambda p: p.name)
def test_the_version_changes_when_any_file_changes(path: Path) -> None:
    files = dict(bundle_files())
    name = path.relative_to(BUNDLE).as_posix()
    files[name] = files[name] + b"\n# a comment changes the text, so the version\n"
    changed = PolicyBundle.from_files(files, schemas())
    assert changed.version != bundle().version


def test_adding_or_renaming_a_file_changes_the_version() -> None:
    files = dict(bundle_files())
    assert bundle_version({**files, "README.md": b""}) != bundle().version
    renamed = {("rules/z.yaml" if k == "rules/recall.yaml" else k): v for k, v in files.items()}
    assert bundle_version(renamed) != bundle().version


def test_a_type_without_rules_has_no_candidates() -> None:
    files = with_files(
        {"rules/recall.yaml": None, "rules/custody.yaml": None, "tests/custody.yaml": None}
    )
    without_recall = PolicyBundle.from_files(files, schemas())
    evaluation = without_recall.evaluate(notification("licence.recall"), {"recalled": True})
    assert evaluation.decisions == ()
    assert without_recall.redact(notification("licence.recall"), []) == {
        "specversion": "1.0",
        "id": notification("licence.recall").id,
        "type": "licence.recall",
    }
