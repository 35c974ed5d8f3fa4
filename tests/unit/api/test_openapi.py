"""The OpenAPI document (`hub.api.openapi`): a valid OpenAPI 3.1 document that declares, for
every operation, its request body, its responses (errors as RFC 9457 problem details), a stable
operationId and its security; its examples are valid notifications."""

from __future__ import annotations

import inspect
import json
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.routing import APIRoute
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from hub.api import openapi
from hub.api.app import create_app
from hub.api.openapi import problems
from hub.api.problems import PROBLEM_JSON
from hub.domain.notifications import HUB_WRITTEN_TYPES
from hub.domain.schemas import SchemaRegistry
from hub.settings import PROJECT_ROOT

DOCUMENT_URI = "urn:pph:openapi"
BODY_METHODS = {"POST", "PUT", "PATCH"}
#: Operations that take no body although their method allows one. Each is an action on the
#: resource its path names; none reads its request (checked below).
BODYLESS = {
    "disableSubscription",
    "rotateSubscriptionSecret",
    "replayDelivery",
    "acknowledgeDisclosure",
    "liftRestriction",
}


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app()


@pytest.fixture(scope="module")
def document(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def undeclared(app: FastAPI) -> list[str]:
    """What each API route of `app` leaves undeclared: operationId, error responses, a body."""
    found = []
    for route in app.routes:
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        name = f"{sorted(route.methods)} {route.path}"
        if not route.operation_id:
            found.append(f"{name}: no explicit operation_id")
        declared = {int(status) for status in route.responses}
        if not {422, 500} <= declared:
            found.append(f"{name}: declares no problem responses (use hub.api.openapi.problems)")
        if route.methods & BODY_METHODS:
            has_body = route.body_field is not None or "requestBody" in (route.openapi_extra or {})
            reads_request = any(
                parameter.annotation in (Request, "Request")
                for parameter in inspect.signature(route.endpoint).parameters.values()
            )
            if not has_body and (route.operation_id not in BODYLESS or reads_request):
                found.append(f"{name}: declares no request body")
    return found


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_every_route_declares_its_body_responses_and_operation_id(app: FastAPI) -> None:
    assert undeclared(app) == []


def test_a_route_added_without_declarations_is_caught() -> None:
    bare = FastAPI()

    @bare.post("/v1/things")
    async def add_thing(request: Request) -> dict[str, str]:
        return {}

    @bare.get("/v1/things/{thing_id}", operation_id="getThing", responses=problems())
    async def get_thing(thing_id: str) -> dict[str, str]:
        return {}

    @bare.post("/v1/things/{thing_id}/disable", operation_id="disableSubscription")
    async def sneaky(thing_id: str, request: Request) -> dict[str, str]:
        return {}

    found = undeclared(bare)
    assert any("/v1/things: no explicit operation_id" in f for f in found)
    assert any("/v1/things: declares no problem responses" in f for f in found)
    assert any("/v1/things: declares no request body" in f for f in found)
    # A bodyless operation that reads its request by hand is caught even if listed as bodyless.
    assert any("/disable: declares no request body" in f for f in found)
    assert not any("/v1/things/{thing_id}:" in f for f in found)


def test_operation_ids_are_unique_camel_case(document: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, operation in operations(document)]
    assert len(ids) == len(set(ids))
    for operation_id in ids:
        assert operation_id[0].islower(), operation_id
        assert operation_id.isalnum(), operation_id


def test_fastapi_validation_errors_are_not_declared(document: dict[str, Any]) -> None:
    text = json.dumps(document)
    assert "HTTPValidationError" not in text
    assert "#/components/schemas/ValidationError" not in text
    assert "ValidationError" not in document["components"]["schemas"]


def test_every_error_is_problem_details_except_oauth_errors(document: dict[str, Any]) -> None:
    for method, path, operation in operations(document):
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            if path == "/oauth/token" and status in ("400", "401"):
                assert "application/json" in response["content"]  # RFC 6749 section 5.2
                continue
            if path == "/readyz" and status == "503":
                continue  # the readiness report itself, saying what is not ready
            assert list(response["content"]) == [PROBLEM_JSON], (method, path, status)
            schema = response["content"][PROBLEM_JSON]["schema"]
            assert schema == {"$ref": "#/components/schemas/Problem"}


def test_every_operation_states_its_security(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["agency_client"]["type"] == "oauth2"
    public = {
        "/healthz",
        "/readyz",
        "/metrics",
        "/oauth/token",
        "/.well-known/jwks.json",
        "/v1/webhook-keys",
    }
    for method, path, operation in operations(document):
        assert "security" in operation, (method, path)
        if path in public:
            assert operation["security"] == [], (method, path)
        else:
            assert operation["security"], (method, path)
            for requirement in operation["security"]:
                assert set(requirement) == {"agency_client"}
                assert requirement["agency_client"], (method, path)
            assert {"401", "403"} <= set(operation["responses"]), (method, path)


def test_the_document_names_its_servers(document: dict[str, Any]) -> None:
    assert document["servers"][-1]["url"] == "/"


def test_the_public_url_is_a_server() -> None:
    from hub.settings import Settings

    settings = Settings(token_endpoint_url="https://hub.example.scot/oauth/token")
    document = create_app(settings).openapi()
    assert document["servers"][0]["url"] == "https://hub.example.scot"


def test_notification_bodies_name_one_schema_per_event_type(document: dict[str, Any]) -> None:
    registry = SchemaRegistry.load(PROJECT_ROOT / "events")
    schemas = document["components"]["schemas"]
    union = schemas["Notification"]
    mapping = union["discriminator"]["mapping"]
    assert union["discriminator"]["propertyName"] == "type"
    assert sorted(mapping) == registry.event_types()
    assert [item["$ref"] for item in union["oneOf"]] == list(mapping.values())
    publish = document["paths"]["/v1/events"]["post"]["requestBody"]
    assert publish["required"] is True
    assert publish["content"]["application/json"]["schema"] == openapi.PUSHED_NOTIFICATION
    batch = document["paths"]["/v1/events/batch"]["post"]["requestBody"]
    assert batch["content"]["application/json"]["schema"] == openapi.NOTIFICATION_BATCH
    assert schemas["NotificationBatch"]["items"] == openapi.PUSHED_NOTIFICATION
    # Body schemas are components referenced once, not copies inlined into each notification.
    text = json.dumps(document)
    assert text.count('"title": "Custody admission, version 1"') == 1
    assert "$defs" not in text


def test_what_agencies_may_push_leaves_out_what_only_the_hub_writes(
    document: dict[str, Any],
) -> None:
    """`POST /v1/events` refuses `disclosure.overdue` (403: only the hub writes it), so the
    pushed union must not offer it to a generated client; the full union keeps it (it is
    delivered and can be explained)."""
    schemas = document["components"]["schemas"]
    pushed = schemas["PushedNotification"]["discriminator"]["mapping"]
    every = schemas["Notification"]["discriminator"]["mapping"]
    assert "disclosure.overdue" in every
    assert sorted(pushed) == sorted(t for t in every if t not in HUB_WRITTEN_TYPES)
    assert [i["$ref"] for i in schemas["PushedNotification"]["oneOf"]] == list(pushed.values())
    examples = document["paths"]["/v1/events"]["post"]["requestBody"]["content"][
        "application/json"
    ]["examples"]
    assert examples
    assert not any("overdue" in name for name in examples)


def _validator(document: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    resource = Resource.from_contents(document, default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(DOCUMENT_URI, resource)
    return Draft202012Validator(
        {"$ref": DOCUMENT_URI + schema["$ref"]} if "$ref" in schema else schema,
        registry=registry,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def _declared_examples(document: dict[str, Any]) -> list[tuple[str, dict[str, Any], Any]]:
    """(where, schema, value) of every example of every request body."""
    found = []
    for method, path, operation in operations(document):
        for media_type, media in operation.get("requestBody", {}).get("content", {}).items():
            for name, example in media.get("examples", {}).items():
                if "$ref" in example:
                    example = document["components"]["examples"][example["$ref"].split("/")[-1]]
                found.append((f"{method} {path} {media_type} {name}", media["schema"], example))
    return found


def test_every_declared_example_is_valid_against_its_schema(document: dict[str, Any]) -> None:
    found = _declared_examples(document)
    where = {w.split(" ")[1] for w, _, _ in found}
    assert {"/v1/events", "/v1/events/batch", "/v1/policy/explain"} <= where
    assert len(found) >= 26 + 2  # every publishable type, a batch, an explain request
    for name, schema, example in found:
        errors = list(_validator(document, schema).iter_errors(example["value"]))
        assert errors == [], (name, [e.message for e in errors][:3])


def test_the_examples_are_those_of_events_examples(document: dict[str, Any]) -> None:
    examples = document["components"]["examples"]
    for path in sorted((PROJECT_ROOT / "events" / "examples").glob("*.json")):
        assert examples[path.stem]["value"] == json.loads(path.read_text())


def test_an_invalid_notification_fails_the_documented_schema(document: dict[str, Any]) -> None:
    valid = document["components"]["examples"]["custody.admission"]["value"]
    validator = _validator(document, openapi.NOTIFICATION)
    assert validator.is_valid(valid)
    no_body = {k: v for k, v in valid.items() if k != "data"}
    wrong_body = valid | {"data": {**valid["data"], "admission_reason": "holiday"}}
    other_type = valid | {
        "type": "person.missing",
        "dataschema": "urn:pph:events:person.missing:v1",
    }
    for invalid in (no_body, wrong_body, other_type):
        assert not validator.is_valid(invalid)


def test_every_operation_has_one_declared_tag(document: dict[str, Any]) -> None:
    declared = {tag["name"] for tag in document["tags"]}
    used = set()
    for method, path, operation in operations(document):
        assert len(operation["tags"]) == 1, (method, path)
        used.update(operation["tags"])
    assert used == declared


def test_webhook_deliveries_are_declared_as_the_hub_sends_them(document: dict[str, Any]) -> None:
    from datetime import UTC, datetime

    from hub.services.delivery import DeliveryJob, render_json, sign

    webhook = document["webhooks"]["disclosure"]["post"]
    job = DeliveryJob(
        delivery_id="dl_1",
        subscription_id="sub_1",
        recipient_id="sw-glasgow-city",
        attempts=0,
        url="https://hooks.example.gov.uk/pph",
        format="json",
        secrets=("whsec_" + "A" * 32,),
        subscription_status="active",
        disclosure_id="d_1",
        source="urn:pph:sps:pr2:hmp-barlinnie",
        event_id="e-1",
        event_type="custody.admission",
        person_id="p_1",
        fields=("data.establishment",),
        rules=("admission-to-social-work",),
        purposes=("purpose",),
        legal_bases=("basis",),
        policy_version="v1",
        decided_at=datetime(2026, 12, 6, 12, 0, tzinfo=UTC),
        acknowledge_within_seconds=None,
        recipient_seq=7,
    )
    body = render_json(job, {"type": "custody.admission", "data": {"establishment": "hmp-perth"}})
    schema = webhook["requestBody"]["content"]["application/json"]["schema"]
    errors = list(_validator(document, schema).iter_errors(json.loads(body)))
    assert errors == [], [e.message for e in errors]
    headers = sign("d_1", job.decided_at, body, job.secrets)
    declared = {p["name"] for p in webhook["parameters"] if p["in"] == "header"}
    assert declared == set(headers) - {"content-type"}


def test_deliveries_declare_either_scope_and_nothing_weaker(document: dict[str, Any]) -> None:
    """Either `subscriptions:manage` or `admin` will do; FastAPI alone would declare both at
    once, and a leftover empty requirement would say any token does."""
    either = [{"agency_client": ["subscriptions:manage"]}, {"agency_client": ["admin"]}]
    for path, operations in document["paths"].items():
        if path.startswith("/v1/deliveries"):
            for operation in operations.values():
                assert operation["security"] == either, path
                assert openapi.ANY_OF_SECURITY not in operation


@pytest.mark.parametrize(
    ("operation_id", "model"),
    [
        ("getAuditConsistencyProof", "ConsistencyProofModel"),
        ("getAuditInclusionProof", "InclusionProofModel"),
        ("listPersonRestrictions", "RestrictionModel"),
        ("restrictPerson", "RestrictionModel"),
        ("liftRestriction", "RestrictionModel"),
    ],
)
def test_proofs_and_restrictions_answer_a_declared_shape(
    document: dict[str, Any], operation_id: str, model: str
) -> None:
    [operation] = [
        o
        for ops in document["paths"].values()
        for o in ops.values()
        if o["operationId"] == operation_id
    ]
    [answer] = [a for status, a in operation["responses"].items() if status.startswith("2")]
    schema = answer["content"]["application/json"]["schema"]
    assert schema.get("items", schema) == {"$ref": f"#/components/schemas/{model}"}
    assert document["components"]["schemas"][model]["required"]
