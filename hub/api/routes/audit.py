"""The disclosure audit trail over HTTP: signed checkpoints and Merkle proofs for anyone who
verifies it, and the data protection officer's queries, person history reports (JSON or CSV)
and restrictions on subject access reports. Every query of the trail is itself logged, with the
purpose the caller declares in `X-Purpose`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from hub.api.audit_models import ConsistencyProofModel, InclusionProofModel, RestrictionModel
from hub.api.body import parse_body, read_json
from hub.api.deps import (
    AuditReader,
    AuditRestricter,
    AuditVerifier,
    ContainerDep,
    Purpose,
    principal,
)
from hub.api.openapi import json_body, problems
from hub.domain.audit.builders import Consulted
from hub.domain.audit.entries import AuditEntry, AuditKind
from hub.domain.schemas import representable_in_utc
from hub.errors import InvalidInput, NotFound
from hub.services.audit import StoredCheckpoint
from hub.services.audit_queries import (
    GROUNDS,
    MAX_PAGE,
    AuditQuery,
    AuditRecord,
    new_restriction_id,
    records_csv,
)

router = APIRouter(prefix="/v1/audit", tags=["audit"])

AUDIT_PROBLEMS = {
    400: "A parameter or X-Purpose is invalid; the problem names it",
    404: "No such person, entry, checkpoint or restriction",
}
PROBLEMS = problems(AUDIT_PROBLEMS)
CSV: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "JSON, or CSV with `format=csv`",
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "text/csv": {"schema": {"type": "string"}},
        },
    }
}

Format = Annotated[Literal["json", "csv"], Query(description="json (default) or csv")]


class CheckpointModel(BaseModel):
    tree_size: int
    root_hash: str = Field(description="Hex SHA-256 root of the first `tree_size` leaves")
    signed_at: datetime
    note: str = Field(description="The C2SP tlog-checkpoint signed note, verbatim")

    @classmethod
    def of(cls, checkpoint: StoredCheckpoint) -> CheckpointModel:
        return cls(
            tree_size=checkpoint.tree_size,
            root_hash=checkpoint.root_hash.hex(),
            signed_at=checkpoint.signed_at,
            note=checkpoint.note,
        )


class PublicKeyModel(BaseModel):
    verifier_key: str = Field(description="The note verifier key (name+hash+base64 Ed25519)")
    previous_verifier_keys: list[str] = Field(
        default_factory=list,
        description="Verifier keys of earlier signing keys: checkpoints signed before a "
        "rotation verify with them",
    )
    origin: str


def _a_ground(ground: str) -> str:
    if ground not in GROUNDS:
        raise ValueError(
            f"{ground!r} is not a ground of DPA 2018 s45(4); use one of " + ", ".join(GROUNDS)
        )
    return ground


class RestrictionRequest(BaseModel):
    """Unknown fields are refused, not ignored: a misspelt `recipient` would otherwise widen a
    restriction to everything shared."""

    model_config = ConfigDict(extra="forbid", strict=True)

    ground: Annotated[str, AfterValidator(_a_ground)] = Field(
        description="One of: " + ", ".join(GROUNDS)
    )
    recipients: list[str] = Field(default_factory=list, max_length=200)
    event_types: list[str] = Field(default_factory=list, max_length=200)
    reference: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_./:\-]{1,100}$",
        description="A case reference, e.g. SAR-0117",
    )


# -- verifying: checkpoints and proofs -----------------------------------------------------------


@router.get(
    "/public-key",
    operation_id="getAuditPublicKey",
    response_model=PublicKeyModel,
    responses=PROBLEMS,
)
async def public_key(container: ContainerDep, caller: AuditVerifier) -> PublicKeyModel:
    """The key that verifies the signed checkpoints (`hub audit verify-export --key`), and the
    earlier keys that verify checkpoints signed before a rotation."""
    signer = container.audit_signer
    return PublicKeyModel(
        verifier_key=signer.verifier_key,
        previous_verifier_keys=list(signer.trusted_keys[1:]),
        origin=signer.origin,
    )


@router.get(
    "/checkpoint",
    operation_id="getLatestAuditCheckpoint",
    response_model=CheckpointModel,
    responses=PROBLEMS,
)
async def latest_checkpoint(container: ContainerDep, caller: AuditVerifier) -> CheckpointModel:
    """The latest signed checkpoint (signed every few seconds while entries arrive)."""
    checkpoint = await container.audit_trail.latest_checkpoint()
    if checkpoint is None:
        raise NotFound("no audit checkpoint has been signed yet")
    return CheckpointModel.of(checkpoint)


@router.get(
    "/checkpoints",
    operation_id="listAuditCheckpoints",
    response_model=list[CheckpointModel],
    responses=PROBLEMS,
)
async def list_checkpoints(
    container: ContainerDep,
    caller: AuditVerifier,
    after_size: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[CheckpointModel]:
    """Signed checkpoints of trees larger than `after_size`, smallest first."""
    found = await container.audit_trail.checkpoints(after_size, limit)
    return [CheckpointModel.of(c) for c in found]


@router.get(
    "/proofs/consistency",
    operation_id="getAuditConsistencyProof",
    response_model=ConsistencyProofModel,
    responses=PROBLEMS,
)
async def consistency_proof(
    container: ContainerDep,
    caller: AuditVerifier,
    old_size: Annotated[int, Query(ge=0, le=2**63 - 1)],
    new_size: Annotated[int, Query(ge=0, le=2**63 - 1)],
) -> dict[str, Any]:
    """RFC 9162 proof that the tree of `new_size` leaves extends that of `old_size` (hashes
    only), with the signed notes of both sizes where checkpoints were signed at them."""
    proof = await container.audit_trail.consistency_proof(old_size, new_size)
    return proof.as_json()


@router.get(
    "/proofs/inclusion",
    operation_id="getAuditInclusionProof",
    response_model=InclusionProofModel,
    responses=PROBLEMS,
)
async def inclusion_proof(
    container: ContainerDep,
    caller: AuditReader,
    purpose: Purpose,
    leaf_index: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
    position: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    tree_size: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> dict[str, Any]:
    """RFC 9162 proof that one entry (by leaf index or position) is in the tree of `tree_size`
    leaves (default: the latest checkpoint), with the entry itself. The entry is metadata about
    a person, so this needs `audit:read` and is logged."""
    proof = await container.audit_trail.inclusion_proof(
        entry_position=position, leaf_index=leaf_index, tree_size=tree_size
    )
    record = AuditRecord(proof.position, proof.leaf_index, _entry(proof.entry))
    await _log_read([record], "audit.proof", caller, purpose, container)
    return proof.as_json()


# -- the DPO's queries ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """The criteria of a DPO query, as query parameters (every one optional)."""

    person: str | None
    recipient: str | None
    rule: str | None
    purpose_contains: str | None
    event_id: str | None
    since: datetime | None
    until: datetime | None
    after: int
    limit: int
    format: Literal["json", "csv"]


def _in_utc_range(moment: datetime) -> datetime:
    if not representable_in_utc(moment):
        raise ValueError("is outside the years 1-9999 in UTC")
    return moment


#: A date-time the hub can move to UTC (0001-01-01T00:00:00+14:00 cannot be): a 422 naming the
#: parameter rather than an OverflowError.
Moment = Annotated[datetime, AfterValidator(_in_utc_range)]


def filters(
    person: Annotated[
        str | None,
        Query(description="A person id, or any identifier as scheme:value (e.g. pnc_id:…)"),
    ] = None,
    recipient: Annotated[str | None, Query(description="A recipient id")] = None,
    rule: Annotated[str | None, Query(description="A sharing rule id")] = None,
    purpose_contains: Annotated[
        str | None,
        Query(alias="purpose", max_length=200, description="Words in the recorded purpose"),
    ] = None,
    event_id: Annotated[str | None, Query(max_length=500)] = None,
    since: Annotated[Moment | None, Query(description="From (inclusive, with zone)")] = None,
    until: Annotated[Moment | None, Query(description="Before (with zone)")] = None,
    # At most the largest database integer: a larger one would overflow the query (a 500).
    after: Annotated[
        int, Query(ge=0, le=2**63 - 1, description="The last position already read")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 500,
    format: Format = "json",
) -> Filters:
    return Filters(
        person, recipient, rule, purpose_contains, event_id, since, until, after, limit, format
    )


FiltersDep = Annotated[Filters, Depends(filters)]
Kinds = Annotated[list[str] | None, Query(description="Entry kinds (repeatable)")]


async def _find(
    kinds: tuple[AuditKind, ...],
    given: Filters,
    container: ContainerDep,
    caller: AuditReader,
    purpose: str | None,
) -> Response | dict[str, Any]:
    person_id = None
    if given.person is not None:
        person_id = await container.audit_queries.resolve_person(given.person)
    query = AuditQuery(
        person_id=person_id,
        recipient_id=given.recipient,
        rule=given.rule,
        purpose=given.purpose_contains,
        event_id=given.event_id,
        kinds=kinds,
        since=given.since,
        until=given.until,
        after=given.after,
        limit=given.limit,
    )
    records = await container.audit_queries.find(query, principal(caller), purpose)
    if given.format == "csv":
        return Response(records_csv(records), media_type="text/csv; charset=utf-8")
    return {
        "entries": [r.as_json() for r in records],
        "next_after": records[-1].position if records else given.after,
        "complete": len(records) < given.limit,
    }


@router.get("/disclosures", operation_id="findAuditedDisclosures", responses=PROBLEMS | CSV)
async def find_disclosures(
    container: ContainerDep, caller: AuditReader, purpose: Purpose, given: FiltersDep
) -> Any:
    """Disclosure decisions (denials included: `outcome`), delivery attempts and
    acknowledgements matching every criterion given, in log order; page with `after`."""
    kinds = (AuditKind.DISCLOSURE, AuditKind.DELIVERY, AuditKind.ACKNOWLEDGEMENT)
    return await _find(kinds, given, container, caller, purpose)


@router.get("/entries", operation_id="findAuditEntries", responses=PROBLEMS | CSV)
async def find_entries(
    container: ContainerDep,
    caller: AuditReader,
    purpose: Purpose,
    given: FiltersDep,
    kind: Kinds = None,
) -> Any:
    """Audit entries of any kind (collection, alteration, consultation, disclosure, delivery,
    acknowledgement, combination, erasure) matching every criterion given."""
    try:
        kinds = tuple(AuditKind(k) for k in kind or ())
    except ValueError:
        raise InvalidInput("kind must be one of " + ", ".join(k.value for k in AuditKind)) from None
    return await _find(kinds, given, container, caller, purpose)


@router.get(
    "/persons/{person:path}/history", operation_id="getPersonHistory", responses=PROBLEMS | CSV
)
async def person_history(
    person: str,
    container: ContainerDep,
    caller: AuditReader,
    purpose: Purpose,
    subject_access: Annotated[
        bool,
        Query(
            description="A report for the person themselves: withholds what an active "
            "restriction covers, and says so"
        ),
    ] = False,
    format: Format = "json",
) -> Any:
    """Everything the trail holds about a person (found by id or any identifier): what was
    collected, what was disclosed to whom, why, and whether it was delivered and acknowledged,
    what was refused and why, who read it, what was changed or erased."""
    person_id = await container.audit_queries.resolve_person(person)
    report = await container.audit_queries.history(
        person_id, principal(caller), purpose, subject_access=subject_access
    )
    if format == "csv":
        return Response(report.as_csv(), media_type="text/csv; charset=utf-8")
    document = report.as_json()
    checkpoint = await container.audit_trail.latest_checkpoint()
    document["checkpoint"] = (
        None if checkpoint is None else CheckpointModel.of(checkpoint).model_dump(mode="json")
    )
    return document


@router.get(
    "/persons/{person:path}/restrictions",
    operation_id="listPersonRestrictions",
    response_model=list[RestrictionModel],
    responses=PROBLEMS,
)
async def person_restrictions(
    person: str, container: ContainerDep, caller: AuditReader, purpose: Purpose
) -> list[dict[str, Any]]:
    """Every restriction placed on the person's subject access reports, lifted ones too."""
    person_id = await container.audit_queries.resolve_person(person)
    found = await container.audit_queries.restrictions(person_id, principal(caller), purpose)
    return [r.as_json() for r in found]


@router.post(
    "/persons/{person:path}/restrictions",
    operation_id="restrictPerson",
    status_code=201,
    response_model=RestrictionModel,
    responses=problems(
        AUDIT_PROBLEMS
        | {
            400: "Not strict JSON, or a parameter is invalid",
            403: "The token lacks audit:restrict",
            413: "The body is over the size limit",
            415: "The body is not JSON",
            422: "Not a restriction: `errors` names each wrong field; nothing was placed",
        }
    ),
    openapi_extra=json_body(RestrictionRequest.model_json_schema()),
)
async def restrict_person(
    person: str, request: Request, container: ContainerDep, caller: AuditRestricter
) -> dict[str, Any]:
    """Restrict what the person's subject access reports disclose (DPA 2018 s45(4)): all that
    was shared, or only what went to `recipients` / was about `event_types`."""
    raw = await read_json(request, container.settings.max_request_bytes)
    body = parse_body(RestrictionRequest, raw)
    person_id = await container.audit_queries.resolve_person(person)
    restriction = await container.audit_queries.restrict(
        person_id,
        ground=body.ground,
        recipients=body.recipients,
        event_types=body.event_types,
        reference=body.reference,
        principal=principal(caller),
        restriction_id=new_restriction_id(),
    )
    return restriction.as_json()


@router.post(
    "/restrictions/{restriction_id}/lift",
    operation_id="liftRestriction",
    response_model=RestrictionModel,
    responses=problems(AUDIT_PROBLEMS | {409: "The restriction was already lifted"}),
)
async def lift_restriction(
    restriction_id: str, container: ContainerDep, caller: AuditRestricter
) -> dict[str, Any]:
    """Lift a restriction (it stays on record, with who lifted it and when)."""
    lifted = await container.audit_queries.lift(restriction_id, principal(caller))
    return lifted.as_json()


def _entry(canonical: str) -> AuditEntry:
    return AuditEntry.from_canonical(canonical.encode("utf-8"))


async def _log_read(
    records: list[AuditRecord],
    what: str,
    caller: AuditReader,
    purpose: str | None,
    container: ContainerDep,
) -> None:
    people = sorted({r.entry.person_id for r in records if r.entry.person_id})
    await container.consultations.record(
        [Consulted(what, person_id=p) for p in people] or [Consulted(what)],
        principal(caller),
        purpose,
        query={"positions": [r.position for r in records][:50]},
    )
