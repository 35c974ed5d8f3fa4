"""The police ViSOR adapter: ViSOR's XML messages (namespace `NAMESPACE`, schema
`adapters/visor/visor.xsd`) in, canonical notifications out; disclosures rendered as ViSOR XML.

XML is parsed only through `defusedxml`, with DTDs, entities and external references refused:
ViSOR messages have none, so a document carrying one is hostile or broken.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Final
from xml.etree.ElementTree import Element, ParseError, SubElement, tostring

import defusedxml
from defusedxml.ElementTree import fromstring

from hub.adapters.base import (
    MAX_RECORD_BYTES,
    Adapter,
    AdapterRecord,
    RecordProblem,
    decode_utf8,
    new_envelope,
    rejected,
    too_large,
)
from hub.adapters.mapping import (
    Code,
    Date,
    DateTime,
    FieldMap,
    Integer,
    ListOf,
    MessageMap,
    NativeRecord,
    Pattern,
    Text,
    check_dataschema,
    choose_outbound,
    lenient,
    nest,
    parse_fields,
    render_fields,
    rendered_envelope,
    validation_problems,
)
from hub.domain.schemas import SchemaRegistry

NAME: Final = "visor"
NAMESPACE: Final = "urn:uk:police:visor:hub-interface:1"
SOURCE: Final = "urn:pph:police-scotland:visor"
SUBJECT_PREFIX: Final = "VISOR-MSG-"
MEDIA_TYPE: Final = "application/vnd.police-scotland.visor+xml"
ROOT: Final = "Message"
VERSION: Final = "1"
#: Top-level elements that are not the message body.
_FRAME: Final = ("Header", "Nominal")

_Q: Final = f"{{{NAMESPACE}}}"
_ENCODING_DECLARATION = re.compile(
    rb"""^\s*<\?xml[^>]*\bencoding\s*=\s*["']([A-Za-z0-9._-]+)["']"""
)


def _upper(values: Iterable[str]) -> Code:
    """One of ViSOR's enumerations: the canonical value in upper case with underscores."""
    return Code({canonical.upper().replace("-", "_"): canonical for canonical in values})


CATEGORY = Code({"A": "s10(1)(a)", "C": "s10(1)(c)", "D": "s10(1)(d)", "E": "s10(1)(e)"})
CATEGORY_GROUP = Code(
    {
        "RSO": "registered-sex-offender",
        "RP": "restricted-patient",
        "ROSH": "other-risk-of-serious-harm",
    }
)
RISK_LEVEL = _upper(("low", "medium", "high", "very-high"))
CHANGE = Code({"LEVEL": "level-change", "CATEGORY": "category-change", "DEREG": "deregistration"})
DEREGISTRATION_REASON = _upper(
    (
        "notification-requirements-ended",
        "restriction-ended",
        "supervision-ended",
        "risk-reduced",
        "moved-out-of-scotland",
        "died",
        "other",
    )
)
DECIDED_BY = Code(
    {
        "MAPPA": "mappa-meeting",
        "POLICE": "police-scotland",
        "LA": "local-authority",
        "HEALTH": "health-board",
        "SPS": "scottish-prison-service",
    }
)
AGENCY = Code(
    {
        "POLICE": "police-scotland",
        "LA": "local-authority",
        "HEALTH": "health-board",
        "SPS": "scottish-prison-service",
    }
)
REFERRAL_REASON = _upper(
    (
        "conviction-or-order",
        "pending-release",
        "hospital-leave-or-discharge",
        "increased-risk",
        "transfer-into-area",
        "review",
        "other",
    )
)
TOOL = Code(
    {
        "RM2000": "RM2000",
        "SA07": "SA07",
        "RA3": "RA3",
        "RA4": "RA4",
        "LSCMI": "LS/CMI",
        "SARN": "SARN",
        "OTHER": "other",
    }
)
MEASURE = Code(
    {"RECONVICTION": "risk-of-reconviction", "HARM": "risk-of-serious-harm", "NEEDS": "needs"}
)
ASSESSOR_AGENCY = Code({**AGENCY.table, "OTHER": "other"})
TRIGGER = _upper(
    (
        "failed-to-return-from-temporary-release",
        "absconded-from-open-estate",
        "escaped-from-custody",
        "failed-to-reside-at-approved-address",
        "failed-to-report-to-supervising-officer",
        "failed-to-comply-with-notification-requirements",
        "breach-of-curfew",
        "whereabouts-unknown",
        "other",
    )
)
LOCATED_OUTCOME = _upper(
    (
        "arrested",
        "returned-to-custody",
        "returned-to-approved-address",
        "admitted-to-hospital",
        "located-outside-scotland",
        "no-further-action",
        "other",
    )
)
REVOKING_AUTHORITY = Code({"SCOTTISH_MINISTERS": "scottish-ministers"})
STATUTORY_BASIS = Code({"S17_1_A": "s17(1)(a)", "S17_1_B": "s17(1)(b)", "S17A": "s17A"})
LICENCE_TYPE = _upper(
    (
        "parole",
        "non-parole",
        "extended-sentence",
        "life",
        "home-detention-curfew",
        "short-term-sex-offender",
    )
)
RECALL_REASON = _upper(
    (
        "further-offence-charged",
        "breach-of-licence-condition",
        "failure-to-report-to-supervising-officer",
        "failure-to-reside-at-approved-address",
        "whereabouts-unknown",
        "increased-risk-of-serious-harm",
        "curfew-breach",
        "other",
    )
)
CUSTODY_STATUS = _upper(("at-large", "in-custody"))
BASIS = _upper(("conviction", "civil-order", "breach-of-order"))
NOTIFIED_CHANGE = _upper(("address", "foreign-travel", "other"))
REQUIREMENTS_END_REASON = _upper(
    ("period-expired", "conviction-quashed", "discharged-on-review", "other")
)
ACCOMMODATION = _upper(
    (
        "private-tenancy-or-owned",
        "family-or-friends",
        "supported-accommodation",
        "local-authority-temporary",
        "no-fixed-abode",
        "other",
    )
)
CHILDREN_RESIDENT = _upper(("yes", "no", "unknown"))
#: A code, not a free flag: whether the requirements are indefinite is tied to their end date.
INDEFINITE = Code({"true": True, "false": False})

_CODE_TEXT = Text(max_length=30, free_text=False)
_DATE = Date("iso")
_LEVEL = Integer()
_COUNTRY = Text(max_length=2, free_text=False)

_FRAME_FIELDS: Final = (
    FieldMap(
        "Header/MessageId",
        "meta.message_id",
        Pattern(r"[A-Z0-9][A-Z0-9-]{0,39}", "VMSG-2024-0000123"),
        required=True,
    ),
    FieldMap("Header/RecordedAt", "time", DateTime(), required=True),
    FieldMap("Nominal/VisorRef", "identifiers.visor_ref", _CODE_TEXT, required=True),
    FieldMap("Nominal/PNC", "identifiers.pnc_id", _CODE_TEXT),
    FieldMap("Nominal/CRO", "identifiers.cro_number", _CODE_TEXT),
    FieldMap("Nominal/SPSNumber", "identifiers.sps_number", _CODE_TEXT),
    # ViSOR is shared with justice social work: the council's client id, as the hub qualifies
    # it (`<GSS code>:<client id>`), so that a disclosure loses no granted identifier.
    FieldMap("Nominal/SWClientId", "identifiers.sw_client_id", Text(80, free_text=False)),
)


def _body(body: str, *fields: tuple[str, str, Any, bool]) -> tuple[FieldMap, ...]:
    return (
        *_FRAME_FIELDS,
        *(FieldMap(f"{body}/{native}", path, codec, req) for native, path, codec, req in fields),
    )


def _referral_fields(body: str) -> tuple[FieldMap, ...]:
    return _body(
        body,
        ("Category", "data.category", CATEGORY, True),
        ("CategoryGroup", "data.category_group", CATEGORY_GROUP, True),
        ("Level", "data.level", _LEVEL, True),
        ("ReferringAgency", "data.referring_agency", AGENCY, True),
        ("ReferringCouncil", "data.referring_council_area", _CODE_TEXT, False),
        ("MappaArea", "data.mappa_area", _CODE_TEXT, True),
        ("ReferralDate", "data.referral_date", _DATE, True),
        ("Reason", "data.reason", REFERRAL_REASON, True),
        ("ReasonDetail", "data.reason_detail", Text(2000), False),
        ("RiskOfSeriousHarm", "data.risk_of_serious_harm", RISK_LEVEL, False),
    )


def _address(path: str, required: bool) -> tuple[tuple[str, str, Any, bool], ...]:
    """A notified address (`Address/...`), filling the canonical address at `path`."""
    return (
        ("Address/Council", f"{path}.council_area", _CODE_TEXT, required),
        ("Address/AccommodationType", f"{path}.accommodation_type", ACCOMMODATION, False),
        ("Address/Line", f"{path}.lines", ListOf(Text(100), max_items=5), False),
        ("Address/Postcode", f"{path}.postcode", Text(10, free_text=False), False),
        ("Address/ChildrenResident", f"{path}.children_resident", CHILDREN_RESIDENT, False),
    )


def _recall_fields(body: str) -> tuple[FieldMap, ...]:
    return _body(
        body,
        ("RevokingAuthority", "data.revoking_authority", REVOKING_AUTHORITY, True),
        ("StatutoryBasis", "data.statutory_basis", STATUTORY_BASIS, True),
        ("LicenceType", "data.licence_type", LICENCE_TYPE, True),
        ("RevocationDate", "data.revocation_date", _DATE, True),
        ("Reasons/Reason", "data.recall_reasons", ListOf(RECALL_REASON, 8, unique=True), True),
        ("ReasonDetail", "data.reason_detail", Text(2000), False),
        ("CustodyStatus", "data.custody_status", CUSTODY_STATUS, True),
        ("PoliceDivision", "data.police_division", _CODE_TEXT, False),
        ("SupervisingCouncil", "data.supervising_council_area", _CODE_TEXT, False),
        ("LiberatingEstablishment", "data.liberating_establishment", _CODE_TEXT, False),
    )


MESSAGES: Final[tuple[MessageMap, ...]] = (
    MessageMap(
        "NominalRegistration",
        "sex-offender.registered",
        _body(
            "NominalRegistration",
            ("RegistrationDate", "data.registration_date", _DATE, True),
            ("InitialNotificationDate", "data.initial_notification_date", _DATE, False),
            ("RequirementsEndDate", "data.requirements_end_date", _DATE, False),
            ("Indefinite", "data.indefinite", INDEFINITE, True),
            ("Basis", "data.basis", BASIS, True),
            *_address("data.address", required=True),
            ("PoliceDivision", "data.police_division", _CODE_TEXT, True),
        ),
        note="A registration on ViSOR: the person is subject to the sex offender notification "
        "requirements (Sexual Offences Act 2003, Part 2), from when, until when or indefinitely, "
        "at which address. The police are the authority for this status; a PR2 marker does not "
        "override it. (Before issue 14 this message became a `mappa.referral`; the MAPPA part "
        "is now sent as a `MappaReferral`.)",
    ),
    MessageMap(
        "NotificationChange",
        "sex-offender.notification-changed",
        _body(
            "NotificationChange",
            ("ChangeType", "data.change", NOTIFIED_CHANGE, True),
            ("NotifiedDate", "data.notified_date", _DATE, True),
            *_address("data.address", required=False),
            ("Travel/DepartureDate", "data.travel.departure_date", _DATE, False),
            ("Travel/ReturnDate", "data.travel.return_date", _DATE, False),
            ("Travel/DestinationCountry", "data.travel.destination_country", _COUNTRY, False),
            ("Detail", "data.detail", Text(1000), False),
            ("PoliceDivision", "data.police_division", _CODE_TEXT, True),
        ),
        note="A change notified by a registered sex offender: a new address (`Address` required; "
        "it moves the person's home area) or foreign travel (`Travel` required).",
    ),
    MessageMap(
        "RequirementsEnded",
        "sex-offender.requirements-ended",
        _body(
            "RequirementsEnded",
            ("EndDate", "data.end_date", _DATE, True),
            ("Reason", "data.reason", REQUIREMENTS_END_REASON, True),
            ("Detail", "data.detail", Text(1000), False),
            ("PoliceDivision", "data.police_division", _CODE_TEXT, False),
        ),
    ),
    MessageMap("MappaReferral", "mappa.referral", _referral_fields("MappaReferral")),
    MessageMap(
        "MappaLevelChange",
        "mappa.level-changed",
        _body(
            "MappaLevelChange",
            ("ChangeType", "data.change", CHANGE, True),
            ("Category", "data.category", CATEGORY, True),
            ("CategoryGroup", "data.category_group", CATEGORY_GROUP, True),
            ("PreviousCategory", "data.previous_category", CATEGORY, False),
            ("PreviousLevel", "data.previous_level", _LEVEL, True),
            ("NewLevel", "data.new_level", _LEVEL, False),
            ("DeregistrationReason", "data.deregistration_reason", DEREGISTRATION_REASON, False),
            ("MappaArea", "data.mappa_area", _CODE_TEXT, True),
            ("DecisionDate", "data.decision_date", _DATE, True),
            ("DecidedBy", "data.decided_by", DECIDED_BY, True),
            ("ReasonDetail", "data.reason_detail", Text(2000), False),
            ("RiskOfSeriousHarm", "data.risk_of_serious_harm", RISK_LEVEL, False),
        ),
    ),
    MessageMap(
        "RiskAssessment",
        "risk.assessment-recorded",
        _body(
            "RiskAssessment",
            ("Tool", "data.tool", TOOL, True),
            ("ToolName", "data.tool_name", Text(100), False),
            ("Measure", "data.measure", MEASURE, True),
            ("OutcomeLevel", "data.outcome_level", RISK_LEVEL, True),
            ("AssessmentDate", "data.assessment_date", _DATE, True),
            ("Assessor/Agency", "data.assessor.agency", ASSESSOR_AGENCY, True),
            ("Assessor/Role", "data.assessor.role", Text(100), True),
            ("Assessor/Council", "data.assessor.council_area", _CODE_TEXT, False),
            ("Summary", "data.summary", Text(4000), False),
            ("NextReviewDate", "data.next_review_date", _DATE, False),
        ),
    ),
    MessageMap(
        "MissingReport",
        "person.missing",
        _body(
            "MissingReport",
            ("MissingSince", "data.missing_since", DateTime(), True),
            ("ReportedAt", "data.reported_at", DateTime(), False),
            ("Trigger", "data.trigger", TRIGGER, True),
            ("LastKnownCouncil", "data.last_known_location.council_area", _CODE_TEXT, True),
            ("LastKnownPlace", "data.last_known_location.description", Text(200), False),
            ("Circumstances", "data.circumstances", Text(1000), True),
            ("PoliceDivision", "data.police_division", _CODE_TEXT, True),
        ),
    ),
    MessageMap(
        "LocatedReport",
        "person.located",
        _body(
            "LocatedReport",
            ("LocatedAt", "data.located_at", DateTime(), True),
            ("Outcome", "data.outcome", LOCATED_OUTCOME, True),
            ("Council", "data.location.council_area", _CODE_TEXT, False),
            ("Place", "data.location.description", Text(200), False),
            ("Circumstances", "data.circumstances", Text(1000), True),
            ("PoliceDivision", "data.police_division", _CODE_TEXT, True),
        ),
    ),
    MessageMap(
        "RecallReceipt",
        "licence.recall",
        _recall_fields("RecallReceipt"),
        outbound=False,
        note="The police record, on ViSOR, a recall notice they received from the Scottish "
        "Ministers (custody status, division). Sent as `licence.recall` with the police as "
        "source; the Ministers' own notification of the same recall has another source and id.",
    ),
    MessageMap(
        "RecallNotice",
        "licence.recall",
        _recall_fields("RecallNotice"),
        inbound=False,
        note="What the hub sends a police recipient when a licence is revoked.",
    ),
)
_BY_BODY: Final = {spec.native_type: spec for spec in MESSAGES}
_LISTS: Final = {f.native for spec in MESSAGES for f in spec.fields if f.codec.kind == "list"}
RENDERABLE_TYPES: Final = frozenset(spec.event_type for spec in MESSAGES if spec.outbound)


def _name(native: str) -> str:
    return f"/{ROOT}/{native}"


def _local(tag: str) -> str | None:
    """The local name of a tag in the ViSOR namespace; None for any other namespace."""
    return tag[len(_Q) :] if tag.startswith(_Q) else None


def _flatten(root: Element) -> tuple[NativeRecord, str | None, list[RecordProblem]]:
    """The message's leaf elements by path below the root, its body's name, and problems."""
    record: dict[str, list[str]] = {}
    problems: list[RecordProblem] = []
    body: str | None = None

    def walk(element: Element, path: str) -> None:
        for attribute in element.attrib:
            problems.append(RecordProblem(_name(path), f"has an unexpected attribute {attribute}"))
        children = list(element)
        text = element.text or ""
        if not children:
            record.setdefault(path, []).append(text)
            return
        if text.strip() or any((child.tail or "").strip() for child in children):
            problems.append(RecordProblem(_name(path), "mixes text with elements"))
        for child in children:
            local = _local(child.tag) if isinstance(child.tag, str) else None
            if local is None:
                problems.append(
                    RecordProblem(
                        _name(path), f"holds an element outside the {NAMESPACE} namespace"
                    )
                )
                continue
            walk(child, f"{path}/{local}")

    for child in root:
        local = _local(child.tag) if isinstance(child.tag, str) else None
        if local is None:
            problems.append(
                RecordProblem(f"/{ROOT}", f"holds an element outside the {NAMESPACE} namespace")
            )
            continue
        if local not in _FRAME:
            if body is not None:
                problems.append(RecordProblem(_name(local), "a message has one body element"))
                continue
            body = local
        walk(child, local)
    native: NativeRecord = {}
    for path, texts in record.items():
        if path in _LISTS:
            native[path] = texts
        elif len(texts) > 1:
            problems.append(RecordProblem(_name(path), f"appears {len(texts)} times; once only"))
        else:
            native[path] = texts[0]
    return native, body, problems


def _document(data: bytes) -> tuple[Element | None, RecordProblem | None]:
    problem = too_large(len(data), MAX_RECORD_BYTES, "message")
    if problem:
        return None, problem
    text, problem = decode_utf8(data, "message")
    if text is None:
        return None, problem
    declared = _ENCODING_DECLARATION.match(data.removeprefix(b"\xef\xbb\xbf"))
    if declared and declared.group(1).upper() not in (b"UTF-8", b"UTF8"):
        return None, RecordProblem(
            "", "the XML declaration names an encoding other than UTF-8; send UTF-8"
        )
    try:
        root = fromstring(
            data.removeprefix(b"\xef\xbb\xbf"),
            forbid_dtd=True,
            forbid_entities=True,
            forbid_external=True,
        )
    except defusedxml.DTDForbidden:
        return None, RecordProblem(
            "",
            "declares a DTD: ViSOR messages have none, and DTDs can expand entities or read "
            "external files; refused",
        )
    except defusedxml.EntitiesForbidden:
        return None, RecordProblem("", "declares XML entities (an entity expansion attack?)")
    except defusedxml.ExternalReferenceForbidden:
        return None, RecordProblem("", "refers to an external resource; refused")
    except ParseError as error:
        line, column = error.position
        # expat's "no element found", "unclosed token" and "partial character": the document
        # ended before it was complete.
        hint = " (the message is truncated)" if error.code in (3, 5, 6) else ""
        return None, RecordProblem(
            "", f"is not well-formed XML{hint}: error at line {line}, column {column + 1}"
        )
    return root, None


def parse(data: bytes, schemas: SchemaRegistry) -> list[AdapterRecord]:
    """One ViSOR XML message: one record, parsed or rejected."""
    root, problem = _document(data)
    if root is None:
        assert problem is not None
        return [rejected("", data, [problem])]
    location = f"/{ROOT}"
    if root.tag != _Q + ROOT:
        return [
            rejected(
                "",
                data,
                [RecordProblem("/", f"the root element must be {ROOT} in namespace {NAMESPACE}")],
            )
        ]
    extra = sorted(set(root.attrib) - {"version"})
    if root.attrib.get("version") != VERSION or extra:
        return [
            rejected(
                location,
                data,
                [RecordProblem(f"/{ROOT}/@version", f"must be {VERSION} and the only attribute")],
            )
        ]
    record, body, problems = _flatten(root)
    message_id = record.get("Header/MessageId")
    native_id = message_id if isinstance(message_id, str) and len(message_id) <= 40 else None
    spec = _BY_BODY.get(body) if body else None
    if spec is None or not spec.inbound:
        why = (
            "has no body: one of " + ", ".join(s.native_type for s in MESSAGES if s.inbound)
            if body is None
            else f"{body} is a message the hub sends; ViSOR may not send it"
            if spec is not None
            else f"{body} is not a ViSOR message type the hub knows"
        )
        field = location if body is None else _name(body)
        return [
            rejected(
                location,
                data,
                [*problems, RecordProblem(field, why)],
                native_type=body,
                native_id=native_id,
            )
        ]
    location = _name(spec.native_type)
    values, more = parse_fields(spec, record, False, _name)
    if problems or more:
        return [rejected(location, data, [*problems, *more], native_type=body, native_id=native_id)]
    message_id = values["meta.message_id"]
    envelope = new_envelope(
        adapter=NAME,
        source=SOURCE,
        native_id=message_id,
        event_type=spec.event_type,
        time=values["time"],
        subject=SUBJECT_PREFIX + message_id,
        identifiers=nest(values, "identifiers"),
        data=nest(values, "data"),
    )
    invalid = validation_problems(schemas, envelope, spec, _name, location)
    if invalid:
        return [rejected(location, data, invalid, native_type=body, native_id=message_id)]
    return [AdapterRecord(location, data, envelope, native_type=body, native_id=message_id)]


# -- outbound ----------------------------------------------------------------------------------

_HUB_FIELDS: Final = (("HubEventId", "id"), ("HubSource", "source"), ("HubSubject", "subject"))


def render(notification: Mapping[str, Any]) -> bytes:
    """A disclosure as a ViSOR XML message: the granted fields as elements (in the order of
    `visor.xsd`), the hub's id, source and subject in the header. Fields not granted are left out,
    never sent empty."""
    check_dataschema(notification)
    return write_message(choose_outbound(MESSAGES, notification), notification, hub=True)


def write_message(
    spec: MessageMap,
    envelope: Mapping[str, Any],
    *,
    hub: bool,
    message_id: str | None = None,
) -> bytes:
    """`envelope`'s fields as a ViSOR message of kind `spec`; with the hub's attributes in the
    header (`hub`), or as ViSOR itself would send it (`message_id`)."""
    fields = render_fields(spec, envelope, typed=False)
    if message_id is not None:
        fields = {"Header/MessageId": message_id, **fields}
    # Local names and an explicit default namespace: ElementTree cannot combine a default
    # namespace with the unqualified `version` attribute.
    root = Element(ROOT, {"xmlns": NAMESPACE, "version": VERSION})
    header = SubElement(root, "Header")
    nodes: dict[str, Element] = {"Header": header}
    for path, value in fields.items():
        *parents, leaf = path.split("/")
        parent = root
        walked = ""
        for step in parents:
            walked = f"{walked}/{step}" if walked else step
            if walked not in nodes:
                nodes[walked] = SubElement(parent, step)
            parent = nodes[walked]
        for text in value if isinstance(value, list) else [value]:
            SubElement(parent, leaf).text = str(text)
    if spec.native_type not in nodes:
        nodes[spec.native_type] = SubElement(root, spec.native_type)
    if hub:
        for element, attribute in _HUB_FIELDS:
            if attribute in envelope:
                SubElement(header, element).text = str(envelope[attribute])
    # The frame first, then the body: the order of the schema's sequence.
    body = nodes[spec.native_type]
    root.remove(body)
    root.append(body)
    text = tostring(root, encoding="unicode")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + text.encode("utf-8")


def read_rendered(data: bytes) -> dict[str, Any]:
    """A rendered ViSOR message back to the (redacted) envelope it was made from."""
    root, problem = _document(data)
    if root is None:
        raise ValueError(problem.reason if problem else "not a message")
    record, body, problems = _flatten(root)
    hub = {attr: record.pop(f"Header/{element}", None) for element, attr in _HUB_FIELDS}
    spec = _BY_BODY[body or ""]
    values, more = parse_fields(lenient(spec), record, False, _name)
    if problems or more:
        raise ValueError(f"not a rendered ViSOR message: {[*problems, *more]}")
    source, subject = hub["source"], hub["subject"]
    return rendered_envelope(
        values,
        str(hub["id"]),
        spec.event_type,
        source if isinstance(source, str) else None,
        subject if isinstance(subject, str) else None,
    )


ADAPTER: Final = Adapter(
    name=NAME,
    description="Police Scotland ViSOR: XML messages",
    parse=parse,
    render=render,
    read_rendered=read_rendered,
    media_type=MEDIA_TYPE,
    renderable_types=RENDERABLE_TYPES,
    formats={"message": parse},
)
