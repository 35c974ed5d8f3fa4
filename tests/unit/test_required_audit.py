"""Every store that records personal data takes the audit log as a required, typed argument:
an optional one let `hub router run` record disclosures with no audit entries (issue 13,
finding 1). mypy holds each caller to it; this holds the signatures themselves."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, get_type_hints

import pytest

from hub.infra.audit import SqlAuditLog
from hub.infra.audit_queries import SqlRestrictions
from hub.infra.conflicts import SqlConflictReviewList
from hub.infra.deliveries import SqlDeliveryQueue
from hub.infra.feed import SqlFeedStore
from hub.infra.protection import SqlPersonKeys
from hub.infra.retention import SqlRetentionStore
from hub.infra.routing import SqlRoutingStore
from hub.infra.store import (
    PostgresEventStore,
    SqlEventStore,
    SqliteEventStore,
    create_event_store,
)

STORES: list[Callable[..., Any]] = [
    SqlEventStore,
    SqliteEventStore,
    PostgresEventStore,
    create_event_store,
    SqlRoutingStore,
    SqlFeedStore,
    SqlConflictReviewList,
    SqlDeliveryQueue,
    SqlRetentionStore,
    SqlRestrictions,
    SqlPersonKeys,
]


@pytest.mark.parametrize("store", STORES, ids=lambda s: s.__name__)
def test_the_audit_log_is_a_required_sql_audit_log(store: Callable[..., Any]) -> None:
    function = store.__init__ if inspect.isclass(store) else store
    audit = inspect.signature(function).parameters["audit"]
    assert audit.default is inspect.Parameter.empty, f"{store.__name__} lets audit be left out"
    assert get_type_hints(function)["audit"] is SqlAuditLog
