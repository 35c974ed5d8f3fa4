"""Request ids and the access log: echoed, carried by every record of the request, and the access
line names the route's template, never the identifiers in the path or the query string."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from fastapi import FastAPI

from hub.api.request_log import RequestLog, stamp_records
from hub.cli.logs import JsonLines, Text

PNC = "19/402117N"


def an_app() -> FastAPI:
    stamp_records()  # as `hub.cli.logs.configure` does
    app = FastAPI()
    app.add_middleware(RequestLog)
    inner = logging.getLogger("hub.test")

    @app.get("/v1/audit/persons/{person:path}/history")
    async def history(person: str) -> dict[str, str]:
        inner.info("reading a history")
        return {"ok": "yes"}

    return app


async def get(url: str, headers: dict[str, str] | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=an_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
        return await client.get(url, headers=headers)


@pytest.mark.asyncio
async def test_a_callers_request_id_is_echoed_and_carried_by_every_record(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    answer = await get(
        f"/v1/audit/persons/pnc_id:{PNC}/history?person=pnc_id:{PNC}",
        {"X-Request-ID": "case-7.a:b"},
    )
    assert answer.status_code == 200
    assert answer.headers["x-request-id"] == "case-7.a:b"
    records = [r for r in caplog.records if r.name.startswith("hub")]  # not the test's client
    lines = [json.loads(JsonLines().format(r)) for r in records]
    assert {line["logger"] for line in lines} == {"hub.test", "hub.access"}
    assert all(line["request_id"] == "case-7.a:b" for line in lines)
    [access] = [line for line in lines if line["logger"] == "hub.access"]
    assert access["route"] == "/v1/audit/persons/{person:path}/history"
    assert access["status"] == 200
    assert access["method"] == "GET"
    assert access["duration_ms"] >= 0
    formatted = "\n".join(JsonLines().format(r) for r in records)
    formatted += "\n".join(Text().format(r) for r in records)
    assert "402117" not in formatted


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "offered", ["", "x" * 129, "has space", "new\nline", 'quote"d', "é"], ids=repr
)
async def test_an_unsafe_request_id_is_replaced_by_a_new_one(
    offered: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    answer = await get(
        "/v1/audit/persons/x/history",
        {"X-Request-ID": offered.encode()},  # type: ignore[dict-item]
    )
    given = answer.headers["x-request-id"]
    assert given != offered
    assert len(given) == 32
    stamped = [getattr(r, "request_id", None) for r in caplog.records if r.name.startswith("hub")]
    assert stamped == [given, given]


@pytest.mark.asyncio
async def test_without_one_each_request_gets_its_own(caplog: pytest.LogCaptureFixture) -> None:
    first = (await get("/v1/audit/persons/x/history")).headers["x-request-id"]
    second = (await get("/v1/audit/persons/x/history")).headers["x-request-id"]
    assert first != second


@pytest.mark.asyncio
async def test_an_unknown_path_is_logged_without_it(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    answer = await get(f"/v1/persons/pnc_id:{PNC}?x=1")
    assert answer.status_code == 404
    [access] = [r for r in caplog.records if r.name == "hub.access"]
    assert json.loads(JsonLines().format(access))["route"] == "(no route)"
    assert "402117" not in JsonLines().format(access)


def test_an_exception_is_one_json_line_with_its_traceback() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("hub", logging.ERROR, __file__, 1, "failed", None, None)
        import sys

        record.exc_info = sys.exc_info()
    line = JsonLines().format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["level"] == "error"
    assert "ValueError: boom" in parsed["exception"]
