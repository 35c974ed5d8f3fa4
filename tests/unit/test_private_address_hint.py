"""A webhook URL refused for pointing at this machine or a private network says how to allow
one in development (issue 18: a developer testing a local receiver should not have to search
the source for the setting)."""

from __future__ import annotations

import pytest

from hub.errors import InvalidRequest
from hub.services.webhook_rules import RefusedUrl, parse_webhook_url
from tests.unit.test_webhook_rules import NAMES, service

SETTING = "HUB_WEBHOOK_ALLOW_PRIVATE_ADDRESSES=true"


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080/webhook", "http://localhost:8080/webhook", "https://10.1.2.3/hook"],
)
def test_a_refused_internal_address_names_the_setting_that_allows_it(url: str) -> None:
    with pytest.raises(RefusedUrl) as refused:
        parse_webhook_url(url, require_https=False)
    assert SETTING in str(refused.value)
    assert "development" in str(refused.value)


@pytest.mark.asyncio
async def test_a_name_resolving_inside_names_the_setting_too() -> None:
    with pytest.raises(InvalidRequest) as refused:
        await service(NAMES).create("sw-glasgow-city", url="https://internal.example/hook")
    (problem,) = refused.value.problems
    assert problem.pointer == "/url"
    assert "resolves to a private address (10.20.30.40)" in problem.message
    assert SETTING in problem.message


def test_other_refusals_do_not_mention_it() -> None:
    with pytest.raises(RefusedUrl) as refused:
        parse_webhook_url("ftp://hooks.example/x", require_https=False)
    assert "HUB_WEBHOOK_ALLOW_PRIVATE_ADDRESSES" not in str(refused.value)
