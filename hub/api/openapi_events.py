"""The contract of `events/` as OpenAPI components: the envelope's shared members, each body
schema (its `$defs` lifted to components of their own, so every reference resolves within the
document), one notification schema per event type, `Notification` (their union, discriminated
by `type`), `NotificationBatch`, and the examples of `events/examples/`."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hub.domain.notifications import HUB_WRITTEN_TYPES
from hub.domain.schemas import ENVELOPE_FILE, dataschema_urn

COMPONENTS = "#/components/schemas/"
#: The envelope of `events/envelope.v1.schema.json` less what differs by type (`type`,
#: `dataschema`, `data`), which each type's schema adds.
CONTEXT = "NotificationContext"
_BY_TYPE = ("type", "dataschema", "data")
#: Every notification the hub validates: one schema per event type, discriminated by `type`.
NOTIFICATION_NAME = "Notification"
#: What agencies may push: every type but those only the hub writes (`HUB_WRITTEN_TYPES`).
PUSHED_NOTIFICATION_NAME = "PushedNotification"
NOTIFICATION_BATCH_NAME = "NotificationBatch"
NOTIFICATION: dict[str, Any] = {"$ref": COMPONENTS + NOTIFICATION_NAME}
PUSHED_NOTIFICATION: dict[str, Any] = {"$ref": COMPONENTS + PUSHED_NOTIFICATION_NAME}
NOTIFICATION_BATCH: dict[str, Any] = {"$ref": COMPONENTS + NOTIFICATION_BATCH_NAME}
_SCHEMA_FILE = re.compile(r"(?P<type>[a-z][a-z0-9-]*(?:\.[a-z][a-z0-9-]*)+)\.v(?P<v>[1-9][0-9]*)")
_LOCAL_DEF = re.compile(r"#/\$defs/(?P<name>[A-Za-z0-9_-]+)")


class EventContract:
    """The schemas and examples of `events/`, as OpenAPI components: the envelope's shared
    members, each body
    schema (its `$defs` lifted to components of their own, so that every reference resolves
    within the document), one notification schema per type, and `Notification`, their union."""

    def __init__(
        self,
        envelope: dict[str, Any],
        bodies: dict[tuple[str, int], dict[str, Any]],
        examples: dict[str, dict[str, Any]],
    ) -> None:
        self._envelope = envelope
        self._bodies = bodies
        self._examples = examples

    @classmethod
    def load(cls, events_dir: Path) -> EventContract:
        envelope = _read(events_dir / ENVELOPE_FILE)
        bodies: dict[tuple[str, int], dict[str, Any]] = {}
        for path in sorted(events_dir.glob("*.schema.json")):
            match = _SCHEMA_FILE.fullmatch(path.name.removesuffix(".schema.json"))
            if path.name != ENVELOPE_FILE and match is not None:
                bodies[(match["type"], int(match["v"]))] = _read(path)
        examples = {
            path.stem: _read(path) for path in sorted((events_dir / "examples").glob("*.json"))
        }
        return cls(envelope, bodies, examples)

    def event_types(self) -> list[str]:
        return sorted({event_type for event_type, _ in self._bodies})

    def schemas(self) -> dict[str, Any]:
        schemas: dict[str, Any] = {CONTEXT: _context(self._envelope)}
        mapping: dict[str, str] = {}
        for (event_type, version), body in sorted(self._bodies.items()):
            schemas.update(_lifted(body_schema_name(event_type, version), body))
        for event_type in self.event_types():
            versions = sorted(v for t, v in self._bodies if t == event_type)
            refs = [{"$ref": COMPONENTS + body_schema_name(event_type, v)} for v in versions]
            name = notification_schema_name(event_type)
            pushed_by = (
                "the hub itself; agencies cannot push it"
                if event_type in HUB_WRITTEN_TYPES
                else "agency systems"
            )
            schemas[name] = {
                "title": f"{event_type} notification",
                "description": f"A `{event_type}` notification, pushed by {pushed_by}.",
                "allOf": [
                    {"$ref": COMPONENTS + CONTEXT},
                    {
                        "type": "object",
                        "required": list(_BY_TYPE),
                        "properties": {
                            "type": {"type": "string", "const": event_type},
                            "dataschema": {
                                "type": "string",
                                "enum": [dataschema_urn(event_type, v) for v in versions],
                                "description": "Names the body schema and its version",
                            },
                            "data": refs[0] if len(refs) == 1 else {"oneOf": refs},
                        },
                    },
                ],
                # The envelope's `additionalProperties: false`, across both parts.
                "unevaluatedProperties": False,
            }
            mapping[event_type] = COMPONENTS + name
        schemas[NOTIFICATION_NAME] = {
            "title": "Notification",
            "description": "A notification (CloudEvents 1.0, JSON structured mode) of any event "
            "type: its `type` says which schema applies.",
            "oneOf": [{"$ref": ref} for ref in mapping.values()],
            "discriminator": {"propertyName": "type", "mapping": mapping},
        }
        pushed = {t: ref for t, ref in mapping.items() if t not in HUB_WRITTEN_TYPES}
        schemas[PUSHED_NOTIFICATION_NAME] = {
            "title": "Pushed notification",
            "description": "A notification an agency system may push: any type but those only "
            "the hub writes (" + ", ".join(sorted(HUB_WRITTEN_TYPES)) + ").",
            "oneOf": [{"$ref": ref} for ref in pushed.values()],
            "discriminator": {"propertyName": "type", "mapping": pushed},
        }
        schemas[NOTIFICATION_BATCH_NAME] = {
            "title": "Notification batch",
            "description": "Notifications stored all or nothing, in order.",
            "type": "array",
            "minItems": 1,
            "items": PUSHED_NOTIFICATION,
        }
        return schemas

    def publishable_examples(self) -> list[str]:
        return [name for name in self._examples if name not in HUB_WRITTEN_TYPES]

    def examples(self) -> dict[str, Any]:
        examples: dict[str, Any] = {
            name: {"summary": f"A {name} notification", "value": value}
            for name, value in self._examples.items()
        }
        sps = [
            value
            for name, value in self._examples.items()
            if value.get("source", "").startswith("urn:pph:sps:")
        ][:2]
        examples["batch"] = {"summary": "Two notifications from one source", "value": sps}
        return examples


def body_schema_name(event_type: str, version: int) -> str:
    """`custody.admission`, 1 -> `CustodyAdmissionV1`."""
    return f"{_pascal(event_type)}V{version}"


def notification_schema_name(event_type: str) -> str:
    """`custody.admission` -> `CustodyAdmissionNotification`."""
    return f"{_pascal(event_type)}Notification"


def _pascal(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[.\-]", text))


def _without_identity(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A schema as a component: no `$schema` or `$id` of its own (its references are rewritten
    to the document's components instead)."""
    return {k: v for k, v in schema.items() if k not in ("$schema", "$id", "$defs")}


def _context(envelope: Mapping[str, Any]) -> dict[str, Any]:
    """The envelope's members that every type shares (its per-type `if`/`then` rules on
    `dataschema` become each type's own `dataschema` enum)."""
    context = {
        key: value
        for key, value in _without_identity(envelope).items()
        if key not in ("allOf", "additionalProperties")
    }
    context["title"] = "Notification context"
    context["properties"] = {k: v for k, v in envelope["properties"].items() if k not in _BY_TYPE}
    context["required"] = [k for k in envelope["required"] if k not in _BY_TYPE]
    return context


def _lifted(name: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    """`name` and each of its `$defs` as components, with `#/$defs/x` references pointing at
    them."""
    definitions: dict[str, Any] = dict(schema.get("$defs", {}))

    def rename(definition: str) -> str:
        return f"{name}{_pascal(definition)}"

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            rewritten = {key: rewrite(value) for key, value in node.items()}
            ref = node.get("$ref")
            if isinstance(ref, str):
                match = _LOCAL_DEF.fullmatch(ref)
                if match is None or match["name"] not in definitions:
                    raise ValueError(f"{name}: cannot resolve $ref {ref!r} in the document")
                rewritten["$ref"] = COMPONENTS + rename(match["name"])
            return rewritten
        if isinstance(node, list):
            return [rewrite(item) for item in node]
        return node

    lifted = {name: rewrite(_without_identity(schema))}
    for definition, value in definitions.items():
        lifted[rename(definition)] = rewrite(value)
    return lifted


def _read(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded
