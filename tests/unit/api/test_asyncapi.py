"""The AsyncAPI document (`hub.api.asyncapi`): valid against the official AsyncAPI 3.0.0 JSON
Schema (vendored from @asyncapi/specs by deploy/vendor-asyncapi-schema.sh), every reference
resolving, every topic, key and header the code produces or consumes described, and kept equal
to the copy at the repository's root."""

from __future__ import annotations

import ast
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest
from jsonschema import Draft7Validator, Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from hub.api import asyncapi
from hub.api.app import create_app
from hub.api.asyncapi import TOPIC_SETTINGS, KafkaInterface, build_document
from hub.api.problems import PROBLEM_JSON
from hub.infra.kafka_intake import _headers as reject_headers
from hub.infra.kafka_intake import intake_topic
from hub.services.bus import decode_event, encode_event, event_headers
from hub.services.feed import FeedItem
from hub.services.kafka_delivery import DisclosureMessage, KafkaDeliveryChannel
from hub.services.kafka_intake import IntakeMessage, Rejection
from hub.settings import PROJECT_ROOT, Settings

VENDORED = PROJECT_ROOT / "tests" / "vendor" / "asyncapi"
EVENTS = PROJECT_ROOT / "events"
#: The base URI the document's relative references resolve against: the kept copy's location.
BASE = asyncapi.DOCUMENT_PATH.as_uri()
#: Every module of the hub that talks to Kafka itself, and the channels of the topics it names.
#: A new module that produces or consumes must be added here, with its channels.
KAFKA_MODULES = {
    "hub/infra/kafka_bus.py": {"events"},
    "hub/infra/kafka_intake.py": {"intake", "rejects"},
    "hub/infra/kafka_delivery.py": {"disclosures"},
    "hub/infra/kafka_security.py": set(),
}


@pytest.fixture(scope="module")
def official() -> Draft7Validator:
    """The official AsyncAPI 3.0.0 JSON Schema, as vendored."""
    return Draft7Validator(json.loads((VENDORED / "asyncapi-3.0.0.schema.json").read_text()))


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return build_document(KafkaInterface.defaults(), EVENTS)


@pytest.fixture(scope="module")
def kafka_sources() -> dict[str, ast.Module]:
    """The hub's modules that mention Kafka at all (the others cannot name a topic), parsed."""
    sources = {}
    for path in sorted((PROJECT_ROOT / "hub").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if "kafka" in text.lower() or "PageProducer" in text:
            sources[str(path.relative_to(PROJECT_ROOT))] = ast.parse(text)
    return sources


def _retrieve(uri: str) -> Resource[Any]:
    if not uri.startswith("file://"):
        raise LookupError(f"the document refers to {uri}, outside the repository")
    path = Path(uri.removeprefix("file://"))
    return Resource.from_contents(json.loads(path.read_text(encoding="utf-8")), DRAFT202012)


REGISTRY: Registry[Any] = Registry(retrieve=_retrieve)  # type: ignore[call-arg]


def payload_validator(schema: dict[str, Any]) -> Draft202012Validator:
    """A draft 2020-12 validator of a payload schema of the document, its references resolved
    against the kept copy's place in the repository."""
    rooted = {"$id": BASE, **schema}
    return Draft202012Validator(rooted, registry=REGISTRY)


def message(document: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = document["components"]["messages"][name]
    return found


def example(event_type: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / "examples" / f"{event_type}.json").read_text())
    return loaded


# -- the document is valid AsyncAPI 3.0.0 ----------------------------------------------------------


def test_the_vendored_schema_is_the_pinned_one() -> None:
    pinned = (VENDORED / "VERSION").read_text().splitlines()[1].split()[0]
    actual = hashlib.sha256((VENDORED / "asyncapi-3.0.0.schema.json").read_bytes()).hexdigest()
    assert actual == pinned, "re-run deploy/vendor-asyncapi-schema.sh rather than editing it"


def test_the_document_is_valid_asyncapi_3(
    official: Draft7Validator, document: dict[str, Any]
) -> None:
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in official.iter_errors(document)
    ]
    assert errors == []
    assert document["asyncapi"] == "3.0.0"


@pytest.mark.parametrize(
    ("protocol", "mechanism", "schemes"),
    [
        ("PLAINTEXT", None, []),
        ("SSL", None, ["mutualTls"]),
        ("SASL_SSL", "SCRAM-SHA-256", ["scramSha256"]),
        ("SASL_PLAINTEXT", "PLAIN", ["saslPlain"]),
    ],
)
def test_each_security_setting_gives_a_valid_document_naming_its_scheme(
    official: Draft7Validator, protocol: str, mechanism: str | None, schemes: list[str]
) -> None:
    defaults = KafkaInterface.defaults()
    interface = KafkaInterface(
        **{
            **{name: getattr(defaults, name) for name in KafkaInterface.__dataclass_fields__},
            "security_protocol": protocol,
            "sasl_mechanism": mechanism,
        }
    )
    built = build_document(interface, EVENTS)
    assert list(official.iter_errors(built)) == []
    security = built["servers"]["broker"]["security"]
    assert security == [{"$ref": f"#/components/securitySchemes/{s}"} for s in schemes]
    assert built["servers"]["broker"]["protocol"] == (
        "kafka-secure" if protocol in ("SSL", "SASL_SSL") else "kafka"
    )


def test_the_official_schema_would_catch_a_broken_document(
    official: Draft7Validator, document: dict[str, Any]
) -> None:
    broken = json.loads(json.dumps(document))
    broken["operations"]["sendNotification"]["action"] = "publish"  # AsyncAPI 2's word
    assert not official.is_valid(broken)


def test_the_kept_copy_is_the_document_of_the_default_settings() -> None:
    kept = asyncapi.DOCUMENT_PATH.read_text(encoding="utf-8")
    assert kept == asyncapi.render(KafkaInterface.defaults(), EVENTS), (
        "asyncapi.json is stale: python -m hub.api.asyncapi > asyncapi.json"
    )


# -- every reference resolves ------------------------------------------------------------------


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for item in node for ref in _refs(item)]
    return []


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    refs = _refs(document)
    external = sorted({r for r in refs if not r.startswith("#")})
    # Each schema file of `events/` is referred to (none copied), but that of the type only the
    # hub writes.
    files = {p.name for p in EVENTS.glob("*.schema.json")} - {"disclosure.overdue.v1.schema.json"}
    assert external == sorted(asyncapi.SCHEMA_BASE + name for name in files)
    for ref in external:
        assert Path(urljoin(BASE, ref).removeprefix("file://")).is_file(), ref
    for ref in (r for r in refs if r.startswith("#/")):
        node: Any = document
        for part in ref[2:].split("/"):
            assert isinstance(node, dict), f"{ref} does not resolve"
            assert part in node, f"{ref} does not resolve"
            node = node[part]


def test_every_payload_and_header_schema_compiles(document: dict[str, Any]) -> None:
    for name, described in document["components"]["messages"].items():
        for part in ("payload", "headers"):
            if part in described:
                assert described[part]["schemaFormat"] == asyncapi.JSON_SCHEMA_2020_12, name
                Draft202012Validator.check_schema(described[part]["schema"])


# -- the intake: every type an agency may push, with its schemas --------------------------------


def test_each_example_is_a_valid_intake_message_of_its_type(document: dict[str, Any]) -> None:
    names = set(document["channels"]["intake"]["messages"])
    contract = json.loads((EVENTS / "envelope.v1.schema.json").read_text())
    pushable = set(contract["properties"]["type"]["enum"]) - {"disclosure.overdue"}
    assert names == {asyncapi._notification_message(t) for t in pushable}
    for event_type in sorted(pushable):
        schema = message(document, asyncapi._notification_message(event_type))["payload"]
        validator = payload_validator(schema["schema"])
        notification = example(event_type)
        assert list(validator.iter_errors(notification)) == [], event_type
        # The message of one type refuses another type's notification, and an invalid body.
        other = "person.died" if event_type != "person.died" else "person.located"
        assert not validator.is_valid({**notification, "type": other})
        assert not validator.is_valid({**notification, "data": {"unexpected": True}})


def test_the_hub_written_type_cannot_be_sent(document: dict[str, Any]) -> None:
    assert "DisclosureOverdueNotification" not in document["components"]["messages"]


# -- topics: every one the code names is a channel -----------------------------------------------


def test_every_setting_that_names_a_topic_has_a_channel(document: dict[str, Any]) -> None:
    topic_settings = {name for name in Settings.model_fields if "topic" in name}
    assert topic_settings == set(TOPIC_SETTINGS), (
        "a Kafka topic setting was added or removed: describe its topic in hub/api/asyncapi.py "
        "(TOPIC_SETTINGS and a channel)"
    )
    assert set(TOPIC_SETTINGS.values()) == set(document["channels"])


def test_the_code_reads_no_topic_setting_the_document_lacks(
    kafka_sources: dict[str, ast.Module],
) -> None:
    used: dict[str, str] = {}
    for where, tree in kafka_sources.items():
        for node in ast.walk(tree):
            attribute = node.attr if isinstance(node, ast.Attribute) else ""
            if attribute.startswith("kafka_") and "topic" in attribute:
                used[attribute] = where
    unknown = {name: where for name, where in used.items() if name not in TOPIC_SETTINGS}
    assert unknown == {}
    assert {"kafka_events_topic", "kafka_rejects_topic"} <= set(used)


def test_every_module_that_talks_to_kafka_is_known(kafka_sources: dict[str, ast.Module]) -> None:
    found = set()
    for where, tree in kafka_sources.items():
        for node in ast.walk(tree):
            module = node.module if isinstance(node, ast.ImportFrom) else None
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if (module or "").startswith("aiokafka") or any(
                n.startswith("aiokafka") for n in names
            ):
                found.add(where)
            if isinstance(node, ast.ImportFrom) and any(
                a.name == "PageProducer" for a in node.names
            ):
                found.add(where)
    assert found == set(KAFKA_MODULES), (
        "a module produces to or consumes from Kafka: add it to KAFKA_MODULES with the channels "
        "of its topics, and describe them in hub/api/asyncapi.py"
    )


def test_channel_addresses_are_the_topics_the_code_uses(document: dict[str, Any]) -> None:
    channels = document["channels"]
    defaults = KafkaInterface.defaults()
    agency = intake_topic(defaults.intake_topic_prefix, "police-scotland")
    assert channels["intake"]["address"].replace("{agency}", "police-scotland") == agency
    delivery = KafkaDeliveryChannel(
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        {},
        topic_prefix=defaults.delivery_topic_prefix,
    )
    address = channels["disclosures"]["address"].replace("{recipient}", "nhs-lothian")
    assert address == delivery.topic("nhs-lothian")
    assert channels["events"]["address"] == Settings.model_fields["kafka_events_topic"].default
    assert channels["rejects"]["address"] == Settings.model_fields["kafka_rejects_topic"].default


# -- keys, headers and payloads: as the code produces them ---------------------------------------


def _stored_event() -> Any:
    document = {
        "position": 41,
        "person_id": "p-0001",
        "stream_version": 3,
        "recorded_at": "2026-12-06T20:00:00+00:00",
        "publisher": {"client_id": "sps-pr2", "agency": "sps"},
        "notification": example("custody.admission"),
    }
    return decode_event(json.dumps(document).encode())


def _headers_valid(schema: dict[str, Any], headers: list[tuple[str, bytes]]) -> None:
    decoded = {name: value.decode("utf-8") for name, value in headers}
    assert len(decoded) == len(headers), "a header name repeated"
    assert set(decoded) == set(schema["properties"]), "headers differ from the document's"
    assert list(Draft202012Validator(schema).iter_errors(decoded)) == []


def test_events_topic_messages_match_the_document(document: dict[str, Any]) -> None:
    described = message(document, "StoredEvent")
    event = _stored_event()
    _headers_valid(described["headers"]["schema"], event_headers(event))
    payload = json.loads(encode_event(event))
    validator = payload_validator(described["payload"]["schema"])
    assert list(validator.iter_errors(payload)) == []
    assert not validator.is_valid({**payload, "position": "41"})


def test_reject_headers_match_the_document(document: dict[str, Any]) -> None:
    rejected = IntakeMessage("sps", "pph.intake.sps", 2, 17, b"k", b"not json")
    rejection = Rejection(rejected, "the message is not JSON", ({"pointer": "", "detail": "x"},))
    _headers_valid(
        message(document, "IntakeReject")["headers"]["schema"], reject_headers(rejection)
    )


class _Capture:
    def __init__(self) -> None:
        self.sent: list[tuple[str, DisclosureMessage]] = []

    async def send(self, topic: str, messages: Any) -> None:
        self.sent.extend((topic, m) for m in messages)

    async def close(self) -> None:
        return None


class _Entries:
    def __init__(self, entries: list[Any]) -> None:
        self._entries = entries

    async def entries(self, recipient: str, after: int, limit: int) -> list[Any]:
        return [e for e in self._entries if e.seq > after][:limit]

    async def record_receipts(self, ids: Any, channel: str, at: datetime) -> None:
        return None


class _Checkpoints:
    async def checkpoint(self, consumer: str) -> int:
        return 0

    async def advance(self, consumer: str, expected: int, to: int) -> bool:
        return True


@pytest.mark.asyncio
async def test_disclosure_messages_match_the_document(document: dict[str, Any]) -> None:
    item = FeedItem(
        seq=1,
        disclosure_id="d-0001",
        event_type="custody.admission",
        person_id="p-0001",
        fields=("establishment",),
        purposes=("public-protection",),
        legal_bases=("DPA 2018 s.35",),
        rules=("custody-to-police",),
        policy_version="2026.12",
        decided_at=datetime(2026, 12, 6, 20, 0, tzinfo=UTC),
        acknowledge_by=None,
        notification={"id": "n-1", "type": "custody.admission", "specversion": "1.0"},
    )
    entry = SimpleNamespace(
        seq=1, received=False, disclosure=SimpleNamespace(disclosure_id="d-0001")
    )
    feed = SimpleNamespace(item=lambda _entry: item)
    producer = _Capture()
    channel = KafkaDeliveryChannel(
        _Entries([entry]),  # type: ignore[arg-type]
        feed,  # type: ignore[arg-type]
        _Checkpoints(),  # type: ignore[arg-type]
        producer,
        {"police-scotland": "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
        topic_prefix=KafkaInterface.defaults().delivery_topic_prefix,
    )
    assert await channel.run_once() == 1
    [(topic, sent)] = producer.sent
    assert topic == document["channels"]["disclosures"]["address"].replace(
        "{recipient}", "police-scotland"
    )
    described = message(document, "Disclosure")
    _headers_valid(described["headers"]["schema"], list(sent.headers))
    validator = payload_validator(described["payload"]["schema"])
    assert list(validator.iter_errors(json.loads(sent.value))) == []
    assert sent.key == b"d-0001"


# -- served beside /openapi.json, from the running hub's settings -------------------------------


def client(settings: Settings) -> httpx.AsyncClient:
    """The app over HTTP in-process (its lifespan not run: these routes need no container)."""
    transport = httpx.ASGITransport(app=create_app(settings))
    return httpx.AsyncClient(transport=transport, base_url="http://hub.test")


@pytest.mark.asyncio
async def test_served_from_the_settings() -> None:
    settings = Settings(
        kafka_events_topic="x.events",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="hub",
        kafka_sasl_password="secret-password",
        kafka_bootstrap="broker-1:9093,broker-2:9093",
    )
    async with client(settings) as http:
        response = await http.get("/asyncapi.json")
    assert response.status_code == 200
    served = response.json()
    assert served == build_document(KafkaInterface.from_settings(settings), settings.events_dir)
    assert served["channels"]["events"]["address"] == "x.events"
    server = served["servers"]["broker"]
    assert server["protocol"] == "kafka-secure"
    assert server["variables"]["bootstrap"]["default"] == "broker-1:9093"
    assert server["security"] == [{"$ref": "#/components/securitySchemes/scramSha512"}]
    assert "secret-password" not in response.text


@pytest.mark.asyncio
async def test_the_schemas_it_refers_to_are_served_beside_it() -> None:
    async with client(Settings()) as http:
        served = (await http.get("/asyncapi.json")).json()
        refs = sorted({r for r in _refs(served) if not r.startswith("#")})
        responses = {ref: await http.get("/" + ref) for ref in refs}
    assert len(responses) > 20
    for ref, response in responses.items():
        assert response.status_code == 200, ref
        assert response.headers["content-type"].startswith("application/schema+json")
        assert response.json() == json.loads((EVENTS / ref.split("/")[-1]).read_text())


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "name", ["nope.v1.schema.json", "README.md", "..%2Fpyproject.toml", "examples"]
)
async def test_anything_else_under_events_is_a_404_problem(name: str) -> None:
    async with client(Settings()) as http:
        response = await http.get("/events/" + name)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert response.json()["status"] == 404
    assert "[project]" not in response.text
