"""Running a bundle's own test cases."""

from __future__ import annotations

from pathlib import Path

from hub.domain.policy import PolicyBundle, run_bundle_tests

from .support import EXAMPLES, bundle, bundle_files, fold, schemas


def run(cases: str) -> list[str]:
    files = {
        **{k: v for k, v in bundle_files().items() if not k.startswith("tests/")},
        "tests/cases.yaml": cases.encode(),
    }
    policy = PolicyBundle.from_files(files, schemas(), origin="b")
    (result,) = run_bundle_tests(policy, schemas(), EXAMPLES, fold)
    assert result.passed is not bool(result.failures)
    return result.failures


def test_the_fixture_bundle_passes_its_own_cases() -> None:
    results = run_bundle_tests(bundle(), schemas(), EXAMPLES, fold)
    assert [(r.name, r.passed, r.failures) for r in results] == [
        (r.name, True, []) for r in results
    ]
    assert len(results) == 3
    assert results[0].file.endswith("tests/custody.yaml")


def test_every_unmet_expectation_is_a_failure_at_its_line() -> None:
    failures = run(
        """\
cases:
  - name: Expecting too much
    given:
      - example: release.schedule1-notification
    expect:
      disclosed:
        - recipient: sw-glasgow-city
        - recipient: police-g-division
          fields: [data.schedule1_offences]
          withheld: [data.release.address.postcode]
          rules: [schedule1-release-to-social-work]
        - recipient: sw-fife
      denied: [cp-glasgow-city, housing-glasgow-city, parole-board]
      not_candidates: [police-g-division]
"""
    )
    assert failures == [
        "b/tests/cases.yaml:7: sw-glasgow-city is denied: schedule1-release-to-social-work does "
        "not apply: profile.schedule1 is true: does not hold (no value at profile.schedule1)",
        "b/tests/cases.yaml:8: police-g-division is denied: schedule1-release-to-police does not "
        "apply: profile.schedule1 is true: does not hold (no value at profile.schedule1)",
        "b/tests/cases.yaml:12: sw-fife is not a candidate: no rule names it",
        "b/tests/cases.yaml:13: parole-board is not a candidate at all",
        "b/tests/cases.yaml:14: police-g-division is a candidate (denied; rules: "
        "schedule1-release-to-police)",
    ]


def test_fields_withheld_and_rules_are_checked_for_a_disclosure() -> None:
    failures = run(
        """\
cases:
  - name: Field checks
    given:
      - example: custody.admission
      - example: release.schedule1-notification
    expect:
      disclosed:
        - recipient: police-g-division
          fields: [data.release.address.postcode, data.schedule1_offences, identifiers.pnc_id]
          withheld: [data.release.address.postcode, data.notifying_agency]
          rules: [schedule1-release-to-social-work, schedule1-release-to-police]
"""
    )
    assert failures == [
        "b/tests/cases.yaml:8: police-g-division does not receive data.schedule1_offences "
        "(granted: data.release, identifiers.pnc_id, time, type)",
        "b/tests/cases.yaml:8: police-g-division receives data.release.address.postcode "
        "(granted as data.release by schedule1-release-to-police)",
        "b/tests/cases.yaml:8: rule schedule1-release-to-social-work does not grant "
        "police-g-division (matched: schedule1-release-to-police)",
    ]


def test_a_notification_the_schema_refuses_fails_the_case() -> None:
    failures = run(
        """\
cases:
  - name: Bad set
    given:
      - example: release.schedule1-notification
        set:
          data.release.type: maybe
          data.release.address.council_area: S12000099
    expect: {}
"""
    )
    assert len(failures) == 1
    assert failures[0].startswith("b/tests/cases.yaml:4: the notification is not valid: ")
    assert "/data/release/address/council_area must be one of: " in failures[0]
    assert "/data/release/type must be one of: " in failures[0]


def test_a_missing_example_fails_the_case() -> None:
    results = run_bundle_tests(bundle(), schemas(), Path("/nonexistent"), fold)
    assert not any(r.passed for r in results)
    assert "cannot read the example /nonexistent/custody.admission.json" in results[0].failures[0]
