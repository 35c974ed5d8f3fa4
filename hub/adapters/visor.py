"""The police ViSOR adapter: ViSOR's XML messages (namespace `NAMESPACE`, schema
`adapters/visor/visor.xsd`) in, canonical notifications out; disclosures rendered as ViSOR XML.

XML is parsed only through `defusedxml`, with DTDs, entities and external references refused:
ViSOR messages have none, so a document carrying one is hostile or broken.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
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
    MessageMap,
    NativeRecord,
    check_dataschema,
    choose_outbound,
    lenient,
    nest,
    parse_fields,
    render_fields,
    rendered_envelope,
    validation_problems,
)
from hub.adapters.visor_messages import MESSAGES
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
