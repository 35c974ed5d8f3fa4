"""One exit status per meaning (`hub.cli.exits`), and where a failure says what it tried it
never shows a password."""

from __future__ import annotations

import pytest

from hub.cli import exits
from hub.cli.unreachable import database_target
from hub.errors import (
    AuthenticationFailed,
    BusError,
    BusUnavailable,
    EventIdReused,
    HubError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    PolicyBundleInvalid,
    StoreError,
    StoreUnavailable,
)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (InvalidInput("bad"), exits.USAGE),
        (PolicyBundleInvalid("invalid bundle", ["rules.yaml:3: bad"]), exits.USAGE),
        (NotFound("no such person"), exits.NOT_FOUND),
        (EventIdReused("again"), exits.REFUSED),
        (PermissionDenied("no"), exits.REFUSED),
        (AuthenticationFailed("no"), exits.REFUSED),
        (StoreUnavailable("down"), exits.UNAVAILABLE),
        (BusUnavailable("down"), exits.UNAVAILABLE),
        (StoreError("the tree does not extend"), exits.FAILED),
        (BusError("bad message"), exits.FAILED),
        (HubError("else"), exits.FAILED),
    ],
)
def test_each_error_has_its_status(error: HubError, status: int) -> None:
    assert exits.for_error(error) == status


def test_the_statuses_are_distinct() -> None:
    statuses = [exits.OK, exits.FAILED, exits.USAGE, exits.UNAVAILABLE, exits.NOT_FOUND]
    statuses += [exits.REFUSED, exits.INTERRUPTED, exits.BROKEN_PIPE]
    assert len(set(statuses)) == len(statuses)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgresql+asyncpg://hub:s3cret@db.example:6432/hub",
            "postgresql+asyncpg://hub@db.example:6432/hub",
        ),
        (
            "postgresql+asyncpg://hub:s3cret@db/hub?sslmode=require",
            "postgresql+asyncpg://hub@db/hub",
        ),
        (
            "postgresql+asyncpg://hub:s3cret@[::1]:5432/hub",
            "postgresql+asyncpg://hub@[::1]:5432/hub",
        ),
        ("sqlite+aiosqlite:////srv/hub/hub.sqlite3", "sqlite+aiosqlite:////srv/hub/hub.sqlite3"),
    ],
)
def test_the_database_tried_is_shown_without_its_password(url: str, shown: str) -> None:
    assert database_target(url) == shown
