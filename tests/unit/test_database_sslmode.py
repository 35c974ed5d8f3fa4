"""Which TLS mode the hub asks asyncpg for (`hub.infra.db.sslmode`): none to a database on this
machine, the certificate checked for any other, the operator's or the URL's choice otherwise."""

from __future__ import annotations

import pytest

from hub.infra.db import sslmode

PG = "postgresql+asyncpg://hub:hub@"


@pytest.mark.parametrize(
    "url",
    [
        f"{PG}127.0.0.1:5432/hub",
        f"{PG}127.0.0.9/hub",
        f"{PG}localhost/hub",
        f"{PG}[::1]:5432/hub",
        f"{PG}/hub",  # the default Unix socket
        f"{PG}/hub?host=/var/run/postgresql",
    ],
)
def test_a_database_on_this_machine_is_reached_without_tls(url: str) -> None:
    assert sslmode(url, None) == "disable"


@pytest.mark.parametrize(
    "url", [f"{PG}db.internal:5432/hub", f"{PG}10.0.0.5/hub", f"{PG}[2001:db8::1]/hub"]
)
def test_any_other_host_gets_tls_with_its_certificate_verified(url: str) -> None:
    assert sslmode(url, None) == "verify-full"


def test_the_setting_wins_over_the_default() -> None:
    assert sslmode(f"{PG}127.0.0.1/hub", "require") == "require"
    assert sslmode(f"{PG}db.internal/hub", "disable") == "disable"


@pytest.mark.parametrize("query", ["ssl=require", "sslmode=verify-ca"])
def test_a_url_that_names_its_tls_mode_keeps_it(query: str) -> None:
    assert sslmode(f"{PG}db.internal/hub?{query}", None) is None
    assert sslmode(f"{PG}127.0.0.1/hub?{query}", None) is None
