"""`hub policy`: check a policy bundle, run its test cases, explain a decision."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from hub.cli.common import Commands
from hub.cli.output import add_json_flag, emit_fields, emit_json
from hub.errors import InvalidInput

if TYPE_CHECKING:
    from hub.domain.policy import PolicyBundle
    from hub.domain.schemas import SchemaRegistry
    from hub.settings import Settings


def register(commands: Commands) -> None:
    policy = commands.add_parser("policy", help="the sharing rules in force")
    policy_commands = policy.add_subparsers(title="policy")
    bundle_help = "bundle folder (default HUB_POLICY_BUNDLE_DIR, i.e. policies/scotland)"

    check = policy_commands.add_parser("check", help="load a bundle; print its version or errors")
    check.add_argument("--bundle", type=Path, help=bundle_help)
    add_json_flag(check, "the bundle's name, version and counts")
    check.set_defaults(run=_check)

    test = policy_commands.add_parser("test", help="run a bundle's test cases")
    test.add_argument("--bundle", type=Path, help=bundle_help)
    test.add_argument("-v", "--verbose", action="store_true", help="list every case")
    add_json_flag(test, "every case's result")
    test.set_defaults(run=_test)

    explain = policy_commands.add_parser(
        "explain",
        help="who would receive a notification, which fields, under which rules, and why not",
    )
    explain.add_argument("file", type=Path, help="a notification (JSON), as an agency pushes it")
    add_json_flag(explain, "the explanation")
    explain.set_defaults(run=_explain)


def _load(args: argparse.Namespace, settings: Settings) -> tuple[PolicyBundle, SchemaRegistry]:
    from hub.domain.policy import PolicyBundle
    from hub.domain.schemas import SchemaRegistry

    schemas = SchemaRegistry.load(settings.events_dir)
    return PolicyBundle.load(args.bundle or settings.policy_bundle_dir, schemas), schemas


async def _check(args: argparse.Namespace, settings: Settings) -> int:
    bundle, _ = _load(args, settings)
    if args.json:
        emit_json(
            {
                "name": bundle.name,
                "version": bundle.version,
                "rules": len(bundle.rules),
                "recipients": len(bundle.directory.recipients),
                "tests": len(bundle.test_cases),
            }
        )
        return 0
    print(
        f"policy bundle {bundle.name} is valid: version {bundle.version}, {len(bundle.rules)} "
        f"rules, {len(bundle.directory.recipients)} recipients, {len(bundle.test_cases)} tests"
    )
    return 0


async def _test(args: argparse.Namespace, settings: Settings) -> int:
    from hub.services.policy_checks import run_policy_tests

    bundle, schemas = _load(args, settings)
    results = run_policy_tests(bundle, schemas, settings.events_dir / "examples")
    failed = [r for r in results if not r.passed]
    if args.json:
        cases = [
            {
                "name": r.name,
                "file": str(r.file),
                "line": r.line,
                "passed": r.passed,
                "failures": list(r.failures),
            }
            for r in results
        ]
        emit_json({"bundle": bundle.name, "version": bundle.version, "cases": cases})
        return 1 if failed else 0
    for result in results:
        if args.verbose or not result.passed:
            print(
                f"{'PASS' if result.passed else 'FAIL'}  {result.file}:{result.line}  {result.name}"
            )
            for failure in result.failures:
                print(f"      {failure}")
    print(
        f"policy {bundle.name} {bundle.version[:12]}: {len(results) - len(failed)} passed, "
        f"{len(failed)} failed"
    )
    return 1 if failed else 0


async def _explain(args: argparse.Namespace, settings: Settings) -> int:
    try:
        raw = json.loads(args.file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InvalidInput(f"cannot read a notification from {args.file}: {error}") from error
    from hub import bootstrap

    async with bootstrap.running(settings) as container:
        explanation = await container.explain.explain_hypothetical(raw)
    if args.json:
        emit_json(explanation)
    else:
        emit_fields(explanation)
    return 0
