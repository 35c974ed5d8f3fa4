"""`hub audit`: verify the disclosure audit trail, sign its checkpoints, give out proofs, and
export it for a recipient agency or an auditor to verify with nothing but the hub's public key."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.cli.choices import AUDIT_KINDS, RESTRICTION_GROUNDS
from hub.cli.common import Commands
from hub.cli.output import add_json_flag, emit_fields, emit_json, emit_table
from hub.cli.progress import working
from hub.errors import InvalidInput

if TYPE_CHECKING:
    from hub.domain.audit.held import HeldCheckpoint
    from hub.domain.audit.verification import VerificationReport
    from hub.services.audit_evidence import EvidenceReport
    from hub.services.audit_queries import Principal
    from hub.settings import Settings


def register(commands: Commands) -> None:
    audit = commands.add_parser("audit", help="the tamper-evident disclosure audit trail")
    audit_commands = audit.add_subparsers(title="audit")

    verify = audit_commands.add_parser(
        "verify",
        help="recompute the Merkle tree from the stored entries and check every signed "
        "checkpoint, then check every event, disclosure, denial, erasure, feed and the query "
        "index against the entries; exit 1 naming the first entry that was changed, removed, "
        "inserted or reordered, or the first row (table, key, column) that disagrees with them; "
        "each run is recorded (when, where, how far, what it found) for the console's audit "
        "status page",
    )
    verify.add_argument(
        "--checkpoint",
        type=Path,
        metavar="FILE",
        help="check the log against this signed checkpoint (the note, or a Pph-Audit-Checkpoint "
        "header value a recipient kept) instead of the latest one in the checkpoint directory",
    )
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.set_defaults(run=_verify)

    export = audit_commands.add_parser(
        "export",
        help="sequence and checkpoint what is waiting, then write the log as JSON Lines: "
        "header, signed checkpoints, entries (everything covered by a checkpoint)",
    )
    export.add_argument("file", type=Path)
    export.set_defaults(run=_export)

    verify_file = audit_commands.add_parser(
        "verify-export",
        help="verify an export with nothing but the file and the hub's verifier key "
        "(no database); exit 1 on failure",
    )
    verify_file.add_argument("file", type=Path)
    verify_file.add_argument(
        "--key",
        required=True,
        action="append",
        help="the hub's verifier key, as `hub audit public-key` prints it; repeat it to give "
        "earlier keys too (after a rotation, checkpoints signed before it)",
    )
    verify_file.add_argument("--json", action="store_true", help="print the report as JSON")
    verify_file.set_defaults(run=_verify_export)

    public_key = audit_commands.add_parser(
        "public-key",
        help="print the verifier key that checks the log's signed checkpoints (and, after a "
        "rotation, the earlier keys still trusted, one per line)",
    )
    public_key.set_defaults(run=_public_key)

    checkpoint = audit_commands.add_parser(
        "checkpoint",
        help="add every waiting entry to the tree, then sign a checkpoint if the tree grew",
    )
    checkpoint.set_defaults(run=_checkpoint)

    prove = audit_commands.add_parser(
        "prove", help="print the inclusion proof of one entry in the latest checkpoint"
    )
    add_json_flag(prove, "the proof")
    which = prove.add_mutually_exclusive_group(required=True)
    which.add_argument("--position", type=int, help="the entry's position")
    which.add_argument("--leaf", type=int, help="the entry's leaf index")
    prove.add_argument("--tree-size", type=int, default=None, help="default: latest checkpoint")
    prove.set_defaults(run=_prove)

    consistency = audit_commands.add_parser(
        "consistency",
        help="print the proof that the tree of NEW leaves extends the tree of OLD",
    )
    add_json_flag(consistency, "the proof")
    consistency.add_argument("old_size", type=int)
    consistency.add_argument("new_size", type=int)
    consistency.set_defaults(run=_consistency)

    query = audit_commands.add_parser(
        "query",
        help="audit entries matching every criterion given (a DPO query; logged as a "
        "consultation with --purpose)",
    )
    query.add_argument("--person", help="a person id or identifier scheme:value")
    query.add_argument("--recipient")
    query.add_argument("--rule")
    query.add_argument("--purpose-contains", help="words in the recorded purpose")
    query.add_argument("--event-id")
    query.add_argument("--kind", action="append", choices=AUDIT_KINDS, help="repeatable")
    query.add_argument("--since", help="ISO 8601 time with zone (inclusive)")
    query.add_argument("--until", help="ISO 8601 time with zone (exclusive)")
    query.add_argument("--after", type=int, default=0, help="the last position already read")
    query.add_argument("--limit", type=int, default=500)
    _purpose_and_format(query)
    query.set_defaults(run=_query)

    history = audit_commands.add_parser(
        "history",
        help="a person's full history: collected, disclosed (to whom, why, delivered, "
        "acknowledged), refused, read, altered, erased",
    )
    history.add_argument("person", help="a person id or identifier scheme:value")
    history.add_argument(
        "--subject-access",
        action="store_true",
        help="a report for the person themselves: withhold what a restriction covers, and say so",
    )
    _purpose_and_format(history)
    history.set_defaults(run=_history)

    restrict = audit_commands.add_parser(
        "restrict", help="restrict what a person's subject access reports disclose (s45(4))"
    )
    restrict.add_argument("person", help="a person id or identifier scheme:value")
    restrict.add_argument("--ground", required=True, choices=RESTRICTION_GROUNDS)
    restrict.add_argument("--recipient", action="append", default=[], help="repeatable")
    restrict.add_argument("--event-type", action="append", default=[], help="repeatable")
    restrict.add_argument("--reference", help="a case reference")
    restrict.add_argument("--by", default=None, help="who (default: the OS user)")
    add_json_flag(restrict, "the restriction")
    restrict.set_defaults(run=_restrict)

    lift = audit_commands.add_parser("lift", help="lift a restriction (it stays on record)")
    lift.add_argument("restriction_id")
    lift.add_argument("--by", default=None, help="who (default: the OS user)")
    add_json_flag(lift, "the restriction")
    lift.set_defaults(run=_lift)


def _purpose_and_format(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--purpose",
        required=True,
        help="why you are reading this personal data (recorded in the audit trail)",
    )
    parser.add_argument("--by", default=None, help="who (default: the OS user)")
    shape = parser.add_mutually_exclusive_group()
    shape.add_argument("--csv", action="store_true", help="print CSV instead of text")
    shape.add_argument("--json", action="store_true", help="print JSON instead of text")


def _principal(args: argparse.Namespace) -> Principal:
    from hub.services.audit_queries import Principal

    return Principal(f"cli:{args.by or getpass.getuser()}", "hub")


def _time(text: str | None, name: str) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{name}: {text!r} is not an ISO 8601 time") from None


async def _query(args: argparse.Namespace, settings: Settings) -> int:
    from hub import bootstrap
    from hub.domain.audit.entries import AuditKind
    from hub.services.audit_queries import AuditQuery, records_csv

    async with bootstrap.running(settings) as container:
        queries = container.audit_queries
        person_id = None if args.person is None else await queries.resolve_person(args.person)
        found = await queries.find(
            AuditQuery(
                person_id=person_id,
                recipient_id=args.recipient,
                rule=args.rule,
                purpose=args.purpose_contains,
                event_id=args.event_id,
                kinds=tuple(AuditKind(k) for k in args.kind or ()),
                since=_time(args.since, "--since"),
                until=_time(args.until, "--until"),
                after=args.after,
                limit=args.limit,
            ),
            _principal(args),
            args.purpose,
        )
    if args.csv:
        sys.stdout.write(records_csv(found))
    elif args.json:
        emit_json([r.as_json() for r in found])
    else:
        emit_table([_record_row(r.as_json()) for r in found], _RECORD_COLUMNS)
    return 0


#: The columns of `hub audit query`'s text table (all of them: --json or --csv).
_RECORD_COLUMNS = (
    "position",
    "occurred_at",
    "kind",
    "outcome",
    "person_id",
    "recipient_id",
    "event",
)


def _record_row(record: dict[str, Any]) -> dict[str, Any]:
    details = record.get("details") or {}
    return {**record, "event": details.get("event_type") or record.get("event_id")}


async def _history(args: argparse.Namespace, settings: Settings) -> int:
    from hub import bootstrap

    async with bootstrap.running(settings) as container:
        person_id = await container.audit_queries.resolve_person(args.person)
        report = await container.audit_queries.history(
            person_id, _principal(args), args.purpose, subject_access=args.subject_access
        )
    if args.csv:
        sys.stdout.write(report.as_csv())
    elif args.json:
        emit_json(report.as_json())
    else:
        emit_fields(report.as_json())
    return 0


async def _restrict(args: argparse.Namespace, settings: Settings) -> int:
    from hub import bootstrap
    from hub.services.audit_queries import new_restriction_id

    async with bootstrap.running(settings) as container:
        person_id = await container.audit_queries.resolve_person(args.person)
        restriction = await container.audit_queries.restrict(
            person_id,
            ground=args.ground,
            recipients=args.recipient,
            event_types=args.event_type,
            reference=args.reference,
            principal=_principal(args),
            restriction_id=new_restriction_id(),
        )
    _emit(restriction.as_json(), as_json=args.json)
    return 0


async def _lift(args: argparse.Namespace, settings: Settings) -> int:
    from hub import bootstrap

    async with bootstrap.running(settings) as container:
        lifted = await container.audit_queries.lift(args.restriction_id, _principal(args))
    _emit(lifted.as_json(), as_json=args.json)
    return 0


def _held(path: Path | None) -> HeldCheckpoint | None:
    """The checkpoint the operator gives (`--checkpoint FILE`), read before the database is."""
    from hub.domain.audit.checkpoint import CheckpointError
    from hub.domain.audit.held import HeldCheckpoint, decode_held

    if path is None:
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInput(f"--checkpoint: cannot read {path}: {error}") from error
    try:
        return HeldCheckpoint(decode_held(text), str(path))
    except CheckpointError as error:
        raise InvalidInput(f"--checkpoint: {path}: {error}") from error


async def _verify(args: argparse.Namespace, settings: Settings) -> int:
    # The light composition root: what verification needs and nothing else.
    from hub.bootstrap_audit import verifying

    held = _held(args.checkpoint)
    async with verifying(settings) as verification:
        with working("verifying the audit log, then the stored rows against it"):
            outcome = await verification.run(held)
    if outcome.evidence is None:
        return _print_report(outcome.report, as_json=args.json)
    return _print_evidence(outcome.report, outcome.evidence, as_json=args.json)


def _print_evidence(report: VerificationReport, evidence: EvidenceReport, *, as_json: bool) -> int:
    """The tree verified; now what the check of the rows against the log found."""
    if as_json:
        document = {**report.as_json(), "ok": evidence.ok, "evidence": evidence.as_json()}
        print(json.dumps(document, indent=2))
        return 0 if evidence.ok else 1
    if evidence.failure is None:
        code = _print_report(report, as_json=False)
        print(f"OK: {evidence.summary()}")
        return code
    print(f"FAILED (evidence): {evidence.failure.describe()}", file=sys.stderr)
    print(
        f"the tree verified ({report.entries} entries); the rows checked before the mismatch: "
        f"{evidence.summary()}",
        file=sys.stderr,
    )
    return 1


async def _export(args: argparse.Namespace, settings: Settings) -> int:
    from hub import bootstrap

    async with bootstrap.running(settings) as container:
        with working(f"exporting the audit log to {args.file}"):
            await container.audit_sequencer().run_until_idle()
            await container.audit_checkpointer().run_once()
            summary = await container.audit_verifier().export(args.file)
    print(
        f"exported {summary.tree_size} entries and {summary.checkpoints} signed checkpoints "
        f"to {summary.path}"
    )
    keys = " ".join(f"--key {key}" for key in container.audit_signer.trusted_keys)
    print(f"verify with: hub audit verify-export {summary.path} {keys}")
    return 0


async def _verify_export(args: argparse.Namespace, settings: Settings) -> int:
    from hub.domain.audit.export_file import verify_export

    report = await asyncio.to_thread(verify_export, args.file, args.key)
    return _print_report(report, as_json=args.json)


async def _public_key(args: argparse.Namespace, settings: Settings) -> int:
    from hub import bootstrap

    print("\n".join(bootstrap.audit_signer(settings).trusted_keys))
    return 0


async def _checkpoint(args: argparse.Namespace, settings: Settings) -> int:
    from hub import bootstrap

    async with bootstrap.running(settings) as container:
        added = await container.audit_sequencer().run_until_idle()
        signed = await container.audit_checkpointer().run_once()
        latest = await container.audit_trail.latest_checkpoint()
    print(f"added {added} entries to the tree")
    if signed is not None:
        print(f"signed a checkpoint of tree size {signed.tree_size}, root {signed.root_hash.hex()}")
    elif latest is not None:
        print(f"the tree has not grown since the checkpoint of tree size {latest.tree_size}")
    else:
        print("the log is empty: nothing to sign")
    return 0


async def _prove(args: argparse.Namespace, settings: Settings) -> int:
    from hub import bootstrap

    async with bootstrap.running(settings) as container:
        proof = await container.audit_trail.inclusion_proof(
            entry_position=args.position, leaf_index=args.leaf, tree_size=args.tree_size
        )
    _emit(proof.as_json(), as_json=args.json)
    return 0


async def _consistency(args: argparse.Namespace, settings: Settings) -> int:
    from hub import bootstrap

    async with bootstrap.running(settings) as container:
        proof = await container.audit_trail.consistency_proof(args.old_size, args.new_size)
    _emit(proof.as_json(), as_json=args.json)
    return 0


def _emit(document: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        emit_json(document)
    else:
        emit_fields(document)


def _print_report(report: VerificationReport, *, as_json: bool) -> int:
    if as_json:
        print(json.dumps(report.as_json(), indent=2))
        return 0 if report.ok else 1
    checked = f"{report.entries} entries and {report.checkpoints} signed checkpoints checked"
    if report.latest_checkpoint is not None:
        checked += f" (latest checkpoint: tree size {report.latest_checkpoint})"
    failure = report.failure
    if failure is None:
        print(f"OK: {checked}")
        if report.held_checkpoint is not None:
            print(
                f"checked against the checkpoint of tree size {report.held_checkpoint} held "
                f"outside the database ({report.held_source})"
            )
        else:
            print(
                "WARNING: no checkpoint held outside the database was found: this proves the "
                "log matches its own checkpoints only, not that none were rewritten or rolled "
                "back (give one with --checkpoint FILE, or see HUB_AUDIT_CHECKPOINT_DIR)"
            )
        if report.unsequenced:
            print(f"{report.unsequenced} newer entries are not in the tree yet")
        return 0
    print(f"FAILED ({failure.check}): {failure.message}", file=sys.stderr)
    where = [
        f"{name} {value}"
        for name, value in (
            ("leaf", failure.leaf_index),
            ("position", failure.position),
            ("checkpoint tree size", failure.tree_size),
        )
        if value is not None
    ]
    if where:
        print(f"first bad entry: {', '.join(where)}", file=sys.stderr)
    if failure.entry is not None:
        print(f"stored entry: {failure.entry}", file=sys.stderr)
    print(checked, file=sys.stderr)
    return 1
